"""PeerTransports: one RTCPeerConnection each, publishing (browser offers) or subscribing
(server offers). They speak SDP and produce or consume; they know nothing of rooms."""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import RTCIceServer, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError

from media.aiortc_adapter import (
    IdleTrack,
    RawSender,
    codec_preferences,
    install_arrival_clock,
    negotiated_codec,
    new_peer_connection,
    offer_media_kinds,
    tune_socket_buffers,
)
from media.consumer import Consumer
from media.errors import InvalidSdpError, TransportClosedError, UnsupportedCodecError
from media.metrics import ForwardingMetrics
from media.producer import Producer

logger = logging.getLogger(__name__)

MAX_SDP_LENGTH = 64 * 1024
_AIORTC_SDP_ERRORS = (
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    InternalError,
    InvalidAccessError,
    InvalidStateError,
)


@dataclass(frozen=True)
class IceServerSpec:
    urls: tuple[str, ...]
    username: str = ""
    credential: str = ""


@dataclass(frozen=True)
class TransportOptions:
    video_codec: str
    ice_servers: tuple[IceServerSpec, ...] = ()
    udp_buffer_bytes: int = 4 * 1024 * 1024
    # "rtp": forward encoded packets. "transcode": aiortc's MediaRelay decodes each track
    # once and encodes it per subscriber; only the benchmark's baseline uses it.
    forwarding: str = "rtp"

    @property
    def transcoding(self) -> bool:
        return self.forwarding == "transcode"


class TransportState(enum.Enum):
    NEW = "new"
    CONNECTED = "connected"
    FAILED = "failed"
    CLOSED = "closed"


def _check_sdp(sdp: str) -> None:
    if not sdp.strip():
        raise InvalidSdpError("the SDP is empty")
    if len(sdp) > MAX_SDP_LENGTH:
        raise InvalidSdpError(f"the SDP is longer than {MAX_SDP_LENGTH} characters")


class PeerTransport:
    """One peer connection with a state, one ``_set_state`` and an idempotent ``close``."""

    def __init__(self, transport_id: str, peer_id: str, options: TransportOptions) -> None:
        self.id = transport_id
        self.peer_id = peer_id
        self.options = options
        self.state = TransportState.NEW
        self._pc = self._new_pc()
        self._state_listeners: list[Callable[[TransportState], None]] = []

    def _new_pc(self) -> RTCPeerConnection:
        pc = new_peer_connection(
            [
                RTCIceServer(
                    urls=list(server.urls),
                    username=server.username or None,
                    credential=server.credential or None,
                )
                for server in self.options.ice_servers
            ]
        )

        @pc.on("connectionstatechange")
        def on_connection_state() -> None:
            if pc is not self._pc:
                return
            if pc.connectionState == "connected":
                tune_socket_buffers(pc, self.options.udp_buffer_bytes)
                self._set_state(TransportState.CONNECTED)
            elif pc.connectionState == "failed":
                self._set_state(TransportState.FAILED)

        return pc

    def on_state(self, listener: Callable[[TransportState], None]) -> None:
        self._state_listeners.append(listener)

    def _set_state(self, state: TransportState) -> None:
        if state == self.state or self.state == TransportState.CLOSED:
            return
        logger.info("transport %s (%s): %s -> %s", self.id, self.peer_id, self.state, state)
        self.state = state
        for listener in list(self._state_listeners):
            listener(state)

    def _assert_open(self) -> None:
        if self.state == TransportState.CLOSED:
            raise TransportClosedError("the media transport is closed")

    async def close(self) -> None:
        if self.state == TransportState.CLOSED:
            return
        await self._close_children()
        self._set_state(TransportState.CLOSED)
        await self._pc.close()

    async def _close_children(self) -> None:
        pass


