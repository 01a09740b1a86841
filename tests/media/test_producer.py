"""The producer's own rules: retransmissions are not forwarded twice, muted tracks are not
forwarded, keyframe requests are throttled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RtpPacket

from media.producer import Producer


class RecordingConsumer:
    def __init__(self) -> None:
        self.id = "recording"
        self.forwarded: list[tuple[int, bool]] = []
        self.restarts = 0

    def forward(
        self,
        packet: RtpPacket,
        is_keyframe: bool,
        abs_send_time: bytes,
        audio_level: bytes | None,
    ) -> bool:
        self.forwarded.append((packet.sequence_number, is_keyframe))
        return True

    def restart(self) -> None:
        self.restarts += 1

    def close(self) -> None:
        pass


@pytest.fixture
async def producer() -> AsyncIterator[Producer]:
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver("video")
    yield Producer("p:0", "p", "video", "camera", "video/VP8", transceiver.receiver)
    await pc.close()


def vp8(sequence_number: int, keyframe: bool = False) -> RtpPacket:
    payload = bytes([0x10, 0x00 if keyframe else 0x01, 0x9D, 0x01, 0x2A])
    return RtpPacket(
        payload_type=96, sequence_number=sequence_number, timestamp=3000, payload=payload
    )


def deliver(producer: Producer, packet: RtpPacket) -> None:
    producer._on_packet(packet, 0.0)


async def test_a_retransmission_of_a_packet_already_forwarded_is_dropped(
    producer: Producer,
) -> None:
    consumer: Any = RecordingConsumer()
    producer.attach(consumer)
    for sequence_number in (1, 2, 3, 2, 4, 1):
        deliver(producer, vp8(sequence_number))
    assert [seq for seq, _ in consumer.forwarded] == [1, 2, 3, 4]
    assert producer.stats.duplicates_dropped == 2


async def test_keyframe_starts_are_flagged_for_consumers(producer: Producer) -> None:
    consumer: Any = RecordingConsumer()
    producer.attach(consumer)
    deliver(producer, vp8(10, keyframe=True))
    deliver(producer, vp8(11))
    assert consumer.forwarded == [(10, True), (11, False)]


async def test_a_muted_producer_forwards_nothing_and_unmuting_restarts_its_consumers(
    producer: Producer,
) -> None:
    consumer: Any = RecordingConsumer()
    producer.attach(consumer)
    producer.set_muted(True)
    deliver(producer, vp8(1))
    assert consumer.forwarded == []
    producer.set_muted(False)
    assert consumer.restarts == 1
    deliver(producer, vp8(2))
    assert [seq for seq, _ in consumer.forwarded] == [2]


async def test_keyframe_requests_are_throttled_to_one_per_half_second(producer: Producer) -> None:
    deliver(producer, vp8(1))  # the producer learns the publisher's SSRC
    for _ in range(10):
        producer.request_keyframe()
    assert producer.stats.keyframe_requests_sent == 1
