"""The one place that touches aiortc's private internals.

aiortc decodes every received track and encodes every sent one; an SFU must do neither. This
module hooks aiortc 1.16 at three points (see MEDIA-NOTES.md) so that the rest of ``media``
works on encoded RTP packets only:

- receive: the receiver's jitter buffer is replaced by a tap that hands every packet (after
  SRTP, RTX unwrapping and NACK bookkeeping) to a callback and never assembles a frame, so the
  decoder thread is never fed;
- send: packets are rewritten and sent through the sender's DTLS transport directly, while the
  sender's NACK history and sender-report counters are kept up to date;
- feedback: a subscriber's PLI/FIR reaches a callback instead of an encoder flag.

Every private name used here is listed in ``PRIVATE_HOOKS`` and checked by
tests/media/test_aiortc_adapter.py, so an aiortc upgrade that moves one fails loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable
from typing import Any, Final

import aiortc
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc import clock as aiortc_clock
from aiortc import sdp as aiortc_sdp
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket

from media.errors import AdapterError, InvalidSdpError, UnsupportedCodecError

logger = logging.getLogger(__name__)

TESTED_AIORTC_MINOR: Final = "1.16"

# Private attributes this module reads or writes, per aiortc class. Tests assert they exist.
PRIVATE_HOOKS: Final[dict[str, tuple[str, ...]]] = {
    "RTCRtpReceiver": ("_RTCRtpReceiver__jitter_buffer", "_RTCRtpReceiver__codecs"),
    "RTCRtpSender": (
        "_RTCRtpSender__rtp_history",
        "_RTCRtpSender__rtp_header_extensions_map",
        "_RTCRtpSender__ntp_timestamp",
        "_RTCRtpSender__rtp_timestamp",
        "_RTCRtpSender__octet_count",
        "_RTCRtpSender__packet_count",
        "_RTCRtpSender__mid",
        "_RTCRtpSender__started",
        "_send_keyframe",
        "_ssrc",
    ),
    "RTCRtpTransceiver": ("_codecs",),
    "RTCDtlsTransport": ("_state", "_tx_srtp"),
}

__all__ = [
    "PRIVATE_HOOKS",
    "IdleTrack",
    "RawSender",
    "RtpPacket",
    "codec_preferences",
    "install_receive_tap",
    "negotiated_codec",
    "new_peer_connection",
    "offer_media_kinds",
    "on_sender_keyframe_request",
    "request_keyframe",
    "tune_socket_buffers",
]


def _get(obj: object, name: str) -> Any:
    return getattr(obj, name)


def _put(obj: object, name: str, value: object) -> None:
    setattr(obj, name, value)


def _require(obj: object, name: str) -> None:
    if not hasattr(obj, name):
        raise AdapterError(
            f"aiortc {aiortc.__version__}: {type(obj).__name__}.{name} is missing; "
            f"media/aiortc_adapter.py was written for aiortc {TESTED_AIORTC_MINOR}"
        )


def new_peer_connection(ice_servers: list[RTCIceServer]) -> RTCPeerConnection:
    """A peer connection that bundles everything on one transport and adds no STUN server
    unless configured (aiortc adds a public one when ``iceServers`` is left out)."""
    return RTCPeerConnection(
        RTCConfiguration(iceServers=ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


def on_sender_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` when the remote peer sends PLI or FIR for ``sender``; aiortc's own
    handling only sets an encoder flag, which pre-encoded or forwarded media never reads."""
    _require(sender, "_send_keyframe")
    _put(sender, "_send_keyframe", callback)


class _ReceiveTap:
    """Stands where aiortc keeps its jitter buffer: sees every packet, assembles nothing."""

    def __init__(self, on_packet: Callable[[RtpPacket], None]) -> None:
        self._on_packet = on_packet

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        self._on_packet(packet)
        return False, None


def install_receive_tap(receiver: RTCRtpReceiver, on_packet: Callable[[RtpPacket], None]) -> None:
    """Route every packet ``receiver`` gets to ``on_packet`` instead of the decoder."""
    _require(receiver, "_RTCRtpReceiver__jitter_buffer")
    _put(receiver, "_RTCRtpReceiver__jitter_buffer", _ReceiveTap(on_packet))


async def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI for ``media_ssrc`` to the publisher behind ``receiver``."""
    with contextlib.suppress(ConnectionError):
        await receiver._send_rtcp_pli(media_ssrc)


def negotiated_codec(transceiver: RTCRtpTransceiver) -> tuple[str, int]:
    """The (mimeType, payloadType) the transceiver sends or receives with, after negotiation."""
    codecs: list[Any] = transceiver._codecs
    if not codecs:
        raise UnsupportedCodecError(f"no codec negotiated for {transceiver.kind}")
    return str(codecs[0].mimeType), int(codecs[0].payloadType)


def codec_preferences(kind: str, video_codec: str) -> list[RTCRtpCodecCapability]:
    """The codecs a room allows for ``kind``: Opus for audio, the room's codec (and its RTX)
    for video. H.264 is limited to constrained baseline, packetization-mode 1."""
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    if kind == "audio":
        chosen = [c for c in capabilities if c.mimeType.lower() == "audio/opus"]
    else:
        wanted = f"video/{video_codec}".lower()
        chosen = [c for c in capabilities if c.mimeType.lower() == wanted]
        if video_codec.upper() == "H264":
            chosen = [
                c
                for c in chosen
                if str(c.parameters.get("profile-level-id", "")).lower() == "42e01f"
                and str(c.parameters.get("packetization-mode", "")) == "1"
            ]
        if chosen:
            chosen += [c for c in capabilities if c.mimeType.lower() == "video/rtx"]
    if not chosen:
        raise UnsupportedCodecError(f"no {kind} codec matches {video_codec!r}")
    return chosen


def offer_media_kinds(sdp: str) -> list[str]:
    """The kinds of the offer's media sections, in order. aiortc's parser skips lines it does
    not know, so junk yields no sections (callers refuse that) rather than an error."""
    try:
        description = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises assorted errors on junk
        raise InvalidSdpError(f"the SDP could not be parsed: {exc}") from exc
    return [media.kind for media in description.media]


class IdleTrack(MediaStreamTrack):
    """A track that never yields, so an aiortc sender with it stays quiet (no 20 ms poll) while
    we send its packets ourselves."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._never: asyncio.Future[None] = asyncio.get_event_loop().create_future()

    async def recv(self) -> Any:
        await self._never
        raise ConnectionError("idle track stopped")

    def stop(self) -> None:
        if not self._never.done():
            self._never.cancel()
        super().stop()


