"""The mayor's wall: room displays paired to a room with a short code and steered by its hosts.

An unpaired wall connects without joining and asks for a code (``wall-hello``). A host or
moderator of a room (or an administrator) enters it (``pair-wall``): the server mints a display
token (role ``display``, identity ``wall-<id>``, long-lived) and sends it to the waiting wall
(``wall-paired``), which keeps it and joins with it. The token is honoured only while the wall
is listed in the room's walls: ``unpair-wall`` takes it off the list (revoking the token), tells
the wall and takes it out of the meeting. Codes are 6 characters of a 32-letter alphabet
without 0/O/1/I (about 10^9 codes), expire, are used once, and guessing is rate limited per
connection and across the server.

The room's wall layout (grid, speaker, board, split, spotlight) is stored with the room, sent
in every join snapshot and broadcast when a host changes it (``wall-layout``)."""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conference import Org, OrgKind, Participant, Permission, Role, RoomId, clean_name, mint_token
from signaling.context import RoomContext
from signaling.errors import ProtocolError
from signaling.store.walls import WallStore

if TYPE_CHECKING:
    from signaling.service import ConferenceService

logger = logging.getLogger(__name__)

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, no 1/I: read off a wall
CODE_LENGTH = 6
LAYOUTS = ("grid", "speaker", "board", "split", "spotlight")
DEFAULT_LAYOUT: dict[str, Any] = {"layout": "grid", "spotlight": None}
WALL_IDENTITY_PREFIX = "wall-"
DISPLAY_TOKEN_SECONDS = 5 * 365 * 86400  # revocable: valid only while the wall is paired
DEFAULT_WALL_NAME = "벽면 화면"
# Guessing: a connection may fail this many times in a row, and the whole server this many
# times a minute, before pairing answers rate_limited.
FAILURES_PER_CONNECTION = 5
FAILURES_PER_MINUTE = 30
FAILURE_WINDOW_SECONDS = 60.0


def wall_identity(wall_id: str) -> str:
    return WALL_IDENTITY_PREFIX + wall_id


def wall_channel(wall_id: str) -> str:
    return f"wall:{wall_id}"


def wall_id_of(participant: Participant) -> str | None:
    """The wall id of a paired wall's participant; None for anyone else."""
    if participant.role == Role.DISPLAY and participant.identity.startswith(WALL_IDENTITY_PREFIX):
        return participant.identity.removeprefix(WALL_IDENTITY_PREFIX)
    return None


def normalise_code(text: str) -> str | None:
    """What someone typed ("ab3-k7x", " AB3K7X ") as a code, or None when it cannot be one."""
    code = "".join(ch for ch in text.upper() if ch not in " -")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


