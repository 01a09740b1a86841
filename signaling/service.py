"""Where conference and media meet: each room's Room (who is there) and MediaRouter (what
flows), the sessions of the connections in it, the lobby, and reconnection."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conference import (
    NotInRoomError,
    Participant,
    ParticipantId,
    Permission,
    Room,
    RoomId,
    RoomPolicy,
    verify_token,
)
from conference.errors import NotWaitingError
from conference.model import is_valid_room_id
from media import ForwardingMetrics, MediaRouter
from signaling.board import BoardControl
from signaling.context import Emitter, RoomContext, ServiceOptions, Session, SessionState
from signaling.errors import ProtocolError
from signaling.library import LibraryControl
from signaling.media_control import MediaControl
from signaling.meeting import MeetingControl
from signaling.store import MemberRecord, RoomSettings, RoomStore
from signaling.store.board import BoardStore, MemoryBoardStore
from signaling.store.walls import MemoryWallStore, WallStore
from signaling.walls import WallControl, wall_channel, wall_id_of

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1

__all__ = [
    "PROTOCOL_VERSION",
    "ConferenceService",
    "Emitter",
    "RoomContext",
    "ServiceOptions",
    "Session",
]


@dataclass
class _Reconnecting:
    """A participant whose connection dropped, kept for the grace period."""

    context: RoomContext
    participant_id: ParticipantId
    resume_token: str
    expiry: asyncio.Task[None]


def member_record(participant: Participant, node_id: str) -> MemberRecord:
    return MemberRecord(
        participant_id=participant.id,
        identity=participant.identity,
        name=participant.name,
        org_kind=participant.org.kind.value,
        org_name=participant.org.name,
        role=participant.role.value,
        joined_at=participant.joined_at,
        node_id=node_id,
        audio_muted=participant.audio_muted,
        video_muted=participant.video_muted,
    )


class ConferenceService:
    def __init__(
        self,
        options: ServiceOptions,
        emitter: Emitter,
        store: RoomStore,
        clock: Callable[[], float] = time.time,
        board_store: BoardStore | None = None,
        wall_store: WallStore | None = None,
    ) -> None:
        self.options = options
        self.emitter = emitter
        self.store = store
        self._clock = clock
        self.rooms: dict[RoomId, RoomContext] = {}
        self.sessions: dict[str, Session] = {}
        self.metrics = ForwardingMetrics()
        self.media = MediaControl(self)
        self.meeting = MeetingControl(self)
        self.board = BoardControl(self, board_store or MemoryBoardStore())
        self.library = LibraryControl(self)
        self.walls = WallControl(self, wall_store or MemoryWallStore(), options.wall_code_seconds)
        self._reconnecting: dict[ParticipantId, _Reconnecting] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def now(self) -> float:
        return self._clock()

    def spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def session(self, sid: str) -> Session:
        """The session of a connection that has joined (not one waiting in the lobby)."""
        session = self.sessions.get(sid)
        if session is None:
            raise NotInRoomError("join a room first")
        if session.state != SessionState.JOINED:
            raise ProtocolError("waiting_in_lobby", "you are waiting for a moderator to admit you")
        return session

    # -- rooms ---------------------------------------------------------------------------

    async def _room(self, room_id: RoomId) -> RoomContext:
        context = self.rooms.get(room_id)
        if context is not None:
            return context
        settings = await self.store.ensure_room(
            RoomSettings(
                room_id=room_id,
                capacity=self.options.capacity,
                allow_guests=self.options.allow_guests,
                created_at=self.now(),
            )
        )
        context = self.rooms.get(room_id)  # another join may have made it meanwhile
        if context is None:
            router = MediaRouter(room_id, self.options.media, self.metrics)
            context = RoomContext(room=Room(room_id, RoomPolicy()), router=router)
            self.media.attach(context)
            self.rooms[room_id] = context
            self.apply_room_settings(settings)
        return context

    def apply_room_settings(self, settings: RoomSettings) -> None:
        """Settings changed outside a meeting's own events (the admin API): a live room
        follows them at once."""
        context = self.rooms.get(RoomId(settings.room_id))
        if context is None:
            return
        context.room.policy = RoomPolicy(
            capacity=settings.capacity,
            allow_guests=settings.allow_guests and self.options.allow_guests,
            lobby=settings.lobby,
            locked=settings.locked,
            moderators_only_unmute=settings.moderators_only_unmute,
            title=settings.title,
            board_moderators_only=settings.board_moderators_only,
        )
        self.spawn(self.emitter.emit("room-updated", settings.to_dict(), room=context.channel))
        if not settings.lobby and context.room.lobby:
            self.spawn(self.admit_everyone_waiting(context))

    def _drop_room_if_empty(self, context: RoomContext) -> None:
        waiting_to_return = any(r.context is context for r in self._reconnecting.values())
        if context.sessions or waiting_to_return or self.rooms.get(context.room.id) is not context:
            return
        del self.rooms[context.room.id]
        self.board.forget(context.room.id)
        self.spawn(context.router.close())
        self.spawn(self.store.clear_live_state(context.room.id))

    # -- joining -------------------------------------------------------------------------

    async def join(
        self,
        sid: str,
        room_id: str,
        *,
        token: str | None,
        name: str | None,
        auto_subscribe: bool = True,
        last_n: int | None = None,
        resume: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        if sid in self.sessions:
            raise ProtocolError("already_joined", "this connection has already joined a room")
        if not is_valid_room_id(room_id):
            raise ProtocolError("invalid_room", "the room name may use letters, digits, - and _")
        if resume is not None:
            return await self._resume(sid, room_id, resume, auto_subscribe, last_n)
        now = self.now()
        claims = verify_token(self.options.token_secret, token, now=now) if token else None
        if claims is not None:
            await self.walls.check_join(room_id, claims.identity, claims.role)
        context = await self._room(RoomId(room_id))
        if claims is not None:
            if await self.store.is_banned(room_id, claims.identity, now):
                context.room.ban(claims.identity, now + self.options.removal_ban_seconds)
            previous = context.room.find_identity(claims.identity)
            if previous is not None:  # the same person again (a reload): drop the old entry
                await self._forget_previous(context, previous.id)
        try:
            participant = context.room.admit(claims=claims, guest_name=name, now=now)
        except Exception:
            self._drop_room_if_empty(context)
            raise
        waiting = context.room.is_waiting(participant.id)
        session = Session(
            sid=sid,
            room=context,
            participant_id=participant.id,
            state=SessionState.WAITING if waiting else SessionState.JOINED,
            auto_subscribe=auto_subscribe,
            last_n=last_n,
        )
        context.sessions[sid] = session
        self.sessions[sid] = session
        if waiting:
            await self.store.lobby_put(room_id, member_record(participant, self.options.node_id))
            await self._lobby_changed(context)
            logger.info("%s waits in the lobby of %s", participant.name, room_id)
            return {
                "protocol": PROTOCOL_VERSION,
                "room": room_id,
                "waiting": True,
                "self": participant.public_dict(),
                "resumeToken": session.resume_token,
            }
        return await self._enter(session, participant)

    async def _forget_previous(self, context: RoomContext, participant_id: ParticipantId) -> None:
        old = context.session_of(participant_id)
        if old is not None:
            await self.drop_session(old, announce=True)
            await self.emitter.disconnect(old.sid)
            return
        pending = self._reconnecting.pop(participant_id, None)
        if pending is not None:
            pending.expiry.cancel()
            await self._depart(context, participant_id)

    async def _enter(self, session: Session, participant: Participant) -> dict[str, Any]:
        """A joined participant: store, tell the others, then send the snapshot."""
        context = session.room
        await self.persist_member(context, participant)
        await self.sync_channels(session)
        logger.info("%s joined room %s as %s", participant.name, context.room.id, participant.role)
        if participant.is_person:
            await self.emitter.emit(
                "participant-joined",
                participant.to_dict(),
                room=context.channel,
                skip_sid=session.sid,
            )
        if participant.can(Permission.SUBSCRIBE):
            self.media.start_subscribing(session)
        return await self.snapshot(session)

    async def snapshot(self, session: Session) -> dict[str, Any]:
        context = session.room
        participant = context.room.get(session.participant_id)
        snapshot: dict[str, Any] = {
            "protocol": PROTOCOL_VERSION,
            "room": context.room.id,
            "waiting": False,
            "self": participant.to_dict(),
            "permissions": sorted(p.value for p in participant.permissions),
            "participants": context.room.roster(),
            "tracks": [track.to_dict() for track in context.room.tracks()],
            "media": {"videoCodec": self.options.media.video_codec},
            "settings": await self._settings(context),
            "chat": await self.meeting.history_for(context, participant.id),
            "hands": context.room.hands(),
            **await self.board.snapshot(context),
            "wallLayout": await self.walls.layout(context.room.id),
            "resumeToken": session.resume_token,
            "reconnectGraceSeconds": self.options.reconnect_grace_seconds,
        }
        if participant.can(Permission.MODERATE):
            snapshot["lobby"] = [p.public_dict() for p in context.room.lobby.values()]
            snapshot["walls"] = await self.walls.list(context.room.id)
        return snapshot

    async def _settings(self, context: RoomContext) -> dict[str, object]:
        settings = await self.store.get_room(context.room.id)
        return settings.to_dict() if settings is not None else {"roomId": context.room.id}

    async def sync_channels(self, session: Session) -> None:
        """Every joined session hears the room; moderators also hear the moderators' channel."""
        context = session.room
        await self.emitter.enter_room(session.sid, context.channel)
        participant = context.room.participants.get(session.participant_id)
        if participant is not None and participant.can(Permission.MODERATE):
            await self.emitter.enter_room(session.sid, context.moderators_channel)
        else:
            await self.emitter.leave_room(session.sid, context.moderators_channel)
        wall_id = wall_id_of(participant) if participant is not None else None
        if wall_id is not None:  # a paired wall: it hears when it is unpaired
            await self.emitter.enter_room(session.sid, wall_channel(wall_id))
            self.spawn(self.walls.walls_changed(context.room.id))

    async def persist_member(self, context: RoomContext, participant: Participant) -> None:
        await self.store.put_member(
            context.room.id, member_record(participant, self.options.node_id)
        )

    # -- lobby ---------------------------------------------------------------------------

    async def _lobby_changed(self, context: RoomContext) -> None:
        await self.emitter.emit(
            "lobby-updated",
            {"waiting": [p.public_dict() for p in context.room.lobby.values()]},
            room=context.moderators_channel,
        )

    async def admit(self, sid: str, target_id: str) -> dict[str, Any]:
        session = self.session(sid)
        context = session.room
        context.room.require(session.participant_id, Permission.MODERATE)
        target = ParticipantId(target_id)
        if not context.room.is_waiting(target):
            raise NotWaitingError("nobody with this id is waiting")
        if await self.store.lobby_remove(context.room.id, target) is None:
            raise NotWaitingError("someone else already answered")
        await self._admit(context, target)
        await self._lobby_changed(context)
        return {"admitted": target}

    async def _admit(self, context: RoomContext, target: ParticipantId) -> None:
        participant = context.room.admit_waiting(target, self.now())
        waiting = context.session_of(target)
        if waiting is None:  # they left while waiting
            context.room.leave(target)
            return
        waiting.state = SessionState.JOINED
        snapshot = await self._enter(waiting, participant)
        await self.emitter.emit("admitted", snapshot, to=waiting.sid)

    async def admit_everyone_waiting(self, context: RoomContext) -> None:
        for target in list(context.room.lobby):
            await self.store.lobby_remove(context.room.id, target)
            await self._admit(context, target)
        await self._lobby_changed(context)

    async def deny(self, sid: str, target_id: str, reason: str) -> dict[str, Any]:
        session = self.session(sid)
        context = session.room
        context.room.require(session.participant_id, Permission.MODERATE)
        target = ParticipantId(target_id)
        if not context.room.is_waiting(target):
            raise NotWaitingError("nobody with this id is waiting")
        await self.store.lobby_remove(context.room.id, target)
        context.room.deny_waiting(target)
        waiting = context.session_of(target)
        if waiting is not None:
            await self.emitter.emit("denied", {"reason": reason}, to=waiting.sid)
            self._forget_session(waiting)
            await self.emitter.disconnect(waiting.sid)
        await self._lobby_changed(context)
        return {"denied": target}

    # -- leaving and coming back ---------------------------------------------------------

    async def leave(self, sid: str) -> None:
        """The participant said goodbye: gone at once."""
        session = self.sessions.get(sid)
        if session is not None:
            await self.drop_session(session, announce=True)

    async def disconnected(self, sid: str, *, graceful: bool = False) -> None:
        """The connection dropped: a joined participant may come back within the grace period
        as the same roster entry; the media of the old connection ends now. A graceful close
        (the client disconnected on purpose) is a leave."""
        session = self.sessions.get(sid)
        if session is None:
            return
        context = session.room
        if (
            graceful
            or session.state != SessionState.JOINED
            or self.options.reconnect_grace_seconds <= 0
        ):
            await self.drop_session(session, announce=True)
            return
        self._forget_session(session)
        if session.negotiator is not None:
            await session.negotiator.close()
        await context.router.close_peer(session.participant_id)
        participant = context.room.participants.get(session.participant_id)
        if participant is None:
            self._drop_room_if_empty(context)
            return
        participant.reconnecting = True
        await self.emitter.emit("participant-updated", participant.to_dict(), room=context.channel)
        if wall_id_of(participant) is not None:
            self.spawn(self.walls.walls_changed(context.room.id))
        expiry = asyncio.create_task(self._expire(participant.id))
        self._reconnecting[participant.id] = _Reconnecting(
            context, participant.id, session.resume_token, expiry
        )
        logger.info(
            "%s dropped; waiting %ss for them",
            participant.name,
            self.options.reconnect_grace_seconds,
        )

    async def _expire(self, participant_id: ParticipantId) -> None:
        await asyncio.sleep(self.options.reconnect_grace_seconds)
        pending = self._reconnecting.pop(participant_id, None)
        if pending is not None:
            await self._depart(pending.context, participant_id)
            self._drop_room_if_empty(pending.context)

    async def _resume(
        self,
        sid: str,
        room_id: str,
        resume: tuple[str, str],
        auto_subscribe: bool,
        last_n: int | None,
    ) -> dict[str, Any]:
        participant_id, resume_token = ParticipantId(resume[0]), resume[1]
        pending = self._reconnecting.get(participant_id)
        if (
            pending is None
            or pending.context.room.id != room_id
            or not hmac.compare_digest(pending.resume_token, resume_token)
            or participant_id not in pending.context.room.participants
        ):
            raise ProtocolError("resume_expired", "the grace period is over: join again")
        del self._reconnecting[participant_id]
        pending.expiry.cancel()
        context = pending.context
        participant = context.room.get(participant_id)
        participant.reconnecting = False
        session = Session(
            sid=sid,
            room=context,
            participant_id=participant_id,
            auto_subscribe=auto_subscribe,
            last_n=last_n,
        )
        context.sessions[sid] = session
        self.sessions[sid] = session
        await self.sync_channels(session)
        await self.emitter.emit(
            "participant-updated", participant.to_dict(), room=context.channel, skip_sid=sid
        )
        if participant.can(Permission.SUBSCRIBE):
            self.media.start_subscribing(session)
        logger.info("%s came back to %s", participant.name, room_id)
        return {**await self.snapshot(session), "resumed": True}

    async def remove_participant(
        self, context: RoomContext, participant_id: ParticipantId, reason: str
    ) -> None:
        """Take someone out of the meeting now, however they are connected: joined, waiting
        in the lobby, or in their reconnection grace period. Everyone is told."""
        session = context.session_of(participant_id)
        if session is not None:
            await self.emitter.emit("removed", {"reason": reason}, to=session.sid)
            await self.drop_session(session, announce=True)
            await self.emitter.disconnect(session.sid)
            return
        pending = self._reconnecting.pop(participant_id, None)
        if pending is not None:
            pending.expiry.cancel()
        if context.room.is_waiting(participant_id):
            context.room.leave(participant_id)
            await self.store.lobby_remove(context.room.id, participant_id)
            await self._lobby_changed(context)
        else:
            await self._depart(context, participant_id)
        self._drop_room_if_empty(context)

    def forget_reconnecting(self, participant_ids: list[ParticipantId]) -> None:
        for participant_id in participant_ids:
            pending = self._reconnecting.pop(participant_id, None)
            if pending is not None:
                pending.expiry.cancel()

    def _forget_session(self, session: Session) -> None:
        self.sessions.pop(session.sid, None)
        session.room.sessions.pop(session.sid, None)

    async def drop_session(self, session: Session, *, announce: bool) -> None:
        """End a session and its participant now (leave, removal, end of meeting)."""
        context = session.room
        self._forget_session(session)
        if session.negotiator is not None:
            await session.negotiator.close()
        await self.emitter.leave_room(session.sid, context.channel)
        await self.emitter.leave_room(session.sid, context.moderators_channel)
        if session.state == SessionState.WAITING:
            context.room.leave(session.participant_id)
            await self.store.lobby_remove(context.room.id, session.participant_id)
            await self._lobby_changed(context)
        else:
            await self._depart(context, session.participant_id, announce=announce)
        self._drop_room_if_empty(context)

    async def _depart(
        self, context: RoomContext, participant_id: ParticipantId, announce: bool = True
    ) -> None:
        # media first: closing its producers removes its tracks and tells the others
        await context.router.close_peer(participant_id)
        participant = context.room.leave(participant_id)
        await self.store.remove_member(context.room.id, participant_id)
        if participant is None:
            return
        if participant.hand_raised_at is not None:
            await self.store.lower_hand(context.room.id, participant_id)
            await self.emitter.emit("hands", {"queue": context.room.hands()}, room=context.channel)
        if announce and participant.is_person:
            await self.emitter.emit(
                "participant-left", {"id": participant.id}, room=context.channel
            )
        if wall_id_of(participant) is not None:
            self.spawn(self.walls.walls_changed(context.room.id))
        logger.info("%s left room %s", participant.name, context.room.id)

    async def close(self) -> None:
        for pending in list(self._reconnecting.values()):
            pending.expiry.cancel()
        self._reconnecting.clear()
        for session in list(self.sessions.values()):
            await self.drop_session(session, announce=False)
        for context in list(self.rooms.values()):
            await context.router.close()
        self.rooms.clear()
        for task in list(self._tasks):
            task.cancel()
        await self.store.close()
        await self.board.store.close()
        await self.walls.store.close()
