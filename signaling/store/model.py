"""Values the room-state store keeps, with their explicit JSON (de)serialisation.

Decoding is strict: a stored value of the wrong shape raises ``CorruptDataError`` instead of
producing a half-filled object, so both implementations refuse corrupt data the same way.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from conference.model import is_valid_room_id
from signaling.store.errors import CorruptDataError, InvalidRoomIdError, InvalidSettingError

T = TypeVar("T")


@dataclass(frozen=True)
class RoomSettings:
    room_id: str
    title: str = ""
    capacity: int = 50
    lobby: bool = False  # non-moderators wait in a lobby
    allow_guests: bool = True
    locked: bool = False  # nobody new may join
    moderators_only_unmute: bool = False  # participants muted by a moderator must ask to speak
    created_at: float = 0.0
    board_moderators_only: bool = False  # only moderators push panels onto the board

    def to_dict(self) -> dict[str, object]:
        return {
            "roomId": self.room_id,
            "title": self.title,
            "capacity": self.capacity,
            "lobby": self.lobby,
            "allowGuests": self.allow_guests,
            "locked": self.locked,
            "moderatorsOnlyUnmute": self.moderators_only_unmute,
            "createdAt": self.created_at,
            "boardModeratorsOnly": self.board_moderators_only,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RoomSettings:
        return cls(
            room_id=_get(data, "roomId", str),
            title=_get(data, "title", str),
            capacity=_get(data, "capacity", int),
            lobby=_get(data, "lobby", bool),
            allow_guests=_get(data, "allowGuests", bool),
            locked=_get(data, "locked", bool),
            moderators_only_unmute=_get(data, "moderatorsOnlyUnmute", bool),
            created_at=_get_float(data, "createdAt"),
            # rooms stored before this setting existed lack it
            board_moderators_only=(
                _get(data, "boardModeratorsOnly", bool) if "boardModeratorsOnly" in data else False
            ),
        )

    def with_changes(self, changes: Mapping[str, object]) -> RoomSettings:
        """A copy with ``changes`` (field names) applied; unknown fields, the room id and
        values of the wrong type raise ``InvalidSettingError``."""
        for name, value in changes.items():
            expected = _CHANGEABLE.get(name)
            if expected is None:
                raise InvalidSettingError(f"{name!r} is not a room setting that can be changed")
            if not _is_a(value, expected):
                raise InvalidSettingError(
                    f"the room setting {name!r} must be a {expected.__name__}"
                )
        updated = dataclasses.replace(self, **cast(dict[str, Any], changes))
        if updated.capacity < 1:
            raise InvalidSettingError("the room setting 'capacity' must be at least 1")
        return dataclasses.replace(updated, created_at=float(updated.created_at))


# The settings update_room may change, with their types (the room id never changes).
_CHANGEABLE: dict[str, type] = {
    "title": str,
    "capacity": int,
    "lobby": bool,
    "allow_guests": bool,
    "locked": bool,
    "moderators_only_unmute": bool,
    "created_at": float,
    "board_moderators_only": bool,
}


@dataclass(frozen=True)
class ChatMessage:
    id: str
    room_id: str
    sender_id: str
    sender_name: str
    sender_org: tuple[str, str]  # (kind, name)
    text: str
    sent_at: float
    to: str | None = None  # participant id of a private message's recipient

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "roomId": self.room_id,
            "senderId": self.sender_id,
            "senderName": self.sender_name,
            "senderOrg": {"kind": self.sender_org[0], "name": self.sender_org[1]},
            "text": self.text,
            "sentAt": self.sent_at,
            "to": self.to,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ChatMessage:
        org = _get(data, "senderOrg", dict)
        to = data.get("to")
        if to is not None and not isinstance(to, str):
            raise CorruptDataError("a stored chat message has a recipient that is not a string")
        return cls(
            id=_get(data, "id", str),
            room_id=_get(data, "roomId", str),
            sender_id=_get(data, "senderId", str),
            sender_name=_get(data, "senderName", str),
            sender_org=(_get(org, "kind", str), _get(org, "name", str)),
            text=_get(data, "text", str),
            sent_at=_get_float(data, "sentAt"),
            to=to,
        )


@dataclass(frozen=True)
class MemberRecord:
    """A roster or lobby entry as stored."""

    participant_id: str
    identity: str
    name: str
    org_kind: str
    org_name: str
    role: str
    joined_at: float
    node_id: str = ""
    audio_muted: bool = False
    video_muted: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "participantId": self.participant_id,
            "identity": self.identity,
            "name": self.name,
            "org": {"kind": self.org_kind, "name": self.org_name},
            "role": self.role,
            "joinedAt": self.joined_at,
            "nodeId": self.node_id,
            "audioMuted": self.audio_muted,
            "videoMuted": self.video_muted,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> MemberRecord:
        org = _get(data, "org", dict)
        return cls(
            participant_id=_get(data, "participantId", str),
            identity=_get(data, "identity", str),
            name=_get(data, "name", str),
            org_kind=_get(org, "kind", str),
            org_name=_get(org, "name", str),
            role=_get(data, "role", str),
            joined_at=_get_float(data, "joinedAt"),
            node_id=_get(data, "nodeId", str),
            audio_muted=_get(data, "audioMuted", bool),
            video_muted=_get(data, "videoMuted", bool),
        )


def check_room_id(room_id: str) -> str:
    """Room ids become part of Redis keys: the conference's pattern (no ``:``) keeps them
    from colliding with another room's keys."""
    if not is_valid_room_id(room_id):
        raise InvalidRoomIdError(f"{room_id!r} is not a valid room id")
    return room_id


def encode(value: RoomSettings | ChatMessage | MemberRecord) -> str:
    return json.dumps(value.to_dict(), ensure_ascii=False, separators=(",", ":"))


def decode_json(text: object, what: str) -> dict[str, Any]:
    """Parse one stored JSON object, or raise ``CorruptDataError`` naming ``what``."""
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise CorruptDataError(f"a stored {what} is not a JSON object")
    return data


def _is_a(value: object, expected: type) -> bool:
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _get(data: Mapping[str, object], key: str, expected: type[T]) -> T:
    value = data.get(key)
    if not _is_a(value, expected):
        raise CorruptDataError(f"a stored {key!r} is missing or not a {expected.__name__}")
    return value  # type: ignore[return-value]


def _get_float(data: Mapping[str, object], key: str) -> float:
    return float(_get(data, key, float))
