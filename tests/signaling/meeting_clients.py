"""Helpers for the meeting protocol tests: python-socketio clients that record every event the
server sends them, join tokens for each role, and a server started with chosen settings."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import socketio

from conference import Org, Role, mint_token
from media.client import BotPublisher
from media.synthetic import EncodedClip, encode_opus
from signaling import PROTOCOL_VERSION
from tests.conftest import TEST_SECRET, RunningServer

ORG = Org.parse("district:도봉구")
_NOTHING = object()


def role_token(
    room: str, role: Role, *, name: str | None = None, identity: str | None = None
) -> str:
    return mint_token(
        TEST_SECRET,
        room=room,
        name=name or f"도봉구 {role.value}",
        org=ORG,
        role=role,
        now=time.time(),
        ttl_seconds=600,
        identity=identity,
    )


class Peer:
    """One Socket.IO connection; ``events`` holds every server event in arrival order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.joined: dict[str, Any] = {}

        @self.sio.on("*")  # type: ignore[untyped-decorator]
        async def record(event: str, data: Any = None) -> None:
            # subscriber-offer is a call: answering nothing makes that round fail quietly
            self.events.append((event, data))

        @self.sio.event  # type: ignore[untyped-decorator]
        async def disconnect(reason: Any = None) -> None:
            self.events.append(("disconnect", reason))

    async def connect(self) -> Peer:
        await self.sio.connect(self.url, transports=["websocket"])
        return self

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    @property
    def id(self) -> str:
        return str(self.joined["self"]["id"])

    async def call(self, event: str, payload: Any = _NOTHING, timeout: float = 10) -> Any:
        if payload is _NOTHING:
            return await self.sio.call(event, timeout=timeout)
        return await self.sio.call(event, payload, timeout=timeout)

    async def join(
        self,
        room: str,
        *,
        token: str | None = None,
        name: str | None = None,
        role: Role | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"protocol": PROTOCOL_VERSION, "room": room}
        if role is not None:
            token = role_token(room, role, name=name)
        if token is not None:
            payload["token"] = token
        elif name is not None:
            payload["name"] = name
        payload.setdefault("autoSubscribe", False)
        payload.update(extra)
        reply: dict[str, Any] = await self.call("join", payload)
        if reply.get("ok"):
            self.joined = reply
        return reply

    def named(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def event(
        self, event: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = 5
    ) -> Any:
        """The first event of this name (matching ``where``) received so far or soon."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for data in self.named(event):
                if where(data):
                    return data
            if asyncio.get_running_loop().time() > deadline:
                seen = [name for name, _ in self.events]
                raise TimeoutError(f"no {event!r} event; received {seen}")
            await asyncio.sleep(0.02)

    async def until_disconnected(self, timeout: float = 5) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.connected:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("still connected")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


_CLIP: list[EncodedClip] = []


def opus_clip() -> EncodedClip:
    if not _CLIP:
        _CLIP.append(encode_opus(seconds=0.2))
    return _CLIP[0]


class Peers:
    """Makes connected peers for one server and closes them (and their publishers) at the end
    of a test."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self._made: list[Peer] = []
        self._publishers: list[BotPublisher] = []

    async def __call__(self) -> Peer:
        peer = Peer(self.server.url)
        self._made.append(peer)
        return await peer.connect()

    async def offer(self) -> dict[str, Any]:
        """A minimal valid publish payload: one Opus microphone track."""
        publisher = BotPublisher([opus_clip()])
        self._publishers.append(publisher)
        sdp, sources = await publisher.create_offer()
        return {"sdp": sdp, "sources": sources}

    async def publish(self, peer: Peer) -> str:
        """Publish one audio track for ``peer``; returns the server's id of the track."""
        reply = await peer.call("publish", await self.offer())
        assert isinstance(reply, dict) and reply.get("ok") is True, reply
        room = self.server.service.rooms[peer.joined["room"]]
        return next(p.id for p in room.router.producers.values() if p.peer_id == peer.id)

    async def close(self) -> None:
        for peer in self._made:
            await peer.close()
        for publisher in self._publishers:
            with contextlib.suppress(Exception):
                await publisher.close()


def ok(reply: Any) -> dict[str, Any]:
    assert isinstance(reply, dict) and reply.get("ok") is True, reply
    return reply


def code(reply: Any) -> str:
    assert isinstance(reply, dict) and reply.get("ok") is False, reply
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    return str(reply["error"]["code"])
