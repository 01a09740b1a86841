"""Synthetic, pre-encoded media for bots and tests: encoded once, replayed in real time.

aiortc's sender packetizes anything that is not an ``av.Frame`` without encoding it, so a
track that yields these packets costs a publisher no encoder time.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from dataclasses import dataclass

import av
from aiortc import MediaStreamTrack

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)


@dataclass(frozen=True)
class EncodedClip:
    kind: str
    payloads: tuple[bytes, ...]
    keyframes: tuple[bool, ...]
    frame_duration: float  # seconds

    @property
    def keyframe_count(self) -> int:
        return sum(self.keyframes)


def _fill_video_frame(frame: av.VideoFrame, index: int) -> None:
    # A moving diagonal pattern: cheap to make, not trivially compressible.
    for plane_index, plane in enumerate(frame.planes):
        width = plane.line_size
        rows = plane.buffer_size // width
        row_bytes = []
        for y in range(rows):
            shift = (index * 4 + y + plane_index * 40) % 256
            row_bytes.append(bytes((x + shift) % 256 for x in range(0, width * 3, 3)))
        plane.update(b"".join(row_bytes))


def encode_video(
    codec: str = "VP8",
    frames: int = 60,
    fps: int = 30,
    width: int = 320,
    height: int = 240,
    gop: int = 30,
    bit_rate: int = 400_000,
) -> EncodedClip:
    """Encode a short clip once; its first frame is a keyframe, then one every ``gop``."""
    name = {"VP8": "libvpx", "H264": "libx264"}[codec.upper()]
    context = av.CodecContext.create(name, "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width = width
    context.height = height
    context.pix_fmt = "yuv420p"
    context.time_base = fractions.Fraction(1, fps)
    context.framerate = fractions.Fraction(fps, 1)
    context.bit_rate = bit_rate
    context.gop_size = gop
    if name == "libvpx":
        context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    else:
        context.profile = "Baseline"
        context.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0"}
    payloads: list[bytes] = []
    keyframes: list[bool] = []
    for index in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        _fill_video_frame(frame, index)
        frame.pts = index
        frame.time_base = context.time_base
        for packet in context.encode(frame):
            payloads.append(bytes(packet))
            keyframes.append(packet.is_keyframe)
    for packet in context.encode(None):
        payloads.append(bytes(packet))
        keyframes.append(packet.is_keyframe)
    return EncodedClip("video", tuple(payloads), tuple(keyframes), 1 / fps)


def encode_opus(seconds: float = 1.0, frequency: float = 440.0) -> EncodedClip:
    """Encode a tone into 20 ms Opus packets."""
    context = av.CodecContext.create("libopus", "w")
    assert isinstance(context, av.AudioCodecContext)
    context.sample_rate = 48000
    context.layout = "stereo"
    context.format = "s16"
    context.bit_rate = 32000
    samples_per_frame = 960
    payloads: list[bytes] = []
    total = int(seconds * 50)
    for index in range(total):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=samples_per_frame)
        samples = bytearray()
        for n in range(samples_per_frame):
            t = (index * samples_per_frame + n) / 48000
            value = int(8000 * math.sin(2 * math.pi * frequency * t))
            samples += value.to_bytes(2, "little", signed=True) * 2
        frame.planes[0].update(bytes(samples))
        frame.sample_rate = 48000
        frame.pts = index * samples_per_frame
        frame.time_base = AUDIO_TIME_BASE
        for packet in context.encode(frame):
            payloads.append(bytes(packet))
    return EncodedClip("audio", tuple(payloads), tuple(True for _ in payloads), 0.02)


class ReplayTrack(MediaStreamTrack):
    """Yields a clip's encoded packets in real time, looping; never decodes or encodes."""

    def __init__(self, clip: EncodedClip) -> None:
        super().__init__()
        self.kind = clip.kind
        self._clip = clip
        self._index = 0
        self._position = 0
        self._keyframe_wanted = False
        self._start: float | None = None
        self._time_base = VIDEO_TIME_BASE if clip.kind == "video" else AUDIO_TIME_BASE
        self.packets_sent = 0

    def request_keyframe(self) -> None:
        """Jump to the clip's next keyframe (what an encoder does when asked for one)."""
        self._keyframe_wanted = True

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        if self.readyState != "live":
            raise ConnectionError("track ended")
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._index * self._clip.frame_duration
        if due > now:
            await asyncio.sleep(due - now)
        count = len(self._clip.payloads)
        if self._keyframe_wanted:
            self._keyframe_wanted = False
            while not self._clip.keyframes[self._position % count]:
                self._position += 1
        payload = self._clip.payloads[self._position % count]
        self._position += 1
        packet = av.Packet(payload)
        packet.pts = int(self._index * self._clip.frame_duration / self._time_base)
        packet.time_base = self._time_base
        self._index += 1
        self.packets_sent += 1
        return packet