class RawSender:
    """Sends already-encoded RTP through an aiortc sender's transport, synchronously.

    The sender keeps its SSRC, its RTCP loop (sender reports from the counters we update) and
    its NACK history (which we fill), so retransmission works as if it had sent the packets.
    """

    def __init__(self, transceiver: RTCRtpTransceiver) -> None:
        sender = transceiver.sender
        for name in PRIVATE_HOOKS["RTCRtpSender"]:
            _require(sender, name)
        self._transceiver = transceiver
        self._sender = sender
        self._history: dict[int, RtpPacket] = _get(sender, "_RTCRtpSender__rtp_history")
        self.ssrc: int = sender._ssrc
        self.payload_type = 0
        self.mid = ""
        self._next_sequence_number = random.randrange(0, 0x8000)
        self._last_timestamp = random.randrange(0, 0x1_0000_0000)
        self._last_send_time: float | None = None

    def on_negotiated(self) -> None:
        """Read what the negotiation settled: payload type and mid."""
        _, self.payload_type = negotiated_codec(self._transceiver)
        self.mid = self._transceiver.mid or ""

    @property
    def ready(self) -> bool:
        """True once aiortc has started the sender (its RTCP routing is registered)."""
        return bool(_get(self._sender, "_RTCRtpSender__started"))

    def continuation(self, clock_rate: int) -> tuple[int, int]:
        """Sequence number and timestamp that continue this sender's stream now, so that a
        new source (or the same one after a pause) looks continuous to the subscriber."""
        if self._last_send_time is None:
            return self._next_sequence_number, self._last_timestamp
        elapsed = max(time.monotonic() - self._last_send_time, 0.001)
        timestamp = (self._last_timestamp + int(elapsed * clock_rate)) & 0xFFFFFFFF
        return self._next_sequence_number, timestamp

    def on_keyframe_request(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the subscriber sends PLI or FIR for this sender."""
        on_sender_keyframe_request(self._sender, callback)

    def send(self, packet: RtpPacket) -> bool:
        """Serialize, protect and send ``packet`` now; False when the transport is not up."""
        sender = self._sender
        dtls: RTCDtlsTransport = sender.transport
        if dtls._state != DtlsState.CONNECTED:
            return False
        packet.extensions.mid = self.mid
        packet.extensions.abs_send_time = (aiortc_clock.current_ntp_time() >> 14) & 0x00FFFFFF
        self._history[packet.sequence_number % RTP_HISTORY_SIZE] = packet
        data = packet.serialize(_get(sender, "_RTCRtpSender__rtp_header_extensions_map"))
        if not _send_datagram(dtls, dtls._tx_srtp.protect(data)):
            return False
        self._next_sequence_number = (packet.sequence_number + 1) & 0xFFFF
        self._last_timestamp = packet.timestamp
        self._last_send_time = time.monotonic()
        # what aiortc's own send loop keeps, so its RTCP sender reports stay true
        _put(sender, "_RTCRtpSender__ntp_timestamp", aiortc_clock.current_ntp_time())
        _put(sender, "_RTCRtpSender__rtp_timestamp", packet.timestamp)
        octets = _get(sender, "_RTCRtpSender__octet_count") + len(packet.payload)
        _put(sender, "_RTCRtpSender__octet_count", octets)
        _put(sender, "_RTCRtpSender__packet_count", _get(sender, "_RTCRtpSender__packet_count") + 1)
        return True


def _send_datagram(dtls: RTCDtlsTransport, data: bytes) -> bool:
    # RTCDtlsTransport._send_rtp is a coroutine only because the ICE layer's send is; beneath
    # it is a plain sendto on the nominated pair, so we call that and skip a task per packet.
    connection = dtls.transport._connection
    pair = connection._nominated.get(1)
    if pair is None or pair.protocol.transport is None:
        return False
    pair.protocol.transport.sendto(data, pair.remote_addr)
    return True


def tune_socket_buffers(pc: RTCPeerConnection, size: int) -> int:
    """Raise SO_RCVBUF/SO_SNDBUF on the connection's UDP sockets (the ~208 KiB default drops
    packets from ~30 forwarded streams). Returns how many sockets were tuned."""
    tuned = 0
    seen: set[int] = set()
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection
        for protocol in getattr(connection, "_protocols", []):
            transport = getattr(protocol, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is None or sock.fileno() in seen:
                continue
            seen.add(sock.fileno())
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, size)
                except OSError as exc:
                    logger.warning("could not size UDP buffer: %s", exc)
            tuned += 1
    return tuned
