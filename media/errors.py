"""Errors raised by the media layer; each carries a stable code safe to show to a client."""

from __future__ import annotations


class MediaError(Exception):
    """Base class: ``code`` is stable, the message is safe to show."""

    code = "media_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidSdpError(MediaError):
    code = "invalid_sdp"


class UnsupportedCodecError(MediaError):
    code = "unsupported_codec"


class TransportClosedError(MediaError):
    code = "transport_closed"


class AdapterError(MediaError):
    """aiortc's internals are not where this version of the adapter expects them."""

    code = "media_adapter"
