"""The store under test: each contract test runs against memory and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis import Redis

from signaling.store import MemoryStore, RedisStore, RoomStore


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's redis-server, emptied for this test."""
    with Redis.from_url(redis_server) as client:
        client.flushdb()
    return redis_server


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RoomStore]:
    if request.param == "memory":
        opened: RoomStore = MemoryStore()
    else:
        opened = RedisStore(request.getfixturevalue("redis_url"))
    try:
        yield opened
    finally:
        await opened.close()
