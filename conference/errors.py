"""Domain errors of the conference layer: a stable ``code``, a message safe to show."""

from __future__ import annotations


class ConferenceError(Exception):
    code = "conference_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidTokenError(ConferenceError):
    code = "invalid_token"


class ExpiredTokenError(ConferenceError):
    code = "token_expired"


class WrongRoomError(ConferenceError):
    code = "wrong_room"


class GuestsNotAllowedError(ConferenceError):
    code = "guests_not_allowed"


class RoomFullError(ConferenceError):
    code = "room_full"


class InvalidNameError(ConferenceError):
    code = "invalid_name"


class NotInRoomError(ConferenceError):
    code = "not_in_room"


class ForbiddenError(ConferenceError):
    code = "forbidden"


class RoomLockedError(ConferenceError):
    code = "room_locked"


class BannedError(ConferenceError):
    code = "removed"


class NotWaitingError(ConferenceError):
    code = "not_waiting"


class UnmuteForbiddenError(ConferenceError):
    code = "unmute_forbidden"


class InvalidMessageError(ConferenceError):
    code = "invalid_message"
