"""Keyframe detection on RTP payloads: real ones from aiortc's packetizers, and edge cases."""

from __future__ import annotations

import fractions
from collections.abc import Callable

import av
import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder

from media.keyframes import h264_starts_keyframe, keyframe_detector, vp8_starts_keyframe
from media.synthetic import encode_video

RTP_TIME_BASE = fractions.Fraction(1, 90000)


def _packetized(codec: str, packer: Vp8Encoder | H264Encoder) -> list[tuple[bool, list[bytes]]]:
    """(is_keyframe, RTP payloads) for each frame of a 35-frame clip with keyframes at 0, 30."""
    clip = encode_video(codec, frames=35, gop=30)
    frames = []
    for index, (data, is_keyframe) in enumerate(zip(clip.payloads, clip.keyframes, strict=True)):
        packet = av.Packet(data)
        packet.pts = index * 3000
        packet.time_base = RTP_TIME_BASE
        payloads, _ = packer.pack(packet)
        frames.append((is_keyframe, payloads))
    assert [index for index, (key, _) in enumerate(frames) if key] == [0, 30]
    return frames


@pytest.fixture(scope="module")
def vp8_frames() -> list[tuple[bool, list[bytes]]]:
    return _packetized("VP8", Vp8Encoder())


@pytest.fixture(scope="module")
def h264_frames() -> list[tuple[bool, list[bytes]]]:
    return _packetized("H264", H264Encoder())


def _first_payload_of_keyframes(
    frames: list[tuple[bool, list[bytes]]], detect: Callable[[bytes], bool]
) -> list[bool]:
    return [detect(payloads[0]) for is_keyframe, payloads in frames if is_keyframe]


def _delta_payloads_detected(
    frames: list[tuple[bool, list[bytes]]], detect: Callable[[bytes], bool]
) -> list[tuple[int, int]]:
    return [
        (frame, index)
        for frame, (is_keyframe, payloads) in enumerate(frames)
        if not is_keyframe
        for index, payload in enumerate(payloads)
        if detect(payload)
    ]


def test_the_first_rtp_payload_of_each_vp8_keyframe_is_detected(
    vp8_frames: list[tuple[bool, list[bytes]]],
) -> None:
    assert _first_payload_of_keyframes(vp8_frames, vp8_starts_keyframe) == [True, True]


def test_no_rtp_payload_of_a_vp8_delta_frame_is_detected(
    vp8_frames: list[tuple[bool, list[bytes]]],
) -> None:
    assert _delta_payloads_detected(vp8_frames, vp8_starts_keyframe) == []


def test_the_first_rtp_payload_of_each_h264_keyframe_is_detected(
    h264_frames: list[tuple[bool, list[bytes]]],
) -> None:
    assert _first_payload_of_keyframes(h264_frames, h264_starts_keyframe) == [True, True]


def test_no_rtp_payload_of_an_h264_delta_frame_is_detected(
    h264_frames: list[tuple[bool, list[bytes]]],
) -> None:
    assert _delta_payloads_detected(h264_frames, h264_starts_keyframe) == []


# -- VP8 edge cases (RFC 7741 payload descriptor, then the VP8 payload header) -----------------


def test_an_empty_vp8_payload_is_not_a_keyframe() -> None:
    assert vp8_starts_keyframe(b"") is False


def test_a_minimal_vp8_descriptor_before_a_key_frame_header_is_a_keyframe() -> None:
    assert vp8_starts_keyframe(bytes([0x10, 0x00])) is True  # S=1, PID=0; P=0


def test_a_vp8_inter_frame_header_is_not_a_keyframe() -> None:
    assert vp8_starts_keyframe(bytes([0x10, 0x01])) is False  # P=1


def test_a_vp8_packet_that_does_not_start_the_partition_is_not_a_keyframe() -> None:
    assert vp8_starts_keyframe(bytes([0x00, 0x00])) is False  # S=0


def test_a_vp8_packet_starting_a_later_partition_is_not_a_keyframe() -> None:
    assert vp8_starts_keyframe(bytes([0x11, 0x00])) is False  # PID=1


def test_a_vp8_descriptor_with_a_two_byte_picture_id_is_skipped() -> None:
    # X=1, S=1; I=1; M=1 (15-bit picture id: 2 bytes); then the payload header, P=0.
    assert vp8_starts_keyframe(bytes([0x90, 0x80, 0x81, 0x23, 0x00])) is True


def test_a_vp8_descriptor_with_picture_id_tl0picidx_and_tid_is_skipped() -> None:
    # X=1, S=1; I, L, T set; 1-byte picture id, TL0PICIDX, TID; then P=1 (inter frame).
    assert vp8_starts_keyframe(bytes([0x90, 0xE0, 0x05, 0x07, 0x40, 0x01])) is False
    assert vp8_starts_keyframe(bytes([0x90, 0xE0, 0x05, 0x07, 0x40, 0x00])) is True


