"""Where the room displays (the mayor's wall) keep what must outlive a connection and a server:
the pairing codes unpaired walls show (with their expiry), the walls paired to each room (a
wall's display token is honoured only while its wall is listed here: unpairing revokes it),
and each room's wall layout. In memory by default, in Redis when nodes share one.

Redis keys (under the store's namespace):

- ``openroom:wall-code:{code}``        JSON ``{sid, expiresAt}``, expiring with the code
- ``openroom:room:{room}:walls``       hash: wall id -> JSON wall record
- ``openroom:room:{room}:wall-layout`` JSON ``{layout, spotlight, updatedAt, by}``
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from signaling.store.errors import StoreUnavailableError
from signaling.store.keys import PREFIX
from signaling.store.model import check_room_id

CODE_KEY = PREFIX + "wall-code:{code}"
WALLS_KEY = PREFIX + "room:{room}:walls"
LAYOUT_KEY = PREFIX + "room:{room}:wall-layout"


class WallStore(Protocol):
    async def put_code(self, code: str, data: dict[str, Any], ttl_seconds: int) -> bool:
        """Keep a pairing code for ``ttl_seconds``; False (nothing stored) if it is taken."""
        ...

    async def take_code(self, code: str) -> dict[str, Any] | None:
        """The code's data, removed in the same step: of two takers only one gets it."""
        ...

    async def drop_code(self, code: str) -> None: ...

    async def put_wall(self, room_id: str, wall: dict[str, Any]) -> None: ...

    async def get_wall(self, room_id: str, wall_id: str) -> dict[str, Any] | None: ...

    async def walls(self, room_id: str) -> list[dict[str, Any]]:
        """Ordered by the time they were paired."""
        ...

    async def remove_wall(self, room_id: str, wall_id: str) -> bool:
        """False when no such wall was paired."""
        ...

    async def get_layout(self, room_id: str) -> dict[str, Any] | None: ...

    async def set_layout(self, room_id: str, layout: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(json.dumps(value)))


def _ordered(walls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(walls, key=lambda wall: (wall.get("pairedAt", 0), wall.get("id", "")))


class MemoryWallStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._codes: dict[str, tuple[float, dict[str, Any]]] = {}  # code -> (expiry, data)
        self._walls: dict[str, dict[str, dict[str, Any]]] = {}
        self._layouts: dict[str, dict[str, Any]] = {}

    def _expire(self) -> None:
        now = self._clock()
        for code in [code for code, (expiry, _) in self._codes.items() if expiry <= now]:
            del self._codes[code]

    async def put_code(self, code: str, data: dict[str, Any], ttl_seconds: int) -> bool:
        self._expire()
        if code in self._codes:
            return False
        self._codes[code] = (self._clock() + ttl_seconds, _copy(data))
        return True

    async def take_code(self, code: str) -> dict[str, Any] | None:
        self._expire()
        entry = self._codes.pop(code, None)
        return entry[1] if entry is not None else None

    async def drop_code(self, code: str) -> None:
        self._codes.pop(code, None)

    async def put_wall(self, room_id: str, wall: dict[str, Any]) -> None:
        self._walls.setdefault(check_room_id(room_id), {})[str(wall["id"])] = _copy(wall)

    async def get_wall(self, room_id: str, wall_id: str) -> dict[str, Any] | None:
        wall = self._walls.get(check_room_id(room_id), {}).get(wall_id)
        return _copy(wall) if wall is not None else None

    async def walls(self, room_id: str) -> list[dict[str, Any]]:
        return _ordered([_copy(w) for w in self._walls.get(check_room_id(room_id), {}).values()])

    async def remove_wall(self, room_id: str, wall_id: str) -> bool:
        return self._walls.get(check_room_id(room_id), {}).pop(wall_id, None) is not None

    async def get_layout(self, room_id: str) -> dict[str, Any] | None:
        layout = self._layouts.get(check_room_id(room_id))
        return _copy(layout) if layout is not None else None

    async def set_layout(self, room_id: str, layout: dict[str, Any]) -> None:
        self._layouts[check_room_id(room_id)] = _copy(layout)

    async def close(self) -> None:
        pass


# GET and DEL in one step (GETDEL needs Redis 6.2; this works everywhere).
_TAKE_LUA = """
local value = redis.call('GET', KEYS[1])
if value then redis.call('DEL', KEYS[1]) end
return value
"""


class RedisWallStore:
    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._take = self._redis.register_script(_TAKE_LUA)

    async def _call(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except RedisError as exc:
            raise StoreUnavailableError("the wall store cannot be reached") from exc

    async def put_code(self, code: str, data: dict[str, Any], ttl_seconds: int) -> bool:
        key = CODE_KEY.format(code=code)
        stored = await self._call(self._redis.set(key, json.dumps(data), ex=ttl_seconds, nx=True))
        return bool(stored)

    async def take_code(self, code: str) -> dict[str, Any] | None:
        raw = await self._call(self._take(keys=[CODE_KEY.format(code=code)]))
        return cast(dict[str, Any], json.loads(raw)) if raw else None

    async def drop_code(self, code: str) -> None:
        await self._call(self._redis.delete(CODE_KEY.format(code=code)))

    async def put_wall(self, room_id: str, wall: dict[str, Any]) -> None:
        key = WALLS_KEY.format(room=check_room_id(room_id))
        await self._call(
            self._redis.hset(key, str(wall["id"]), json.dumps(wall, ensure_ascii=False))
        )

    async def get_wall(self, room_id: str, wall_id: str) -> dict[str, Any] | None:
        key = WALLS_KEY.format(room=check_room_id(room_id))
        raw = await self._call(self._redis.hget(key, wall_id))
        return cast(dict[str, Any], json.loads(raw)) if raw else None

    async def walls(self, room_id: str) -> list[dict[str, Any]]:
        key = WALLS_KEY.format(room=check_room_id(room_id))
        raw = await self._call(self._redis.hvals(key))
        return _ordered([json.loads(item) for item in raw])

    async def remove_wall(self, room_id: str, wall_id: str) -> bool:
        key = WALLS_KEY.format(room=check_room_id(room_id))
        return bool(await self._call(self._redis.hdel(key, wall_id)))

    async def get_layout(self, room_id: str) -> dict[str, Any] | None:
        raw = await self._call(self._redis.get(LAYOUT_KEY.format(room=check_room_id(room_id))))
        return cast(dict[str, Any], json.loads(raw)) if raw else None

    async def set_layout(self, room_id: str, layout: dict[str, Any]) -> None:
        key = LAYOUT_KEY.format(room=check_room_id(room_id))
        await self._call(self._redis.set(key, json.dumps(layout, ensure_ascii=False)))

    async def close(self) -> None:
        await self._redis.aclose()


def open_wall_store(redis_url: str) -> WallStore:
    return RedisWallStore(redis_url) if redis_url else MemoryWallStore()
