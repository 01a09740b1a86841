"""What moderators do to a meeting: mute, remove, lock, end, change roles, let people speak;
and the hands people raise. Each function checks the actor's permission first and changes
nothing when it refuses."""

from __future__ import annotations

from dataclasses import replace

from conference.errors import ForbiddenError, NotInRoomError
from conference.model import Participant, ParticipantId, Permission, Role
from conference.room import Room, RoomPolicy

MEDIA_KINDS = ("audio", "video")


def _moderator(room: Room, actor_id: ParticipantId) -> Participant:
    return room.require(actor_id, Permission.MODERATE)


def _target(room: Room, target_id: ParticipantId) -> Participant:
    target = room.participants.get(target_id)
    if target is None or not target.is_person:
        raise NotInRoomError("nobody with this id is in the meeting")
    return target


def _check_kind(kind: str) -> None:
    if kind not in MEDIA_KINDS:
        raise ForbiddenError(f"kind must be one of {', '.join(MEDIA_KINDS)}")


def mute(room: Room, actor_id: ParticipantId, target_id: ParticipantId, kind: str) -> Participant:
    """Mute someone's microphone or camera. In a room where only moderators unmute, a muted
    non-moderator must ask to speak before unmuting."""
    _moderator(room, actor_id)
    _check_kind(kind)
    target = _target(room, target_id)
    _apply_mute(room, target, kind)
    return target


def _apply_mute(room: Room, target: Participant, kind: str) -> None:
    lock = room.policy.moderators_only_unmute and not target.can(Permission.MODERATE)
    if kind == "audio":
        room.set_media_state(target.id, audio_muted=True, video_muted=None)
        target.audio_locked = target.audio_locked or lock
    else:
        room.set_media_state(target.id, audio_muted=None, video_muted=True)
        target.video_locked = target.video_locked or lock


def mute_all(room: Room, actor_id: ParticipantId, kind: str) -> list[Participant]:
    """Mute everyone but moderators and the actor."""
    _moderator(room, actor_id)
    _check_kind(kind)
    muted = []
    for target in room.people:
        if target.id == actor_id or target.can(Permission.MODERATE):
            continue
        _apply_mute(room, target, kind)
        muted.append(target)
    return muted


def ask_to_speak(room: Room, participant_id: ParticipantId) -> Participant:
    participant = room.get(participant_id)
    if not participant.is_person:
        raise ForbiddenError("a display cannot ask to speak")
    participant.asked_to_speak = True
    return participant


def allow_to_speak(room: Room, actor_id: ParticipantId, target_id: ParticipantId) -> Participant:
    """Let someone unmute themselves again (their microphone stays off until they do)."""
    _moderator(room, actor_id)
    target = _target(room, target_id)
    target.audio_locked = False
    target.video_locked = False
    target.asked_to_speak = False
    return target


def remove(
    room: Room, actor_id: ParticipantId, target_id: ParticipantId, *, now: float, ban_seconds: int
) -> Participant:
    """Check that ``actor`` may remove ``target`` and ban the target's identity for
    ``ban_seconds``; the caller then makes them leave."""
    actor = _moderator(room, actor_id)
    if target_id == actor_id:
        raise ForbiddenError("use leave to leave the meeting yourself")
    target = room.participants.get(target_id) or room.lobby.get(target_id)
    if target is None:
        raise NotInRoomError("nobody with this id is in the meeting")
    if target.role == Role.HOST and actor.role != Role.HOST:
        raise ForbiddenError("only a host can remove a host")
    # the caller takes them out (closing their media first, then telling the others)
    room.ban(target.identity, now + ban_seconds)
    return target


def set_role(
    room: Room, actor_id: ParticipantId, target_id: ParticipantId, role: Role
) -> Participant:
    actor = _moderator(room, actor_id)
    target = _target(room, target_id)
    if target.id == actor.id:
        raise ForbiddenError("you cannot change your own role")
    if role == Role.DISPLAY:
        raise ForbiddenError("the display role belongs to paired room displays")
    if Role.HOST in (role, target.role) and actor.role != Role.HOST:
        raise ForbiddenError("only a host can make or unmake a host")
    target.role = role
    return target


def update_policy(room: Room, actor_id: ParticipantId, **changes: object) -> RoomPolicy:
    """Lock or unlock, lobby on or off, who may unmute."""
    _moderator(room, actor_id)
    allowed = {"locked", "lobby", "moderators_only_unmute", "board_moderators_only"}
    unknown = set(changes) - allowed
    if unknown:
        raise ForbiddenError(f"cannot change {', '.join(sorted(unknown))}")
    room.policy = replace(room.policy, **changes)  # type: ignore[arg-type]
    return room.policy


def end_meeting(room: Room, actor_id: ParticipantId) -> list[Participant]:
    """Everyone leaves (the waiting too); returns who was there."""
    _moderator(room, actor_id)
    everyone = list(room.participants.values()) + list(room.lobby.values())
    room.participants.clear()
    room.lobby.clear()
    return everyone


def raise_hand(room: Room, participant_id: ParticipantId, now: float) -> Participant:
    participant = room.require(participant_id, Permission.CHAT)
    if participant.hand_raised_at is None:
        participant.hand_raised_at = now
    return participant


def lower_hand(room: Room, actor_id: ParticipantId, target_id: ParticipantId) -> Participant:
    """Lowered by the person themselves or by a moderator."""
    actor = room.get(actor_id)
    if target_id != actor_id and not actor.can(Permission.MODERATE):
        raise ForbiddenError("only a moderator may lower someone else's hand")
    target = _target(room, target_id) if target_id != actor_id else actor
    target.hand_raised_at = None
    return target
