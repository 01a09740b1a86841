"""Server-initiated renegotiation of one subscriber's peer connection, one round at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from media import MediaError, SubscriberTransport

logger = logging.getLogger(__name__)

# Sends the offer and the mid -> track map to the client; returns the client's answer SDP.
OfferSender = Callable[[str, dict[str, str]], Awaitable[str]]

RETRY_DELAY_SECONDS = 1.0
MAX_FAILED_ROUNDS = 5


class SubscriberNegotiator:
    """Coalesces requests: while a round runs, further requests make exactly one more round,
    so the client always ends up with the newest set of tracks."""

    def __init__(self, transport: SubscriberTransport, send_offer: OfferSender) -> None:
        self._transport = transport
        self._send_offer = send_offer
        self._wanted = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.rounds_completed = 0

    def request(self) -> None:
        if self._closed:
            return
        self._wanted = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        failures = 0
        while self._wanted and not self._closed:
            self._wanted = False
            if not self._transport.consumers and not self._transport.mid_map():
                continue
            try:
                sdp, mids = await self._transport.create_offer()
                answer = await self._send_offer(sdp, mids)
                await self._transport.accept_answer(answer)
                self.rounds_completed += 1
                failures = 0
            except asyncio.CancelledError:
                raise
            except (MediaError, TimeoutError, ConnectionError, ValueError) as exc:
                failures += 1
                logger.warning(
                    "negotiation with %s failed (%s): %s",
                    self._transport.peer_id,
                    failures,
                    exc,
                )
                if failures >= MAX_FAILED_ROUNDS:
                    return
                self._wanted = True
                await asyncio.sleep(RETRY_DELAY_SECONDS)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
