"""Running the meeting over Socket.IO: moderation, chat and raised hands. Each action is
checked by the conference domain, stored, and only then acknowledged and broadcast."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from conference import Participant, ParticipantId, Permission, Role
from conference import moderation as rules
from conference.chat import ChatEntry, compose
from signaling.context import RoomContext, Session, SessionState
from signaling.errors import ProtocolError
from signaling.store import ChatMessage

if TYPE_CHECKING:
    from signaling.service import ConferenceService

logger = logging.getLogger(__name__)

CHAT_HISTORY_ON_JOIN = 100
END_MEETING_DELAY_SECONDS = 0.2


def chat_message(room_id: str, entry: ChatEntry) -> ChatMessage:
    return ChatMessage(
        id=entry.id,
        room_id=room_id,
        sender_id=entry.sender_id,
        sender_name=entry.sender_name,
        sender_org=entry.sender_org,
        text=entry.text,
        sent_at=entry.sent_at,
        to=entry.to,
    )


class MeetingControl:
    def __init__(self, service: ConferenceService) -> None:
        self._service = service

    @property
    def _emitter(self) -> Any:
        return self._service.emitter

    async def _updated(self, context: RoomContext, participant_id: ParticipantId) -> None:
        participant = context.room.participants.get(participant_id)
        if participant is not None:
            await self._service.persist_member(context, participant)
            await self._emitter.emit(
                "participant-updated", participant.to_dict(), room=context.channel
            )

    # -- moderation ----------------------------------------------------------------------

    async def mute(self, sid: str, target_id: str, kind: str) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        target = rules.mute(context.room, session.participant_id, ParticipantId(target_id), kind)
        await self._muted(context, session, target, kind)
        return {"participant": target.to_dict()}

    async def mute_all(self, sid: str, kind: str) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        muted = rules.mute_all(context.room, session.participant_id, kind)
        for target in muted:
            await self._muted(context, session, target, kind)
        return {"muted": [target.id for target in muted]}

    async def _muted(
        self, context: RoomContext, actor_session: Session, target: Participant, kind: str
    ) -> None:
        """Stop forwarding, tell the person (and whether they must ask to unmute), then all."""
        self._service.media.apply_mute(context, target)
        actor = context.room.get(actor_session.participant_id)
        target_session = context.session_of(target.id)
        if target_session is not None:
            locked = target.audio_locked if kind == "audio" else target.video_locked
            await self._emitter.emit(
                "muted-by-moderator",
                {"kind": kind, "by": actor.name, "locked": locked},
                to=target_session.sid,
            )
        await self._updated(context, target.id)

    async def ask_to_speak(self, sid: str) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        participant = rules.ask_to_speak(context.room, session.participant_id)
        await self._updated(context, participant.id)
        await self._emitter.emit(
            "speak-request",
            {"participantId": participant.id, "name": participant.name},
            room=context.moderators_channel,
        )
        return {}

    async def allow_to_speak(self, sid: str, target_id: str) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        target = rules.allow_to_speak(
            context.room, session.participant_id, ParticipantId(target_id)
        )
        target_session = context.session_of(target.id)
        if target_session is not None:
            await self._emitter.emit("speak-allowed", {}, to=target_session.sid)
        await self._updated(context, target.id)
        return {}

    async def remove(self, sid: str, target_id: str, reason: str) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        now = self._service.now()
        ban_seconds = self._service.options.removal_ban_seconds
        target = rules.remove(
            context.room,
            session.participant_id,
            ParticipantId(target_id),
            now=now,
            ban_seconds=ban_seconds,
        )
        await self._service.store.ban(context.room.id, target.identity, now + ban_seconds)
        await self._service.remove_participant(context, target.id, reason)
        logger.info(
            "%s removed %s from %s: %s", session.participant_id, target.id, context.room.id, reason
        )
        return {"removed": target.id}

    async def set_role(self, sid: str, target_id: str, role: Role) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        target = rules.set_role(
            context.room, session.participant_id, ParticipantId(target_id), role
        )
        target_session = context.session_of(target.id)
        if target_session is not None:
            await self._service.sync_channels(target_session)
            await self._emitter.emit(
                "permissions",
                {
                    "role": target.role.value,
                    "permissions": sorted(p.value for p in target.permissions),
                },
                to=target_session.sid,
            )
            if target.can(Permission.MODERATE):
                await self._emitter.emit(
                    "lobby-updated",
                    {"waiting": [p.public_dict() for p in context.room.lobby.values()]},
                    to=target_session.sid,
                )
        await self._service.media.enforce_role(context, target)
        await self._updated(context, target.id)
        return {"participant": target.to_dict()}

    async def set_room(self, sid: str, changes: dict[str, bool]) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        policy = rules.update_policy(context.room, session.participant_id, **changes)
        settings = await self._service.store.update_room(context.room.id, **changes)
        await self._emitter.emit("room-updated", settings.to_dict(), room=context.channel)
        if "lobby" in changes and not policy.lobby:
            await self._service.admit_everyone_waiting(context)
        return {"room": settings.to_dict()}

    async def end_meeting(self, sid: str) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        everyone = rules.end_meeting(context.room, session.participant_id)
        await self._emitter.emit("meeting-ended", {}, room=context.channel)
        sids = list(context.sessions)
        for other in list(context.sessions.values()):
            await self._service.drop_session(other, announce=False)
        self._service.forget_reconnecting([p.id for p in everyone])
        await self._service.store.clear_live_state(context.room.id)
        # close the connections once this reply has gone out: closing the caller's now
        # would lose it
        self._service.spawn(self._disconnect_later(sids))
        return {}

    async def _disconnect_later(self, sids: list[str]) -> None:
        await asyncio.sleep(END_MEETING_DELAY_SECONDS)
        for sid in sids:
            await self._emitter.disconnect(sid)

    # -- chat and hands --------------------------------------------------------------------

    async def chat(self, sid: str, text: str, to: str | None) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        entry = compose(context.room, session.participant_id, text, to=to, now=self._service.now())
        await self._service.store.append_chat(
            context.room.id,
            chat_message(context.room.id, entry),
            self._service.options.chat_history,
        )
        message = entry.to_dict()
        if entry.to is None:
            await self._emitter.emit("chat", message, room=context.channel, skip_sid=sid)
        else:
            recipient = context.session_of(ParticipantId(entry.to))
            if recipient is not None:
                await self._emitter.emit("chat", message, to=recipient.sid)
        return {"message": message}

    async def history_for(self, context: RoomContext, participant_id: str) -> list[dict[str, Any]]:
        messages = await self._service.store.chat_history(
            context.room.id, self._service.options.chat_history
        )
        visible = [m for m in messages if m.to is None or participant_id in (m.to, m.sender_id)][
            -CHAT_HISTORY_ON_JOIN:
        ]
        return [
            ChatEntry(
                id=m.id,
                sender_id=m.sender_id,
                sender_name=m.sender_name,
                sender_org=m.sender_org,
                text=m.text,
                sent_at=m.sent_at,
                to=m.to,
            ).to_dict()
            for m in visible
        ]

    async def raise_hand(self, sid: str) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        participant = rules.raise_hand(context.room, session.participant_id, self._service.now())
        assert participant.hand_raised_at is not None
        await self._service.store.raise_hand(
            context.room.id, participant.id, participant.hand_raised_at
        )
        await self._hands_changed(context, participant.id)
        return {"hands": context.room.hands()}

    async def lower_hand(self, sid: str, target_id: str | None) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        target = ParticipantId(target_id) if target_id else session.participant_id
        participant = rules.lower_hand(context.room, session.participant_id, target)
        await self._service.store.lower_hand(context.room.id, participant.id)
        await self._hands_changed(context, participant.id)
        return {"hands": context.room.hands()}

    async def _hands_changed(self, context: RoomContext, participant_id: ParticipantId) -> None:
        await self._updated(context, participant_id)
        await self._emitter.emit("hands", {"queue": context.room.hands()}, room=context.channel)


def require_joined(session: Session) -> None:
    if session.state != SessionState.JOINED:
        raise ProtocolError("waiting_in_lobby", "you are waiting for a moderator to admit you")
