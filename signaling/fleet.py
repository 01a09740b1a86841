"""A fleet of bots in one room: publishers replaying one pre-encoded clip pair, subscribers
counting what they receive. Drives `openroom bot`; `openroom bench` runs several fleets in
their own processes and reads the counters each one writes to its report file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from media.aiortc_adapter import tune_socket_buffers
from media.client_stats import rtp_packets_sent
from media.synthetic import EncodedClip, encode_opus, encode_video
from signaling.bot import BotClient

# 4 s of 640x360 video at 30 fps, a keyframe every 2 s: what a webcam at ~600 kbps sends.
CLIP_SECONDS = 4
CLIP_FPS = 30
CLIP_GOP = 60
REPORT_INTERVAL = 1.0
# Joins negotiate with the server one at a time per bot; a few at once keeps start-up short
# without making the server renegotiate dozens of connections together.
JOIN_CONCURRENCY = 4
# Like the server's media.udp_buffer_bytes: with the kernel's ~208 KiB a subscriber that waits
# 150 ms for the CPU (bots share the machine with the server) drops packets the server sent.
BOT_UDP_BUFFER_BYTES = 4 * 1024 * 1024


def encode_clips(codec: str) -> list[EncodedClip]:
    """The clip pair every publisher of a process replays: encoded once, here."""
    video = encode_video(
        codec,
        frames=CLIP_SECONDS * CLIP_FPS,
        fps=CLIP_FPS,
        width=640,
        height=360,
        gop=CLIP_GOP,
        bit_rate=600_000,
    )
    return [video, encode_opus(seconds=2.0)]


@dataclass(frozen=True)
class FleetPlan:
    url: str
    room: str
    publishers: int = 0
    subscribers: int = 0
    # How many publishers a subscriber waits to receive before it counts as "receiving all";
    # None: this fleet's own publishers (publishers in other processes are not known here).
    expected_publishers: int | None = None
    codec: str = "VP8"
    name_prefix: str = "bot"

    @property
    def expected_streams(self) -> int:
        publishers = (
            self.publishers if self.expected_publishers is None else self.expected_publishers
        )
        return 2 * publishers  # audio and video each


@dataclass(frozen=True)
class FleetCounters:
    """What a fleet has done so far; ``at`` is wall-clock time, for rates."""

    at: float
    publishers_joined: int
    subscribers_joined: int
    subscribers_receiving_all: int
    rtp_packets_sent: int
    rtp_packets_received: int
    snapshot: int = 0  # how many on-demand snapshots (SIGUSR1) this process has answered

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FleetCounters:
        return cls(**data)


class Fleet:
    def __init__(self, plan: FleetPlan) -> None:
        self.plan = plan
        self.publishers: list[BotClient] = []
        self.subscribers: list[BotClient] = []
        self._created: list[BotClient] = []  # joined or still joining: all are closed at the end
        self._tuned: set[int] = set()  # id() of subscribers whose sockets are sized

    async def start(self) -> None:
        """Join every publisher, then every subscriber (so each subscriber gets one offer with
        all tracks instead of one renegotiation per publisher)."""
        plan = self.plan
        limit = asyncio.Semaphore(JOIN_CONCURRENCY)
        if plan.publishers:
            clips = await asyncio.to_thread(encode_clips, plan.codec)

            async def join_publisher(index: int) -> None:
                name = f"{plan.name_prefix}-pub-{index}"
                bot = BotClient(plan.url, plan.room, name, auto_subscribe=False)
                self._created.append(bot)
                async with limit:
                    await bot.join(clips)
                if bot.publisher is not None:
                    tune_socket_buffers(bot.publisher.pc, BOT_UDP_BUFFER_BYTES)
                self.publishers.append(bot)

            await asyncio.gather(*(join_publisher(i) for i in range(plan.publishers)))

        async def join_subscriber(index: int) -> None:
            # counting headers only: a subscriber bot then costs a few µs a packet, so the
            # machine's CPU goes to the server being measured
            bot = BotClient(plan.url, plan.room, f"{plan.name_prefix}-sub-{index}", count_only=True)
            self._created.append(bot)
            async with limit:
                await bot.join()
            self.subscribers.append(bot)

        await asyncio.gather(*(join_subscriber(i) for i in range(plan.subscribers)))

    def tune_new_subscribers(self) -> None:
        """Size the sockets of subscribers that have answered the server's first offer (their
        connection has no sockets before: it is created by the offer)."""
        for bot in self.subscribers:
            if id(bot) not in self._tuned and bot.state.offers_answered:
                tune_socket_buffers(bot.subscriber.pc, BOT_UDP_BUFFER_BYTES)
                self._tuned.add(id(bot))

    def _receives_all(self, bot: BotClient) -> bool:
        streams = bot.subscriber.streams
        receiving = sum(
            1 for mid in bot.state.tracks_by_mid if mid in streams and streams[mid].packets
        )
        return receiving >= self.plan.expected_streams

    async def counters(self, snapshot: int = 0) -> FleetCounters:
        sent = 0
        for bot in list(self.publishers):
            if bot.publisher is not None:
                sent += await rtp_packets_sent(bot.publisher.pc)
        subscribers = list(self.subscribers)
        return FleetCounters(
            at=time.time(),
            publishers_joined=len(self.publishers),
            subscribers_joined=len(subscribers),
            subscribers_receiving_all=sum(1 for bot in subscribers if self._receives_all(bot)),
            rtp_packets_sent=sent,
            rtp_packets_received=sum(
                stream.packets for bot in subscribers for stream in bot.subscriber.streams.values()
            ),
            snapshot=snapshot,
        )

    async def close(self) -> None:
        await asyncio.gather(
            *(bot.close() for bot in self._created),
            return_exceptions=True,
        )


def status_line(plan: FleetPlan, now: FleetCounters, before: FleetCounters | None) -> str:
    parts = []
    if plan.publishers:
        parts.append(f"publishers {now.publishers_joined}/{plan.publishers}")
    if plan.subscribers:
        parts.append(
            f"subscribers {now.subscribers_joined}/{plan.subscribers} "
            f"({now.subscribers_receiving_all} receiving all {plan.expected_streams} streams)"
        )
    if before is not None and now.at > before.at:
        seconds = now.at - before.at
        if plan.publishers:
            parts.append(
                f"sent {(now.rtp_packets_sent - before.rtp_packets_sent) / seconds:.0f} pkt/s"
            )
        if plan.subscribers:
            received = now.rtp_packets_received - before.rtp_packets_received
            parts.append(f"received {received / seconds:.0f} pkt/s")
    return " · ".join(parts)


def write_report(path: Path, counters: FleetCounters) -> None:
    """Replace the report atomically, so a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(counters.to_json()))
    os.replace(partial, path)