class PublisherTransport(PeerTransport):
    """Receives a browser's tracks. Each negotiated incoming track becomes a Producer."""

    def __init__(
        self,
        transport_id: str,
        peer_id: str,
        options: TransportOptions,
        on_producer: Callable[[Producer], None],
        metrics: ForwardingMetrics | None = None,
    ) -> None:
        super().__init__(transport_id, peer_id, options)
        self._metrics = metrics or ForwardingMetrics()
        self._on_producer = on_producer
        self.producers: dict[str, Producer] = {}
        self._lock = asyncio.Lock()

    async def accept_offer(self, sdp: str, sources: dict[str, str]) -> str:
        """Answer the browser's offer. ``sources`` maps a media section's mid to its source
        (camera, microphone, screen). On any error nothing of this offer is kept."""
        self._assert_open()
        _check_sdp(sdp)
        kinds = offer_media_kinds(sdp)
        if not kinds:
            raise InvalidSdpError("the offer has no media section")
        async with self._lock:
            fresh = self._pc.signalingState == "stable" and not self._pc.getTransceivers()
            try:
                return await self._negotiate(sdp, kinds, sources)
            except (UnsupportedCodecError, InvalidSdpError):
                await self._discard_failed(fresh)
                raise
            except OperationError as exc:
                await self._discard_failed(fresh)
                raise UnsupportedCodecError(
                    f"the offer has no codec this room accepts ({self.options.video_codec} "
                    f"video, Opus audio): {exc}"
                ) from exc
            except _AIORTC_SDP_ERRORS as exc:
                await self._discard_failed(fresh)
                raise InvalidSdpError(f"the offer could not be applied: {exc}") from exc

    async def _negotiate(self, sdp: str, kinds: list[str], sources: dict[str, str]) -> str:
        pc = self._pc
        # Transceivers must exist before setRemoteDescription for codec preferences to apply.
        existing = pc.getTransceivers()
        for index, kind in enumerate(kinds):
            if index < len(existing):
                continue
            if kind not in ("audio", "video"):
                raise InvalidSdpError(f"media section {index} is {kind!r}: only audio and video")
            transceiver = pc.addTransceiver(kind, direction="recvonly")
            transceiver.setCodecPreferences(codec_preferences(kind, self.options.video_codec))

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        install_arrival_clock(pc)
        new_tracks: list[RTCRtpTransceiver] = []
        for transceiver in pc.getTransceivers():
            if transceiver.mid is None or transceiver.receiver.track is None:
                continue
            producer_key = f"{self.peer_id}:{transceiver.mid}"
            if producer_key not in self.producers:
                new_tracks.append(transceiver)

        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)

        for transceiver in new_tracks:
            self._add_producer(transceiver, sources)
        return pc.localDescription.sdp

    def _add_producer(self, transceiver: RTCRtpTransceiver, sources: dict[str, str]) -> None:
        mid = transceiver.mid or ""
        mime_type, _ = negotiated_codec(transceiver)
        kind = transceiver.kind
        default_source = "microphone" if kind == "audio" else "camera"
        producer = Producer(
            producer_id=f"{self.peer_id}:{mid}",
            peer_id=self.peer_id,
            kind=kind,
            source=sources.get(mid, default_source),
            mime_type=mime_type,
            receiver=transceiver.receiver,
            metrics=self._metrics,
            transcode=self.options.transcoding,
        )
        self.producers[producer.id] = producer
        producer.on_close(self._forget_producer)
        self._on_producer(producer)

    def _forget_producer(self, producer: Producer) -> None:
        # a closed producer's section may publish again (a new screen share): forget it
        self.producers.pop(producer.id, None)

    async def _discard_failed(self, fresh: bool) -> None:
        # A failed first offer may have left transceivers half set up: start over clean.
        if fresh:
            old = self._pc
            self._pc = self._new_pc()
            await old.close()

    async def _close_children(self) -> None:
        for producer in list(self.producers.values()):
            await producer.close()
        self.producers.clear()


@dataclass
class _Slot:
    transceiver: RTCRtpTransceiver
    sender: RawSender
    consumer: Consumer | None = None


