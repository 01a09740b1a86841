from __future__ import annotations

import pytest

from media import MediaRouter, TransportOptions
from media.synthetic import EncodedClip, encode_opus, encode_video
from media.keyframes import keyframe_detector

from tests.media.peers import PublisherPeer, SubscriberPeer, nal_units, wait_for


@pytest.fixture(scope="module")
def vp8_clip() -> EncodedClip:
    return encode_video("VP8", frames=60, gop=30)


@pytest.fixture(scope="module")
def h264_clip() -> EncodedClip:
    return encode_video("H264", frames=60, gop=30)


@pytest.fixture(scope="module")
def opus_clip() -> EncodedClip:
    return encode_opus(seconds=1.0)


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_frames_reassembled_at_the_subscriber_equal_what_the_publisher_encoded(
    codec: str, vp8_clip: EncodedClip, h264_clip: EncodedClip, opus_clip: EncodedClip
) -> None:
    clip = vp8_clip if codec == "VP8" else h264_clip
    router = MediaRouter("room", TransportOptions(video_codec=codec))
    publisher = PublisherPeer([clip, opus_clip])
    subscriber = SubscriberPeer()
    try:
        await publisher.publish(router, "alice")
        await wait_for(lambda: len(router.producers) == 2)
        await subscriber.subscribe(router, "bob", list(router.producers.values()))
        video_id = next(p.id for p in router.producers.values() if p.kind == "video")
        audio_id = next(p.id for p in router.producers.values() if p.kind == "audio")
        await wait_for(lambda: len(subscriber.streams[video_id].frames()) >= 40, timeout=15)
        await wait_for(lambda: len(subscriber.streams[audio_id].packets) >= 20)

        video = subscriber.streams[video_id]
        frames = video.frames()
        if codec == "H264":  # aiortc repacketizes Annex-B: compare NAL units
            originals = {nal_units(payload) for payload in clip.payloads}
            intact = [frame for frame in frames if nal_units(frame) in originals]
        else:
            originals = set(clip.payloads)
            intact = [frame for frame in frames if frame in originals]
        assert len(intact) == len(frames), f"{len(frames) - len(intact)} frames were altered"
        detector = keyframe_detector(video.mime_type)
        assert detector is not None
        assert detector(video.packets[0].payload), "the first forwarded video packet is not a keyframe"
        audio_payloads = {p.payload for p in subscriber.streams[audio_id].packets}
        assert audio_payloads <= set(opus_clip.payloads)
    finally:
        await subscriber.close()
        await publisher.close()
        await router.close()
