"""Loss between a publisher and the SFU: NACKs and retransmissions recover it, and nothing is
forwarded twice."""

from __future__ import annotations

import random
from collections import defaultdict

from aiortc import RTCPeerConnection

from media import MediaRouter, TransportOptions
from media.client import BotPublisher, BotSubscriber, ReceivedStream, wait_until_connected
from media.keyframes import vp8_starts_keyframe
from media.synthetic import encode_video
from tests.media.peers import publish, subscribe, wait_for

LOSS = 0.05


def inject_loss(pc: RTCPeerConnection, rate: float, seed: int = 7) -> dict[str, int]:
    """Drop ``rate`` of the SRTP/SRTCP datagrams the peer sends (never ICE or DTLS)."""
    counts = {"sent": 0, "dropped": 0}
    chance = random.Random(seed)
    for transceiver in pc.getTransceivers():
        connection = transceiver.sender.transport.transport._connection
        pair = connection._nominated[1]
        transport = pair.protocol.transport
        sendto = transport.sendto

        def lossy_sendto(data: bytes, addr: object, _sendto=sendto) -> None:  # type: ignore[no-untyped-def]
            if 127 < data[0] < 192:
                counts["sent"] += 1
                if chance.random() < rate:
                    counts["dropped"] += 1
                    return
            _sendto(data, addr)

        transport.sendto = lossy_sendto
        break  # bundled: one transport
    return counts


def complete_frames(stream: ReceivedStream) -> int:
    """Frames whose packets all arrived: from a frame start to the marker, no gap."""
    by_timestamp: dict[int, set[int]] = defaultdict(set)
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for packet in stream.kept:
        by_timestamp[packet.timestamp].add(packet.sequence_number)
        if packet.payload and packet.payload[0] & 0x10 and packet.payload[0] & 0x07 == 0:
            starts[packet.timestamp] = packet.sequence_number
        if packet.marker:
            ends[packet.timestamp] = packet.sequence_number
    complete = 0
    for timestamp, sequence_numbers in by_timestamp.items():
        if timestamp in starts and timestamp in ends:
            span = (ends[timestamp] - starts[timestamp]) & 0xFFFF
            if all((starts[timestamp] + i) & 0xFFFF in sequence_numbers for i in range(span + 1)):
                complete += 1
    return complete


async def test_with_5_percent_loss_upstream_subscribers_still_assemble_95_percent() -> None:
    clip = encode_video("VP8", frames=90, gop=90, bit_rate=800_000)
    router = MediaRouter("lossy", TransportOptions(video_codec="VP8"))
    publisher = BotPublisher([clip])
    subscriber = BotSubscriber(keep_packets=True)
    try:
        await publish(router, "alice", publisher)
        await wait_until_connected(publisher.pc)
        counts = inject_loss(publisher.pc, LOSS)
        await wait_for(lambda: len(router.producers) == 1)
        producer = next(iter(router.producers.values()))
        mids = await subscribe(router, "bob", subscriber, [producer])
        stream = subscriber.streams[mids[producer.id]]
        await wait_for(lambda: stream.packets > 0, timeout=10)
        sent_before = publisher.tracks[0].packets_sent
        await wait_for(lambda: publisher.tracks[0].packets_sent - sent_before >= 150, timeout=20)
        # let the last retransmissions land
        frames_sent = publisher.tracks[0].packets_sent - sent_before
        await wait_for(lambda: complete_frames(stream) >= frames_sent * 0.95, timeout=5)

        assert counts["dropped"] > 0.02 * counts["sent"], counts  # the loss really happened
        assert vp8_starts_keyframe(stream.kept[0].payload)
        # The subscriber may see a packet twice (its own NACK can race the late original); the
        # SFU's forwarding path must not send any twice: every copy it forwarded is distinct.
        consumer = router.subscribers["bob"].consumer_for(producer.id)
        assert consumer is not None
        distinct = len({p.sequence_number for p in stream.kept})
        assert consumer.stats.packets_sent <= distinct + 5  # + what was in flight
    finally:
        await subscriber.close()
        await publisher.close()
        await router.close()
