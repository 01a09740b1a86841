"""How `openroom bench sfu` shows its results: a progress line, a table, JSON and a PNG plot."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

from web.bench import BenchResult, Measurement

TARGET_US_PER_PACKET = 25.0
TARGET_DELIVERY = 99.5


class ProgressDisplay:
    """One status line on stderr, rewritten in place on a terminal; in a log (not a terminal)
    only the lines that stay are written, so a CI log is not flooded with countdowns."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._live = stream.isatty()

    def __call__(self, text: str) -> None:
        if self._live:
            self._stream.write(f"\r\x1b[K{text}")
            self._stream.flush()

    def line(self, text: str) -> None:
        self._stream.write(f"\r\x1b[K{text}\n" if self._live else f"{text}\n")
        self._stream.flush()


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def table(result: BenchResult) -> str:
    baseline = result.baseline_us_per_packet
    header = (
        f"{'size':>6} {'streams':>7} {'packets/s':>10} {'server CPU':>10} {'µs/packet':>9} "
        f"{'delivery':>9} {'in-server ms p50/p95/p99':>25} {'RSS MB':>7} {'vs baseline':>11} "
        f"{'bots CPU':>9} {'machine':>8} {'backlog KB':>10}"
    )
    lines = [f"SFU (RTP forwarding), {result.options.codec} 640x360 ~600 kbps + Opus", header]
    for m in result.sfu:
        latency = "/".join(_number(m.latency_ms[key], 2) for key in ("p50", "p95", "p99"))
        cheaper = f"{baseline / m.us_per_packet:,.0f}x" if baseline and m.us_per_packet else "—"
        delivery = "—" if m.delivery_pct is None else f"{m.delivery_pct:.2f} %"
        lines.append(
            f"{m.size.label:>6} {m.size.forwarded_streams:>7} {m.packets_per_second:>10,.0f} "
            f"{m.cpu_pct:>8.1f} % {m.us_per_packet:>9.1f} {delivery:>9} {latency:>25} "
            f"{m.rss_mb:>7.0f} {cheaper:>11} {m.bots_cpu_pct:>7.0f} % {m.machine_cpu_pct:>6.0f} % "
            f"{m.server_udp_backlog_kb:>10,.0f}"
        )
    losses = [(m, m.loss_breakdown_pct) for m in result.sfu]
    for m, loss in losses:
        if loss is not None and m.delivery_pct is not None and m.delivery_pct < TARGET_DELIVERY:
            lines.append(
                f"{m.size.label}: lost {loss[0]:.2f} % publishers -> server, "
                f"{loss[1]:.2f} % server -> subscribers"
            )
    if result.baseline:
        lines += [
            "",
            "Baseline: aiortc MediaRelay (decode once, encode per subscriber). The transcoding",
            "server counts no forwarded packets: packets/s here is what the subscribers received.",
            f"{'size':>6} {'streams':>7} {'packets/s':>10} {'server CPU':>10} {'µs/packet':>9}",
        ]
        for m in result.baseline:
            lines.append(
                f"{m.size.label:>6} {m.size.forwarded_streams:>7} {m.packets_per_second:>10,.0f} "
                f"{m.cpu_pct:>8.1f} % {m.us_per_packet:>9.1f}"
            )
        lines.append(f"baseline µs/packet (mean): {_number(baseline)}")
    lines += [
        f"window {result.options.window:.0f} s per size. server CPU and bots CPU (all bot "
        f"processes): % of one core; machine: % of all {os.cpu_count()} cores.",
        "backlog KB: the most a server UDP socket held unread at the end of the window; "
        "in-server ms starts only when a datagram is read.",
    ]
    return "\n".join(lines)


