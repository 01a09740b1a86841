"""The store contract: every test runs against MemoryStore and RedisStore (a real server)."""

from __future__ import annotations

import asyncio

import pytest

from signaling.store import (
    InvalidRoomIdError,
    RoomExistsError,
    RoomNotFoundError,
    RoomSettings,
    RoomStore,
    StoreClosedError,
    StoreError,
)
from tests.signaling.store.factories import chat, member

DEMO = RoomSettings("demo", title="도봉구 재난대책회의", capacity=12, lobby=True, created_at=1.5)


async def test_a_created_room_reads_back_as_it_was_stored(store: RoomStore) -> None:
    assert await store.create_room(DEMO) == DEMO
    assert await store.get_room("demo") == DEMO


async def test_a_room_that_was_never_created_reads_as_none(store: RoomStore) -> None:
    assert await store.get_room("nowhere") is None


async def test_creating_a_room_whose_id_is_taken_is_refused(store: RoomStore) -> None:
    await store.create_room(DEMO)
    with pytest.raises(RoomExistsError) as raised:
        await store.create_room(RoomSettings("demo", title="other"))
    assert raised.value.code == "room_exists"
    assert await store.get_room("demo") == DEMO


async def test_ensuring_a_room_creates_it_once_then_returns_the_stored_one(
    store: RoomStore,
) -> None:
    assert await store.ensure_room(DEMO) == DEMO
    assert await store.ensure_room(RoomSettings("demo", title="other")) == DEMO


