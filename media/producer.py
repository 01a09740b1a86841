"""A Producer: one incoming track, whose encoded packets fan out to its consumers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.contrib.media import MediaRelay

from media.aiortc_adapter import (
    RtpPacket,
    abs_send_time_now,
    install_receive_tap,
    request_keyframe,
)
from media.keyframes import keyframe_detector
from media.metrics import ForwardingMetrics

if TYPE_CHECKING:
    from media.consumer import Consumer

logger = logging.getLogger(__name__)

KEYFRAME_REQUEST_INTERVAL = 0.5
_RECENT_SEQUENCE_WINDOW = 1024


@dataclass
class ProducerStats:
    packets_received: int = 0
    duplicates_dropped: int = 0
    keyframe_requests_sent: int = 0


class Producer:
    """Receives one track's RTP through the adapter's tap and hands each packet, untouched, to
    every consumer. Keyframe requests from consumers are throttled into PLIs upstream."""

    def __init__(
        self,
        producer_id: str,
        peer_id: str,
        kind: str,
        source: str,
        mime_type: str,
        receiver: RTCRtpReceiver,
        metrics: ForwardingMetrics | None = None,
        transcode: bool = False,
    ) -> None:
        self.id = producer_id
        self.peer_id = peer_id
        self.kind = kind
        self.source = source
        self.mime_type = mime_type
        self.clock_rate = 48000 if kind == "audio" else 90000
        self.stats = ProducerStats()
        self.metrics = metrics or ForwardingMetrics()
        self.closed = False
        self.muted = False
        self._receiver = receiver
        self._consumers: dict[str, Consumer] = {}
        self._fanout: tuple[Consumer, ...] = ()  # the consumers, as iterated per packet
        self._detect_keyframe: Callable[[bytes], bool] | None = keyframe_detector(mime_type)
        self._media_ssrc: int | None = None
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._last_keyframe_request = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._close_listeners: list[Callable[[Producer], None]] = []
        # (peer id, RFC 6464 level in -dBov, arrival) for each audio packet that carries one
        self.audio_level_listener: Callable[[str, int, float], None] | None = None
        self._relay: MediaRelay | None = None
        if transcode:
            self._relay = MediaRelay()  # the baseline: aiortc decodes and re-encodes
        else:
            install_receive_tap(receiver, self._on_packet)

    def relayed_track(self) -> MediaStreamTrack:
        """The decoded track, for the transcoding baseline only."""
        if self._relay is None:
            raise RuntimeError("this producer forwards RTP; it has no decoded track")
        return self._relay.subscribe(self._receiver.track)

    @property
    def consumers(self) -> list[Consumer]:
        return list(self._consumers.values())

    def attach(self, consumer: Consumer) -> None:
        self._consumers[consumer.id] = consumer
        self._fanout = tuple(self._consumers.values())

    def detach(self, consumer: Consumer) -> None:
        self._consumers.pop(consumer.id, None)
        self._fanout = tuple(self._consumers.values())

    def on_close(self, listener: Callable[[Producer], None]) -> None:
        self._close_listeners.append(listener)

    def set_muted(self, muted: bool) -> None:
        """A muted producer is not forwarded; on unmute, video consumers restart on a keyframe."""
        if muted == self.muted:
            return
        self.muted = muted
        if not muted:
            for consumer in list(self._consumers.values()):
                consumer.restart()

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per KEYFRAME_REQUEST_INTERVAL."""
        if self.kind != "video" or self._media_ssrc is None or self.closed:
            return
        now = time.monotonic()
        if now - self._last_keyframe_request < KEYFRAME_REQUEST_INTERVAL:
            return
        self._last_keyframe_request = now
        self.stats.keyframe_requests_sent += 1
        self.metrics.keyframe_requests += 1
        task = asyncio.ensure_future(request_keyframe(self._receiver, self._media_ssrc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_packet(self, packet: RtpPacket, arrival: float) -> None:
        if self.closed or self.muted or not packet.payload:
            return  # padding-only packets carry nothing to forward
        sequence_number = packet.sequence_number
        if sequence_number in self._recent:
            # a retransmission of a packet we already forwarded
            self.stats.duplicates_dropped += 1
            return
        self._recent[sequence_number] = None
        if len(self._recent) > _RECENT_SEQUENCE_WINDOW:
            self._recent.popitem(last=False)
        self._media_ssrc = packet.ssrc
        self.stats.packets_received += 1
        self.metrics.packets_received += 1
        level = packet.extensions.audio_level
        level_byte = None
        if level is not None:
            level_byte = bytes(((0x80 if level[0] else 0) | level[1],))
            if self.audio_level_listener is not None:
                self.audio_level_listener(self.peer_id, level[1], arrival)
        is_keyframe = self._detect_keyframe is None or self._detect_keyframe(packet.payload)
        abs_send_time = abs_send_time_now()
        sent = 0
        for consumer in self._fanout:
            sent += consumer.forward(packet, is_keyframe, abs_send_time, level_byte)
        if sent:
            # once per incoming packet: the time until its last copy left the server
            metrics = self.metrics
            metrics.packets_forwarded += sent
            metrics.bytes_forwarded += sent * len(packet.payload)
            metrics.record_latency(time.monotonic() - arrival)

    async def close(self) -> None:
        """Stop forwarding; consumers are closed first. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for consumer in list(self._consumers.values()):
            consumer.close()
        for task in list(self._tasks):
            task.cancel()
        for listener in self._close_listeners:
            listener(self)
        self._close_listeners.clear()
