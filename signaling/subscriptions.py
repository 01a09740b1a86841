"""Which producers each subscriber consumes: everything, what it asked for, or last-N (the
video of the N most recent dominant speakers), reconciled against what it consumes now."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from media import Producer

if TYPE_CHECKING:
    from signaling.service import RoomContext, Session


def speaker_ranking(context: RoomContext) -> list[str]:
    """Peers ordered for last-N: most recent dominant speakers first, then by join time."""
    joined = sorted(context.room.participants.values(), key=lambda p: p.joined_at)
    ranked = [peer for peer in context.speaker_order if peer in context.room.participants]
    ranked += [p.id for p in joined if p.id not in ranked]
    return ranked


def wanted_producers(context: RoomContext, session: Session) -> set[str]:
    others = [
        producer
        for producer in context.router.producers.values()
        if producer.peer_id != session.participant_id
    ]
    if not session.auto_subscribe:
        return {producer.id for producer in others if producer.id in session.requested}
    if session.last_n is None:
        return {producer.id for producer in others}
    wanted = {p.id for p in others if p.kind == "audio" or p.source == "screen"}
    cameras = {p.peer_id: p for p in others if p.kind == "video" and p.source != "screen"}
    chosen = [peer for peer in speaker_ranking(context) if peer in cameras][: session.last_n]
    return wanted | {cameras[peer].id for peer in chosen}


def reconcile(context: RoomContext, session: Session) -> bool:
    """Add and remove consumers so the session consumes what it wants; renegotiate (which
    also tells the client which track each section now carries) when anything changed.
    Removals go first so a freed section is reused: the switch stays one continuous stream."""
    if session.negotiator is None:
        return False
    transport = context.router.subscriber_for(session.participant_id)
    wanted = wanted_producers(context, session)
    current = {consumer.producer.id for consumer in transport.consumers}
    for producer_id in current - wanted:
        transport.remove_consumer(producer_id)
    added: Iterable[Producer] = (context.router.producers[pid] for pid in sorted(wanted - current))
    for producer in added:
        transport.add_consumer(producer)
    changed = wanted != current
    if changed:
        session.negotiator.request()
    return changed