class SubscriberTransport(PeerTransport):
    """Sends producers' packets to one subscriber. The server offers; a consumer added or
    removed changes the set of media sections only when no free one of its kind is left."""

    def __init__(self, transport_id: str, peer_id: str, options: TransportOptions) -> None:
        super().__init__(transport_id, peer_id, options)
        self._slots: list[_Slot] = []
        self._lock = asyncio.Lock()

    @property
    def consumers(self) -> list[Consumer]:
        return [slot.consumer for slot in self._slots if slot.consumer is not None]

    def consumer_for(self, producer_id: str) -> Consumer | None:
        for consumer in self.consumers:
            if consumer.producer.id == producer_id:
                return consumer
        return None

    def add_consumer(self, producer: Producer) -> Consumer:
        """Consume ``producer``; it starts once the next offer/answer has settled."""
        self._assert_open()
        existing = self.consumer_for(producer.id)
        if existing is not None:
            return existing
        slot = next(
            (s for s in self._slots if s.consumer is None and s.transceiver.kind == producer.kind),
            None,
        )
        if self.options.transcoding:
            return self._add_transcoding_consumer(producer)
        if slot is None:
            transceiver = self._pc.addTransceiver(IdleTrack(producer.kind), direction="sendonly")
            transceiver.setCodecPreferences(
                codec_preferences(producer.kind, self.options.video_codec)
            )
            slot = _Slot(transceiver=transceiver, sender=RawSender(transceiver))
            self._slots.append(slot)
        consumer = Consumer(f"{self.peer_id}<{producer.id}", producer, slot.sender)
        slot.consumer = consumer
        if slot.transceiver.mid is not None and slot.sender.ready:
            consumer.activate()  # a reused, negotiated section: no new offer needed
        return consumer

    def _add_transcoding_consumer(self, producer: Producer) -> Consumer:
        # The baseline: aiortc decodes (once, in the relay) and encodes for this subscriber.
        transceiver = self._pc.addTransceiver(producer.relayed_track(), direction="sendonly")
        transceiver.setCodecPreferences(codec_preferences(producer.kind, self.options.video_codec))
        sender = RawSender(transceiver)
        consumer = Consumer(
            f"{self.peer_id}<{producer.id}", producer, sender, relay_keyframe_requests=False
        )
        self._slots.append(_Slot(transceiver=transceiver, sender=sender, consumer=consumer))
        return consumer

    def remove_consumer(self, producer_id: str) -> bool:
        for slot in self._slots:
            if slot.consumer is not None and slot.consumer.producer.id == producer_id:
                slot.consumer.close()
                slot.consumer = None
                return True
        return False

    def needs_negotiation(self) -> bool:
        return any(slot.transceiver.mid is None for slot in self._slots)

    async def create_offer(self) -> tuple[str, dict[str, str]]:
        """An offer for every section, and which producer each mid carries now."""
        self._assert_open()
        async with self._lock:
            offer = await self._pc.createOffer()
            await self._pc.setLocalDescription(offer)
            return self._pc.localDescription.sdp, self.mid_map()

    def mid_map(self) -> dict[str, str]:
        return {
            slot.transceiver.mid: slot.consumer.producer.id
            for slot in self._slots
            if slot.consumer is not None and slot.transceiver.mid is not None
        }

    async def accept_answer(self, sdp: str) -> None:
        self._assert_open()
        _check_sdp(sdp)
        async with self._lock:
            if self._pc.signalingState != "have-local-offer":
                raise InvalidSdpError("no offer is waiting for an answer")
            offer_media_kinds(sdp)
            try:
                await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except OperationError as exc:
                raise UnsupportedCodecError(f"the answer has no common codec: {exc}") from exc
            except _AIORTC_SDP_ERRORS as exc:
                raise InvalidSdpError(f"the answer could not be applied: {exc}") from exc
        for slot in self._slots:
            if slot.consumer is not None and slot.transceiver.mid is not None:
                slot.consumer.activate()

    async def _close_children(self) -> None:
        for slot in self._slots:
            if slot.consumer is not None:
                slot.consumer.close()
                slot.consumer = None


def new_transport_id() -> str:
    return secrets.token_hex(6)
