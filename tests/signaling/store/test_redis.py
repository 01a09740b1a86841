"""What only the Redis store promises: state outlives the node, corrupt data is refused."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from signaling.store import (
    CorruptDataError,
    MemoryStore,
    RedisStore,
    RoomSettings,
    StoreUnavailableError,
    keys,
    open_store,
)
from tests.conftest import free_port
from tests.signaling.store.factories import chat, member


async def test_restarting_a_node_keeps_rooms_settings_and_chat_history(redis_url: str) -> None:
    before = RedisStore(redis_url)
    await before.create_room(RoomSettings("demo", title="도봉구", lobby=True, created_at=5.0))
    await before.create_room(RoomSettings("river"))
    await before.update_room("demo", locked=True, moderators_only_unmute=True)
    for number in range(1, 4):
        await before.append_chat("demo", chat(number, to="p2" if number == 2 else None), keep=50)
    await before.close()

    after = RedisStore(redis_url)
    try:
        assert await after.list_rooms() == [
            RoomSettings(
                "demo",
                title="도봉구",
                lobby=True,
                locked=True,
                moderators_only_unmute=True,
                created_at=5.0,
            ),
            RoomSettings("river"),
        ]
        assert await after.chat_history("demo", 50) == [chat(1), chat(2, to="p2"), chat(3)]
    finally:
        await after.close()


async def test_keys_live_under_the_openroom_namespace(redis_url: str) -> None:
    store = RedisStore(redis_url)
    await store.create_room(RoomSettings("demo"))
    await store.append_chat("demo", chat(1), keep=5)
    await store.put_member("demo", member("p1", 1.0))
    await store.close()
    async with Redis.from_url(redis_url, decode_responses=True) as client:
        assert sorted(await client.keys("*")) == [
            "openroom:room:demo",
            "openroom:room:demo:chat",
            "openroom:room:demo:roster",
            "openroom:rooms",
        ]


@pytest.mark.parametrize(
    ("template", "command", "read"),
    [
        (keys.CHAT_KEY, ("RPUSH", "not json"), "chat_history"),
        (keys.CHAT_KEY, ("RPUSH", '{"id": "m1"}'), "chat_history"),
        (keys.ROSTER_KEY, ("HSET", "p1", '{"participantId": 7}'), "roster"),
        (keys.LOBBY_KEY, ("HSET", "p1", "[]"), "lobby"),
        (keys.ROOM_KEY, ("HSET", "roomId", '"demo"'), "get_room"),
        (keys.ROOM_KEY, ("HSET", "roomId", "{"), "get_room"),
        (keys.HANDS_KEY, ("SET", "a string, not a sorted set"), "hands"),
    ],
)
async def test_corrupt_stored_data_is_refused_with_a_store_error(
    redis_url: str, template: str, command: tuple[str, ...], read: str
) -> None:
    async with Redis.from_url(redis_url, decode_responses=True) as client:
        name, *args = command
        await client.execute_command(name, keys.room_key(template, "demo"), *args)  # type: ignore[no-untyped-call]
    store = RedisStore(redis_url)
    try:
        with pytest.raises(CorruptDataError) as raised:
            if read == "chat_history":
                await store.chat_history("demo", 5)
            else:
                await getattr(store, read)("demo")
        assert raised.value.code == "corrupt_data"
    finally:
        await store.close()


async def test_an_unreachable_redis_raises_store_unavailable() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(StoreUnavailableError):
            await store.get_room("demo")
    finally:
        await store.close()


async def test_open_store_picks_memory_without_a_url_and_redis_with_one(redis_url: str) -> None:
    memory, shared = open_store(""), open_store(redis_url)
    assert isinstance(memory, MemoryStore) and isinstance(shared, RedisStore)
    await memory.close()
    await shared.close()
