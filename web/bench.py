"""`openroom bench sfu`: the server's cost per forwarded RTP packet, measured from outside.

For each size (P publishers x S subscribers) a fresh server process starts, one fleet process
publishes, a couple of fleet processes subscribe; once every subscriber receives every track
and a warm-up has passed, a window of at least 20 s is measured. The same is done with the
server in "transcode" mode (aiortc's MediaRelay) as the baseline."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp

from signaling.fleet import FleetCounters
from web.bench_processes import FleetProcess, ServerProcess, ServerSample, wait_until

DEFAULT_SIZES = "2x4,4x8,8x16,10x20"
DEFAULT_BASELINE_SIZES = "1x2,2x2"
MIN_WINDOW = 20.0
QUIET_MACHINE_PCT = 25.0  # above this before a size starts, something else is running
ROOM = "bench"


@dataclass(frozen=True)
class Size:
    publishers: int
    subscribers: int

    @property
    def forwarded_streams(self) -> int:
        return 2 * self.publishers * self.subscribers  # audio and video of each publisher

    @property
    def label(self) -> str:
        return f"{self.publishers}x{self.subscribers}"

    @classmethod
    def parse_list(cls, text: str) -> tuple[Size, ...]:
        """ "2x4,4x8" -> sizes; raises ValueError naming the bad item."""
        sizes = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            match = re.fullmatch(r"([1-9][0-9]*)x([1-9][0-9]*)", item.lower())
            if match is None:
                raise ValueError(f"size {item!r} is not PxS with P, S >= 1 (e.g. 4x8)")
            sizes.append(cls(int(match[1]), int(match[2])))
        return tuple(sizes)


@dataclass(frozen=True)
class BenchOptions:
    sizes: tuple[Size, ...]
    baseline_sizes: tuple[Size, ...]
    window: float = MIN_WINDOW
    warmup: float = 5.0
    codec: str = "VP8"
    subscriber_processes: int = 2
    # Niced bots leave the server a core, but starve (and lose packets) when anything else
    # runs; at 0 they compete with the server as equals. See the machine column either way.
    bot_niceness: int = 0
    ready_timeout: float = 120.0


@dataclass(frozen=True)
class Measurement:
    size: Size
    forwarding: str  # "rtp" (the SFU) or "transcode" (the baseline)
    window_s: float
    server_cpu_s: float
    # Forwarded packets: the server's own count for "rtp"; the transcoding server re-encodes
    # and counts nothing, so there it is what the subscribers received.
    packets_forwarded: int
    packets_counted_by: str  # "server" | "subscribers"
    packets_sent: int  # by the publishers
    packets_received_by_server: int  # from the publishers (0 for the baseline: not counted)
    packets_received_by_subscribers: int
    latency_ms: dict[str, float | None]
    rss_mb: float
    bots_cpu_s: float  # all bot processes together: they share the machine with the server
    machine_busy_s: float  # every process and the kernel, all cores
    machine_busy_before_pct: float  # before the server started: other work on the machine
    server_udp_backlog_kb: float  # at the end of the window: unread datagrams, see below

    @property
    def delivery_pct(self) -> float | None:
        """Packets received by subscribers / packets that should have arrived. None for the
        baseline: re-encoded packets are not the ones the publishers sent."""
        if self.forwarding != "rtp" or not self.packets_sent:
            return None
        expected = self.packets_sent * self.size.subscribers
        return 100 * self.packets_received_by_subscribers / expected

    @property
    def loss_breakdown_pct(self) -> tuple[float, float] | None:
        """Where packets went missing: (publishers -> server, server -> subscribers), as % of
        what each leg carried. The server forwards what it receives, so this splits the blame
        between its receiving and its sending side (bots included)."""
        if self.forwarding != "rtp" or not self.packets_sent or not self.packets_forwarded:
            return None
        upstream = 1 - self.packets_received_by_server / self.packets_sent
        downstream = 1 - self.packets_received_by_subscribers / self.packets_forwarded
        return 100 * upstream, 100 * downstream

    @property
    def us_per_packet(self) -> float:
        return self.server_cpu_s * 1e6 / self.packets_forwarded if self.packets_forwarded else 0.0

    @property
    def packets_per_second(self) -> float:
        return self.packets_forwarded / self.window_s

    @property
    def cpu_pct(self) -> float:
        """Of one core: a Python process runs on one core at a time."""
        return 100 * self.server_cpu_s / self.window_s

    @property
    def bots_cpu_pct(self) -> float:
        return 100 * self.bots_cpu_s / self.window_s

    @property
    def machine_cpu_pct(self) -> float:
        """Of all cores: near 100 the server waited for a core (numbers describe the machine)."""
        return 100 * self.machine_busy_s / self.window_s / (os.cpu_count() or 1)


def latency_percentiles(
    histogram: list[int], bucket_us: int, percentiles: tuple[int, ...] = (50, 95, 99)
) -> dict[str, float | None]:
    """Upper edge of the bucket holding each percentile, in ms (None for an empty window)."""
    total = sum(histogram)
    result: dict[str, float | None] = {}
    for percentile in percentiles:
        result[f"p{percentile}"] = None
        running = 0
        for index, count in enumerate(histogram):
            running += count
            if total and running >= total * percentile / 100:
                result[f"p{percentile}"] = (index + 1) * bucket_us / 1000
                break
    return result


@dataclass(frozen=True)
class _ServerCounters:
    received: int
    forwarded: int
    latency_histogram: list[int]
    latency_bucket_us: int

    @classmethod
    def of(cls, sample: ServerSample) -> _ServerCounters:
        forwarding = sample.metrics["forwarding"]
        return cls(
            int(forwarding["packetsReceived"]),
            int(forwarding["packetsForwarded"]),
            [int(count) for count in forwarding["latencyHistogram"]],
            int(forwarding["latencyBucketUs"]),
        )


@dataclass(frozen=True)
class _WindowEdge:
    server: ServerSample
    publishers: FleetCounters
    subscribers: list[FleetCounters]
    bots_cpu_seconds: float
    machine_busy_seconds: float  # all cores together


async def _window_edge(
    server: ServerProcess,
    session: aiohttp.ClientSession,
    publishers: FleetProcess,
    subscribers: list[FleetProcess],
) -> _WindowEdge:
    """Every counter at once (concurrently), so all of them cover the same milliseconds."""
    server_sample, sent, *received = await asyncio.gather(
        server.sample(session),
        publishers.snapshot(),
        *(fleet.snapshot() for fleet in subscribers),
    )
    assert isinstance(server_sample, ServerSample) and isinstance(sent, FleetCounters)
    import psutil  # the `bench` extra, like matplotlib: `openroom serve` runs without them

    bots_cpu = sum(fleet.cpu_seconds() for fleet in [publishers, *subscribers])
    machine = psutil.cpu_times()
    return _WindowEdge(
        server_sample,
        sent,
        [c for c in received if isinstance(c, FleetCounters)],
        bots_cpu,
        machine_busy_seconds=_busy_seconds(machine),
    )


def _busy_seconds(times: object) -> float:
    """CPU time of every core not idle; Linux counts guest time inside user time already."""
    fields = ("user", "nice", "system", "irq", "softirq", "steal")
    return sum(float(getattr(times, name, 0.0)) for name in fields)


def _over_window(earlier: FleetCounters, later: FleetCounters, field: str, window: float) -> int:
    """A bot's count rescaled to the server's window by the bot's own clock: a bot starved of
    CPU answers a snapshot request late, and its raw count would cover a different span."""
    counted = getattr(later, field) - getattr(earlier, field)
    own_seconds = later.at - earlier.at
    return round(counted * window / own_seconds) if own_seconds > 0 else 0


def _received(before: _WindowEdge, after: _WindowEdge, window: float) -> int:
    return sum(
        _over_window(earlier, later, "rtp_packets_received", window)
        for earlier, later in zip(before.subscribers, after.subscribers, strict=True)
    )


def _split(total: int, parts: int) -> list[int]:
    parts = max(1, min(parts, total))
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


Progress = Callable[[str], None]  # shows what is happening now; the next call replaces it


class RunProgress(Protocol):
    def __call__(self, text: str) -> None: ...

    def line(self, text: str) -> None:
        """A line that stays (a finished step)."""


async def _countdown(seconds: float, label: str, progress: Progress) -> None:
    remaining = seconds
    while remaining > 0:
        progress(f"{label} {seconds - remaining:.0f}/{seconds:.0f} s")
        step = min(1.0, remaining)
        await asyncio.sleep(step)
        remaining -= step


async def _machine_busy_pct(seconds: float = 1.0) -> float:
    import psutil

    psutil.cpu_percent()
    await asyncio.sleep(seconds)
    return float(psutil.cpu_percent())


async def _start_fleets(
    size: Size,
    options: BenchOptions,
    work_dir: Path,
    url: str,
    started: list[FleetProcess],
    progress: Progress,
) -> tuple[FleetProcess, list[FleetProcess]]:
    """Publishers first, then the subscribers, each fleet appended to ``started`` as soon as it
    runs (so the caller stops it whatever happens); returns once every track flows."""
    progress(f"joining {size.publishers} publishers (encoding the clip first)")
    publishers = await FleetProcess.start(
        "pub", work_dir, url, ROOM, publishers=size.publishers, codec=options.codec,
        niceness=options.bot_niceness,
    )  # fmt: skip
    started.append(publishers)
    await wait_until("the publishers to join", [publishers], options.ready_timeout)
    subscribers = []
    for index, count in enumerate(_split(size.subscribers, options.subscriber_processes)):
        fleet = await FleetProcess.start(
            f"sub{index}", work_dir, url, ROOM, subscribers=count,
            expected_publishers=size.publishers, codec=options.codec,
            niceness=options.bot_niceness,
        )  # fmt: skip
        started.append(fleet)
        subscribers.append(fleet)
    progress(f"waiting until {size.subscribers} subscribers receive every track")
    await wait_until("every subscriber to receive every track", subscribers, options.ready_timeout)
    return publishers, subscribers


async def measure(
    size: Size, forwarding: str, options: BenchOptions, progress: RunProgress
) -> Measurement:
    """One size against a fresh server process, stopped (with its bots) before returning."""
    busy_before = await _machine_busy_pct()
    if busy_before > QUIET_MACHINE_PCT:
        progress.line(
            f"warning: the machine is {busy_before:.0f} % busy before the server starts: "
            "other processes compete with the benchmark (see the machine column)"
        )
    with tempfile.TemporaryDirectory(prefix="openroom-bench-") as work:
        work_dir = Path(work)
        async with aiohttp.ClientSession() as session:
            progress("starting the server")
            server = await ServerProcess.start(work_dir, forwarding, options.codec)
            fleets: list[FleetProcess] = []
            try:
                await server.wait_healthy(session)
                publishers, subscriber_fleets = await _start_fleets(
                    size, options, work_dir, server.url, fleets, progress
                )
                await _countdown(options.warmup, "warming up", progress)

                before = await _window_edge(server, session, publishers, subscriber_fleets)
                await _countdown(options.window, "measuring", progress)
                after = await _window_edge(server, session, publishers, subscriber_fleets)
                rss_mb = server.rss_mb()
                # The in-server latency starts when the server reads a datagram; time spent
                # queued in the kernel before that shows here instead.
                backlog_kb = server.udp_backlog_kb()
            finally:
                progress("stopping")
                await asyncio.gather(*(fleet.stop() for fleet in fleets))
                await server.stop()

    window = after.server.at - before.server.at
    received = _received(before, after, window)
    server_before, server_after = (
        _ServerCounters.of(before.server),
        _ServerCounters.of(after.server),
    )
    histogram = [
        now - then
        for now, then in zip(
            server_after.latency_histogram, server_before.latency_histogram, strict=True
        )
    ]
    counted_by_server = forwarding == "rtp"
    forwarded = server_after.forwarded - server_before.forwarded
    return Measurement(
        size=size,
        forwarding=forwarding,
        window_s=window,
        server_cpu_s=after.server.cpu_seconds - before.server.cpu_seconds,
        packets_forwarded=forwarded if counted_by_server else received,
        packets_counted_by="server" if counted_by_server else "subscribers",
        packets_sent=_over_window(before.publishers, after.publishers, "rtp_packets_sent", window),
        packets_received_by_server=server_after.received - server_before.received,
        packets_received_by_subscribers=received,
        latency_ms=latency_percentiles(histogram, server_after.latency_bucket_us),
        rss_mb=rss_mb,
        bots_cpu_s=after.bots_cpu_seconds - before.bots_cpu_seconds,
        machine_busy_s=after.machine_busy_seconds - before.machine_busy_seconds,
        server_udp_backlog_kb=backlog_kb,
        machine_busy_before_pct=busy_before,
    )


class _Prefixed:
    def __init__(self, progress: RunProgress, prefix: str) -> None:
        self._progress = progress
        self._prefix = prefix

    def __call__(self, text: str) -> None:
        self._progress(self._prefix + text)

    def line(self, text: str) -> None:
        self._progress.line(self._prefix + text)


@dataclass(frozen=True)
class BenchResult:
    options: BenchOptions
    sfu: list[Measurement]
    baseline: list[Measurement]

    @property
    def baseline_us_per_packet(self) -> float | None:
        """Mean over the baseline sizes (they differ little: the cost is per encode)."""
        if not self.baseline:
            return None
        return sum(m.us_per_packet for m in self.baseline) / len(self.baseline)


async def run_bench(options: BenchOptions, progress: RunProgress) -> BenchResult:
    runs = [(size, "rtp") for size in options.sizes]
    runs += [(size, "transcode") for size in options.baseline_sizes]
    sfu: list[Measurement] = []
    baseline: list[Measurement] = []
    for number, (size, forwarding) in enumerate(runs, start=1):
        name = "SFU" if forwarding == "rtp" else "baseline (transcode)"

        measurement = await measure(
            size,
            forwarding,
            options,
            _Prefixed(progress, f"[{number}/{len(runs)}] {name} {size.label}: "),
        )
        (sfu if forwarding == "rtp" else baseline).append(measurement)
        progress.line(
            f"[{number}/{len(runs)}] {name} {size.label}: {measurement.us_per_packet:.1f} µs "
            f"of server CPU per packet, {measurement.packets_per_second:.0f} packets/s"
        )
    return BenchResult(options, sfu, baseline)
