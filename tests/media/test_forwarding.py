from __future__ import annotations

import asyncio

import pytest

from media import MediaRouter, TransportOptions
from media.client import BotPublisher, BotSubscriber
from media.keyframes import keyframe_detector
from media.synthetic import EncodedClip, encode_opus, encode_video
from tests.media.peers import nal_units, publish, reassembled_frames, subscribe, wait_for


@pytest.fixture(scope="module")
def clips() -> dict[str, EncodedClip]:
    return {
        "VP8": encode_video("VP8", frames=60, gop=30),
        "H264": encode_video("H264", frames=60, gop=30),
        "opus": encode_opus(seconds=1.0),
    }


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_frames_reassembled_at_the_subscriber_equal_what_the_publisher_encoded(
    codec: str, clips: dict[str, EncodedClip]
) -> None:
    clip = clips[codec]
    router = MediaRouter("room", TransportOptions(video_codec=codec))
    publisher = BotPublisher([clip, clips["opus"]])
    subscriber = BotSubscriber(keep_packets=True)
    try:
        await publish(router, "alice", publisher)
        await wait_for(lambda: len(router.producers) == 2)
        mids = await subscribe(router, "bob", subscriber, list(router.producers.values()))
        video = next(
            subscriber.streams[mids[p.id]] for p in router.producers.values() if p.kind == "video"
        )
        audio = next(
            subscriber.streams[mids[p.id]] for p in router.producers.values() if p.kind == "audio"
        )
        await wait_for(lambda: len(reassembled_frames(video)) >= 40, timeout=15)
        await wait_for(lambda: audio.packets >= 20)

        frames = reassembled_frames(video)
        if codec == "H264":  # aiortc repacketizes Annex-B on send: compare NAL units
            originals = {nal_units(payload) for payload in clip.payloads}
            altered = [frame for frame in frames if nal_units(frame) not in originals]
        else:
            altered = [frame for frame in frames if frame not in set(clip.payloads)]
        assert not altered, f"{len(altered)} of {len(frames)} frames were altered"
        detector = keyframe_detector(video.mime_type)
        assert detector is not None and detector(video.kept[0].payload)
        assert {p.payload for p in audio.kept} <= set(clips["opus"].payloads)
    finally:
        await subscriber.close()
        await publisher.close()
        await router.close()


async def test_media_sockets_get_the_configured_buffer_size(clips: dict[str, EncodedClip]) -> None:
    import socket

    from media.client import wait_until_connected

    size = 4 * 1024 * 1024
    router = MediaRouter("buffers", TransportOptions(video_codec="VP8", udp_buffer_bytes=size))
    publisher = BotPublisher([clips["opus"]])
    try:
        await publish(router, "alice", publisher)
        await wait_until_connected(publisher.pc)
        server_pc = router.publishers["alice"]._pc
        await wait_for(lambda: server_pc.connectionState == "connected")
        connection = server_pc.getTransceivers()[0].receiver.transport.transport._connection
        sockets = [p.transport.get_extra_info("socket") for p in connection._protocols]
        assert sockets
        for sock in sockets:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= size
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= size
    finally:
        await publisher.close()
        await router.close()


async def test_a_counting_subscriber_counts_every_forwarded_packet_without_decrypting(
    clips: dict[str, EncodedClip],
) -> None:
    router = MediaRouter("count", TransportOptions(video_codec="VP8"))
    publisher = BotPublisher([clips["VP8"], clips["opus"]])
    subscriber = BotSubscriber(count_only=True)
    try:
        await publish(router, "alice", publisher)
        await wait_for(lambda: len(router.producers) == 2)
        mids = await subscribe(router, "bob", subscriber, list(router.producers.values()))
        transport = router.subscribers["bob"]
        await wait_for(lambda: all(c.stats.packets_sent > 40 for c in transport.consumers))
        publisher.tracks[0].stop()
        publisher.tracks[1].stop()
        await asyncio.sleep(0.3)  # the last packets in flight arrive
        for producer_id, mid in mids.items():
            consumer = transport.consumer_for(producer_id)
            assert consumer is not None
            assert subscriber.streams[mid].packets == consumer.stats.packets_sent
            # the direct socket route the adapter takes (asyncio's private _sock) still exists
            assert consumer.sender._route is not None
    finally:
        await subscriber.close()
        await publisher.close()
        await router.close()