class PairingGuard:
    """Counts failed pairing attempts: per connection (in a row) and across the server."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_sid: dict[str, int] = {}
        self._recent: deque[float] = deque()

    def check(self, sid: str | None) -> None:
        now = self._clock()
        while self._recent and now - self._recent[0] > FAILURE_WINDOW_SECONDS:
            self._recent.popleft()
        if len(self._recent) >= FAILURES_PER_MINUTE:
            raise ProtocolError("rate_limited", "too many wrong pairing codes: try again later")
        if sid is not None and self._by_sid.get(sid, 0) >= FAILURES_PER_CONNECTION:
            raise ProtocolError("rate_limited", "too many wrong pairing codes on this connection")

    def failed(self, sid: str | None) -> None:
        self._recent.append(self._clock())
        if sid is not None:
            self._by_sid[sid] = self._by_sid.get(sid, 0) + 1

    def succeeded(self, sid: str | None) -> None:
        if sid is not None:
            self._by_sid.pop(sid, None)

    def forget(self, sid: str) -> None:
        self._by_sid.pop(sid, None)


class WallControl:
    def __init__(
        self, service: ConferenceService, store: WallStore, code_seconds: int = 600
    ) -> None:
        self._service = service
        self.store = store
        self.code_seconds = code_seconds
        self.guard = PairingGuard()
        self._codes: dict[str, str] = {}  # sid of a waiting wall -> the code it shows

    # -- an unpaired wall --------------------------------------------------------------------

    async def hello(self, sid: str) -> dict[str, Any]:
        """A new pairing code for this connection (replacing the one it had)."""
        if sid in self._service.sessions:
            raise ProtocolError("already_joined", "this connection has joined a room")
        previous = self._codes.pop(sid, None)
        if previous is not None:
            await self.store.drop_code(previous)
        expires_at = self._service.now() + self.code_seconds
        for _ in range(10):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if await self.store.put_code(code, {"sid": sid}, self.code_seconds):
                self._codes[sid] = code
                return {"code": code, "expiresAt": expires_at, "ttlSeconds": self.code_seconds}
        raise ProtocolError("internal_error", "no free pairing code: try again")  # pragma: no cover

    async def connection_closed(self, sid: str) -> None:
        self.guard.forget(sid)
        code = self._codes.pop(sid, None)
        if code is not None:
            await self.store.drop_code(code)

    # -- pairing and unpairing -----------------------------------------------------------------

    def _moderator_context(self, sid: str) -> tuple[RoomContext, Participant]:
        session = self._service.session(sid)
        context = session.room
        actor = context.room.require(session.participant_id, Permission.MODERATE)
        return context, actor

    async def pair_from(self, sid: str, code: str, name: str | None) -> dict[str, Any]:
        context, actor = self._moderator_context(sid)
        return await self.pair(context.room.id, code, name, by=actor.name, sid=sid)

    async def pair(
        self, room_id: str, text: str, name: str | None, *, by: str, sid: str | None = None
    ) -> dict[str, Any]:
        """Bind the wall showing ``text`` to the room; ``wrong_code`` when no wall shows it
        (never did, expired, or already used)."""
        self.guard.check(sid)
        wall_name = clean_name(name) if name and name.strip() else DEFAULT_WALL_NAME
        code = normalise_code(text)
        waiting = await self.store.take_code(code) if code is not None else None
        if waiting is None:
            self.guard.failed(sid)
            raise ProtocolError("wrong_code", "no wall shows this code (wrong or expired)")
        self.guard.succeeded(sid)
        wall_sid = str(waiting.get("sid", ""))
        if self._codes.get(wall_sid) == code:
            del self._codes[wall_sid]
        wall_id = secrets.token_hex(6)
        now = self._service.now()
        token = mint_token(
            self._service.options.token_secret,
            room=room_id,
            name=wall_name,
            org=Org(OrgKind.CITY, ""),
            role=Role.DISPLAY,
            now=now,
            ttl_seconds=DISPLAY_TOKEN_SECONDS,
            identity=wall_identity(wall_id),
        )
        wall = {"id": wall_id, "name": wall_name, "pairedAt": now, "pairedBy": by}
        await self.store.put_wall(room_id, wall)
        await self._service.emitter.emit(
            "wall-paired",
            {"room": room_id, "token": token, "wallId": wall_id, "name": wall_name},
            to=wall_sid,
        )
        logger.info("%s paired wall %s (%s) to room %s", by, wall_id, wall_name, room_id)
        await self.walls_changed(room_id)
        return {"wall": self._view(room_id, wall)}

    async def unpair_from(self, sid: str, wall_id: str) -> dict[str, Any]:
        context, _ = self._moderator_context(sid)
        await self.unpair(context.room.id, wall_id)
        return {}

    async def unpair(self, room_id: str, wall_id: str) -> None:
        """Revoke the wall's token; the wall is told, forgets it and shows a new code."""
        if not await self.store.remove_wall(room_id, wall_id):
            raise ProtocolError("unknown_wall", "no wall with this id is paired to the room")
        await self._service.emitter.emit(
            "wall-unpaired", {"wallId": wall_id}, room=wall_channel(wall_id)
        )
        context = self._service.rooms.get(RoomId(room_id))
        if context is not None:
            identity = wall_identity(wall_id)
            present = context.room.find_identity(identity)
            if present is not None:
                await self._service.remove_participant(context, present.id, "unpaired")
        logger.info("wall %s unpaired from room %s", wall_id, room_id)
        await self.walls_changed(room_id)

    async def check_join(self, room_id: str, participant_identity: str, role: Role) -> None:
        """A display token of a wall is honoured only while the wall is paired."""
        if role != Role.DISPLAY or not participant_identity.startswith(WALL_IDENTITY_PREFIX):
            return
        wall_id = participant_identity.removeprefix(WALL_IDENTITY_PREFIX)
        if await self.store.get_wall(room_id, wall_id) is None:
            raise ProtocolError("wall_unpaired", "this wall was unpaired: pair it again")

    def _view(self, room_id: str, wall: dict[str, Any]) -> dict[str, Any]:
        context = self._service.rooms.get(RoomId(room_id))
        online = False
        if context is not None:
            present = context.room.find_identity(wall_identity(str(wall["id"])))
            online = present is not None and not present.reconnecting
        return {**wall, "online": online}

    async def list(self, room_id: str) -> list[dict[str, Any]]:
        return [self._view(room_id, wall) for wall in await self.store.walls(room_id)]

    async def list_from(self, sid: str) -> dict[str, Any]:
        context, _ = self._moderator_context(sid)
        return {"walls": await self.list(context.room.id)}

    async def walls_changed(self, room_id: str) -> None:
        """The room's moderators see the list of walls (paired, online) change."""
        context = self._service.rooms.get(RoomId(room_id))
        if context is not None:
            walls = await self.list(room_id)
            await self._service.emitter.emit(
                "walls-updated", {"walls": walls}, room=context.moderators_channel
            )

    # -- the layout ----------------------------------------------------------------------------

    async def layout(self, room_id: str) -> dict[str, Any]:
        stored = await self.store.get_layout(room_id)
        return stored if stored is not None else dict(DEFAULT_LAYOUT)

    async def set_layout(
        self, sid: str, layout: str, spotlight: dict[str, str] | None
    ) -> dict[str, Any]:
        context, actor = self._moderator_context(sid)
        if layout not in LAYOUTS:
            raise ProtocolError("invalid_field", f'"layout" must be one of {", ".join(LAYOUTS)}')
        if spotlight is not None and "participantId" in spotlight:
            target = context.room.participants.get(spotlight["participantId"])  # type: ignore[call-overload]
            if target is None or not target.is_person:
                raise ProtocolError("not_in_room", "nobody with this id is in the meeting")
        elif spotlight is not None:
            board = await self._service.board.board(context.room.id)
            board.panel(spotlight["panelId"])  # panel_not_found
        value = {
            "layout": layout,
            "spotlight": spotlight,
            "updatedAt": self._service.now(),
            "by": actor.name,
        }
        await self.store.set_layout(context.room.id, value)
        await self._service.emitter.emit("wall-layout", value, room=context.channel)
        return {"wallLayout": value}