def _row(m: Measurement) -> dict[str, Any]:
    loss = m.loss_breakdown_pct
    return {
        "publishers": m.size.publishers,
        "subscribers": m.size.subscribers,
        "forwarded_streams": m.size.forwarded_streams,
        "us_per_packet": round(m.us_per_packet, 2),
        "delivery_pct": None if m.delivery_pct is None else round(m.delivery_pct, 3),
        "latency_ms_p50": m.latency_ms["p50"],
        "latency_ms_p95": m.latency_ms["p95"],
        "latency_ms_p99": m.latency_ms["p99"],
        "rss_mb": round(m.rss_mb, 1),
        "packets_per_second": round(m.packets_per_second, 1),
        "cpu_pct": round(m.cpu_pct, 1),
        "packets_counted_by": m.packets_counted_by,
        "window_s": round(m.window_s, 2),
        "packets_sent": m.packets_sent,
        "packets_received_by_server": m.packets_received_by_server,
        "packets_forwarded": m.packets_forwarded,
        "packets_received_by_subscribers": m.packets_received_by_subscribers,
        "loss_publishers_to_server_pct": None if loss is None else round(loss[0], 3),
        "loss_server_to_subscribers_pct": None if loss is None else round(loss[1], 3),
        "bots_cpu_pct": round(m.bots_cpu_pct, 1),
        "machine_cpu_pct": round(m.machine_cpu_pct, 1),
        "machine_busy_before_pct": round(m.machine_busy_before_pct, 1),
        "server_udp_backlog_kb": round(m.server_udp_backlog_kb, 1),
    }


def to_json(result: BenchResult) -> dict[str, Any]:
    baseline = result.baseline_us_per_packet
    return {
        "codec": result.options.codec,
        "rows": [_row(m) for m in result.sfu],
        "baseline": [_row(m) for m in result.baseline],
        "baseline_us_per_packet": None if baseline is None else round(baseline, 2),
        "baseline_ratio": {
            m.size.label: round(baseline / m.us_per_packet, 1)
            for m in result.sfu
            if baseline and m.us_per_packet
        },
    }


def plot(result: BenchResult, path: Path) -> None:
    """Server CPU and µs per packet against forwarded streams, SFU and baseline together."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write a file
    import matplotlib.pyplot as plt

    figure, (cpu_axes, cost_axes) = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
    series = [("SFU (RTP forwarding)", "tab:blue", "o-", result.sfu)]
    series.append(("baseline (aiortc MediaRelay)", "tab:red", "s--", result.baseline))
    for label, color, style, measurements in series:
        if not measurements:
            continue
        streams = [m.size.forwarded_streams for m in measurements]
        cpu_axes.plot(streams, [m.cpu_pct for m in measurements], style, color=color, label=label)
        cost_axes.plot(
            streams, [m.us_per_packet for m in measurements], style, color=color, label=label
        )
        for m in measurements:
            for axes, value in ((cpu_axes, m.cpu_pct), (cost_axes, m.us_per_packet)):
                axes.annotate(
                    m.size.label, (m.size.forwarded_streams, value), textcoords="offset points",
                    xytext=(4, 6), fontsize=8, color=color,
                )  # fmt: skip
    cost_axes.axhline(
        TARGET_US_PER_PACKET, color="tab:green", linestyle=":", label="target at 8x16: 25 µs"
    )
    cost_axes.set_yscale("log")
    cpu_axes.set(title="Server CPU", xlabel="forwarded streams (2 x P x S)", ylabel="% of one core")
    cost_axes.set(
        title="Server CPU per forwarded RTP packet",
        xlabel="forwarded streams (2 x P x S)",
        ylabel="µs per packet (log scale)",
    )
    for axes in (cpu_axes, cost_axes):
        axes.grid(True, which="both", alpha=0.3)
        axes.set_xlim(left=0)
        axes.legend(fontsize=8)
    cpu_axes.set_ylim(bottom=0)
    figure.suptitle(
        f"openroom bench sfu — {result.options.codec} 640x360 ~600 kbps + Opus, "
        f"{result.options.window:.0f} s windows"
    )
    figure.savefig(path, dpi=110)
    plt.close(figure)
