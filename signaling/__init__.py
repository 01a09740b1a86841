"""Socket.IO signaling: validates events and drives the conference and media layers."""

from signaling.context import ServiceOptions
from signaling.errors import ProtocolError
from signaling.server import create_signaling
from signaling.service import PROTOCOL_VERSION, ConferenceService

__all__ = [
    "PROTOCOL_VERSION",
    "ConferenceService",
    "ProtocolError",
    "ServiceOptions",
    "create_signaling",
]
