"""Media through signaling: publishing, subscriptions (all, chosen, last-N), speakers and
mute, applied to the room's MediaRouter; the room's Room learns about each track."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from conference import (
    ForbiddenError,
    NotInRoomError,
    Participant,
    ParticipantId,
    Permission,
    TrackId,
)
from media import Producer
from media.speaker import SpeakerChanges
from signaling.context import RoomContext, Session
from signaling.errors import ProtocolError
from signaling.negotiation import SubscriberNegotiator
from signaling.subscriptions import reconcile

if TYPE_CHECKING:
    from signaling.service import ConferenceService

logger = logging.getLogger(__name__)

OFFER_REPLY_TIMEOUT_SECONDS = 15.0


class MediaControl:
    def __init__(self, service: ConferenceService) -> None:
        self._service = service

    def attach(self, context: RoomContext) -> None:
        """Listen to a new room's router."""
        router = context.router
        router.on_producer(lambda producer: self._on_producer(context, producer))
        router.on_producer_closed(lambda producer: self._on_producer_closed(context, producer))
        router.on_speakers(lambda changes: self._on_speakers(context, changes))

    async def publish(self, sid: str, sdp: str, sources: dict[str, str]) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        context.room.require(session.participant_id, Permission.PUBLISH)
        transport = context.router.publisher_for(session.participant_id)
        answer = await transport.accept_offer(sdp, sources)
        return {"sdp": answer}

    async def unpublish(self, sid: str, track_id: str) -> None:
        """Stop one of your own tracks (a screen share that ends); the others are told."""
        session = self._service.session(sid)
        producer = session.room.router.producers.get(track_id)
        if producer is None or producer.peer_id != session.participant_id:
            raise ProtocolError("unknown_track", "you publish no track with this id")
        await producer.close()

    def _on_producer(self, context: RoomContext, producer: Producer) -> None:
        publisher = ParticipantId(producer.peer_id)
        try:
            track = context.room.add_track(
                publisher, TrackId(producer.id), producer.kind, producer.source
            )
        except (NotInRoomError, ForbiddenError):
            self._service.spawn(producer.close())
            return
        producer.set_muted(track.muted)
        self._service.spawn(
            self._service.emitter.emit("track-added", track.to_dict(), room=context.channel)
        )
        for session in context.sessions.values():
            reconcile(context, session)

    def _on_producer_closed(self, context: RoomContext, producer: Producer) -> None:
        for session in context.sessions.values():
            session.requested.discard(producer.id)
            if session.last_n is not None:
                reconcile(context, session)  # someone else's camera takes the freed place
        track = context.room.remove_track(TrackId(producer.id))
        if track is not None:
            self._service.spawn(
                self._service.emitter.emit(
                    "track-removed",
                    {"id": track.id, "participantId": track.participant_id},
                    room=context.channel,
                )
            )

    def start_subscribing(self, session: Session) -> None:
        context = session.room
        transport = context.router.subscriber_for(session.participant_id)

        async def send_offer(sdp: str, mids: dict[str, str]) -> str:
            tracks = {
                mid: self._track_view(context, producer_id) for mid, producer_id in mids.items()
            }
            reply = await self._service.emitter.call(
                "subscriber-offer",
                {"sdp": sdp, "tracks": tracks},
                to=session.sid,
                timeout=OFFER_REPLY_TIMEOUT_SECONDS,
            )
            if not isinstance(reply, dict) or not isinstance(reply.get("sdp"), str):
                raise ValueError("the client's answer has no SDP")
            return str(reply["sdp"])

        session.negotiator = SubscriberNegotiator(transport, send_offer)
        reconcile(context, session)

    def _track_view(self, context: RoomContext, producer_id: str) -> dict[str, Any]:
        for participant in context.room.participants.values():
            track = participant.tracks.get(TrackId(producer_id))
            if track is not None:
                return {**track.to_dict(), "participantName": participant.name}
        return {"id": producer_id}

    async def set_media_state(
        self, sid: str, *, audio_muted: bool | None, video_muted: bool | None
    ) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        participant = context.room.set_media_state(
            session.participant_id, audio_muted=audio_muted, video_muted=video_muted
        )
        self.apply_mute(context, participant)
        await self._service.emitter.emit(
            "participant-updated", participant.to_dict(), room=context.channel
        )
        return {"self": participant.to_dict()}

    async def enforce_role(self, context: RoomContext, participant: Participant) -> None:
        """After a role change: someone who may no longer publish stops publishing."""
        if participant.can(Permission.PUBLISH):
            return
        publisher = context.router.publishers.get(participant.id)
        if publisher is not None:
            for producer in list(publisher.producers.values()):
                await producer.close()

    def apply_mute(self, context: RoomContext, participant: Participant) -> None:
        for track in participant.tracks.values():
            producer = context.router.producers.get(track.id)
            if producer is not None:
                producer.set_muted(track.muted)

    def _subscriber_session(self, sid: str) -> Session:
        session = self._service.session(sid)
        session.room.room.require(session.participant_id, Permission.SUBSCRIBE)
        if session.negotiator is None:
            raise ForbiddenError("this connection does not subscribe")
        return session

    def _known_tracks(self, session: Session, track_ids: list[str]) -> list[str]:
        producers = session.room.router.producers
        unknown = [tid for tid in track_ids if tid not in producers]
        if unknown:
            raise ProtocolError("unknown_track", f"no such track: {', '.join(unknown[:5])}")
        own = [tid for tid in track_ids if producers[tid].peer_id == session.participant_id]
        if own:
            raise ProtocolError("own_track", "you cannot subscribe to your own tracks")
        return track_ids

    def subscriptions(self, session: Session) -> dict[str, Any]:
        transport = session.room.router.subscriber_for(session.participant_id)
        return {
            "subscriptions": {
                consumer.producer.id: "paused" if consumer.paused else "active"
                for consumer in transport.consumers
            },
            "lastN": session.last_n,
            "autoSubscribe": session.auto_subscribe,
        }

    def subscribe(self, sid: str, track_ids: list[str]) -> dict[str, Any]:
        """Consume these tracks (this also turns automatic subscription off)."""
        session = self._explicit_session(sid, track_ids)
        session.requested.update(track_ids)
        reconcile(session.room, session)
        return self.subscriptions(session)

    def unsubscribe(self, sid: str, track_ids: list[str]) -> dict[str, Any]:
        session = self._explicit_session(sid, track_ids)
        session.requested.difference_update(track_ids)
        reconcile(session.room, session)
        return self.subscriptions(session)

    def _explicit_session(self, sid: str, track_ids: list[str]) -> Session:
        """The subscriber, switched to explicit subscriptions that start from what it
        consumes now."""
        session = self._subscriber_session(sid)
        self._known_tracks(session, track_ids)
        if session.auto_subscribe:
            session.auto_subscribe = False
            transport = session.room.router.subscriber_for(session.participant_id)
            session.requested = {consumer.producer.id for consumer in transport.consumers}
        return session

    def set_paused(self, sid: str, track_ids: list[str], paused: bool) -> dict[str, Any]:
        """Pause or resume consumers without renegotiating; a resumed video restarts on a
        keyframe."""
        session = self._subscriber_session(sid)
        self._known_tracks(session, track_ids)
        transport = session.room.router.subscriber_for(session.participant_id)
        consumers = {tid: transport.consumer_for(tid) for tid in track_ids}
        missing = [tid for tid, consumer in consumers.items() if consumer is None]
        if missing:
            raise ProtocolError("not_subscribed", f"not subscribed to: {', '.join(missing[:5])}")
        for consumer in consumers.values():
            assert consumer is not None
            consumer.pause() if paused else consumer.resume()
        return self.subscriptions(session)

    def set_last_n(self, sid: str, last_n: int | None) -> dict[str, Any]:
        """Forward the video of the ``last_n`` most recent speakers (None: everyone)."""
        session = self._subscriber_session(sid)
        session.last_n = last_n
        session.auto_subscribe = True
        session.requested.clear()
        reconcile(session.room, session)
        return self.subscriptions(session)

    def _on_speakers(self, context: RoomContext, changes: SpeakerChanges) -> None:
        if changes.dominant_changed and changes.dominant is not None:
            if changes.dominant in context.speaker_order:
                context.speaker_order.remove(changes.dominant)
            context.speaker_order.insert(0, changes.dominant)
            self._service.spawn(
                self._service.emitter.emit(
                    "dominant-speaker", {"participantId": changes.dominant}, room=context.channel
                )
            )
            for session in context.sessions.values():
                if session.last_n is not None:
                    reconcile(context, session)
        for peer, speaking in [(p, True) for p in changes.started] + [
            (p, False) for p in changes.stopped
        ]:
            self._service.spawn(
                self._service.emitter.emit(
                    "speaking", {"participantId": peer, "speaking": speaking}, room=context.channel
                )
            )
