"""A Consumer: one producer's packets, rewritten for one subscriber's sender."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from media.aiortc_adapter import RawSender, RtpPacket

if TYPE_CHECKING:
    from media.producer import Producer

logger = logging.getLogger(__name__)


@dataclass
class ConsumerStats:
    packets_sent: int = 0
    packets_dropped_waiting_keyframe: int = 0


class Consumer:
    """Forwards a producer's RTP to one subscriber: SSRC, payload type, sequence numbers and
    timestamps are rewritten so that the subscriber sees one continuous stream from the
    sender it negotiated, whichever source feeds it. Video starts on a keyframe."""

    def __init__(
        self,
        consumer_id: str,
        producer: Producer,
        sender: RawSender,
        relay_keyframe_requests: bool = True,
    ) -> None:
        self.id = consumer_id
        self.producer = producer
        self.sender = sender
        self.stats = ConsumerStats()
        self.paused = False
        self.closed = False
        self._active = False
        self._waiting_for_keyframe = producer.kind == "video"
        self._sequence_offset = 0
        self._timestamp_offset = 0
        producer.attach(self)
        if relay_keyframe_requests:
            sender.on_keyframe_request(self._on_keyframe_request)

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._waiting_for_keyframe

    def activate(self) -> None:
        """The subscriber has negotiated this consumer's sender: start forwarding."""
        self.sender.on_negotiated()
        self._active = True
        self.producer.request_keyframe()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.restart()

    def restart(self) -> None:
        """Start again on the next keyframe (after a pause or while the source was muted)."""
        self._waiting_for_keyframe = self.producer.kind == "video"
        self.producer.request_keyframe()

    def forward(
        self,
        packet: RtpPacket,
        is_keyframe: bool,
        abs_send_time: bytes,
        audio_level: bytes | None,
    ) -> bool:
        """Send this subscriber its copy; True when one went out."""
        if not self._active or self.paused or self.closed:
            return False
        if self._waiting_for_keyframe:
            if not is_keyframe:
                self.stats.packets_dropped_waiting_keyframe += 1
                self.producer.request_keyframe()
                return False
            self._start_at(packet)
        elif self.stats.packets_sent == 0:
            self._start_at(packet)
        sent = self.sender.send(
            packet.marker,
            (packet.sequence_number + self._sequence_offset) & 0xFFFF,
            (packet.timestamp + self._timestamp_offset) & 0xFFFFFFFF,
            packet.payload,
            abs_send_time,
            audio_level,
        )
        if sent:
            self._waiting_for_keyframe = False
            self.stats.packets_sent += 1
        elif self.stats.packets_sent == 0:
            # nothing reached the subscriber yet: keep waiting for a keyframe it can start on
            self._waiting_for_keyframe = self.producer.kind == "video"
        return sent

    def _start_at(self, packet: RtpPacket) -> None:
        """Map this packet onto the sender's stream so it continues where the last one ended."""
        next_sequence, next_timestamp = self.sender.continuation(self.producer.clock_rate)
        self._sequence_offset = (next_sequence - packet.sequence_number) & 0xFFFF
        self._timestamp_offset = (next_timestamp - packet.timestamp) & 0xFFFFFFFF

    def _on_keyframe_request(self) -> None:
        self.producer.request_keyframe()

    def close(self) -> None:
        """Detach from the producer. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.producer.detach(self)
        self.sender.on_keyframe_request(lambda: None)
