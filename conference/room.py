"""The Room aggregate: who is in a meeting and what they publish. Synchronous and pure: every
change happens in one call on the event loop and returns what the others must be told."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from conference.errors import (
    BannedError,
    ForbiddenError,
    GuestsNotAllowedError,
    NotInRoomError,
    NotWaitingError,
    RoomFullError,
    RoomLockedError,
    UnmuteForbiddenError,
    WrongRoomError,
)
from conference.model import (
    GUEST_ORG,
    Participant,
    ParticipantId,
    Permission,
    Role,
    RoomId,
    TrackId,
    TrackInfo,
    clean_name,
)
from conference.tokens import JoinClaims


@dataclass(frozen=True)
class RoomPolicy:
    capacity: int = 50
    allow_guests: bool = True
    lobby: bool = False  # non-moderators wait until a moderator admits them
    locked: bool = False  # nobody new may join but hosts and moderators
    moderators_only_unmute: bool = False  # muted by a moderator: ask to speak
    title: str = ""
    board_moderators_only: bool = False  # only moderators push panels onto the board


# Roles that skip the lobby and may enter a locked room (the wall is paired by a moderator).
TRUSTED_ROLES = frozenset({Role.HOST, Role.MODERATOR, Role.DISPLAY})


class Room:
    def __init__(self, room_id: RoomId, policy: RoomPolicy) -> None:
        self.id = room_id
        self.policy = policy
        self.participants: dict[ParticipantId, Participant] = {}
        self.lobby: dict[ParticipantId, Participant] = {}
        self.bans: dict[str, float] = {}  # identity -> until (epoch seconds)

    @property
    def people(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.is_person]

    def admit(
        self, *, claims: JoinClaims | None, guest_name: str | None, now: float
    ) -> Participant:
        """Ordered checks: token for this room or guests allowed; not removed; not locked;
        capacity. A second join with the same identity replaces the first (a reload), never
        duplicates it. With a lobby, non-moderators wait: the result is then in ``lobby``."""
        if claims is not None:
            if claims.room != self.id:
                raise WrongRoomError("the join token is for another room")
            identity, name, org, role = claims.identity, claims.name, claims.org, claims.role
        else:
            if not self.policy.allow_guests:
                raise GuestsNotAllowedError("this room needs a join token")
            identity = "guest-" + secrets.token_hex(6)
            name, org, role = clean_name(guest_name or ""), GUEST_ORG, Role.PARTICIPANT
        banned_until = self.bans.get(identity)
        if banned_until is not None:
            if banned_until > now:
                raise BannedError("you were removed from this meeting; try again later")
            del self.bans[identity]
        if self.policy.locked and role not in TRUSTED_ROLES:
            raise RoomLockedError("the meeting is locked")
        replaced = self.find_identity(identity)
        counted = len(self.people) - (1 if replaced is not None and replaced.is_person else 0)
        if role != Role.DISPLAY and counted >= self.policy.capacity:
            raise RoomFullError(f"the room is full ({self.policy.capacity} people)")
        if replaced is not None:  # only once every check passed: a refusal changes nothing
            self.participants.pop(replaced.id, None)
            self.lobby.pop(replaced.id, None)
        participant = Participant(
            id=ParticipantId(secrets.token_hex(6)),
            identity=identity,
            name=name,
            org=org,
            role=role,
            joined_at=now,
        )
        if self.policy.lobby and role not in TRUSTED_ROLES:
            self.lobby[participant.id] = participant
        else:
            self.participants[participant.id] = participant
        return participant

    def is_waiting(self, participant_id: ParticipantId) -> bool:
        return participant_id in self.lobby

    def admit_waiting(self, participant_id: ParticipantId, now: float) -> Participant:
        participant = self.lobby.pop(participant_id, None)
        if participant is None:
            raise NotWaitingError("nobody with this id is waiting")
        participant.joined_at = now
        self.participants[participant.id] = participant
        return participant

    def deny_waiting(self, participant_id: ParticipantId) -> Participant:
        participant = self.lobby.pop(participant_id, None)
        if participant is None:
            raise NotWaitingError("nobody with this id is waiting")
        return participant

    def ban(self, identity: str, until: float) -> None:
        self.bans[identity] = until

    def find_identity(self, identity: str) -> Participant | None:
        """In the meeting or waiting in its lobby."""
        everyone = [*self.participants.values(), *self.lobby.values()]
        return next((p for p in everyone if p.identity == identity), None)

    def get(self, participant_id: ParticipantId) -> Participant:
        participant = self.participants.get(participant_id)
        if participant is None:
            raise NotInRoomError("you are not in this room")
        return participant

    def leave(self, participant_id: ParticipantId) -> Participant | None:
        participant = self.participants.pop(participant_id, None)
        if participant is None:
            participant = self.lobby.pop(participant_id, None)
        return participant

    def require(self, participant_id: ParticipantId, permission: Permission) -> Participant:
        participant = self.get(participant_id)
        if not participant.can(permission):
            raise ForbiddenError(f"your role ({participant.role.value}) may not {permission.value}")
        return participant

    def add_track(
        self, participant_id: ParticipantId, track_id: TrackId, kind: str, source: str
    ) -> TrackInfo:
        participant = self.require(participant_id, Permission.PUBLISH)
        muted = participant.audio_muted if kind == "audio" else participant.video_muted
        track = TrackInfo(track_id, participant_id, kind, source, muted=muted)
        participant.tracks[track_id] = track
        return track

    def remove_track(self, track_id: TrackId) -> TrackInfo | None:
        for participant in self.participants.values():
            track = participant.tracks.pop(track_id, None)
            if track is not None:
                return track
        return None

    def set_media_state(
        self, participant_id: ParticipantId, *, audio_muted: bool | None, video_muted: bool | None
    ) -> Participant:
        participant = self.get(participant_id)
        if (audio_muted is False and participant.audio_locked) or (
            video_muted is False and participant.video_locked
        ):
            raise UnmuteForbiddenError("a moderator muted you: ask to speak")
        if audio_muted is not None:
            participant.audio_muted = audio_muted
        if video_muted is not None:
            participant.video_muted = video_muted
        for track in participant.tracks.values():
            if track.kind == "audio" and track.source == "microphone":
                track.muted = participant.audio_muted
            elif track.kind == "video" and track.source == "camera":
                track.muted = participant.video_muted
        return participant

    def tracks(self) -> list[TrackInfo]:
        return [t for p in self.participants.values() for t in p.tracks.values()]

    def roster(self) -> list[dict[str, object]]:
        return [p.to_dict() for p in self.people]

    def hands(self) -> list[dict[str, object]]:
        """Raised hands in the order they were raised."""
        raised = [p for p in self.people if p.hand_raised_at is not None]
        raised.sort(key=lambda p: p.hand_raised_at or 0.0)
        return [{"participantId": p.id, "raisedAt": p.hand_raised_at} for p in raised]

    def moderators(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.can(Permission.MODERATE)]
