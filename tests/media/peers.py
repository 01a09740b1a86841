"""Real aiortc client peers for media tests: publishers replay pre-encoded clips, subscribers
count and reassemble what they receive without decoding."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import depayload

from media import MediaRouter, Producer
from media.aiortc_adapter import RtpPacket, install_receive_tap, negotiated_codec
from media.synthetic import EncodedClip, ReplayTrack


@dataclass
class ReceivedStream:
    kind: str
    mime_type: str = ""
    packets: list[RtpPacket] = field(default_factory=list)
    first_packet_time: float | None = None

    def frames(self) -> list[bytes]:
        """Reassemble frames: depayloaded packets grouped by timestamp, in arrival order."""
        by_timestamp: dict[int, list[RtpPacket]] = defaultdict(list)
        order: list[int] = []
        for packet in self.packets:
            if packet.timestamp not in by_timestamp:
                order.append(packet.timestamp)
            by_timestamp[packet.timestamp].append(packet)
        frames = []
        for timestamp in order:
            packets = sorted(by_timestamp[timestamp], key=lambda p: p.sequence_number)
            if not packets[-1].marker:
                continue  # incomplete: the clip ended or the window closed mid-frame
            codec = _codec(self.mime_type)
            frames.append(b"".join(depayload(codec, p.payload) for p in packets))
        return frames


def nal_units(annex_b: bytes) -> tuple[bytes, ...]:
    """An H.264 access unit's NAL units, without start codes (3- or 4-byte alike)."""
    import re

    return tuple(unit for unit in re.split(b"\x00\x00\x00\x01|\x00\x00\x01", annex_b) if unit)


def _codec(mime_type: str):  # type: ignore[no-untyped-def]
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    return RTCRtpCodecParameters(mimeType=mime_type, clockRate=90000, payloadType=96)


class PublisherPeer:
    def __init__(self, clips: list[EncodedClip]) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.tracks = [ReplayTrack(clip) for clip in clips]
        for track in self.tracks:
            self.pc.addTransceiver(track, direction="sendonly")

    async def publish(self, router: MediaRouter, peer_id: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await router.publisher_for(peer_id).accept_offer(
            self.pc.localDescription.sdp, {}
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def close(self) -> None:
        await self.pc.close()


class SubscriberPeer:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.streams: dict[str, ReceivedStream] = {}  # by producer id

    async def subscribe(self, router: MediaRouter, peer_id: str, producers: list[Producer]) -> None:
        transport = router.subscriber_for(peer_id)
        for producer in producers:
            transport.add_consumer(producer)
        offer, mids = await transport.create_offer()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        loop = asyncio.get_running_loop()
        for transceiver in self.pc.getTransceivers():
            producer_id = mids.get(transceiver.mid or "")
            if producer_id is None or producer_id in self.streams:
                continue
            stream = ReceivedStream(kind=transceiver.kind)
            self.streams[producer_id] = stream

            def on_packet(packet: RtpPacket, stream: ReceivedStream = stream) -> None:
                if stream.first_packet_time is None:
                    stream.first_packet_time = loop.time()
                stream.packets.append(packet)

            install_receive_tap(transceiver.receiver, on_packet)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        for transceiver in self.pc.getTransceivers():
            producer_id = mids.get(transceiver.mid or "")
            if producer_id is not None:
                self.streams[producer_id].mime_type = negotiated_codec(transceiver)[0]
        await transport.accept_answer(self.pc.localDescription.sdp)

    async def close(self) -> None:
        await self.pc.close()


async def wait_for(condition, timeout: float = 10.0, interval: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
