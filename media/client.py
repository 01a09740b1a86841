"""Client-side peers for bots and tests: a publisher that replays pre-encoded clips and a
subscriber that counts (and may keep) what it receives, neither decoding nor encoding."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription

from media.aiortc_adapter import (
    RtpPacket,
    install_receive_tap,
    intercept_rtp_datagrams,
    negotiated_codec,
    new_peer_connection,
    offer_ssrcs,
    on_sender_keyframe_request,
    set_audio_level_source,
)
from media.keyframes import keyframe_detector
from media.synthetic import EncodedClip, ReplayTrack


@dataclass
class ReceivedStream:
    """What one subscribed media section received."""

    kind: str
    mime_type: str = ""
    packets: int = 0
    payload_bytes: int = 0
    frames: int = 0  # packets with the marker bit: one per video frame
    keyframes: int = 0
    first_packet_at: float | None = None
    first_packet_was_keyframe: bool | None = None
    kept: list[RtpPacket] = field(default_factory=list)


class BotPublisher:
    """Publishes clips (one media section each) from one peer connection."""

    def __init__(self, clips: list[EncodedClip], sources: list[str] | None = None) -> None:
        self.pc: RTCPeerConnection = new_peer_connection([])
        self.tracks = [ReplayTrack(clip) for clip in clips]
        self._sources = sources or [
            "microphone" if clip.kind == "audio" else "camera" for clip in clips
        ]
        # RFC 6464 level the audio packets carry (-dBov: 0 loudest, 127 silent); None: none
        self.audio_level: int | None = None
        for track in self.tracks:
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            on_sender_keyframe_request(transceiver.sender, track.request_keyframe)
            if track.kind == "audio":
                set_audio_level_source(transceiver.sender, lambda: self.audio_level)

    async def create_offer(self) -> tuple[str, dict[str, str]]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sources = {
            transceiver.mid or "": source
            for transceiver, source in zip(self.pc.getTransceivers(), self._sources, strict=True)
        }
        return self.pc.localDescription.sdp, sources

    async def accept_answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def close(self) -> None:
        await self.pc.close()


class BotSubscriber:
    """Answers the server's offers and counts packets per media section (by mid).

    ``count_only``: count RTP headers as datagrams arrive and drop them undecrypted (a load
    generator's subscribers then cost a few µs per packet instead of aiortc's whole receive
    path); keyframes are not seen and payloads not kept in this mode."""

    def __init__(self, keep_packets: bool = False, count_only: bool = False) -> None:
        self.pc: RTCPeerConnection = new_peer_connection([])
        self.streams: dict[str, ReceivedStream] = {}
        self._keep = keep_packets
        self._count_only = count_only
        self._by_ssrc: dict[int, ReceivedStream] = {}
        self._seen: dict[int, set[int]] = {}

    async def answer(self, offer_sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        for transceiver in self.pc.getTransceivers():
            mid = transceiver.mid or ""
            if mid in self.streams:
                continue
            stream = ReceivedStream(kind=transceiver.kind)
            self.streams[mid] = stream
            install_receive_tap(transceiver.receiver, self._counter(stream))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        for transceiver in self.pc.getTransceivers():
            self.streams[transceiver.mid or ""].mime_type = negotiated_codec(transceiver)[0]
        if self._count_only:
            for mid, ssrcs in offer_ssrcs(offer_sdp).items():
                for ssrc in ssrcs:
                    if mid in self.streams:
                        self._by_ssrc[ssrc] = self.streams[mid]
            intercept_rtp_datagrams(self.pc, self._count_header)
        return self.pc.localDescription.sdp

    def _count_header(self, ssrc: int, sequence_number: int, marker: int, size: int) -> bool:
        stream = self._by_ssrc.get(ssrc)
        if stream is None:
            return True  # a retransmission stream: dropped too, so aiortc never sees a gap
            # to NACK (it sees no RTP at all in this mode)
        seen = self._seen.setdefault(ssrc, set())
        if sequence_number in seen:
            return True  # a retransmission of a packet already counted
        if len(seen) > 4096:
            seen.clear()
        seen.add(sequence_number)
        if stream.first_packet_at is None:
            stream.first_packet_at = time.monotonic()
        stream.packets += 1
        stream.payload_bytes += size
        stream.frames += marker
        return True

    def _counter(self, stream: ReceivedStream):  # type: ignore[no-untyped-def]
        def on_packet(packet: RtpPacket, arrival: float) -> None:
            if not packet.payload:
                return
            detector = keyframe_detector(stream.mime_type) if stream.kind == "video" else None
            is_keyframe = detector(packet.payload) if detector is not None else False
            if stream.first_packet_at is None:
                stream.first_packet_at = time.monotonic()
                stream.first_packet_was_keyframe = is_keyframe
            stream.packets += 1
            stream.payload_bytes += len(packet.payload)
            stream.frames += packet.marker
            stream.keyframes += is_keyframe
            if self._keep:
                stream.kept.append(packet)

        return on_packet

    async def close(self) -> None:
        await self.pc.close()


async def wait_until_connected(pc: RTCPeerConnection, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pc.connectionState != "connected":
        if loop.time() > deadline or pc.connectionState in ("failed", "closed"):
            raise TimeoutError(f"peer connection is {pc.connectionState}")
        await asyncio.sleep(0.05)
