"""Values of the conference domain: organisations, roles and their permissions, participants."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field
from typing import NewType

from conference.errors import InvalidNameError

RoomId = NewType("RoomId", str)
ParticipantId = NewType("ParticipantId", str)
TrackId = NewType("TrackId", str)

MAX_NAME_LENGTH = 64
ROOM_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class OrgKind(enum.StrEnum):
    CITY = "city"
    DISTRICT = "district"
    AGENCY = "agency"
    GUEST = "guest"


@dataclass(frozen=True)
class Org:
    kind: OrgKind
    name: str

    @classmethod
    def parse(cls, text: str) -> Org:
        """``district:도봉구`` -> Org(DISTRICT, "도봉구")."""
        kind, _, name = text.partition(":")
        try:
            org_kind = OrgKind(kind.strip().lower())
        except ValueError as exc:
            kinds = ", ".join(k.value for k in OrgKind)
            raise InvalidNameError(f"organisation kind must be one of {kinds}") from exc
        # "guest:" and "city" both mean an org without a name, as Org.to_dict writes it.
        clean = clean_name(name, what="organisation name") if name.strip() else ""
        return cls(org_kind, clean)

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "name": self.name}


GUEST_ORG = Org(OrgKind.GUEST, "")


class Permission(enum.StrEnum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"
    CHAT = "chat"
    BOARD_PUSH = "board_push"
    MODERATE = "moderate"
    RECORD = "record"
    DISPLAY = "display"


class Role(enum.StrEnum):
    HOST = "host"
    MODERATOR = "moderator"
    PARTICIPANT = "participant"
    VIEWER = "viewer"
    DISPLAY = "display"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.HOST: frozenset(Permission) - {Permission.DISPLAY},
    Role.MODERATOR: frozenset(
        {
            Permission.PUBLISH,
            Permission.SUBSCRIBE,
            Permission.CHAT,
            Permission.BOARD_PUSH,
            Permission.MODERATE,
        }
    ),
    Role.PARTICIPANT: frozenset(
        {Permission.PUBLISH, Permission.SUBSCRIBE, Permission.CHAT, Permission.BOARD_PUSH}
    ),
    Role.VIEWER: frozenset({Permission.SUBSCRIBE, Permission.CHAT}),
    Role.DISPLAY: frozenset({Permission.SUBSCRIBE, Permission.DISPLAY}),
}


def clean_name(text: str, what: str = "display name") -> str:
    """Trim, normalise and bound a human-entered name; control characters are refused."""
    name = unicodedata.normalize("NFC", text).strip()
    if not name:
        raise InvalidNameError(f"the {what} is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"the {what} is longer than {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise InvalidNameError(f"the {what} contains control characters")
    return name


def is_valid_room_id(room_id: str) -> bool:
    return bool(ROOM_ID_PATTERN.match(room_id))


@dataclass
class TrackInfo:
    id: TrackId
    participant_id: ParticipantId
    kind: str  # "audio" | "video"
    source: str  # "camera" | "microphone" | "screen"
    muted: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "participantId": self.participant_id,
            "kind": self.kind,
            "source": self.source,
            "muted": self.muted,
        }


@dataclass
class Participant:
    id: ParticipantId
    identity: str
    name: str
    org: Org
    role: Role
    joined_at: float
    audio_muted: bool = False
    video_muted: bool = False
    tracks: dict[TrackId, TrackInfo] = field(default_factory=dict)
    hand_raised_at: float | None = None
    # muted by a moderator in a room where only moderators may unmute: must ask to speak
    audio_locked: bool = False
    video_locked: bool = False
    asked_to_speak: bool = False
    reconnecting: bool = False

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def is_person(self) -> bool:
        """Displays (the mayor's wall) subscribe but are neither counted nor shown."""
        return self.role != Role.DISPLAY

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "org": self.org.to_dict(),
            "role": self.role.value,
            "audioMuted": self.audio_muted,
            "videoMuted": self.video_muted,
            "joinedAt": self.joined_at,
            "tracks": [track.to_dict() for track in self.tracks.values()],
            "handRaisedAt": self.hand_raised_at,
            "audioLocked": self.audio_locked,
            "videoLocked": self.video_locked,
            "askedToSpeak": self.asked_to_speak,
            "reconnecting": self.reconnecting,
        }

    def public_dict(self) -> dict[str, object]:
        """What the lobby shows moderators of someone waiting."""
        return {
            "id": self.id,
            "name": self.name,
            "org": self.org.to_dict(),
            "role": self.role.value,
        }
