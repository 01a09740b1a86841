"""Per-connection rate limits: a token bucket per category (chat, hands, moderation)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from signaling.errors import ProtocolError


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int


RATES: dict[str, Rate] = {
    "chat": Rate(per_second=2.0, burst=8),
    "hands": Rate(per_second=1.0, burst=4),
    "moderation": Rate(per_second=3.0, burst=10),
    "media": Rate(per_second=5.0, burst=20),
    "board": Rate(per_second=10.0, burst=30),
    "pointer": Rate(per_second=40.0, burst=60),
    # a wall asks for a pairing code about every ten minutes (and on reconnecting)
    "wall": Rate(per_second=0.2, burst=5),
    # entering a wall's pairing code: a person types it (see also signaling/walls.py)
    "pairing": Rate(per_second=0.2, burst=5),
}


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def check(self, sid: str, category: str) -> None:
        """Take one token from ``sid``'s bucket for ``category`` or refuse with rate_limited."""
        rate = RATES[category]
        now = self._clock()
        tokens, last = self._buckets.get((sid, category), (float(rate.burst), now))
        tokens = min(float(rate.burst), tokens + (now - last) * rate.per_second)
        if tokens < 1.0:
            self._buckets[(sid, category)] = (tokens, now)
            raise ProtocolError("rate_limited", f"too many {category} requests: slow down")
        self._buckets[(sid, category)] = (tokens - 1.0, now)

    def forget(self, sid: str) -> None:
        for key in [key for key in self._buckets if key[0] == sid]:
            del self._buckets[key]
