"""`openroom bench board`: how fast a board operation and a feed value reach every client.

The server runs in its own process; N Socket.IO clients (websocket, guests, no media) join one
room from one or more client processes. One more client, the pusher (in this process), pushes
and updates `kpi` panels; then a feed bound to a panel gets values over HTTP at a steady rate.
Every client notes when each operation and value arrives.

Delay = receipt at a client - send at the pusher (or feed poster), both ``time.monotonic()``:
CLOCK_MONOTONIC on Linux is one clock for the whole machine, so it compares across processes."""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from signaling.service import PROTOCOL_VERSION
from web.bench import RunProgress, _busy_seconds, _countdown, _machine_busy_pct, _split
from web.bench_processes import (
    BenchProcessError,
    ServerProcess,
    _ChildProcess,
    _environment,
    _log_tail,
)

ROOM = "bench-board"
FEED_CHANNEL = "bench/load"
TARGET_PUSH_P95_MS = 100.0
TARGET_FEED_RATE = 20.0
SLICE_S = 5.0
HISTOGRAM_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
PANELS_PER_PUSH = 10  # every 10th operation pushes a new panel, the others update it


@dataclass(frozen=True)
class BoardOptions:
    clients: int = 200
    client_processes: int = 2
    ops: int = 100
    op_interval: float = 0.15
    feed_rate: float = TARGET_FEED_RATE
    feed_duration: float = 20.0
    join_timeout: float = 180.0


class BoardServer(ServerProcess):
    """`openroom serve` as in `bench sfu`, plus a feed key and room for N clients."""

    @classmethod
    async def start_board(cls, data_dir: Path, feed_key: str, capacity: int) -> BoardServer:
        return await cls.launch(
            data_dir,
            OPENROOM_SECURITY_FEED_KEY=feed_key,
            OPENROOM_MEDIA_MAX_PARTICIPANTS=str(capacity),
        )


class ClientProcess(_ChildProcess):
    """``python -m web.bench_board_clients``: K clients, their receipts written on ``stop``."""

    def __init__(
        self, name: str, process: asyncio.subprocess.Process, log_path: Path, out: Path
    ) -> None:
        super().__init__(name, process, log_path)
        self.out = out

    @classmethod
    async def start(
        cls, name: str, work_dir: Path, url: str, clients: int, first: int
    ) -> ClientProcess:
        out, log_path = work_dir / f"{name}.json", work_dir / f"{name}.log"
        arguments = [
            *("-m", "web.bench_board_clients", "--url", url, "--room", ROOM),
            *("--clients", str(clients), "--first", str(first), "--out", str(out)),
        ]
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, *arguments, env=_environment(), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=log,
            )  # fmt: skip
        return cls(name, process, log_path, out)

    async def expect(self, word: str, timeout: float) -> None:
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError as exc:
            raise BenchProcessError(
                f"{self.name}: no {word!r} in {timeout:.0f} s\n{_log_tail(self.log_path)}"
            ) from exc
        if not line.decode().startswith(word):
            self.check_alive()
            raise BenchProcessError(f"{self.name}: {line!r}\n{_log_tail(self.log_path)}")

    async def receipts(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(b"stop\n")
        await self.process.stdin.drain()
        await self.expect("done", 60)
        document: dict[str, Any] = json.loads(self.out.read_text())
        return document


@dataclass
class _Usage:
    """CPU seconds of the server, the client processes and the machine at one moment."""

    at: float
    server: float
    clients: float
    machine: float

    @classmethod
    def now(cls, server: ServerProcess, clients: list[ClientProcess]) -> _Usage:
        import psutil

        return cls(
            time.monotonic(),
            server.cpu_seconds(),
            sum(c.cpu_seconds() for c in clients),
            _busy_seconds(psutil.cpu_times()),
        )


@dataclass
class Phase:
    name: str  # "push" | "feed"
    clients: int
    sent: int  # operations or feed values
    delays_ms: list[float]  # every (client, item) pair that arrived
    complete_clients: int  # clients that got every item
    duration_s: float
    server_cpu_pct: float  # of one core
    clients_cpu_pct: float  # all client processes, of one core
    machine_cpu_pct: float  # of all cores
    rss_mb: float
    rate_per_s: float  # items sent per second
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def delivery_pct(self) -> float:
        expected = self.sent * self.clients
        return 100 * len(self.delays_ms) / expected if expected else 0.0

    def percentile(self, p: float) -> float | None:
        return percentile(self.delays_ms, p)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def histogram(delays_ms: list[float]) -> list[tuple[float, int]]:
    """(upper edge in ms, count) per bucket; the last edge is infinity."""
    edges = [*HISTOGRAM_EDGES_MS, math.inf]
    counts = [0] * len(edges)
    for delay in delays_ms:
        counts[next(i for i, edge in enumerate(edges) if delay < edge)] += 1
    return list(zip(edges, counts, strict=True))


def _rate(times: list[float]) -> float:
    """Items per second between the first and the last send."""
    span = max(times, default=0.0) - min(times, default=0.0)
    return (len(times) - 1) / span if span > 0 else 0.0


def _usage_pcts(before: _Usage, after: _Usage) -> tuple[float, float, float, float]:
    span = max(after.at - before.at, 1e-6)
    return (
        span,
        100 * (after.server - before.server) / span,
        100 * (after.clients - before.clients) / span,
        100 * (after.machine - before.machine) / span / (os.cpu_count() or 1),
    )


async def _pusher(url: str) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, transports=["websocket"], wait_timeout=30)
    reply = await sio.call(
        "join",
        {"protocol": PROTOCOL_VERSION, "room": ROOM, "name": "pusher", "autoSubscribe": False},
        timeout=30,
    )
    if not reply.get("ok"):
        raise BenchProcessError(f"the pusher could not join: {reply.get('error')}")
    return sio


