"""Room state (settings, chat history, roster, hands, lobby, bans) behind one contract:
``MemoryStore`` for one process, ``RedisStore`` when nodes share a Redis."""

from signaling.store.base import HandQueue, RoomStore
from signaling.store.errors import (
    CorruptDataError,
    InvalidRoomIdError,
    InvalidSettingError,
    RoomExistsError,
    RoomNotFoundError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
)
from signaling.store.memory import MemoryStore
from signaling.store.model import ChatMessage, MemberRecord, RoomSettings
from signaling.store.redis import RedisStore


def open_store(redis_url: str) -> RoomStore:
    """The in-memory store when no Redis is configured (``""``), else a Redis store."""
    return RedisStore(redis_url) if redis_url else MemoryStore()


__all__ = [
    "ChatMessage",
    "CorruptDataError",
    "HandQueue",
    "InvalidRoomIdError",
    "InvalidSettingError",
    "MemberRecord",
    "MemoryStore",
    "RedisStore",
    "RoomExistsError",
    "RoomNotFoundError",
    "RoomSettings",
    "RoomStore",
    "StoreClosedError",
    "StoreError",
    "StoreUnavailableError",
    "open_store",
]
