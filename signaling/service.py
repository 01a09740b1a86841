"""Where conference and media meet: each room's Room (who is there) and MediaRouter (what
flows), and the sessions of the connections in it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from conference import (
    ForbiddenError,
    NotInRoomError,
    Participant,
    ParticipantId,
    Permission,
    Room,
    RoomId,
    RoomPolicy,
    TrackId,
    verify_token,
)
from conference.model import is_valid_room_id
from media import ForwardingMetrics, MediaRouter, Producer, TransportOptions
from signaling.errors import ProtocolError
from signaling.negotiation import SubscriberNegotiator

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
OFFER_REPLY_TIMEOUT_SECONDS = 15.0


class Emitter(Protocol):
    """What the service needs of the Socket.IO server (python-socketio's AsyncServer)."""

    async def emit(
        self,
        event: str,
        data: Any = None,
        *,
        to: str | None = None,
        room: str | None = None,
        skip_sid: str | None = None,
    ) -> None: ...

    async def call(self, event: str, data: Any = None, *, to: str, timeout: float) -> Any: ...

    async def enter_room(self, sid: str, room: str) -> None: ...

    async def leave_room(self, sid: str, room: str) -> None: ...

    async def disconnect(self, sid: str) -> None: ...


@dataclass(frozen=True)
class ServiceOptions:
    token_secret: str
    media: TransportOptions
    allow_guests: bool = True
    capacity: int = 50


@dataclass
class Session:
    sid: str
    room: RoomContext
    participant_id: ParticipantId
    negotiator: SubscriberNegotiator | None = None
    # False: consume only what the client asks for (`subscribe`); bots publishing in a
    # benchmark, or a client that shows a few tiles, say so at join.
    auto_subscribe: bool = True


@dataclass
class RoomContext:
    room: Room
    router: MediaRouter
    sessions: dict[str, Session] = field(default_factory=dict)

    @property
    def channel(self) -> str:
        return f"room:{self.room.id}"

    def session_of(self, participant_id: ParticipantId) -> Session | None:
        return next((s for s in self.sessions.values() if s.participant_id == participant_id), None)


class ConferenceService:
    def __init__(
        self, options: ServiceOptions, emitter: Emitter, clock: Callable[[], float] = time.time
    ) -> None:
        self.options = options
        self._emitter = emitter
        self._clock = clock
        self.rooms: dict[RoomId, RoomContext] = {}
        self.sessions: dict[str, Session] = {}
        self.metrics = ForwardingMetrics()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- joining and leaving -------------------------------------------------------------

    async def join(
        self,
        sid: str,
        room_id: str,
        *,
        token: str | None,
        name: str | None,
        auto_subscribe: bool = True,
    ) -> dict[str, Any]:
        if sid in self.sessions:
            raise ProtocolError("already_joined", "this connection has already joined a room")
        if not is_valid_room_id(room_id):
            raise ProtocolError("invalid_room", "the room name may use letters, digits, - and _")
        claims = (
            verify_token(self.options.token_secret, token, now=self._clock()) if token else None
        )
        context = self._room(RoomId(room_id))
        if claims is not None:
            previous = context.room.find_identity(claims.identity)
            if previous is not None:  # the same person again (a reload): drop the old entry
                old = context.session_of(previous.id)
                if old is not None:
                    await self._leave(old)
                    await self._emitter.disconnect(old.sid)
        try:
            participant = context.room.admit(claims=claims, guest_name=name, now=self._clock())
        except Exception:
            self._drop_room_if_empty(context)
            raise
        session = Session(
            sid=sid, room=context, participant_id=participant.id, auto_subscribe=auto_subscribe
        )
        context.sessions[sid] = session
        self.sessions[sid] = session
        await self._emitter.enter_room(sid, context.channel)
        logger.info("%s joined room %s as %s", participant.name, room_id, participant.role)
        if participant.is_person:
            await self._emitter.emit(
                "participant-joined", participant.to_dict(), room=context.channel, skip_sid=sid
            )
        if participant.can(Permission.SUBSCRIBE):
            self._start_subscribing(session)
        return {
            "protocol": PROTOCOL_VERSION,
            "room": room_id,
            "self": participant.to_dict(),
            "participants": context.room.roster(),
            "tracks": [track.to_dict() for track in context.room.tracks()],
            "media": {"videoCodec": self.options.media.video_codec},
        }

    def _room(self, room_id: RoomId) -> RoomContext:
        context = self.rooms.get(room_id)
        if context is None:
            policy = RoomPolicy(
                capacity=self.options.capacity, allow_guests=self.options.allow_guests
            )
            router = MediaRouter(room_id, self.options.media, self.metrics)
            context = RoomContext(room=Room(room_id, policy), router=router)
            router.on_producer(lambda producer: self._on_producer(context, producer))
            router.on_producer_closed(lambda producer: self._on_producer_closed(context, producer))
            self.rooms[room_id] = context
        return context

    async def leave(self, sid: str) -> None:
        session = self.sessions.get(sid)
        if session is not None:
            await self._leave(session)

    async def _leave(self, session: Session) -> None:
        context = session.room
        self.sessions.pop(session.sid, None)
        context.sessions.pop(session.sid, None)
        if session.negotiator is not None:
            await session.negotiator.close()
        # media first: closing its producers removes its tracks and tells the others
        await context.router.close_peer(session.participant_id)
        participant = context.room.leave(session.participant_id)
        await self._emitter.leave_room(session.sid, context.channel)
        if participant is not None and participant.is_person:
            await self._emitter.emit(
                "participant-left", {"id": participant.id}, room=context.channel
            )
            logger.info("%s left room %s", participant.name, context.room.id)
        self._drop_room_if_empty(context)

    def _drop_room_if_empty(self, context: RoomContext) -> None:
        if not context.sessions and self.rooms.get(context.room.id) is context:
            del self.rooms[context.room.id]
            self._spawn(context.router.close())

    # -- media ---------------------------------------------------------------------------

    def session(self, sid: str) -> Session:
        session = self.sessions.get(sid)
        if session is None:
            raise NotInRoomError("join a room first")
        return session

    async def publish(self, sid: str, sdp: str, sources: dict[str, str]) -> dict[str, Any]:
        session = self.session(sid)
        context = session.room
        context.room.require(session.participant_id, Permission.PUBLISH)
        transport = context.router.publisher_for(session.participant_id)
        answer = await transport.accept_offer(sdp, sources)
        return {"sdp": answer}

    def _on_producer(self, context: RoomContext, producer: Producer) -> None:
        publisher = ParticipantId(producer.peer_id)
        try:
            track = context.room.add_track(
                publisher, TrackId(producer.id), producer.kind, producer.source
            )
        except (NotInRoomError, ForbiddenError):
            self._spawn(producer.close())
            return
        producer.set_muted(track.muted)
        self._spawn(self._emitter.emit("track-added", track.to_dict(), room=context.channel))
        for session in context.sessions.values():
            if (
                session.participant_id != publisher
                and session.negotiator is not None
                and session.auto_subscribe
            ):
                context.router.subscriber_for(session.participant_id).add_consumer(producer)
                session.negotiator.request()

    def _on_producer_closed(self, context: RoomContext, producer: Producer) -> None:
        track = context.room.remove_track(TrackId(producer.id))
        if track is not None:
            self._spawn(
                self._emitter.emit(
                    "track-removed",
                    {"id": track.id, "participantId": track.participant_id},
                    room=context.channel,
                )
            )

    def _start_subscribing(self, session: Session) -> None:
        context = session.room
        transport = context.router.subscriber_for(session.participant_id)

        async def send_offer(sdp: str, mids: dict[str, str]) -> str:
            tracks = {
                mid: self._track_view(context, producer_id) for mid, producer_id in mids.items()
            }
            reply = await self._emitter.call(
                "subscriber-offer",
                {"sdp": sdp, "tracks": tracks},
                to=session.sid,
                timeout=OFFER_REPLY_TIMEOUT_SECONDS,
            )
            if not isinstance(reply, dict) or not isinstance(reply.get("sdp"), str):
                raise ValueError("the client's answer has no SDP")
            return str(reply["sdp"])

        session.negotiator = SubscriberNegotiator(transport, send_offer)
        if session.auto_subscribe:
            for producer in context.router.producers.values():
                if producer.peer_id != session.participant_id:
                    transport.add_consumer(producer)
            session.negotiator.request()

    def _track_view(self, context: RoomContext, producer_id: str) -> dict[str, Any]:
        for participant in context.room.participants.values():
            track = participant.tracks.get(TrackId(producer_id))
            if track is not None:
                return {**track.to_dict(), "participantName": participant.name}
        return {"id": producer_id}

    async def set_media_state(
        self, sid: str, *, audio_muted: bool | None, video_muted: bool | None
    ) -> dict[str, Any]:
        session = self.session(sid)
        context = session.room
        participant = context.room.set_media_state(
            session.participant_id, audio_muted=audio_muted, video_muted=video_muted
        )
        self._apply_mute(context, participant)
        await self._emitter.emit("participant-updated", participant.to_dict(), room=context.channel)
        return {"self": participant.to_dict()}

    def _apply_mute(self, context: RoomContext, participant: Participant) -> None:
        for track in participant.tracks.values():
            producer = context.router.producers.get(track.id)
            if producer is not None:
                producer.set_muted(track.muted)

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            await self._leave(session)
        for context in list(self.rooms.values()):
            await context.router.close()
        self.rooms.clear()
        for task in list(self._tasks):
            task.cancel()
