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
import collections
import contextlib
import logging
import random
import socket
import struct
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
from aiortc.rtp import RTP_HISTORY_SIZE, HeaderExtensions, RtpPacket

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
        "_next_encoded_frame",
        "_ssrc",
    ),
    "RTCRtpTransceiver": ("_codecs", "_headerExtensions"),
    "RTCDtlsTransport": ("_state", "_tx_srtp"),
    "Connection": ("_queue", "_nominated"),  # aioice, beneath RTCIceTransport._connection
    # and asyncio's datagram transport's ``_sock`` (checked on a live connection in
    # tests/media/test_forwarding.py)
}

__all__ = [
    "PRIVATE_HOOKS",
    "IdleTrack",
    "RawSender",
    "RtpPacket",
    "abs_send_time_now",
    "codec_preferences",
    "install_arrival_clock",
    "install_receive_tap",
    "intercept_rtp_datagrams",
    "negotiated_codec",
    "new_peer_connection",
    "offer_media_kinds",
    "offer_ssrcs",
    "on_sender_keyframe_request",
    "request_keyframe",
    "set_audio_level_source",
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


def set_audio_level_source(sender: RTCRtpSender, level_dbov: Callable[[], int | None]) -> None:
    """Make ``sender`` mark each audio packet with an RFC 6464 level (-dBov, 0 loudest) from
    ``level_dbov``. aiortc computes levels only for frames it encodes itself; a bot that
    replays pre-encoded Opus uses this to talk louder or quieter."""
    _require(sender, "_next_encoded_frame")
    next_frame = _get(sender, "_next_encoded_frame")

    async def next_frame_with_level(codec: Any) -> Any:
        frame = await next_frame(codec)
        level = level_dbov()
        if frame is not None and level is not None:
            frame.audio_level = -level  # aiortc writes the extension as -audio_level
        return frame

    _put(sender, "_next_encoded_frame", next_frame_with_level)


class _StampedQueue(asyncio.Queue[Any]):
    """aioice's datagram queue, remembering when each datagram arrived: the DTLS transport
    takes datagrams in order and handles each to the end before the next, so while our tap
    runs, ``last_arrival`` is the arrival time of the packet it sees."""

    def __init__(self) -> None:
        super().__init__()
        self._arrivals: collections.deque[float] = collections.deque()
        self.last_arrival = 0.0

    def put_nowait(self, item: Any) -> None:
        self._arrivals.append(time.monotonic())
        super().put_nowait(item)

    def get_nowait(self) -> Any:
        item = super().get_nowait()
        self.last_arrival = self._arrivals.popleft() if self._arrivals else time.monotonic()
        return item


def install_arrival_clock(pc: RTCPeerConnection) -> None:
    """Stamp datagrams as they arrive on the connection's ICE transports (before any do)."""
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection
        _require(connection, "_queue")
        queue = _get(connection, "_queue")
        if isinstance(queue, _StampedQueue):
            continue
        stamped = _StampedQueue()
        while not queue.empty():
            stamped.put_nowait(queue.get_nowait())
        _put(connection, "_queue", stamped)


def _arrival_time(receiver: RTCRtpReceiver) -> float:
    queue = receiver.transport.transport._connection._queue
    return queue.last_arrival if isinstance(queue, _StampedQueue) else time.monotonic()


# Called with the packet and the monotonic time its datagram arrived.
PacketCallback = Callable[[RtpPacket, float], None]


class _ReceiveTap:
    """Stands where aiortc keeps its jitter buffer: sees every packet, assembles nothing."""

    def __init__(self, receiver: RTCRtpReceiver, on_packet: PacketCallback) -> None:
        self._receiver = receiver
        self._on_packet = on_packet

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        self._on_packet(packet, _arrival_time(self._receiver))
        return False, None


def install_receive_tap(receiver: RTCRtpReceiver, on_packet: PacketCallback) -> None:
    """Route every packet ``receiver`` gets to ``on_packet`` instead of the decoder."""
    _require(receiver, "_RTCRtpReceiver__jitter_buffer")
    _put(receiver, "_RTCRtpReceiver__jitter_buffer", _ReceiveTap(receiver, on_packet))


def offer_ssrcs(sdp: str) -> dict[str, list[int]]:
    """Each media section's media SSRCs (by mid; retransmission SSRCs left out) in an SDP:
    SRTP leaves the RTP header in the clear, so these let a counter attribute packets without
    decrypting them."""
    description = aiortc_sdp.SessionDescription.parse(sdp)
    ssrcs: dict[str, list[int]] = {}
    for media in description.media:
        retransmission = {
            int(group.items[1])
            for group in media.ssrc_group
            if group.semantic == "FID" and len(group.items) > 1
        }
        ssrcs[str(media.rtp.muxId)] = [s.ssrc for s in media.ssrc if s.ssrc not in retransmission]
    return ssrcs


# (ssrc, sequence number, marker, size) of an RTP datagram; True: consumed, do not decrypt it
RtpHeaderCallback = Callable[[int, int, int, int], bool]


def intercept_rtp_datagrams(pc: RTCPeerConnection, on_rtp: RtpHeaderCallback) -> int:
    """Look at RTP datagrams (still encrypted) as they arrive on the connection's sockets,
    before DTLS/SRTP; RTCP, DTLS and STUN pass on untouched. A bot that only counts what it
    receives skips the whole receive path this way. Returns how many sockets were hooked."""
    hooked = 0
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection
        for protocol in getattr(connection, "_protocols", []):
            if getattr(protocol, "_openroom_intercepted", False):
                continue
            received = protocol.datagram_received

            def datagram_received(data: bytes, addr: Any, _received: Any = received) -> None:
                if (
                    len(data) >= 12
                    and 127 < data[0] < 192
                    and not 191 < data[1] < 224  # RTCP packet types 192..223
                    and on_rtp(
                        int.from_bytes(data[8:12], "big"),
                        int.from_bytes(data[2:4], "big"),
                        data[1] >> 7,
                        len(data),
                    )
                ):
                    return
                _received(data, addr)

            _put(protocol, "datagram_received", datagram_received)
            _put(protocol, "_openroom_intercepted", True)
            hooked += 1
    return hooked


def abs_send_time_now() -> bytes:
    """The abs-send-time extension's 3 bytes (6.18 fixed-point seconds) for a packet sent
    now."""
    return ((aiortc_clock.current_ntp_time() >> 14) & 0x00FFFFFF).to_bytes(3, "big")


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


_ONE_BYTE_EXTENSION_PROFILE = 0xBEDE
_MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
_ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
_RTP_HEADER = struct.Struct("!BBHLLHH")  # fixed header, then the extension block's header
_PADDING = (b"", b"\x00", b"\x00\x00", b"\x00\x00\x00")


class _ForwardedPacket:
    """What aiortc's NACK history needs of a packet (``_retransmit`` and ``wrap_rtx`` read
    these fields), without building a full RtpPacket for every forwarded copy."""

    __slots__ = ("csrc", "data", "extensions", "marker", "payload", "sequence_number", "timestamp")

    def __init__(
        self, data: bytes, marker: int, sequence_number: int, timestamp: int, payload: bytes
    ) -> None:
        self.data = data
        self.marker = marker
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.payload = payload
        self.csrc: list[int] = []
        self.extensions = _NO_EXTENSIONS

    def serialize(self, extensions_map: object = None) -> bytes:
        return self.data


_NO_EXTENSIONS = HeaderExtensions()


class RawSender:
    """Sends already-encoded RTP through an aiortc sender's transport, synchronously.

    The sender keeps its SSRC, its RTCP loop (sender reports from the counters we update) and
    its NACK history (which we fill), so retransmission works as if it had sent the packets.
    Headers are written here, byte by byte: the per-copy cost is what makes an SFU cheap.
    """

    def __init__(self, transceiver: RTCRtpTransceiver) -> None:
        sender = transceiver.sender
        for name in PRIVATE_HOOKS["RTCRtpSender"]:
            _require(sender, name)
        _require(transceiver, "_headerExtensions")
        self._transceiver = transceiver
        self._sender = sender
        self._history: dict[int, Any] = _get(sender, "_RTCRtpSender__rtp_history")
        self.ssrc: int = sender._ssrc
        self.payload_type = 0
        self.mid = ""
        self._mid_element = b""
        self._dtls: RTCDtlsTransport = sender.transport
        # (ICE pair, its socket, the remote address): re-read when ICE nominates another pair
        self._route: tuple[Any, socket.socket, Any] | None = None
        self._abs_prefix: bytes | None = None
        self._level_prefix: bytes | None = None
        self._next_sequence_number = random.randrange(0, 0x8000)
        self._last_timestamp = random.randrange(0, 0x1_0000_0000)
        self._last_send_time: float | None = None
        self._packets = 0
        self._octets = 0
        self._is_audio = transceiver.kind == "audio"

    def on_negotiated(self) -> None:
        """Read what the negotiation settled: payload type, mid, header extension ids."""
        _, self.payload_type = negotiated_codec(self._transceiver)
        self.mid = self._transceiver.mid or ""
        ids = {ext.uri: ext.id for ext in _get(self._transceiver, "_headerExtensions")}
        mid_id = ids.get(_MID_URI, 0)
        mid = self.mid.encode("utf-8")
        self._mid_element = (
            bytes([(mid_id << 4) | (len(mid) - 1)]) + mid if mid_id and 0 < len(mid) <= 16 else b""
        )
        abs_id = ids.get(_ABS_SEND_TIME_URI, 0)
        self._abs_prefix = bytes([(abs_id << 4) | 2]) if abs_id else None
        level_id = ids.get(_AUDIO_LEVEL_URI, 0)
        self._level_prefix = bytes([level_id << 4]) if level_id else None
        # bundling settles the sender's transport with this negotiation: keep it at hand
        self._dtls = self._sender.transport
        self._route = None

    @property
    def ready(self) -> bool:
        """True once aiortc has started the sender (its RTCP routing is registered)."""
        return bool(_get(self._sender, "_RTCRtpSender__started"))

    @property
    def connected(self) -> bool:
        return bool(self._sender.transport._state == DtlsState.CONNECTED)

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

    def send(
        self,
        marker: int,
        sequence_number: int,
        timestamp: int,
        payload: bytes,
        abs_send_time: bytes,
        audio_level: bytes | None,
    ) -> bool:
        """Write the header, protect and send now; False when the transport is not up.
        ``abs_send_time`` is the extension's 3 bytes, ``audio_level`` its 1 byte (RFC 6464),
        both made once per incoming packet for all of its copies."""
        dtls = self._dtls
        if dtls._state != DtlsState.CONNECTED:
            return False
        extension = self._mid_element
        if self._abs_prefix is not None:
            extension += self._abs_prefix + abs_send_time
        if audio_level is not None and self._level_prefix is not None:
            extension += self._level_prefix + audio_level
        padding = -len(extension) % 4
        if padding:
            extension += _PADDING[padding]
        data = (
            _RTP_HEADER.pack(
                0x90,  # version 2, extension present
                (marker << 7) | self.payload_type,
                sequence_number,
                timestamp,
                self.ssrc,
                _ONE_BYTE_EXTENSION_PROFILE,
                len(extension) >> 2,
            )
            + extension
            + payload
        )
        route = self._route
        pair = dtls.transport._connection._nominated.get(1)
        if route is None or route[0] is not pair:
            route = self._route = _route(pair)
            if route is None:
                return False
        try:
            route[1].sendto(dtls._tx_srtp.protect(data), route[2])
        except OSError:  # the socket's buffer is full (or it closed): lost, like any UDP loss
            return False
        self._history[sequence_number % RTP_HISTORY_SIZE] = _ForwardedPacket(
            data, marker, sequence_number, timestamp, payload
        )
        self._next_sequence_number = (sequence_number + 1) & 0xFFFF
        self._last_timestamp = timestamp
        self._packets += 1
        self._octets += len(payload)
        # sender-report counters: once per video frame, every 25th audio packet (half a second)
        report_due = self._packets % 25 == 1 if self._is_audio else marker
        if report_due:
            self._sync_report_counters()
        return True

    def _sync_report_counters(self) -> None:
        # What aiortc's own send loop keeps for its RTCP sender reports; once per frame.
        self._last_send_time = time.monotonic()
        sender = self._sender
        _put(sender, "_RTCRtpSender__ntp_timestamp", aiortc_clock.current_ntp_time())
        _put(sender, "_RTCRtpSender__rtp_timestamp", self._last_timestamp)
        _put(sender, "_RTCRtpSender__octet_count", self._octets)
        _put(sender, "_RTCRtpSender__packet_count", self._packets)


def _route(pair: Any) -> tuple[Any, socket.socket, Any] | None:
    # RTCDtlsTransport._send_rtp is a coroutine only because the ICE layer's send is; beneath
    # it is a plain sendto on the nominated pair's socket, which we call directly: no task,
    # no coroutine and no asyncio transport per packet.
    transport = pair.protocol.transport if pair is not None else None
    sock = getattr(transport, "_sock", None)
    if sock is None:
        return None
    return pair, sock, pair.remote_addr


_BUFFER_OPTIONS = (
    (socket.SO_RCVBUF, getattr(socket, "SO_RCVBUFFORCE", 33)),
    (socket.SO_SNDBUF, getattr(socket, "SO_SNDBUFFORCE", 32)),
)


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
            for option, forced in _BUFFER_OPTIONS:
                try:
                    # the FORCE variants pass net.core.[rw]mem_max when we may (as root)
                    sock.setsockopt(socket.SOL_SOCKET, forced, size)
                except OSError:
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, option, size)
                    except OSError as exc:
                        logger.warning("could not size UDP buffer: %s", exc)
                # Linux reports twice what was set (its bookkeeping overhead)
                if sock.getsockopt(socket.SOL_SOCKET, option) < size:
                    logger.warning(
                        "UDP buffer capped below %d bytes: raise net.core.rmem_max/wmem_max",
                        size,
                    )
            tuned += 1
    return tuned
