"""Helpers for media tests: connect bot peers straight to a MediaRouter (no signaling)."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Callable

from aiortc.codecs import depayload
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media import MediaRouter, Producer
from media.client import BotPublisher, BotSubscriber, ReceivedStream


async def publish(router: MediaRouter, peer_id: str, bot: BotPublisher) -> None:
    offer, sources = await bot.create_offer()
    answer = await router.publisher_for(peer_id).accept_offer(offer, sources)
    await bot.accept_answer(answer)


async def subscribe(
    router: MediaRouter, peer_id: str, bot: BotSubscriber, producers: list[Producer]
) -> dict[str, str]:
    """Consume ``producers``; returns producer id -> mid."""
    transport = router.subscriber_for(peer_id)
    for producer in producers:
        transport.add_consumer(producer)
    offer, mids = await transport.create_offer()
    await transport.accept_answer(await bot.answer(offer))
    return {producer_id: mid for mid, producer_id in mids.items()}


def reassembled_frames(stream: ReceivedStream) -> list[bytes]:
    """Depayloaded packets grouped by timestamp, complete frames only, in arrival order."""
    codec = RTCRtpCodecParameters(mimeType=stream.mime_type, clockRate=90000, payloadType=96)
    by_timestamp: dict[int, list] = defaultdict(list)  # type: ignore[type-arg]
    for packet in stream.kept:
        by_timestamp[packet.timestamp].append(packet)
    frames = []
    for packets in by_timestamp.values():
        packets.sort(key=lambda p: p.sequence_number)
        if packets[-1].marker:
            frames.append(b"".join(depayload(codec, p.payload) for p in packets))
    return frames


def nal_units(annex_b: bytes) -> tuple[bytes, ...]:
    """An H.264 access unit's NAL units, without start codes (3- or 4-byte alike)."""
    return tuple(u for u in re.split(b"\x00\x00\x00\x01|\x00\x00\x01", annex_b) if u)


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)
