"""A headless participant: joins over Socket.IO like a browser, publishes pre-encoded clips
and counts what it receives, decoding nothing. For load tests, demos and tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import socketio

from media.client import BotPublisher, BotSubscriber, ReceivedStream
from media.synthetic import EncodedClip
from signaling.errors import ProtocolError
from signaling.service import PROTOCOL_VERSION

logger = logging.getLogger(__name__)


@dataclass
class BotState:
    participant: dict[str, Any] = field(default_factory=dict)
    participants: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracks_by_mid: dict[str, dict[str, Any]] = field(default_factory=dict)
    offers_answered: int = 0
    events: list[tuple[str, Any]] = field(default_factory=list)


class BotClient:
    def __init__(
        self,
        url: str,
        room: str,
        name: str,
        token: str | None = None,
        auto_subscribe: bool = True,
        last_n: int | None = None,
        count_only: bool = False,
    ) -> None:
        self.url = url
        self.auto_subscribe = auto_subscribe
        self.last_n = last_n
        # the server's id of each track this bot publishes -> its kind
        self.published_kinds: dict[str, str] = {}
        self.room = room
        self.name = name
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.state = BotState()
        self.publisher: BotPublisher | None = None
        self.subscriber = BotSubscriber(count_only=count_only)
        self._register()

    def _register(self) -> None:
        sio = self.sio

        @sio.on("participant-joined")  # type: ignore[untyped-decorator]
        async def on_joined(data: dict[str, Any]) -> None:
            self.state.participants[data["id"]] = data
            self.state.events.append(("participant-joined", data))

        @sio.on("participant-left")  # type: ignore[untyped-decorator]
        async def on_left(data: dict[str, Any]) -> None:
            self.state.participants.pop(data["id"], None)
            self.state.events.append(("participant-left", data))

        @sio.on("subscriber-offer")  # type: ignore[untyped-decorator]
        async def on_offer(data: dict[str, Any]) -> dict[str, str]:
            answer = await self.subscriber.answer(data["sdp"])
            self.state.tracks_by_mid = dict(data["tracks"])
            self.state.offers_answered += 1
            return {"sdp": answer}

        @sio.on("*")  # type: ignore[untyped-decorator]
        async def on_other(event: str, data: Any = None) -> None:
            self.state.events.append((event, data))

    async def request(self, event: str, payload: Any = None) -> dict[str, Any]:
        reply: dict[str, Any] = await self.sio.call(event, payload, timeout=20)
        return reply

    async def _checked(self, event: str, payload: Any) -> dict[str, Any]:
        reply = await self.request(event, payload)
        if not reply.get("ok"):
            error = reply.get("error", {})
            raise ProtocolError(error.get("code", "error"), error.get("message", ""))
        return reply

    async def join(self, clips: list[EncodedClip] | None = None) -> dict[str, Any]:
        await self.sio.connect(self.url, transports=["websocket"])
        payload: dict[str, Any] = {
            "protocol": PROTOCOL_VERSION,
            "room": self.room,
            "autoSubscribe": self.auto_subscribe,
        }
        if self.last_n is not None:
            payload["lastN"] = self.last_n
        if self.token:
            payload["token"] = self.token
        else:
            payload["name"] = self.name
        reply = await self._checked("join", payload)
        self.state.participant = reply["self"]
        self.state.participants = {
            p["id"]: p for p in reply["participants"] if p["id"] != reply["self"]["id"]
        }
        if clips:
            self.publisher = BotPublisher(clips)
            offer, sources = await self.publisher.create_offer()
            answer = await self._checked("publish", {"sdp": offer, "sources": sources})
            await self.publisher.accept_answer(answer["sdp"])
            own_id = reply["self"]["id"]
            for transceiver in self.publisher.pc.getTransceivers():
                self.published_kinds[f"{own_id}:{transceiver.mid}"] = transceiver.kind
        return reply

    def track_id(self, kind: str) -> str:
        """The server's id of the track of ``kind`` this bot publishes."""
        return next(tid for tid, k in self.published_kinds.items() if k == kind)

    def video_source(self) -> str | None:
        """Whose camera the (single) subscribed video section carries now."""
        sources = [
            t.get("participantId")
            for t in self.state.tracks_by_mid.values()
            if t.get("kind") == "video"
        ]
        return sources[0] if len(sources) == 1 else None

    def received_from(self, participant_id: str, kind: str) -> ReceivedStream | None:
        """What this bot received of one participant's track of ``kind``."""
        for mid, track in self.state.tracks_by_mid.items():
            if track.get("participantId") == participant_id and track.get("kind") == kind:
                return self.subscriber.streams.get(mid)
        return None

    async def close(self) -> None:
        """Leave (a closed socket alone would count as a dropped connection), then close."""
        if self.sio.connected:
            # leaving anyway if it fails: the server times the session out
            with contextlib.suppress(socketio.exceptions.SocketIOError, TimeoutError):
                await self.sio.call("leave", {}, timeout=5)
            await self.sio.disconnect()
        if self.publisher is not None:
            await self.publisher.close()
        await self.subscriber.close()
        await asyncio.sleep(0)