@pytest.mark.parametrize(
    "payload",
    [
        bytes([0x10]),  # descriptor only
        bytes([0x90]),  # X=1 but no extension byte
        bytes([0x90, 0x80]),  # I=1 but no picture id
        bytes([0x90, 0x80, 0x81]),  # 2-byte picture id cut after its first byte
        bytes([0x90, 0x80, 0x81, 0x23]),  # picture id, but no payload header
        bytes([0x90, 0x60, 0x07]),  # L and T/K: TL0PICIDX, no TID byte, no header
    ],
    ids=[
        "no-header",
        "no-extension",
        "no-picture-id",
        "half-picture-id",
        "no-vp8-header",
        "no-tid",
    ],
)
def test_a_truncated_vp8_descriptor_is_not_a_keyframe(payload: bytes) -> None:
    assert vp8_starts_keyframe(payload) is False


# -- H.264 edge cases (RFC 6184) ------------------------------------------------------------

SPS = bytes([0x67, 0x42, 0xE0, 0x1F])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65, 0x88, 0x84])
NON_IDR = bytes([0x41, 0x9A, 0x02])


def _stap_a(*nal_units: bytes) -> bytes:
    body = b"".join(len(unit).to_bytes(2, "big") + unit for unit in nal_units)
    return bytes([0x78]) + body


def test_an_empty_h264_payload_is_not_a_keyframe() -> None:
    assert h264_starts_keyframe(b"") is False


def test_a_single_sps_or_idr_nal_unit_is_a_keyframe() -> None:
    assert h264_starts_keyframe(SPS) is True
    assert h264_starts_keyframe(IDR) is True


def test_a_single_non_idr_slice_is_not_a_keyframe() -> None:
    assert h264_starts_keyframe(NON_IDR) is False


def test_a_stap_a_containing_an_sps_is_a_keyframe() -> None:
    assert h264_starts_keyframe(_stap_a(SPS, PPS)) is True


def test_a_stap_a_whose_idr_follows_other_units_is_a_keyframe() -> None:
    sei = bytes([0x06, 0x05, 0x01])
    assert h264_starts_keyframe(_stap_a(sei, PPS, IDR)) is True


def test_a_stap_a_without_sps_or_idr_is_not_a_keyframe() -> None:
    assert h264_starts_keyframe(_stap_a(PPS, NON_IDR)) is False


def test_a_stap_a_whose_unit_size_overruns_the_payload_is_not_a_keyframe() -> None:
    truncated = _stap_a(SPS)[:-2]  # the size still says 4 bytes, only 2 remain
    assert h264_starts_keyframe(truncated) is False


def test_a_stap_a_with_a_zero_unit_size_is_not_a_keyframe() -> None:
    assert h264_starts_keyframe(bytes([0x78, 0x00, 0x00]) + SPS) is False


def test_the_fu_a_start_of_an_idr_is_a_keyframe() -> None:
    assert h264_starts_keyframe(bytes([0x7C, 0x85, 0x88, 0x84])) is True  # S=1, type 5


def test_a_fu_a_middle_of_an_idr_is_not_a_keyframe() -> None:
    assert h264_starts_keyframe(bytes([0x7C, 0x05, 0x88, 0x84])) is False  # S=0, type 5


def test_a_fu_a_end_of_an_idr_is_not_a_keyframe() -> None:
    assert h264_starts_keyframe(bytes([0x7C, 0x45, 0x88])) is False  # E=1, type 5


def test_the_fu_a_start_of_a_non_idr_slice_is_not_a_keyframe() -> None:
    assert h264_starts_keyframe(bytes([0x7C, 0x81, 0x9A])) is False  # S=1, type 1


def test_a_fu_a_indicator_without_its_header_is_not_a_keyframe() -> None:
    assert h264_starts_keyframe(bytes([0x7C])) is False


# -- choosing a detector --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mime_type", "detector"),
    [
        ("video/VP8", vp8_starts_keyframe),
        ("video/vp8", vp8_starts_keyframe),
        ("video/H264", h264_starts_keyframe),
    ],
)
def test_keyframe_detector_picks_the_video_codec_detector(
    mime_type: str, detector: Callable[[bytes], bool]
) -> None:
    assert keyframe_detector(mime_type) is detector


@pytest.mark.parametrize("mime_type", ["audio/opus", "audio/PCMU", "video/rtx"])
def test_keyframe_detector_has_none_for_audio_and_other_types(mime_type: str) -> None:
    assert keyframe_detector(mime_type) is None
