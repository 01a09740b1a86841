"""The Room aggregate: who is in a meeting and what they publish. Synchronous and pure: every
change happens in one call on the event loop and returns what the others must be told."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from conference.errors import (
    ForbiddenError,
    GuestsNotAllowedError,
    NotInRoomError,
    RoomFullError,
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


class Room:
    def __init__(self, room_id: RoomId, policy: RoomPolicy) -> None:
        self.id = room_id
        self.policy = policy
        self.participants: dict[ParticipantId, Participant] = {}

    @property
    def people(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.is_person]

    def admit(
        self, *, claims: JoinClaims | None, guest_name: str | None, now: float
    ) -> Participant:
        """Ordered checks: token for this room or guests allowed; capacity. A second join
        with the same identity replaces the first (a reload), never duplicates it."""
        if claims is not None:
            if claims.room != self.id:
                raise WrongRoomError("the join token is for another room")
            identity, name, org, role = claims.identity, claims.name, claims.org, claims.role
        else:
            if not self.policy.allow_guests:
                raise GuestsNotAllowedError("this room needs a join token")
            identity = "guest-" + secrets.token_hex(6)
            name, org, role = clean_name(guest_name or ""), GUEST_ORG, Role.PARTICIPANT
        replaced = self.find_identity(identity)
        counted = len(self.people) - (1 if replaced is not None and replaced.is_person else 0)
        if role != Role.DISPLAY and counted >= self.policy.capacity:
            raise RoomFullError(f"the room is full ({self.policy.capacity} people)")
        if replaced is not None:  # only once every check passed: a refusal changes nothing
            self.participants.pop(replaced.id, None)
        participant = Participant(
            id=ParticipantId(secrets.token_hex(6)),
            identity=identity,
            name=name,
            org=org,
            role=role,
            joined_at=now,
        )
        self.participants[participant.id] = participant
        return participant

    def find_identity(self, identity: str) -> Participant | None:
        return next((p for p in self.participants.values() if p.identity == identity), None)

    def get(self, participant_id: ParticipantId) -> Participant:
        participant = self.participants.get(participant_id)
        if participant is None:
            raise NotInRoomError("you are not in this room")
        return participant

    def leave(self, participant_id: ParticipantId) -> Participant | None:
        return self.participants.pop(participant_id, None)

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
