"""Where the shared board lives between operations: the latest snapshot and the timeline of
numbered operations per room, the last values of data feeds, uploaded documents' metadata,
and the panel library. In memory by default, in Redis when nodes share one.

``commit_op`` is the one write of a board change: it stores the operation and the new
snapshot together, and only if the stored board is at the number just before it, so two
writers can never interleave operations."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from signaling.store.errors import StoreError, StoreUnavailableError
from signaling.store.keys import PREFIX

BOARD_KEY = PREFIX + "room:{room}:board"  # the snapshot, JSON
BOARD_SEQ_KEY = PREFIX + "room:{room}:board:seq"  # its number, for the atomic check
TIMELINE_KEY = PREFIX + "room:{room}:board:timeline"  # list of operations, JSON
FEED_KEY = PREFIX + "feed:{channel}"  # list of the newest values, JSON
DOCUMENT_KEY = PREFIX + "document:{document}"  # metadata, JSON
LIBRARY_KEY = PREFIX + "library"  # hash: item id -> JSON

TIMELINE_KEEP = 10_000


class BoardConflictError(StoreError):
    code = "board_conflict"


class BoardStore(Protocol):
    async def load_board(self, room_id: str) -> dict[str, Any] | None: ...

    async def commit_op(self, room_id: str, op: dict[str, Any], snapshot: dict[str, Any]) -> None:
        """Store ``op`` and the board after it; ``BoardConflictError`` unless the stored
        board's number is ``op["seq"] - 1``."""
        ...

    async def timeline(
        self, room_id: str, after_seq: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Stored operations numbered above ``after_seq``, oldest first."""
        ...

    async def put_feed_values(
        self, channel: str, values: list[dict[str, Any]], keep: int
    ) -> None: ...

    async def feed_values(self, channel: str, limit: int) -> list[dict[str, Any]]:
        """The newest values of a channel, oldest first."""
        ...

    async def put_document(self, document_id: str, meta: dict[str, Any]) -> None: ...

    async def get_document(self, document_id: str) -> dict[str, Any] | None: ...

    async def save_library_item(self, item: dict[str, Any]) -> None: ...

    async def library_items(self) -> list[dict[str, Any]]: ...

    async def delete_library_item(self, item_id: str) -> None: ...

    async def close(self) -> None: ...


class MemoryBoardStore:
    def __init__(self) -> None:
        self._boards: dict[str, dict[str, Any]] = {}
        self._timelines: dict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=TIMELINE_KEEP)
        )
        self._feeds: dict[str, deque[dict[str, Any]]] = {}
        self._documents: dict[str, dict[str, Any]] = {}
        self._library: dict[str, dict[str, Any]] = {}

    async def load_board(self, room_id: str) -> dict[str, Any] | None:
        board = self._boards.get(room_id)
        return json.loads(json.dumps(board)) if board is not None else None

    async def commit_op(self, room_id: str, op: dict[str, Any], snapshot: dict[str, Any]) -> None:
        current = self._boards.get(room_id, {}).get("seq", 0)
        if current != op["seq"] - 1:
            raise BoardConflictError(f"the board is at {current}, not {op['seq'] - 1}")
        # copies: the caller keeps mutating its live objects
        self._boards[room_id] = json.loads(json.dumps(snapshot))
        self._timelines[room_id].append(json.loads(json.dumps(op)))

    async def timeline(
        self, room_id: str, after_seq: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        ops = [op for op in self._timelines.get(room_id, ()) if op["seq"] > after_seq]
        return ops[:limit]

    async def put_feed_values(self, channel: str, values: list[dict[str, Any]], keep: int) -> None:
        stored = self._feeds.get(channel)
        if stored is None or stored.maxlen != keep:
            stored = self._feeds[channel] = deque(stored or (), maxlen=keep)
        stored.extend(values)

    async def feed_values(self, channel: str, limit: int) -> list[dict[str, Any]]:
        return list(self._feeds.get(channel, ()))[-limit:] if limit > 0 else []

    async def put_document(self, document_id: str, meta: dict[str, Any]) -> None:
        self._documents[document_id] = dict(meta)

    async def get_document(self, document_id: str) -> dict[str, Any] | None:
        meta = self._documents.get(document_id)
        return dict(meta) if meta is not None else None

    async def save_library_item(self, item: dict[str, Any]) -> None:
        self._library[str(item["id"])] = json.loads(json.dumps(item))

    async def library_items(self) -> list[dict[str, Any]]:
        return sorted(self._library.values(), key=lambda item: item.get("createdAt", 0))

    async def delete_library_item(self, item_id: str) -> None:
        self._library.pop(item_id, None)

    async def close(self) -> None:
        pass


# KEYS: board, board seq, timeline. ARGV: expected previous seq, snapshot, op, new seq, keep.
_COMMIT_LUA = """
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current ~= tonumber(ARGV[1]) then
  return current
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[4])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[5]), -1)
return -1
"""


def _key(template: str, **parts: str) -> str:
    return template.format(**parts)


class RedisBoardStore:
    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._commit = self._redis.register_script(_COMMIT_LUA)

    async def _call(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except RedisError as exc:
            raise StoreUnavailableError("the board store cannot be reached") from exc

    async def load_board(self, room_id: str) -> dict[str, Any] | None:
        raw = await self._call(self._redis.get(_key(BOARD_KEY, room=room_id)))
        return json.loads(raw) if raw else None

    async def commit_op(self, room_id: str, op: dict[str, Any], snapshot: dict[str, Any]) -> None:
        keys = [
            _key(BOARD_KEY, room=room_id),
            _key(BOARD_SEQ_KEY, room=room_id),
            _key(TIMELINE_KEY, room=room_id),
        ]
        args = [op["seq"] - 1, json.dumps(snapshot), json.dumps(op), op["seq"], TIMELINE_KEEP]
        result = await self._call(self._commit(keys=keys, args=args))
        if int(result) != -1:
            raise BoardConflictError(f"the board is at {result}, not {op['seq'] - 1}")

    async def timeline(
        self, room_id: str, after_seq: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        raw = await self._call(self._redis.lrange(_key(TIMELINE_KEY, room=room_id), 0, -1))
        ops = [json.loads(item) for item in raw]
        return [op for op in ops if op["seq"] > after_seq][:limit]

    async def put_feed_values(self, channel: str, values: list[dict[str, Any]], keep: int) -> None:
        key = _key(FEED_KEY, channel=channel)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *[json.dumps(value) for value in values])
            pipe.ltrim(key, -keep, -1)
            await self._call(pipe.execute())

    async def feed_values(self, channel: str, limit: int) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        raw = await self._call(self._redis.lrange(_key(FEED_KEY, channel=channel), -limit, -1))
        return [json.loads(item) for item in raw]

    async def put_document(self, document_id: str, meta: dict[str, Any]) -> None:
        await self._call(
            self._redis.set(_key(DOCUMENT_KEY, document=document_id), json.dumps(meta))
        )

    async def get_document(self, document_id: str) -> dict[str, Any] | None:
        raw = await self._call(self._redis.get(_key(DOCUMENT_KEY, document=document_id)))
        return json.loads(raw) if raw else None

    async def save_library_item(self, item: dict[str, Any]) -> None:
        await self._call(self._redis.hset(LIBRARY_KEY, str(item["id"]), json.dumps(item)))

    async def library_items(self) -> list[dict[str, Any]]:
        raw = await self._call(self._redis.hvals(LIBRARY_KEY))
        return sorted((json.loads(item) for item in raw), key=lambda i: i.get("createdAt", 0))

    async def delete_library_item(self, item_id: str) -> None:
        await self._call(self._redis.hdel(LIBRARY_KEY, item_id))

    async def close(self) -> None:
        await self._redis.aclose()


def open_board_store(redis_url: str) -> BoardStore:
    return RedisBoardStore(redis_url) if redis_url else MemoryBoardStore()
