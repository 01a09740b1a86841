"""The conference domain: rooms, participants, organisations, roles, join tokens.

Pure and synchronous; it never imports media, Socket.IO or aiohttp."""

from conference.errors import (
    ConferenceError,
    ExpiredTokenError,
    ForbiddenError,
    GuestsNotAllowedError,
    InvalidNameError,
    InvalidTokenError,
    NotInRoomError,
    RoomFullError,
    WrongRoomError,
)
from conference.model import (
    GUEST_ORG,
    Org,
    OrgKind,
    Participant,
    ParticipantId,
    Permission,
    Role,
    RoomId,
    TrackId,
    TrackInfo,
    clean_name,
    is_valid_room_id,
)
from conference.room import Room, RoomPolicy
from conference.tokens import JoinClaims, mint_token, verify_token

__all__ = [
    "GUEST_ORG",
    "ConferenceError",
    "ExpiredTokenError",
    "ForbiddenError",
    "GuestsNotAllowedError",
    "InvalidNameError",
    "InvalidTokenError",
    "JoinClaims",
    "NotInRoomError",
    "Org",
    "OrgKind",
    "Participant",
    "ParticipantId",
    "Permission",
    "Role",
    "Room",
    "RoomFullError",
    "RoomId",
    "RoomPolicy",
    "TrackId",
    "TrackInfo",
    "WrongRoomError",
    "clean_name",
    "is_valid_room_id",
    "mint_token",
    "verify_token",
]