async def _op(
    sio: socketio.AsyncClient, payload: dict[str, Any]
) -> tuple[dict[str, Any], float, float]:
    """Sends one board-op; (the accepted op, sent at, acknowledged at)."""
    sent = time.monotonic()
    reply = await sio.call("board-op", payload, timeout=30)
    acked = time.monotonic()
    if not reply.get("ok"):
        raise BenchProcessError(f"board-op {payload['type']} refused: {reply.get('error')}")
    op: dict[str, Any] = reply["op"]
    return op, sent, acked


def _kpi(n: int, feed: str | None = None) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "kind": "kpi",
        "title": f"bench {n}",
        "data": {"items": [{"label": "load", "value": n, "unit": "%"}]},
    }
    if feed:
        panel["feed"] = feed
    return panel


async def _push_phase(
    sio: socketio.AsyncClient, options: BoardOptions, progress: RunProgress
) -> tuple[dict[int, float], list[float]]:
    """M operations on a schedule: a push every PANELS_PER_PUSH, updates of it in between.
    Returns seq -> sent at, and the acknowledgement times (ms)."""
    sent_at: dict[int, float] = {}
    acks: list[float] = []
    panel_id = ""
    start = time.monotonic()
    for index in range(options.ops):
        await asyncio.sleep(max(0.0, start + index * options.op_interval - time.monotonic()))
        if index % PANELS_PER_PUSH == 0:
            payload: dict[str, Any] = {"type": "push", "panel": _kpi(index)}
        else:
            items = [{"label": "load", "value": index, "unit": "%"}]
            payload = {"type": "update", "panelId": panel_id, "data": {"items": items}}
        op, sent, acked = await _op(sio, payload)
        if payload["type"] == "push":
            panel_id = str(op["payload"]["panel"]["id"])
        sent_at[int(op["seq"])] = sent
        acks.append(1000 * (acked - sent))
        progress(f"push phase: {index + 1}/{options.ops} operations")
    return sent_at, acks


async def _feed_phase(
    session: aiohttp.ClientSession, url: str, key: str, options: BoardOptions, progress: RunProgress
) -> tuple[dict[int, float], list[str]]:
    """POSTs values at ``feed_rate`` for ``feed_duration`` s on a fixed schedule (a slow POST
    does not delay the next); returns n -> sent at and any failures."""
    headers = {"Authorization": f"Bearer {key}"}
    sent_at: dict[int, float] = {}
    failures: list[str] = []
    count = max(1, round(options.feed_rate * options.feed_duration))

    async def post(n: int) -> None:
        sent = time.monotonic()
        sent_at[n] = sent
        body = {"n": n, "sentAt": sent, "items": [{"label": "load", "value": n % 100}]}
        try:
            async with session.post(
                f"{url}/api/feeds/{FEED_CHANNEL}", json=body, headers=headers
            ) as response:
                if response.status != 202:
                    failures.append(f"{response.status} {await response.text()}"[:200])
        except aiohttp.ClientError as exc:
            failures.append(repr(exc))

    tasks = []
    start = time.monotonic()
    for n in range(count):
        await asyncio.sleep(max(0.0, start + n / options.feed_rate - time.monotonic()))
        tasks.append(asyncio.create_task(post(n)))
        if n % round(options.feed_rate) == 0:
            progress(f"feed phase: {n}/{count} values ({time.monotonic() - start:.0f} s)")
    await asyncio.gather(*tasks)
    return sent_at, failures


