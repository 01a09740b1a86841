"""The shared board over Socket.IO: snapshot, numbered operations (checked, stored, then
acknowledged and broadcast), the presenter's pointer, and live data feeds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conference import Org, OrgKind, Participant, ParticipantId, Role, RoomId
from conference.board import Board, BoardOp
from conference.panels import InvalidPanelError, validate_feed
from signaling.context import RoomContext
from signaling.errors import ProtocolError
from signaling.markdown import render_markdown
from signaling.store.board import BoardStore

if TYPE_CHECKING:
    from signaling.service import ConferenceService

logger = logging.getLogger(__name__)

FEED_VALUES_KEPT = 200  # per channel: enough for a chart's history
FEED_VALUES_IN_SNAPSHOT = 60
MAX_FEED_BATCH = 100
STORED_PANELS = {"document": "documentId", "image": "imageId"}  # kind -> id of its file


class BoardControl:
    def __init__(self, service: ConferenceService, store: BoardStore) -> None:
        self._service = service
        self.store = store
        self._boards: dict[RoomId, Board] = {}
        self._locks: dict[RoomId, asyncio.Lock] = {}

    async def board(self, room_id: RoomId) -> Board:
        """The room's live board, loaded from the store the first time (after a restart)."""
        board = self._boards.get(room_id)
        if board is None:
            stored = await self.store.load_board(room_id)
            board = self._boards.get(room_id)  # loaded meanwhile by another task
            if board is None:
                board = Board.from_dict(stored) if stored else Board()
                self._boards[room_id] = board
        return board

    def forget(self, room_id: RoomId) -> None:
        """The room closed on this node; its board stays in the store."""
        self._boards.pop(room_id, None)
        self._locks.pop(room_id, None)

    async def snapshot(self, context: RoomContext) -> dict[str, Any]:
        board = await self.board(context.room.id)
        channels = sorted({p.feed for p in board.panels.values() if p.feed})
        feeds = {
            channel: await self.store.feed_values(channel, FEED_VALUES_IN_SNAPSHOT)
            for channel in channels
        }
        return {"board": board.to_dict(), "feeds": feeds}

    async def snapshot_for(self, sid: str) -> dict[str, Any]:
        return await self.snapshot(self._service.session(sid).room)

    async def operate(self, sid: str, op_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        session = self._service.session(sid)
        context = session.room
        actor = context.room.get(session.participant_id)
        restricted = context.room.policy.board_moderators_only
        op = await self._commit(context.room.id, actor, op_type, payload, restricted)
        message = op.to_dict()
        await self._service.emitter.emit("board-op", message, room=context.channel, skip_sid=sid)
        return {"op": message}

    async def _commit(
        self,
        room_id: RoomId,
        actor: Participant,
        op_type: str,
        payload: Mapping[str, Any],
        restricted: bool,
    ) -> BoardOp:
        lock = self._locks.setdefault(room_id, asyncio.Lock())
        async with lock:  # one operation at a time per board: numbers never collide
            board = await self.board(room_id)
            op = board.prepare(
                op_type,
                actor,
                payload,
                now=time.time(),
                push_restricted=restricted,
                render_note=render_markdown,
            )
            await self._check_stored(op.type, op.payload)
            after = Board.from_dict(board.to_dict())
            after.apply(op)
            await self.store.commit_op(room_id, op.to_dict(), after.to_dict())
            board.apply(op)
        return op

    async def seed(self, room_id: RoomId, panels: list[dict[str, Any]]) -> int:
        """Put panels on a room's board as the system (a demo room, a prepared meeting);
        only when the board is empty. Returns how many were pushed."""
        if (await self.board(room_id)).panels:
            return 0
        system = Participant(
            id=ParticipantId("system"),
            identity="system",
            name="openroom",
            org=Org(OrgKind.CITY, "서울특별시"),
            role=Role.HOST,
            joined_at=time.time(),
        )
        for panel in panels:
            await self._commit(room_id, system, "push", {"panel": panel}, restricted=False)
        return len(panels)

    async def _check_stored(self, op_type: str, payload: Mapping[str, Any]) -> None:
        """A document or image panel is pushed only once its file is uploaded and ready."""
        panel = payload.get("panel") if op_type == "push" else None
        if not isinstance(panel, dict) or panel.get("kind") not in STORED_PANELS:
            return
        key = STORED_PANELS[panel["kind"]]
        item_id = str(panel["data"][key])
        meta = await self.store.get_document(item_id)
        if meta is None or meta.get("status") != "ready" or meta.get("kind") != panel["kind"]:
            raise ProtocolError("document_not_ready", f"{key} {item_id[:64]} is not uploaded yet")
        if key == "documentId" and panel["data"]["pageCount"] != meta.get("pageCount"):
            raise ProtocolError("invalid_panel", f"the document has {meta.get('pageCount')} pages")

    async def pointer(self, sid: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The presenter's laser: relayed, never stored."""
        session = self._service.session(sid)
        context = session.room
        board = await self.board(context.room.id)
        panel = board.panel(payload.get("panelId"))
        x, y = payload.get("x"), payload.get("y")
        visible = payload.get("visible", True)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
            raise ProtocolError("invalid_field", "x and y are numbers from 0 to 1")
        assert isinstance(x, (int, float)) and isinstance(y, (int, float))
        if not (0 <= x <= 1 and 0 <= y <= 1) or not isinstance(visible, bool):
            raise ProtocolError("invalid_field", "x and y are numbers from 0 to 1")
        actor = context.room.get(session.participant_id)
        message = {"panelId": panel.id, "x": x, "y": y, "visible": visible, "by": actor.name}
        await self._service.emitter.emit(
            "board-pointer", message, room=context.channel, skip_sid=sid
        )
        return {}

    async def timeline(self, room_id: str, after_seq: int = 0) -> list[dict[str, Any]]:
        return await self.store.timeline(room_id, after_seq)

    async def publish_feed(self, channel: str, values: list[dict[str, Any]]) -> int:
        """Store a feed's new values, then send them to every room showing that feed."""
        try:
            valid = validate_feed(channel) is not None
        except InvalidPanelError:
            valid = False
        if not valid:
            raise ProtocolError("invalid_feed", "a feed channel is like covid/dobong")
        if not 1 <= len(values) <= MAX_FEED_BATCH:
            raise ProtocolError("invalid_payload", f"send 1 to {MAX_FEED_BATCH} values")
        await self.store.put_feed_values(channel, values, FEED_VALUES_KEPT)
        rooms = 0
        for room_id, board in list(self._boards.items()):
            if any(panel.feed == channel for panel in board.panels.values()):
                context = self._service.rooms.get(room_id)
                if context is not None:
                    rooms += 1
                    await self._service.emitter.emit(
                        "feed", {"channel": channel, "values": values}, room=context.channel
                    )
        return rooms
