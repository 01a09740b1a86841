"""The state signaling keeps per connection and per room, and what it needs of Socket.IO."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from conference import ParticipantId, Room
from media import MediaRouter, TransportOptions
from signaling.negotiation import SubscriberNegotiator


class Emitter(Protocol):
    """What the service needs of the Socket.IO server (python-socketio's AsyncServer)."""

    async def emit(
        self,
        event: str,
        data: Any = None,
        *,
        to: str | None = None,
        room: str | None = None,
        skip_sid: str | None = None,
    ) -> None: ...

    async def call(self, event: str, data: Any = None, *, to: str, timeout: float) -> Any: ...

    async def enter_room(self, sid: str, room: str) -> None: ...

    async def leave_room(self, sid: str, room: str) -> None: ...

    async def disconnect(self, sid: str) -> None: ...


@dataclass(frozen=True)
class ServiceOptions:
    token_secret: str
    media: TransportOptions
    allow_guests: bool = True
    capacity: int = 50
    reconnect_grace_seconds: float = 30.0
    chat_history: int = 200
    removal_ban_seconds: int = 600
    wall_code_seconds: int = 600  # how long a wall's pairing code is valid
    node_id: str = field(default_factory=lambda: secrets.token_hex(4))


class SessionState(enum.Enum):
    WAITING = "waiting"  # in the lobby
    JOINED = "joined"


@dataclass
class Session:
    sid: str
    room: RoomContext
    participant_id: ParticipantId
    state: SessionState = SessionState.JOINED
    negotiator: SubscriberNegotiator | None = None
    # False: consume only what the client asks for (`subscribe`); bots publishing in a
    # benchmark, or a client that shows a few tiles, say so at join.
    auto_subscribe: bool = True
    last_n: int | None = None  # video of the N most recent speakers; None: everyone
    requested: set[str] = field(default_factory=set)  # explicit subscriptions
    # proves a reconnecting client is the same person (sent back in `join.resume`)
    resume_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))


@dataclass
class RoomContext:
    room: Room
    router: MediaRouter
    sessions: dict[str, Session] = field(default_factory=dict)
    speaker_order: list[str] = field(default_factory=list)  # most recent dominant first

    @property
    def channel(self) -> str:
        return f"room:{self.room.id}"

    @property
    def moderators_channel(self) -> str:
        return f"room:{self.room.id}:moderators"

    def session_of(self, participant_id: ParticipantId) -> Session | None:
        return next((s for s in self.sessions.values() if s.participant_id == participant_id), None)

    def joined_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.state == SessionState.JOINED]
