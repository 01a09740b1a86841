"""The SFU: forwards encoded RTP between aiortc peer connections, never decoding it.

Only this package imports aiortc and av; it knows peers, tracks and ids, not rooms or roles.
"""

from media.consumer import Consumer
from media.errors import (
    AdapterError,
    InvalidSdpError,
    MediaError,
    TransportClosedError,
    UnsupportedCodecError,
)
from media.metrics import ForwardingMetrics
from media.producer import Producer
from media.router import MediaRouter
from media.transport import (
    IceServerSpec,
    PublisherTransport,
    SubscriberTransport,
    TransportOptions,
    TransportState,
)

__all__ = [
    "AdapterError",
    "Consumer",
    "ForwardingMetrics",
    "IceServerSpec",
    "InvalidSdpError",
    "MediaError",
    "MediaRouter",
    "Producer",
    "PublisherTransport",
    "SubscriberTransport",
    "TransportClosedError",
    "TransportOptions",
    "TransportState",
    "UnsupportedCodecError",
]
