"""The default store: one process, plain dictionaries. Each method runs without awaiting
anything, so on the event loop it is atomic by construction."""

from __future__ import annotations

from dataclasses import dataclass, field

from signaling.store.base import HandQueue
from signaling.store.errors import RoomExistsError, RoomNotFoundError, StoreClosedError
from signaling.store.model import ChatMessage, MemberRecord, RoomSettings, check_room_id


@dataclass
class _Room:
    settings: RoomSettings | None = None
    chat: list[ChatMessage] = field(default_factory=list)
    roster: dict[str, MemberRecord] = field(default_factory=dict)
    hands: dict[str, float] = field(default_factory=dict)
    lobby: dict[str, MemberRecord] = field(default_factory=dict)
    bans: dict[str, float] = field(default_factory=dict)


class MemoryStore:
    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the room store is closed")

    def _room(self, room_id: str) -> _Room:
        """The state under ``room_id``, created empty on first write (as Redis keys are)."""
        self._check_open()
        return self._rooms.setdefault(check_room_id(room_id), _Room())

    def _peek(self, room_id: str) -> _Room:
        """The state under ``room_id`` for reading or removing, without keeping an empty one."""
        self._check_open()
        return self._rooms.get(check_room_id(room_id)) or _Room()

    async def create_room(self, settings: RoomSettings) -> RoomSettings:
        room = self._room(settings.room_id)
        if room.settings is not None:
            raise RoomExistsError(f"the room {settings.room_id!r} already exists")
        room.settings = settings
        return settings

    async def ensure_room(self, settings: RoomSettings) -> RoomSettings:
        room = self._room(settings.room_id)
        if room.settings is None:
            room.settings = settings
        return room.settings

    async def get_room(self, room_id: str) -> RoomSettings | None:
        return self._peek(room_id).settings

    async def list_rooms(self) -> list[RoomSettings]:
        self._check_open()
        found = [room.settings for room in self._rooms.values() if room.settings is not None]
        return sorted(found, key=lambda settings: settings.room_id)

    async def update_room(self, room_id: str, **changes: object) -> RoomSettings:
        room = self._peek(room_id)
        if room.settings is None:
            raise RoomNotFoundError(f"there is no room {room_id!r}")
        room.settings = room.settings.with_changes(changes)
        return room.settings

    async def delete_room(self, room_id: str) -> None:
        self._peek(room_id)
        self._rooms.pop(room_id, None)

    async def append_chat(self, room_id: str, message: ChatMessage, keep: int) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        room = self._room(room_id)
        room.chat.append(message)
        del room.chat[:-keep]

    async def chat_history(self, room_id: str, limit: int) -> list[ChatMessage]:
        chat = self._peek(room_id).chat
        return list(chat[-limit:]) if limit > 0 else []

    async def put_member(self, room_id: str, member: MemberRecord) -> None:
        self._room(room_id).roster[member.participant_id] = member

    async def remove_member(self, room_id: str, participant_id: str) -> None:
        self._peek(room_id).roster.pop(participant_id, None)

    async def roster(self, room_id: str) -> list[MemberRecord]:
        return _by_arrival(self._peek(room_id).roster)

    async def raise_hand(self, room_id: str, participant_id: str, at: float) -> HandQueue:
        room = self._room(room_id)
        room.hands.setdefault(participant_id, float(at))
        return _queue(room.hands)

    async def lower_hand(self, room_id: str, participant_id: str) -> HandQueue:
        room = self._peek(room_id)
        room.hands.pop(participant_id, None)
        return _queue(room.hands)

    async def hands(self, room_id: str) -> HandQueue:
        return _queue(self._peek(room_id).hands)

    async def lobby_put(self, room_id: str, member: MemberRecord) -> None:
        self._room(room_id).lobby[member.participant_id] = member

    async def lobby_remove(self, room_id: str, participant_id: str) -> MemberRecord | None:
        return self._peek(room_id).lobby.pop(participant_id, None)

    async def lobby(self, room_id: str) -> list[MemberRecord]:
        return _by_arrival(self._peek(room_id).lobby)

    async def ban(self, room_id: str, identity: str, until: float) -> None:
        self._room(room_id).bans[identity] = float(until)

    async def is_banned(self, room_id: str, identity: str, now: float) -> bool:
        bans = self._peek(room_id).bans
        for expired in [who for who, until in bans.items() if until <= now]:
            del bans[expired]
        return identity in bans

    async def clear_live_state(self, room_id: str) -> None:
        room = self._peek(room_id)
        room.roster.clear()
        room.hands.clear()
        room.lobby.clear()

    async def close(self) -> None:
        self._closed = True


def _by_arrival(members: dict[str, MemberRecord]) -> list[MemberRecord]:
    return sorted(members.values(), key=lambda m: (m.joined_at, m.participant_id))


def _queue(hands: dict[str, float]) -> HandQueue:
    return sorted(hands.items(), key=lambda item: (item[1], item[0]))
