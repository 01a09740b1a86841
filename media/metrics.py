"""Forwarding counters and a latency histogram, cheap enough to update per packet."""

from __future__ import annotations

from dataclasses import dataclass, field

LATENCY_BUCKET_US = 50
LATENCY_BUCKETS = 400  # 0 .. 20 ms in 50 µs steps; the last bucket takes everything above


@dataclass
class ForwardingMetrics:
    """One per process (shared by its routers): what came in, what went out, and how long a
    packet spent inside the server, from its datagram's arrival to its copy's sendto."""

    packets_received: int = 0
    packets_forwarded: int = 0
    bytes_forwarded: int = 0
    keyframe_requests: int = 0
    latency_histogram: list[int] = field(default_factory=lambda: [0] * LATENCY_BUCKETS)

    def record_latency(self, seconds: float) -> None:
        bucket = int(seconds * 1_000_000) // LATENCY_BUCKET_US
        self.latency_histogram[bucket if bucket < LATENCY_BUCKETS else LATENCY_BUCKETS - 1] += 1

    def latency_percentiles_ms(
        self, percentiles: tuple[float, ...] = (50, 95, 99), since: list[int] | None = None
    ) -> dict[str, float | None]:
        counts = self.latency_histogram
        if since is not None:
            counts = [now - before for now, before in zip(counts, since, strict=True)]
        total = sum(counts)
        result: dict[str, float | None] = {}
        for percentile in percentiles:
            key = f"p{percentile:g}"
            if total == 0:
                result[key] = None
                continue
            threshold = total * percentile / 100
            running = 0
            for index, count in enumerate(counts):
                running += count
                if running >= threshold:
                    result[key] = (index + 1) * LATENCY_BUCKET_US / 1000
                    break
        return result

    def snapshot(self) -> dict[str, object]:
        return {
            "packetsReceived": self.packets_received,
            "packetsForwarded": self.packets_forwarded,
            "bytesForwarded": self.bytes_forwarded,
            "keyframeRequests": self.keyframe_requests,
            "latencyBucketUs": LATENCY_BUCKET_US,
            "latencyHistogram": list(self.latency_histogram),
            "latencyMs": self.latency_percentiles_ms(),
        }