def read_report(path: Path) -> FleetCounters | None:
    try:
        return FleetCounters.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None


async def run_fleet(
    plan: FleetPlan,
    *,
    duration: float | None,
    report_path: Path | None,
    status_interval: float,
    show_status: Callable[[str], None],
) -> FleetCounters:
    """Run a fleet until SIGINT/SIGTERM or ``duration``. With a report path, counters are
    written every second and at once on SIGUSR1 (the benchmark's window edges)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    snapshot_wanted = asyncio.Event()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop_signal, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, snapshot_wanted.set)
    fleet = Fleet(plan)

    async def report_forever() -> None:
        snapshots = 0
        last_status: FleetCounters | None = None
        while True:
            try:
                await asyncio.wait_for(snapshot_wanted.wait(), timeout=REPORT_INTERVAL)
                snapshot_wanted.clear()
                snapshots += 1
            except TimeoutError:
                pass
            fleet.tune_new_subscribers()
            counters = await fleet.counters(snapshots)
            if report_path is not None:
                write_report(report_path, counters)
            if last_status is None or counters.at - last_status.at >= status_interval:
                show_status(status_line(plan, counters, last_status))
                last_status = counters

    reporter = asyncio.create_task(report_forever())
    starting = asyncio.create_task(fleet.start())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a failed join ends the run with its error
            await asyncio.wait({stopping}, timeout=duration)
        return await fleet.counters()
    finally:
        for task in (reporter, starting, stopping):
            task.cancel()
        await fleet.close()
        for handled in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
            loop.remove_signal_handler(handled)
