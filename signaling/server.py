"""Builds the Socket.IO server: in-process manager by default, Redis when configured."""

from __future__ import annotations

from typing import Any

import socketio

from signaling.context import ServiceOptions
from signaling.namespace import RoomNamespace
from signaling.service import ConferenceService
from signaling.store import open_store
from signaling.store.board import open_board_store
from signaling.store.walls import open_wall_store

MAX_MESSAGE_BYTES = 256 * 1024


class _SocketIOEmitter:
    """Adapts python-socketio's AsyncServer to the service's Emitter protocol."""

    def __init__(self, server: socketio.AsyncServer) -> None:
        self._server = server

    async def emit(
        self,
        event: str,
        data: Any = None,
        *,
        to: str | None = None,
        room: str | None = None,
        skip_sid: str | None = None,
    ) -> None:
        await self._server.emit(event, data, to=to, room=room, skip_sid=skip_sid)

    async def call(self, event: str, data: Any = None, *, to: str, timeout: float) -> Any:
        try:
            return await self._server.call(event, data, to=to, timeout=timeout)
        except socketio.exceptions.TimeoutError as exc:
            raise TimeoutError(f"no reply to {event} in {timeout} s") from exc
        except socketio.exceptions.SocketIOError as exc:
            raise ConnectionError(str(exc)) from exc

    async def enter_room(self, sid: str, room: str) -> None:
        await self._server.enter_room(sid, room)

    async def leave_room(self, sid: str, room: str) -> None:
        await self._server.leave_room(sid, room)

    async def disconnect(self, sid: str) -> None:
        await self._server.disconnect(sid)


def create_signaling(
    options: ServiceOptions, redis_url: str = ""
) -> tuple[socketio.AsyncServer, ConferenceService]:
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    server = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        ping_interval=10,
        ping_timeout=10,
    )
    service = ConferenceService(
        options,
        _SocketIOEmitter(server),
        open_store(redis_url),
        board_store=open_board_store(redis_url),
        wall_store=open_wall_store(redis_url),
    )
    server.register_namespace(RoomNamespace(service))
    return server, service
