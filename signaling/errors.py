"""Protocol errors and the one place where every error becomes a Socket.IO reply."""

from __future__ import annotations

import logging
from typing import Any

from conference import ConferenceError
from media import MediaError

logger = logging.getLogger(__name__)


class ProtocolError(Exception):
    """A request the protocol refuses: ``code`` is stable, the message names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_reply(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def reply_for(exc: BaseException) -> dict[str, Any]:
    """Translate a domain, media or protocol error into the wire's error reply."""
    from signaling.store import StoreError  # the store's errors depend on nothing here

    if isinstance(exc, (ProtocolError, ConferenceError, MediaError, StoreError)):
        return error_reply(exc.code, exc.message)
    logger.exception("unexpected error while handling an event", exc_info=exc)
    return error_reply("internal_error", "the server could not handle this request")
