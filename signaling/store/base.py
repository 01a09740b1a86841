"""What signaling calls to keep room state: one contract, an in-memory and a Redis store.

Every method is one atomic step: two nodes (or two tasks) calling at once never see or leave
a half-applied change. Room ids must match the conference's pattern (``InvalidRoomIdError``).
"""

from __future__ import annotations

from typing import Protocol

from signaling.store.model import ChatMessage, MemberRecord, RoomSettings

HandQueue = list[tuple[str, float]]  # (participant id, time the hand went up), oldest first


class RoomStore(Protocol):
    async def create_room(self, settings: RoomSettings) -> RoomSettings:
        """Store a new room; ``RoomExistsError`` if the id is taken."""
        ...

    async def ensure_room(self, settings: RoomSettings) -> RoomSettings:
        """Create the room if absent; return what is stored either way."""
        ...

    async def get_room(self, room_id: str) -> RoomSettings | None: ...

    async def list_rooms(self) -> list[RoomSettings]:
        """Every room, sorted by id."""
        ...

    async def update_room(self, room_id: str, **changes: object) -> RoomSettings:
        """Read-modify-write of settings by field name: ``RoomNotFoundError``, or
        ``InvalidSettingError`` for an unknown field or a value of the wrong type."""
        ...

    async def delete_room(self, room_id: str) -> None:
        """The room and everything under it (chat, roster, hands, lobby, bans)."""
        ...

    async def append_chat(self, room_id: str, message: ChatMessage, keep: int) -> None:
        """Append, keeping only the newest ``keep`` messages (``keep`` >= 1)."""
        ...

    async def chat_history(self, room_id: str, limit: int) -> list[ChatMessage]:
        """The newest ``limit`` messages, oldest first."""
        ...

    async def put_member(self, room_id: str, member: MemberRecord) -> None:
        """Add or replace a roster entry."""
        ...

    async def remove_member(self, room_id: str, participant_id: str) -> None: ...

    async def roster(self, room_id: str) -> list[MemberRecord]:
        """Ordered by ``joined_at``, then participant id."""
        ...

    async def raise_hand(self, room_id: str, participant_id: str, at: float) -> HandQueue:
        """Queue a hand; raising it again keeps the first time. Returns the queue."""
        ...

    async def lower_hand(self, room_id: str, participant_id: str) -> HandQueue: ...

    async def hands(self, room_id: str) -> HandQueue: ...

    async def lobby_put(self, room_id: str, member: MemberRecord) -> None: ...

    async def lobby_remove(self, room_id: str, participant_id: str) -> MemberRecord | None:
        """Take a waiting entry out; of two concurrent takes exactly one gets it."""
        ...

    async def lobby(self, room_id: str) -> list[MemberRecord]:
        """Ordered by ``joined_at`` (time of arrival in the lobby), then participant id."""
        ...

    async def ban(self, room_id: str, identity: str, until: float) -> None: ...

    async def is_banned(self, room_id: str, identity: str, now: float) -> bool:
        """True while ``now < until``; expired bans are dropped."""
        ...

    async def clear_live_state(self, room_id: str) -> None:
        """Drop roster, hands and lobby (a meeting ended); settings, chat and bans stay."""
        ...

    async def close(self) -> None:
        """Release connections; idempotent. Any later call raises ``StoreClosedError``."""
        ...
