"""The shared store: room state in Redis, so every node sees it and it outlives a node.

Key names live in ``keys.py``. Every method is one atomic step: a single command, a MULTI
transaction, a Lua script (creating a room) or WATCH/MULTI with retry (updating settings).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError, WatchError

from signaling.store import keys
from signaling.store.base import HandQueue
from signaling.store.errors import (
    CorruptDataError,
    RoomExistsError,
    RoomNotFoundError,
    StoreClosedError,
    StoreUnavailableError,
)
from signaling.store.model import (
    ChatMessage,
    MemberRecord,
    RoomSettings,
    check_room_id,
    decode_json,
    encode,
)

logger = logging.getLogger(__name__)

# KEYS: room hash, rooms set. ARGV: room id, then field/value pairs of the settings.
# Returns {created (0 or 1), the stored hash as field/value pairs...}.
_ENSURE_ROOM_LUA = """
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
  redis.call('SADD', KEYS[2], ARGV[1])
  created = 1
end
local stored = redis.call('HGETALL', KEYS[1])
table.insert(stored, 1, created)
return stored
"""


class RedisStore:
    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._ensure_room = self._redis.register_script(_ENSURE_ROOM_LUA)
        self._closed = False

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """Refuse calls after ``close`` and turn Redis failures into store errors."""
        if self._closed:
            raise StoreClosedError("the room store is closed")
        try:
            yield
        except ResponseError as exc:
            if str(exc).startswith("WRONGTYPE"):
                raise CorruptDataError("a stored room key holds the wrong kind of value") from exc
            raise StoreUnavailableError("the room store refused a command") from exc
        except RedisError as exc:
            logger.warning("redis store failed", extra={"error": str(exc)})
            raise StoreUnavailableError("the room store cannot be reached") from exc

    async def _command(self, *args: str | float) -> Any:
        async with self._guard():
            return await _untyped(self._redis.execute_command)(*args)

    async def _transaction(self, *commands: tuple[str | float, ...]) -> list[Any]:
        """Run ``commands`` in one MULTI/EXEC; their replies in order."""
        async with self._guard(), self._redis.pipeline(transaction=True) as pipe:
            for command in commands:
                _untyped(pipe.execute_command)(*command)
            return await pipe.execute()

    async def _ensure(self, settings: RoomSettings) -> tuple[bool, RoomSettings]:
        room_id = check_room_id(settings.room_id)
        fields = [item for pair in _settings_fields(settings).items() for item in pair]
        async with self._guard():
            reply = await self._ensure_room(
                keys=[keys.room_key(keys.ROOM_KEY, room_id), keys.ROOMS_KEY],
                args=[room_id, *fields],
            )
        created, *stored = cast(list[Any], reply)
        return created == 1, _decode_settings(dict(zip(stored[::2], stored[1::2], strict=True)))

    async def create_room(self, settings: RoomSettings) -> RoomSettings:
        created, _ = await self._ensure(settings)
        if not created:
            raise RoomExistsError(f"the room {settings.room_id!r} already exists")
        return settings

    async def ensure_room(self, settings: RoomSettings) -> RoomSettings:
        return (await self._ensure(settings))[1]

    async def get_room(self, room_id: str) -> RoomSettings | None:
        stored = await self._command("HGETALL", _key(keys.ROOM_KEY, room_id))
        return _decode_settings(stored) if stored else None

    async def list_rooms(self) -> list[RoomSettings]:
        room_ids = sorted(await self._command("SMEMBERS", keys.ROOMS_KEY))
        async with self._guard(), self._redis.pipeline(transaction=False) as pipe:
            for room_id in room_ids:
                _untyped(pipe.execute_command)("HGETALL", keys.room_key(keys.ROOM_KEY, room_id))
            stored = await pipe.execute()
        # A room deleted between the two reads leaves an empty hash: skip it.
        return [_decode_settings(fields) for fields in stored if fields]

    async def update_room(self, room_id: str, **changes: object) -> RoomSettings:
        key = _key(keys.ROOM_KEY, room_id)
        async with self._guard(), self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    stored = await _untyped(pipe.execute_command)("HGETALL", key)
                    if not stored:
                        raise RoomNotFoundError(f"there is no room {room_id!r}")
                    updated = _decode_settings(stored).with_changes(changes)
                    _untyped(pipe.multi)()
                    pipe.hset(key, mapping=_settings_fields(updated))
                    await pipe.execute()
                    return updated
                except WatchError:
                    logger.debug("room settings changed during an update, retrying")

    async def delete_room(self, room_id: str) -> None:
        room_keys = [_key(template, room_id) for template in keys.ROOM_KEYS]
        await self._transaction(("DEL", *room_keys), ("SREM", keys.ROOMS_KEY, room_id))

    async def append_chat(self, room_id: str, message: ChatMessage, keep: int) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        key = _key(keys.CHAT_KEY, room_id)
        await self._transaction(("RPUSH", key, encode(message)), ("LTRIM", key, -keep, -1))

    async def chat_history(self, room_id: str, limit: int) -> list[ChatMessage]:
        if limit < 1:
            return []
        stored = await self._command("LRANGE", _key(keys.CHAT_KEY, room_id), -limit, -1)
        return [ChatMessage.from_dict(decode_json(text, "chat message")) for text in stored]

    async def put_member(self, room_id: str, member: MemberRecord) -> None:
        await self._command(
            "HSET", _key(keys.ROSTER_KEY, room_id), member.participant_id, encode(member)
        )

    async def remove_member(self, room_id: str, participant_id: str) -> None:
        await self._command("HDEL", _key(keys.ROSTER_KEY, room_id), participant_id)

    async def roster(self, room_id: str) -> list[MemberRecord]:
        return _decode_members(await self._command("HVALS", _key(keys.ROSTER_KEY, room_id)))

    async def raise_hand(self, room_id: str, participant_id: str, at: float) -> HandQueue:
        key = _key(keys.HANDS_KEY, room_id)
        replies = await self._transaction(
            ("ZADD", key, "NX", float(at), participant_id),
            ("ZRANGE", key, 0, -1, "WITHSCORES"),
        )
        return _decode_queue(replies[-1])

    async def lower_hand(self, room_id: str, participant_id: str) -> HandQueue:
        key = _key(keys.HANDS_KEY, room_id)
        replies = await self._transaction(
            ("ZREM", key, participant_id), ("ZRANGE", key, 0, -1, "WITHSCORES")
        )
        return _decode_queue(replies[-1])

    async def hands(self, room_id: str) -> HandQueue:
        key = _key(keys.HANDS_KEY, room_id)
        return _decode_queue(await self._command("ZRANGE", key, 0, -1, "WITHSCORES"))

    async def lobby_put(self, room_id: str, member: MemberRecord) -> None:
        await self._command(
            "HSET", _key(keys.LOBBY_KEY, room_id), member.participant_id, encode(member)
        )

    async def lobby_remove(self, room_id: str, participant_id: str) -> MemberRecord | None:
        key = _key(keys.LOBBY_KEY, room_id)
        # HGET and HDEL in one transaction: of two concurrent takes only one reads the entry.
        stored, _ = await self._transaction(
            ("HGET", key, participant_id), ("HDEL", key, participant_id)
        )
        if stored is None:
            return None
        return MemberRecord.from_dict(decode_json(stored, "lobby entry"))

    async def lobby(self, room_id: str) -> list[MemberRecord]:
        return _decode_members(await self._command("HVALS", _key(keys.LOBBY_KEY, room_id)))

    async def ban(self, room_id: str, identity: str, until: float) -> None:
        await self._command("ZADD", _key(keys.BANS_KEY, room_id), float(until), identity)

    async def is_banned(self, room_id: str, identity: str, now: float) -> bool:
        key = _key(keys.BANS_KEY, room_id)
        _, until = await self._transaction(
            ("ZREMRANGEBYSCORE", key, "-inf", float(now)), ("ZSCORE", key, identity)
        )
        return until is not None

    async def clear_live_state(self, room_id: str) -> None:
        await self._command("DEL", *(_key(template, room_id) for template in keys.LIVE_STATE_KEYS))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._redis.aclose()


def _untyped(function: object) -> Callable[..., Any]:
    """redis-py types its commands as ``Awaitable[T] | T`` (sync and async share them), or not
    at all: call them through this and give the reply its type where it is decoded."""
    return cast(Callable[..., Any], function)


def _key(template: str, room_id: str) -> str:
    return keys.room_key(template, check_room_id(room_id))


def _settings_fields(settings: RoomSettings) -> dict[str, str]:
    return {
        name: json.dumps(value, ensure_ascii=False) for name, value in settings.to_dict().items()
    }


def _decode_settings(stored: Mapping[str, str]) -> RoomSettings:
    try:
        values = {name: json.loads(text) for name, text in stored.items()}
    except (TypeError, ValueError) as exc:
        raise CorruptDataError("stored room settings are not JSON") from exc
    return RoomSettings.from_dict(values)


def _decode_members(stored: Iterable[object]) -> list[MemberRecord]:
    members = [MemberRecord.from_dict(decode_json(text, "member record")) for text in stored]
    return sorted(members, key=lambda m: (m.joined_at, m.participant_id))


def _decode_queue(stored: list[Any]) -> HandQueue:
    """A raw ZRANGE WITHSCORES reply: member, score, member, score... in score order."""
    try:
        return [
            (str(member), float(score))
            for member, score in zip(stored[::2], stored[1::2], strict=True)
        ]
    except (TypeError, ValueError) as exc:
        raise CorruptDataError("a stored hand queue is not member/score pairs") from exc
