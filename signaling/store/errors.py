"""Errors of the room-state store: a stable ``code``, a message safe to show."""

from __future__ import annotations


class StoreError(Exception):
    code = "store_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RoomExistsError(StoreError):
    code = "room_exists"


class RoomNotFoundError(StoreError):
    code = "room_not_found"


class InvalidSettingError(StoreError):
    code = "invalid_setting"


class CorruptDataError(StoreError):
    """Stored data that does not decode: refused rather than half-read."""

    code = "corrupt_data"


class StoreUnavailableError(StoreError):
    """The backing service (Redis) could not be reached or answered with an error."""

    code = "store_unavailable"


class StoreClosedError(StoreError):
    code = "store_closed"


class InvalidRoomIdError(StoreError):
    code = "invalid_room_id"
