"""The board store's contract, on memory and on a real Redis: operations committed in order
only (a wrong number is a conflict and stores nothing, one of two racing writers wins), the
last snapshot, the timeline, bounded feed values, documents and library items; and, on
Redis, a new store (a restarted server) reads the board back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from signaling.store.board import (
    BoardConflictError,
    BoardStore,
    MemoryBoardStore,
    RedisBoardStore,
)

ROOM = "disaster-response"


@pytest.fixture(params=["memory", "redis"])
async def board_store(request: pytest.FixtureRequest) -> AsyncIterator[BoardStore]:
    if request.param == "memory":
        opened: BoardStore = MemoryBoardStore()
    else:
        opened = RedisBoardStore(request.getfixturevalue("redis_url"))  # flushed per test
    try:
        yield opened
    finally:
        await opened.close()


def op(seq: int, title: str = "패널", by: str = "p1") -> dict[str, Any]:
    return {
        "seq": seq,
        "type": "update",
        "by": by,
        "byName": "도봉구청",
        "at": 1000.0 + seq,
        "payload": {"panelId": "a1", "title": title},
    }


def snapshot(seq: int, title: str = "패널") -> dict[str, Any]:
    panel: dict[str, Any] = {
        "id": "a1",
        "kind": "kpi",
        "title": title,
        "data": {"items": []},
        "feed": None,
    }
    return {"seq": seq, "layout": 4, "focus": None, "panels": [panel]}


async def commit(store: BoardStore, count: int, room: str = ROOM, start: int = 1) -> None:
    for seq in range(start, start + count):
        await store.commit_op(room, op(seq, f"제목 {seq}"), snapshot(seq, f"제목 {seq}"))


async def test_an_unknown_room_has_no_board_and_no_timeline(board_store: BoardStore) -> None:
    assert await board_store.load_board("nowhere") is None
    assert await board_store.timeline("nowhere") == []


async def test_operations_committed_in_order_are_stored_with_the_last_snapshot(
    board_store: BoardStore,
) -> None:
    await commit(board_store, 3)
    assert await board_store.load_board(ROOM) == snapshot(3, "제목 3")
    assert await board_store.timeline(ROOM) == [op(seq, f"제목 {seq}") for seq in (1, 2, 3)]


@pytest.mark.parametrize("wrong", [0, 1, 2, 4])
async def test_a_wrong_number_is_a_conflict_and_stores_nothing(
    board_store: BoardStore, wrong: int
) -> None:
    await commit(board_store, 2)
    with pytest.raises(BoardConflictError) as raised:
        await board_store.commit_op(ROOM, op(wrong, "끼어들기"), snapshot(wrong, "끼어들기"))
    assert raised.value.code == "board_conflict"
    assert "2" in raised.value.message  # it says where the board is
    assert await board_store.load_board(ROOM) == snapshot(2, "제목 2")
    assert [o["seq"] for o in await board_store.timeline(ROOM)] == [1, 2]


async def test_the_first_operation_must_be_number_one(board_store: BoardStore) -> None:
    with pytest.raises(BoardConflictError):
        await board_store.commit_op(ROOM, op(2), snapshot(2))
    assert await board_store.load_board(ROOM) is None
    assert await board_store.timeline(ROOM) == []


async def test_of_writers_racing_for_one_number_exactly_one_wins(board_store: BoardStore) -> None:
    await commit(board_store, 1)
    titles = [f"작성자 {n}" for n in range(8)]
    results = await asyncio.gather(
        *(board_store.commit_op(ROOM, op(2, t, by=t), snapshot(2, t)) for t in titles),
        return_exceptions=True,
    )
    winners = [t for t, result in zip(titles, results, strict=True) if result is None]
    assert len(winners) == 1
    assert all(isinstance(r, BoardConflictError) for r in results if r is not None)
    stored = await board_store.load_board(ROOM)
    assert stored == snapshot(2, winners[0])
    timeline = await board_store.timeline(ROOM)
    assert [o["seq"] for o in timeline] == [1, 2]
    assert timeline[1]["by"] == winners[0]  # the timeline and the snapshot agree


async def test_rooms_are_numbered_independently(board_store: BoardStore) -> None:
    await commit(board_store, 3, room="a")
    await commit(board_store, 1, room="b")
    assert (await board_store.load_board("a") or {})["seq"] == 3
    assert (await board_store.load_board("b") or {})["seq"] == 1
    assert [o["seq"] for o in await board_store.timeline("b")] == [1]


async def test_the_timeline_reads_after_a_number_and_up_to_a_limit(
    board_store: BoardStore,
) -> None:
    await commit(board_store, 10)
    assert [o["seq"] for o in await board_store.timeline(ROOM, after_seq=7)] == [8, 9, 10]
    assert [o["seq"] for o in await board_store.timeline(ROOM, limit=3)] == [1, 2, 3]
    assert [o["seq"] for o in await board_store.timeline(ROOM, 4, 2)] == [5, 6]
    assert await board_store.timeline(ROOM, after_seq=10) == []


async def test_stored_values_do_not_follow_later_changes_of_the_callers_objects(
    board_store: BoardStore,
) -> None:
    operation, board = op(1), snapshot(1)
    await board_store.commit_op(ROOM, operation, board)
    operation["payload"]["title"] = "changed"
    board["panels"][0]["title"] = "changed"
    loaded = await board_store.load_board(ROOM)
    assert loaded == snapshot(1)
    assert loaded is not None
    loaded["panels"].clear()
    assert await board_store.load_board(ROOM) == snapshot(1)
    assert (await board_store.timeline(ROOM))[0] == op(1)


async def test_feed_values_are_kept_in_order_and_bounded(board_store: BoardStore) -> None:
    channel = "covid/dobong"
    assert await board_store.feed_values(channel, 10) == []
    await board_store.put_feed_values(channel, [{"n": n} for n in range(3)], keep=5)
    await board_store.put_feed_values(channel, [{"n": n} for n in range(3, 8)], keep=5)
    assert await board_store.feed_values(channel, 100) == [{"n": n} for n in range(3, 8)]
    assert await board_store.feed_values(channel, 2) == [{"n": 6}, {"n": 7}]
    assert await board_store.feed_values(channel, 0) == []
    assert await board_store.feed_values("river/jungnangcheon", 10) == []


async def test_a_batch_larger_than_the_bound_keeps_its_newest_values(
    board_store: BoardStore,
) -> None:
    await board_store.put_feed_values("river/x", [{"n": n} for n in range(10)], keep=4)
    assert await board_store.feed_values("river/x", 10) == [{"n": n} for n in range(6, 10)]


async def test_documents_round_trip(board_store: BoardStore) -> None:
    meta = {"id": "doc-1", "name": "대응 매뉴얼.pdf", "pageCount": 12, "owner": "p1"}
    assert await board_store.get_document("doc-1") is None
    await board_store.put_document("doc-1", meta)
    assert await board_store.get_document("doc-1") == meta
    await board_store.put_document("doc-1", {**meta, "pageCount": 13})
    assert (await board_store.get_document("doc-1") or {})["pageCount"] == 13


async def test_library_items_round_trip_oldest_first_and_are_deleted(
    board_store: BoardStore,
) -> None:
    newer = {"id": "b", "createdAt": 20.0, "panel": {"kind": "note", "title": "메모"}}
    older = {"id": "a", "createdAt": 10.0, "panel": {"kind": "kpi", "title": "지표"}}
    await board_store.save_library_item(newer)
    await board_store.save_library_item(older)
    assert await board_store.library_items() == [older, newer]
    await board_store.save_library_item({**older, "panel": {"kind": "kpi", "title": "새"}})
    assert [i["panel"]["title"] for i in await board_store.library_items()] == ["새", "메모"]
    await board_store.delete_library_item("a")
    await board_store.delete_library_item("missing")
    assert await board_store.library_items() == [newer]


async def test_a_new_redis_store_reads_the_board_back(redis_url: str) -> None:
    """A restarted server opens a new store on the same Redis: nothing is lost."""
    first = RedisBoardStore(redis_url)
    try:
        await commit(first, 4)
        await first.put_feed_values("covid/dobong", [{"cases": 12}], keep=10)
        await first.put_document("doc-1", {"name": "매뉴얼"})
    finally:
        await first.close()
    second = RedisBoardStore(redis_url)
    try:
        assert await second.load_board(ROOM) == snapshot(4, "제목 4")
        assert [o["seq"] for o in await second.timeline(ROOM)] == [1, 2, 3, 4]
        assert await second.feed_values("covid/dobong", 10) == [{"cases": 12}]
        assert await second.get_document("doc-1") == {"name": "매뉴얼"}
        await commit(second, 1, start=5)  # and it goes on numbering where the first stopped
        with pytest.raises(BoardConflictError):
            await second.commit_op(ROOM, op(5), snapshot(5))
    finally:
        await second.close()