async def test_concurrent_creations_of_one_room_have_exactly_one_winner(store: RoomStore) -> None:
    attempts = [store.create_room(RoomSettings("demo", title=str(n))) for n in range(5)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [result for result in results if isinstance(result, RoomSettings)]
    assert len(winners) == 1
    assert all(isinstance(r, RoomExistsError) for r in results if r not in winners)
    assert await store.get_room("demo") == winners[0]


async def test_rooms_are_listed_sorted_by_id(store: RoomStore) -> None:
    for room_id in ("river", "covid", "demo"):
        await store.create_room(RoomSettings(room_id))
    assert [room.room_id for room in await store.list_rooms()] == ["covid", "demo", "river"]


async def test_updating_a_room_changes_only_the_named_settings(store: RoomStore) -> None:
    await store.create_room(DEMO)
    updated = await store.update_room("demo", locked=True, capacity=30)
    assert updated == RoomSettings(
        "demo", title=DEMO.title, capacity=30, lobby=True, locked=True, created_at=1.5
    )
    assert await store.get_room("demo") == updated


@pytest.mark.parametrize(
    "changes",
    [
        {"colour": "red"},
        {"roomId": "other"},
        {"capacity": "many"},
        {"locked": 1},
        {"created_at": "yesterday"},
        {"capacity": 0},
    ],
)
async def test_updating_with_an_unknown_field_or_a_bad_value_is_refused(
    store: RoomStore, changes: dict[str, object]
) -> None:
    await store.create_room(DEMO)
    with pytest.raises(StoreError) as raised:
        await store.update_room("demo", **changes)
    assert raised.value.code == "invalid_setting"
    assert await store.get_room("demo") == DEMO


async def test_updating_a_missing_room_raises_room_not_found(store: RoomStore) -> None:
    with pytest.raises(RoomNotFoundError) as raised:
        await store.update_room("nowhere", locked=True)
    assert raised.value.code == "room_not_found"
    assert await store.get_room("nowhere") is None


async def test_concurrent_updates_of_different_settings_both_land(store: RoomStore) -> None:
    await store.create_room(DEMO)
    await asyncio.gather(
        store.update_room("demo", locked=True), store.update_room("demo", title="새 제목")
    )
    stored = await store.get_room("demo")
    assert stored is not None and stored.locked and stored.title == "새 제목"


async def test_deleting_a_room_removes_everything_under_it(store: RoomStore) -> None:
    await store.create_room(DEMO)
    await store.append_chat("demo", chat(1), keep=10)
    await store.put_member("demo", member("p1", 1.0))
    await store.raise_hand("demo", "p1", 2.0)
    await store.lobby_put("demo", member("p2", 3.0))
    await store.ban("demo", "id-p3", until=100.0)
    await store.delete_room("demo")
    assert await store.get_room("demo") is None
    assert await store.list_rooms() == []
    assert await store.chat_history("demo", 10) == []
    assert await store.roster("demo") == []
    assert await store.hands("demo") == []
    assert await store.lobby("demo") == []
    assert not await store.is_banned("demo", "id-p3", now=50.0)


async def test_chat_history_keeps_the_newest_messages_oldest_first(store: RoomStore) -> None:
    for number in range(1, 8):
        await store.append_chat("demo", chat(number), keep=5)
    assert [m.id for m in await store.chat_history("demo", 100)] == ["m3", "m4", "m5", "m6", "m7"]


async def test_chat_history_returns_at_most_limit_of_the_newest(store: RoomStore) -> None:
    for number in range(1, 5):
        await store.append_chat("demo", chat(number), keep=10)
    assert [m.id for m in await store.chat_history("demo", 2)] == ["m3", "m4"]
    assert await store.chat_history("demo", 0) == []


async def test_a_private_message_keeps_its_recipient_and_every_field(store: RoomStore) -> None:
    private = chat(1, to="p2")
    await store.append_chat("demo", private, keep=10)
    await store.append_chat("demo", chat(2), keep=10)
    assert await store.chat_history("demo", 10) == [private, chat(2)]


async def test_the_roster_replaces_an_entry_put_twice(store: RoomStore) -> None:
    await store.put_member("demo", member("p1", 1.0))
    await store.put_member("demo", member("p1", 1.0, role="moderator"))
    assert await store.roster("demo") == [member("p1", 1.0, role="moderator")]


async def test_the_roster_is_ordered_by_join_time_and_forgets_who_left(store: RoomStore) -> None:
    for participant_id, joined_at in (("p3", 3.0), ("p1", 1.0), ("p2", 2.0)):
        await store.put_member("demo", member(participant_id, joined_at))
    await store.remove_member("demo", "p2")
    await store.remove_member("demo", "never-there")
    assert await store.roster("demo") == [member("p1", 1.0), member("p3", 3.0)]


async def test_hands_queue_in_the_order_they_were_raised(store: RoomStore) -> None:
    await store.raise_hand("demo", "p2", 20.0)
    assert await store.raise_hand("demo", "p1", 10.5) == [("p1", 10.5), ("p2", 20.0)]
    assert await store.hands("demo") == [("p1", 10.5), ("p2", 20.0)]


async def test_raising_a_hand_twice_keeps_the_first_time(store: RoomStore) -> None:
    await store.raise_hand("demo", "p1", 10.0)
    await store.raise_hand("demo", "p2", 20.0)
    assert await store.raise_hand("demo", "p1", 30.0) == [("p1", 10.0), ("p2", 20.0)]


async def test_lowering_a_hand_leaves_the_others_in_order(store: RoomStore) -> None:
    for number, participant_id in enumerate(("p1", "p2", "p3")):
        await store.raise_hand("demo", participant_id, float(number))
    assert await store.lower_hand("demo", "p2") == [("p1", 0.0), ("p3", 2.0)]
    assert await store.lower_hand("demo", "p2") == [("p1", 0.0), ("p3", 2.0)]


async def test_the_lobby_lists_waiting_people_in_order_of_arrival(store: RoomStore) -> None:
    await store.lobby_put("demo", member("p2", 2.0))
    await store.lobby_put("demo", member("p1", 1.0))
    assert await store.lobby("demo") == [member("p1", 1.0), member("p2", 2.0)]


async def test_taking_someone_from_the_lobby_twice_gives_nothing_the_second_time(
    store: RoomStore,
) -> None:
    await store.lobby_put("demo", member("p1", 1.0))
    assert await store.lobby_remove("demo", "p1") == member("p1", 1.0)
    assert await store.lobby_remove("demo", "p1") is None
    assert await store.lobby("demo") == []


async def test_concurrent_takes_from_the_lobby_have_exactly_one_winner(store: RoomStore) -> None:
    await store.lobby_put("demo", member("p1", 1.0))
    taken = await asyncio.gather(*(store.lobby_remove("demo", "p1") for _ in range(5)))
    assert [record for record in taken if record is not None] == [member("p1", 1.0)]


async def test_a_ban_holds_until_it_expires_and_is_then_dropped(store: RoomStore) -> None:
    await store.ban("demo", "id-p1", until=100.0)
    assert await store.is_banned("demo", "id-p1", now=99.0)
    assert not await store.is_banned("demo", "id-other", now=99.0)
    assert not await store.is_banned("demo", "id-p1", now=100.0)
    assert not await store.is_banned("demo", "id-p1", now=99.0)  # dropped, not just expired


async def test_clearing_live_state_keeps_settings_chat_and_bans(store: RoomStore) -> None:
    await store.create_room(DEMO)
    await store.append_chat("demo", chat(1), keep=10)
    await store.put_member("demo", member("p1", 1.0))
    await store.raise_hand("demo", "p1", 2.0)
    await store.lobby_put("demo", member("p2", 3.0))
    await store.ban("demo", "id-p3", until=100.0)
    await store.clear_live_state("demo")
    assert (await store.roster("demo"), await store.hands("demo"), await store.lobby("demo")) == (
        [],
        [],
        [],
    )
    assert await store.get_room("demo") == DEMO
    assert await store.chat_history("demo", 10) == [chat(1)]
    assert await store.is_banned("demo", "id-p3", now=50.0)


async def test_rooms_do_not_share_state(store: RoomStore) -> None:
    await store.put_member("demo", member("p1", 1.0))
    await store.append_chat("demo", chat(1), keep=10)
    assert await store.roster("river") == []
    assert await store.chat_history("river", 10) == []


@pytest.mark.parametrize("room_id", ["demo:chat", "", "a b"])
async def test_a_room_id_that_could_clash_with_another_key_is_refused(
    store: RoomStore, room_id: str
) -> None:
    with pytest.raises(InvalidRoomIdError):
        await store.roster(room_id)
    with pytest.raises(InvalidRoomIdError):
        await store.create_room(RoomSettings(room_id))


async def test_a_closed_store_refuses_calls_and_closes_again_quietly(store: RoomStore) -> None:
    await store.close()
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.get_room("demo")
