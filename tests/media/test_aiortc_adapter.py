"""The aiortc adapter: fails loudly if an aiortc upgrade moves the internals it hooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiortc
import pytest
from aiortc import RTCPeerConnection, RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RtpPacket

from media.aiortc_adapter import (
    PRIVATE_HOOKS,
    TESTED_AIORTC_MINOR,
    IdleTrack,
    codec_preferences,
    install_arrival_clock,
    install_receive_tap,
    offer_media_kinds,
)
from media.errors import UnsupportedCodecError


@pytest.fixture
async def video_transceiver() -> AsyncIterator[RTCRtpTransceiver]:
    pc = RTCPeerConnection()
    try:
        yield pc.addTransceiver("video")
    finally:
        await pc.close()


def _hooked_objects(transceiver: RTCRtpTransceiver) -> dict[str, object]:
    return {
        "RTCRtpReceiver": transceiver.receiver,
        "RTCRtpSender": transceiver.sender,
        "RTCRtpTransceiver": transceiver,
        "RTCDtlsTransport": transceiver.sender.transport,
        "Connection": transceiver.sender.transport.transport._connection,
    }


def test_the_installed_aiortc_is_the_tested_minor_version() -> None:
    assert aiortc.__version__.startswith(TESTED_AIORTC_MINOR + "."), aiortc.__version__


async def test_every_hooked_class_is_covered_by_a_real_aiortc_instance(
    video_transceiver: RTCRtpTransceiver,
) -> None:
    objects = _hooked_objects(video_transceiver)

    assert set(objects) == set(PRIVATE_HOOKS)
    assert {name: type(obj).__name__ for name, obj in objects.items()} == {
        name: name for name in objects
    }
    assert isinstance(objects["RTCDtlsTransport"], RTCDtlsTransport)


@pytest.mark.parametrize("class_name", sorted(PRIVATE_HOOKS))
async def test_every_private_attribute_the_adapter_hooks_exists_in_this_aiortc(
    video_transceiver: RTCRtpTransceiver, class_name: str
) -> None:
    obj = _hooked_objects(video_transceiver)[class_name]

    missing = [name for name in PRIVATE_HOOKS[class_name] if not hasattr(obj, name)]

    assert missing == [], (
        f"aiortc {aiortc.__version__}: {class_name} no longer has {', '.join(missing)}; "
        f"media/aiortc_adapter.py was written for aiortc {TESTED_AIORTC_MINOR}"
    )


async def test_the_receive_tap_replaces_the_jitter_buffer_and_hands_over_every_packet(
    video_transceiver: RTCRtpTransceiver,
) -> None:
    receiver = video_transceiver.receiver
    seen: list[RtpPacket] = []
    install_receive_tap(receiver, lambda packet, arrival: seen.append(packet))
    tap = receiver._RTCRtpReceiver__jitter_buffer
    packet = RtpPacket(payload_type=96, sequence_number=7, timestamp=3000, payload=b"\x90")

    result = tap.add(packet)

    assert result == (False, None)
    assert seen == [packet]


def test_h264_preferences_are_constrained_baseline_mode_1_and_rtx_only() -> None:
    codecs = codec_preferences("video", "H264")

    assert [c.mimeType.lower() for c in codecs if c.mimeType.lower() != "video/rtx"] == [
        "video/h264"
    ]
    h264 = next(c for c in codecs if c.mimeType.lower() == "video/h264")
    assert h264.parameters["profile-level-id"].lower() == "42e01f"
    assert str(h264.parameters["packetization-mode"]) == "1"
    assert any(c.mimeType.lower() == "video/rtx" for c in codecs)


def test_vp8_preferences_are_vp8_and_rtx_only() -> None:
    codecs = codec_preferences("video", "VP8")

    assert {c.mimeType.lower() for c in codecs} == {"video/vp8", "video/rtx"}


def test_audio_preferences_are_opus_only() -> None:
    codecs = codec_preferences("audio", "VP8")

    assert [c.mimeType.lower() for c in codecs] == ["audio/opus"]


def test_an_unsupported_video_codec_is_refused() -> None:
    with pytest.raises(UnsupportedCodecError):
        codec_preferences("video", "VP9")


def test_offer_media_kinds_of_garbage_is_an_empty_list() -> None:
    # aiortc's parser skips lines it does not know, so junk parses to no media sections
    # rather than raising InvalidSdpError; PublisherTransport refuses an offer with none.
    assert offer_media_kinds("garbage") == []


async def test_offer_media_kinds_lists_the_kinds_of_a_real_offer_in_order() -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio")
        pc.addTransceiver("video")
        offer = await pc.createOffer()
    finally:
        await pc.close()

    assert offer_media_kinds(offer.sdp) == ["audio", "video"]


async def test_an_idle_track_never_yields_a_frame() -> None:
    track = IdleTrack("video")
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(track.recv(), timeout=0.2)
    finally:
        track.stop()


async def test_stopping_an_idle_track_ends_a_pending_recv() -> None:
    track = IdleTrack("video")
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)  # let recv start waiting

    track.stop()

    # Ends with CancelledError today; the ConnectionError after the await is never reached.
    with pytest.raises((ConnectionError, asyncio.CancelledError)):
        await pending
    assert track.readyState == "ended"


async def test_the_arrival_clock_stamps_each_datagram_when_it_is_queued() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("audio")
        connection = transceiver.receiver.transport.transport._connection
        connection._queue.put_nowait((b"early", 1))
        install_arrival_clock(pc)
        queue = connection._queue
        before = time.monotonic()
        queue.put_nowait((b"late", 1))

        assert (await queue.get())[0] == b"early"
        assert (await queue.get())[0] == b"late"
        assert before <= queue.last_arrival <= time.monotonic()
    finally:
        await pc.close()