def _feed_slices(
    sent_at: dict[int, float], delays: list[tuple[int, float]], start: float
) -> list[dict[str, Any]]:
    """Delay percentiles of the values sent in each SLICE_S seconds of the feed phase."""
    slices: dict[int, list[float]] = {}
    for n, delay_ms in delays:
        slices.setdefault(int((sent_at[n] - start) // SLICE_S), []).append(delay_ms)
    sent_per_slice: dict[int, int] = {}
    for at in sent_at.values():
        index = int((at - start) // SLICE_S)
        sent_per_slice[index] = sent_per_slice.get(index, 0) + 1
    rows = []
    for index in sorted(sent_per_slice):
        values = slices.get(index, [])
        rows.append(
            {
                "start_s": index * SLICE_S,
                "end_s": (index + 1) * SLICE_S,
                "values_sent": sent_per_slice[index],
                "receipts": len(values),
                **{f"p{p}_ms": _round(percentile(values, p)) for p in (50, 95, 99)},
                "max_ms": _round(max(values, default=None)),
            }
        )
    return rows


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class BoardResult:
    options: BoardOptions
    phases: list[Phase]
    feed_slices: list[dict[str, Any]]
    feed_timeline: list[tuple[float, float]]  # (seconds into the feed phase, delay ms)
    push_ack_ms: list[float]
    machine_busy_before_pct: float
    load_average: tuple[float, float, float]
    problems: list[str]


async def run_board_bench(options: BoardOptions, progress: RunProgress) -> BoardResult:
    busy_before = await _machine_busy_pct()
    if busy_before > 25:
        progress.line(f"warning: the machine is {busy_before:.0f} % busy before the start")
    load_average = os.getloadavg()
    key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="openroom-bench-board-") as work:
        work_dir = Path(work)
        async with aiohttp.ClientSession() as session:
            progress("starting the server")
            server = await BoardServer.start_board(work_dir, key, options.clients + 10)
            clients: list[ClientProcess] = []
            pusher: socketio.AsyncClient | None = None
            try:
                await server.wait_healthy(session)
                pusher = await _pusher(server.url)
                first = 0
                sizes = _split(options.clients, options.client_processes)
                for index, count in enumerate(sizes):
                    clients.append(
                        await ClientProcess.start(
                            f"clients{index}", work_dir, server.url, count, first
                        )
                    )
                    first += count
                progress(f"joining {options.clients} clients in {len(clients)} processes")
                await asyncio.gather(*(c.expect("joined", options.join_timeout) for c in clients))
                progress.line(f"{options.clients} clients joined ({len(clients)} processes)")
                await asyncio.sleep(2)  # the join broadcasts settle

                before = _Usage.now(server, clients)
                op_sent, acks = await _push_phase(pusher, options, progress)
                await asyncio.sleep(2)  # the last operation arrives
                after_push = _Usage.now(server, clients)
                push_rss = server.rss_mb()
                progress.line(f"push phase: {options.ops} operations sent")

                await _op(pusher, {"type": "push", "panel": _kpi(0, FEED_CHANNEL)})
                await asyncio.sleep(1)
                feed_before = _Usage.now(server, clients)
                feed_start = feed_before.at
                feed_sent, failures = await _feed_phase(session, server.url, key, options, progress)
                await _countdown(2, "feed phase: draining", progress)
                feed_after = _Usage.now(server, clients)
                feed_rss = server.rss_mb()
                progress.line(f"feed phase: {len(feed_sent)} values sent")
                progress("collecting the receipts")
                documents = await asyncio.gather(*(c.receipts() for c in clients))
            finally:
                progress("stopping")
                if pusher is not None:
                    await pusher.disconnect()
                await server.stop()
                await asyncio.gather(*(c.stop() for c in clients))

    problems = [*failures]
    for document in documents:
        problems += document["errors"]
    # push phase: (client, seq, at) -> delay of the ops the pusher sent
    push_delays: list[float] = []
    per_client: dict[int, int] = {}
    for document in documents:
        for client, seq, at in document["ops"]:
            if seq in op_sent:
                push_delays.append(1000 * (at - op_sent[seq]))
                per_client[client] = per_client.get(client, 0) + 1
    span, server_pct, clients_pct, machine_pct = _usage_pcts(before, after_push)
    push = Phase(
        "push", options.clients, len(op_sent), push_delays,
        sum(1 for n in per_client.values() if n == len(op_sent)),
        span, server_pct, clients_pct, machine_pct, push_rss, _rate(list(op_sent.values())),
    )  # fmt: skip
    # feed phase
    feed_pairs: list[tuple[int, float]] = []
    feed_per_client: dict[int, set[int]] = {}
    for document in documents:
        for client, n, delay in document["feeds"]:
            feed_pairs.append((n, 1000 * delay))
            feed_per_client.setdefault(client, set()).add(n)
    span, server_pct, clients_pct, machine_pct = _usage_pcts(feed_before, feed_after)
    feed = Phase(
        "feed", options.clients, len(feed_sent), [d for _, d in feed_pairs],
        sum(1 for got in feed_per_client.values() if len(got) == len(feed_sent)),
        span, server_pct, clients_pct, machine_pct, feed_rss, _rate(list(feed_sent.values())),
    )  # fmt: skip
    timeline = sorted((feed_sent[n] - feed_start, d) for n, d in feed_pairs)
    return BoardResult(
        options,
        [push, feed],
        _feed_slices(feed_sent, feed_pairs, feed_start),
        timeline,
        acks,
        busy_before,
        load_average,
        problems,
    )


# -- output ----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def table(result: BoardResult) -> str:
    header = (
        f"{'phase':>5} {'clients':>7} {'sent':>5} {'rate/s':>6} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>8} {'delivery':>9} {'all-got':>8} {'server CPU':>10} "
        f"{'RSS MB':>6} {'clients CPU':>11} {'machine':>7}"
    )
    lines = [
        f"Board fan-out: {result.options.clients} clients in one room "
        f"({result.options.client_processes} client processes) + 1 pusher",
        header,
    ]
    for phase in result.phases:
        lines.append(
            f"{phase.name:>5} {phase.clients:>7} {phase.sent:>5} {phase.rate_per_s:>6.1f} "
            f"{_ms(phase.percentile(50)):>7} {_ms(phase.percentile(95)):>7} "
            f"{_ms(phase.percentile(99)):>7} {_ms(phase.percentile(100)):>8} "
            f"{phase.delivery_pct:>7.2f} % "
            f"{100 * phase.complete_clients / max(phase.clients, 1):>6.1f} % "
            f"{phase.server_cpu_pct:>8.1f} % {phase.rss_mb:>6.0f} "
            f"{phase.clients_cpu_pct:>9.1f} % {phase.machine_cpu_pct:>5.0f} %"
        )
    lines += ["", f"feed delay per {SLICE_S:.0f} s slice (by send time)"]
    lines.append(f"{'slice s':>9} {'sent':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max':>8}")
    for row in result.feed_slices:
        lines.append(
            f"{row['start_s']:>4.0f}-{row['end_s']:<4.0f} {row['values_sent']:>5} "
            f"{_ms(row['p50_ms']):>7} {_ms(row['p95_ms']):>7} {_ms(row['p99_ms']):>7} "
            f"{_ms(row['max_ms']):>8}"
        )
    push = result.phases[0]
    p95 = push.percentile(95)
    verdict = "met" if p95 is not None and p95 <= TARGET_PUSH_P95_MS else "NOT met"
    lines += [
        "",
        f"push p95 {_ms(p95)} ms (target <= {TARGET_PUSH_P95_MS:.0f} ms: {verdict}); "
        f"pusher's own round trip p50/p95 {_ms(percentile(result.push_ack_ms, 50))}/"
        f"{_ms(percentile(result.push_ack_ms, 95))} ms",
    ]
    growth = _growth(result)
    if growth is not None:
        lines.append(
            f"feed: {result.phases[1].rate_per_s:.1f} values/s sent; p95 first slice "
            f"{_ms(growth[0])} ms, last slice {_ms(growth[1])} ms"
        )
    lines += [
        "delay = receipt at a client - send by the pusher / feed poster (time.monotonic, "
        "CLOCK_MONOTONIC: one clock for all processes).",
        f"delivery: (client, item) pairs received / sent x clients; all-got: clients that got "
        f"every item. server and clients CPU: % of one core; machine: % of all "
        f"{os.cpu_count()} cores.",
        f"machine before start: {result.machine_busy_before_pct:.0f} % busy, load average "
        + " ".join(f"{v:.2f}" for v in result.load_average),
    ]
    for name, phase in (("push", result.phases[0]), ("feed", result.phases[1])):
        lines += ["", f"client-side delay distribution, {name} phase ({len(phase.delays_ms)})"]
        lines += text_histogram(phase.delays_ms)
    if result.problems:
        lines += ["", f"problems ({len(result.problems)}):", *result.problems[:10]]
    return "\n".join(lines)


def text_histogram(delays_ms: list[float], width: int = 40) -> list[str]:
    buckets = histogram(delays_ms)
    total = max(1, len(delays_ms))
    peak = max((count for _, count in buckets), default=0) or 1
    lines = []
    low = 0.0
    for edge, count in buckets:
        label = f"{low:g}-{edge:g} ms" if edge != math.inf else f">= {low:g} ms"
        bar = "#" * round(width * count / peak)
        lines.append(f"{label:>14} {count:>7} {100 * count / total:>5.1f} % {bar}")
        low = edge
    return lines


def _growth(result: BoardResult) -> tuple[float | None, float | None] | None:
    full = [row for row in result.feed_slices if row["receipts"]]
    if not full:
        return None
    return full[0]["p95_ms"], full[-1]["p95_ms"]


def _phase_json(phase: Phase) -> dict[str, Any]:
    return {
        "phase": phase.name,
        "clients": phase.clients,
        "sent": phase.sent,
        "rate_per_s": round(phase.rate_per_s, 2),
        "receipts": len(phase.delays_ms),
        **{f"p{p}_ms": _round(phase.percentile(p)) for p in (50, 95, 99)},
        "max_ms": _round(phase.percentile(100)),
        "delivery_pct": round(phase.delivery_pct, 3),
        "clients_with_every_item_pct": round(100 * phase.complete_clients / phase.clients, 2),
        "duration_s": round(phase.duration_s, 2),
        "server_cpu_pct": round(phase.server_cpu_pct, 1),
        "rss_mb": round(phase.rss_mb, 1),
        "clients_cpu_pct": round(phase.clients_cpu_pct, 1),
        "machine_cpu_pct": round(phase.machine_cpu_pct, 1),
        "histogram": [
            {"below_ms": None if edge == math.inf else edge, "count": count}
            for edge, count in histogram(phase.delays_ms)
        ],
    }


def to_json(result: BoardResult) -> dict[str, Any]:
    growth = _growth(result)
    push = result.phases[0]
    return {
        "clients": result.options.clients,
        "client_processes": result.options.client_processes,
        "clock": "time.monotonic (CLOCK_MONOTONIC, shared by all processes on the machine)",
        "phases": [_phase_json(phase) for phase in result.phases],
        "feed_slices": result.feed_slices,
        "feed_p95_first_slice_ms": None if growth is None else growth[0],
        "feed_p95_last_slice_ms": None if growth is None else growth[1],
        "push_ack_ms_p50": _round(percentile(result.push_ack_ms, 50)),
        "push_ack_ms_p95": _round(percentile(result.push_ack_ms, 95)),
        "target_push_p95_ms": TARGET_PUSH_P95_MS,
        "push_p95_met": (p95 := push.percentile(95)) is not None and p95 <= TARGET_PUSH_P95_MS,
        "target_feed_rate": TARGET_FEED_RATE,
        "machine_busy_before_pct": round(result.machine_busy_before_pct, 1),
        "load_average": [round(v, 2) for v in result.load_average],
        "problems": result.problems[:50],
    }


def plot(result: BoardResult, path: Path) -> None:
    """Feed delay of every receipt against the value's send time, with the p95 per slice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 5), layout="constrained")
    if result.feed_timeline:
        xs, ys = zip(*result.feed_timeline, strict=True)
        axes.scatter(xs, ys, s=2, alpha=0.15, color="tab:blue", label="one client, one value")
    slices = [row for row in result.feed_slices if row["p95_ms"] is not None]
    axes.step(
        [row["start_s"] for row in slices] + [slices[-1]["end_s"]] if slices else [],
        [row["p95_ms"] for row in slices] + [slices[-1]["p95_ms"]] if slices else [],
        where="post", color="tab:red", label=f"p95 per {SLICE_S:.0f} s",
    )  # fmt: skip
    axes.set(
        title=f"openroom bench board — feed at {result.phases[1].rate_per_s:.1f}/s to "
        f"{result.options.clients} clients",
        xlabel="seconds into the feed phase (send time)",
        ylabel="delay to a client (ms)",
    )
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.savefig(path, dpi=110)
    plt.close(figure)
