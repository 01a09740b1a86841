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
from media.speaker import SpeakerChanges
from signaling.errors import ProtocolError
from signaling.negotiation import SubscriberNegotiator
from signaling.subscriptions import reconcile

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
    last_n: int | None = None  # video of the N most recent speakers; None: everyone
    requested: set[str] = field(default_factory=set)  # explicit subscriptions


@dataclass
class RoomContext:
    room: Room
    router: MediaRouter
    sessions: dict[str, Session] = field(default_factory=dict)
    speaker_order: list[str] = field(default_factory=list)  # most recent dominant first

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
        last_n: int | None = None,
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
            sid=sid,
            room=context,
            participant_id=participant.id,
            auto_subscribe=auto_subscribe,
            last_n=last_n,
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
            router.on_speakers(lambda changes: self._on_speakers(context, changes))
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

    async def unpublish(self, sid: str, track_id: str) -> None:
        """Stop one of your own tracks (a screen share that ends); the others are told."""
        session = self.session(sid)
        producer = session.room.router.producers.get(track_id)
        if producer is None or producer.peer_id != session.participant_id:
            raise ProtocolError("unknown_track", "you publish no track with this id")
        await producer.close()

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
            reconcile(context, session)

    def _on_producer_closed(self, context: RoomContext, producer: Producer) -> None:
        for session in context.sessions.values():
            session.requested.discard(producer.id)
            if session.last_n is not None:
                reconcile(context, session)  # someone else's camera takes the freed place
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
        reconcile(context, session)

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

    # -- subscriptions and speakers ----------------------------------------------------------

    def _subscriber_session(self, sid: str) -> Session:
        session = self.session(sid)
        session.room.room.require(session.participant_id, Permission.SUBSCRIBE)
        if session.negotiator is None:
            raise ForbiddenError("this connection does not subscribe")
        return session

    def _known_tracks(self, session: Session, track_ids: list[str]) -> list[str]:
        producers = session.room.router.producers
        unknown = [tid for tid in track_ids if tid not in producers]
        if unknown:
            raise ProtocolError("unknown_track", f"no such track: {', '.join(unknown[:5])}")
        own = [tid for tid in track_ids if producers[tid].peer_id == session.participant_id]
        if own:
            raise ProtocolError("own_track", "you cannot subscribe to your own tracks")
        return track_ids

    def subscriptions(self, session: Session) -> dict[str, Any]:
        transport = session.room.router.subscriber_for(session.participant_id)
        return {
            "subscriptions": {
                consumer.producer.id: "paused" if consumer.paused else "active"
                for consumer in transport.consumers
            },
            "lastN": session.last_n,
            "autoSubscribe": session.auto_subscribe,
        }

    def subscribe(self, sid: str, track_ids: list[str]) -> dict[str, Any]:
        """Consume these tracks (this also turns automatic subscription off)."""
        session = self._subscriber_session(sid)
        self._known_tracks(session, track_ids)
        if session.auto_subscribe:
            session.auto_subscribe = False
            transport = session.room.router.subscriber_for(session.participant_id)
            session.requested = {consumer.producer.id for consumer in transport.consumers}
        session.requested.update(track_ids)
        reconcile(session.room, session)
        return self.subscriptions(session)

    def unsubscribe(self, sid: str, track_ids: list[str]) -> dict[str, Any]:
        session = self._subscriber_session(sid)
        self._known_tracks(session, track_ids)
        if session.auto_subscribe:
            session.auto_subscribe = False
            transport = session.room.router.subscriber_for(session.participant_id)
            session.requested = {consumer.producer.id for consumer in transport.consumers}
        session.requested.difference_update(track_ids)
        reconcile(session.room, session)
        return self.subscriptions(session)

    def set_paused(self, sid: str, track_ids: list[str], paused: bool) -> dict[str, Any]:
        """Pause or resume consumers without renegotiating; a resumed video restarts on a
        keyframe."""
        session = self._subscriber_session(sid)
        self._known_tracks(session, track_ids)
        transport = session.room.router.subscriber_for(session.participant_id)
        consumers = {tid: transport.consumer_for(tid) for tid in track_ids}
        missing = [tid for tid, consumer in consumers.items() if consumer is None]
        if missing:
            raise ProtocolError("not_subscribed", f"not subscribed to: {', '.join(missing[:5])}")
        for consumer in consumers.values():
            assert consumer is not None
            consumer.pause() if paused else consumer.resume()
        return self.subscriptions(session)

    def set_last_n(self, sid: str, last_n: int | None) -> dict[str, Any]:
        """Forward the video of the ``last_n`` most recent speakers (None: everyone)."""
        session = self._subscriber_session(sid)
        session.last_n = last_n
        session.auto_subscribe = True
        session.requested.clear()
        reconcile(session.room, session)
        return self.subscriptions(session)

    def _on_speakers(self, context: RoomContext, changes: SpeakerChanges) -> None:
        if changes.dominant_changed and changes.dominant is not None:
            if changes.dominant in context.speaker_order:
                context.speaker_order.remove(changes.dominant)
            context.speaker_order.insert(0, changes.dominant)
            self._spawn(
                self._emitter.emit(
                    "dominant-speaker", {"participantId": changes.dominant}, room=context.channel
                )
            )
            for session in context.sessions.values():
                if session.last_n is not None:
                    reconcile(context, session)
        for peer, speaking in [(p, True) for p in changes.started] + [
            (p, False) for p in changes.stopped
        ]:
            self._spawn(
                self._emitter.emit(
                    "speaking", {"participantId": peer, "speaking": speaking}, room=context.channel
                )
            )

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
