"""A MediaRouter: the media context of one room (producers by id, transports by peer)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from media.metrics import ForwardingMetrics
from media.producer import Producer
from media.speaker import ActiveSpeakerDetector, SpeakerChanges
from media.transport import (
    PublisherTransport,
    SubscriberTransport,
    TransportOptions,
    new_transport_id,
)

logger = logging.getLogger(__name__)


class MediaRouter:
    """Owns the transports of one room's peers and knows every live producer. It says nothing
    about who may see what: the caller decides which producers each subscriber consumes."""

    def __init__(
        self, router_id: str, options: TransportOptions, metrics: ForwardingMetrics | None = None
    ) -> None:
        self.id = router_id
        self.metrics = metrics or ForwardingMetrics()
        self.options = options
        self.producers: dict[str, Producer] = {}
        self.publishers: dict[str, PublisherTransport] = {}
        self.subscribers: dict[str, SubscriberTransport] = {}
        self._producer_listeners: list[Callable[[Producer], None]] = []
        self._producer_closed_listeners: list[Callable[[Producer], None]] = []
        self._speaker_listeners: list[Callable[[SpeakerChanges], None]] = []
        self.speakers = ActiveSpeakerDetector()
        self._speaker_task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Future[Any]] = set()  # peer connections shutting down
        self.closed = False

    def on_producer(self, listener: Callable[[Producer], None]) -> None:
        self._producer_listeners.append(listener)

    def on_producer_closed(self, listener: Callable[[Producer], None]) -> None:
        self._producer_closed_listeners.append(listener)

    def on_speakers(self, listener: Callable[[SpeakerChanges], None]) -> None:
        """Called when the dominant speaker changes or someone starts or stops speaking."""
        self._speaker_listeners.append(listener)

    def publisher_for(self, peer_id: str) -> PublisherTransport:
        transport = self.publishers.get(peer_id)
        if transport is None:
            transport = PublisherTransport(
                new_transport_id(), peer_id, self.options, self._add_producer, self.metrics
            )
            self.publishers[peer_id] = transport
        return transport

    def subscriber_for(self, peer_id: str) -> SubscriberTransport:
        transport = self.subscribers.get(peer_id)
        if transport is None:
            transport = SubscriberTransport(new_transport_id(), peer_id, self.options)
            self.subscribers[peer_id] = transport
        return transport

    def _add_producer(self, producer: Producer) -> None:
        self.producers[producer.id] = producer
        producer.on_close(self._remove_producer)
        if producer.kind == "audio":
            producer.audio_level_listener = self.speakers.observe
            if self._speaker_task is None:
                self._speaker_task = asyncio.create_task(self._evaluate_speakers())
        for listener in list(self._producer_listeners):
            listener(producer)

    def _remove_producer(self, producer: Producer) -> None:
        self.producers.pop(producer.id, None)
        if producer.kind == "audio":
            self.speakers.forget(producer.peer_id)
        for subscriber in self.subscribers.values():
            subscriber.remove_consumer(producer.id)
        for listener in list(self._producer_closed_listeners):
            listener(producer)

    async def close_peer(self, peer_id: str) -> None:
        """Take a peer out now: its producers close (their consumers with them, the tracks'
        listeners told) before this returns; its peer connections, whose shutdown can take a
        while, close in the background (awaited by ``close``)."""
        publisher = self.publishers.pop(peer_id, None)
        subscriber = self.subscribers.pop(peer_id, None)
        if publisher is not None:
            for producer in list(publisher.producers.values()):
                await producer.close()
        transports = [t for t in (publisher, subscriber) if t is not None]
        if transports:
            task = asyncio.ensure_future(asyncio.gather(*(t.close() for t in transports)))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _evaluate_speakers(self, interval: float = 0.1) -> None:
        while not self.closed:
            await asyncio.sleep(interval)
            changes = self.speakers.evaluate(time.monotonic())
            if changes.any:
                for listener in list(self._speaker_listeners):
                    listener(changes)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._speaker_task is not None:
            self._speaker_task.cancel()
        for peer_id in list(set(self.publishers) | set(self.subscribers)):
            await self.close_peer(peer_id)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
