"""Keyframe detection on RTP payloads, without decoding (VP8: RFC 7741, H.264: RFC 6184)."""

from __future__ import annotations

from collections.abc import Callable

_H264_SPS = 7
_H264_IDR = 5
_H264_STAP_A = 24
_H264_FU_A = 28


def vp8_starts_keyframe(payload: bytes) -> bool:
    """True when this packet carries the first partition's start of a VP8 key frame."""
    if len(payload) < 1:
        return False
    first = payload[0]
    start_of_partition = bool(first & 0x10)
    partition_index = first & 0x07
    if not start_of_partition or partition_index != 0:
        return False
    offset = 1
    if first & 0x80:  # X: extension byte follows
        if len(payload) < 2:
            return False
        ext = payload[1]
        offset = 2
        if ext & 0x80:  # I: picture id, one or two bytes
            if len(payload) <= offset:
                return False
            offset += 2 if payload[offset] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            offset += 1
        if ext & 0x30:  # T or K: TID/KEYIDX byte
            offset += 1
    if len(payload) <= offset:
        return False
    return (payload[offset] & 0x01) == 0  # P bit clear: key frame


def h264_starts_keyframe(payload: bytes) -> bool:
    """True when this packet starts an IDR picture or carries its SPS."""
    if len(payload) < 1:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (_H264_SPS, _H264_IDR):
        return True
    if nal_type == _H264_STAP_A:
        offset = 1
        while offset + 2 < len(payload):
            size = int.from_bytes(payload[offset : offset + 2], "big")
            offset += 2
            if size == 0 or offset + size > len(payload):
                return False
            if payload[offset] & 0x1F in (_H264_SPS, _H264_IDR):
                return True
            offset += size
        return False
    if nal_type == _H264_FU_A and len(payload) >= 2:
        fu_header = payload[1]
        return bool(fu_header & 0x80) and (fu_header & 0x1F) in (_H264_SPS, _H264_IDR)
    return False


def keyframe_detector(mime_type: str) -> Callable[[bytes], bool] | None:
    """The detector for a video codec, or None for audio (every audio packet can start)."""
    name = mime_type.lower()
    if name == "video/vp8":
        return vp8_starts_keyframe
    if name == "video/h264":
        return h264_starts_keyframe
    return None
