"""The shared board: an ordered set of panels, a layout and a focus, changed only by numbered
operations. ``prepare`` checks an operation (permissions, data) without changing anything and
gives it the next number; ``apply`` changes the board, deterministically, so replaying the
stored operations on a snapshot always gives the live board."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conference.errors import ConferenceError, ForbiddenError
from conference.model import Participant, Permission
from conference.panels import MAX_TITLE, InvalidPanelError, text, validate_data, validate_feed

LAYOUTS = (1, 2, 4, 6)
MAX_PANELS = 24
OP_TYPES = ("push", "update", "move", "resize", "remove", "focus", "layout", "clear", "page")

# Notes are Markdown; the caller renders it to sanitised HTML (signaling owns the sanitiser).
NoteRenderer = Callable[[str], str]


class PanelNotFoundError(ConferenceError):
    code = "panel_not_found"


class BoardFullError(ConferenceError):
    code = "board_full"


@dataclass
class Panel:
    id: str
    kind: str
    title: str
    owner_id: str
    owner_name: str
    org: tuple[str, str]
    created_at: float
    updated_at: float
    data: dict[str, Any]
    feed: str | None = None
    size: dict[str, int] = field(default_factory=lambda: {"w": 1, "h": 1})

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "ownerId": self.owner_id,
            "ownerName": self.owner_name,
            "org": {"kind": self.org[0], "name": self.org[1]},
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "data": copy.deepcopy(self.data),  # a snapshot must not change with the board
            "feed": self.feed,
            "size": dict(self.size),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Panel:
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            title=str(data["title"]),
            owner_id=str(data["ownerId"]),
            owner_name=str(data["ownerName"]),
            org=(str(data["org"]["kind"]), str(data["org"]["name"])),
            created_at=float(data["createdAt"]),
            updated_at=float(data["updatedAt"]),
            data=dict(data["data"]),
            feed=data.get("feed"),
            size={"w": int(data["size"]["w"]), "h": int(data["size"]["h"])},
        )


@dataclass(frozen=True)
class BoardOp:
    seq: int
    type: str
    by: str
    by_name: str
    at: float
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "by": self.by,
            "byName": self.by_name,
            "at": self.at,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BoardOp:
        return cls(
            seq=int(data["seq"]),
            type=str(data["type"]),
            by=str(data["by"]),
            by_name=str(data["byName"]),
            at=float(data["at"]),
            payload=dict(data["payload"]),
        )


def _size(value: object) -> dict[str, int]:
    if value is None:
        return {"w": 1, "h": 1}
    if not isinstance(value, dict) or set(value) != {"w", "h"}:
        raise InvalidPanelError("a size is {w, h}, each 1 or 2")
    width, height = value["w"], value["h"]
    if width not in (1, 2) or height not in (1, 2) or isinstance(width, bool):
        raise InvalidPanelError("a size is {w, h}, each 1 or 2")
    return {"w": int(width), "h": int(height)}


class Board:
    def __init__(self) -> None:
        self.panels: dict[str, Panel] = {}
        self.layout = 4
        self.focus: str | None = None
        self.seq = 0

    # -- reading ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "layout": self.layout,
            "focus": self.focus,
            "panels": [panel.to_dict() for panel in self.panels.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Board:
        board = cls()
        board.seq = int(data["seq"])
        board.layout = int(data["layout"])
        board.focus = data.get("focus")
        for raw in data["panels"]:
            panel = Panel.from_dict(raw)
            board.panels[panel.id] = panel
        return board

    def panel(self, panel_id: object) -> Panel:
        panel = self.panels.get(panel_id) if isinstance(panel_id, str) else None
        if panel is None:
            raise PanelNotFoundError("no such panel on the board")
        return panel

    # -- checking --------------------------------------------------------------------------

    def prepare(
        self,
        op_type: str,
        actor: Participant,
        payload: Mapping[str, Any],
        *,
        now: float,
        push_restricted: bool = False,
        render_note: NoteRenderer = lambda markdown: "",
    ) -> BoardOp:
        """Check an operation and give it the next number; the board does not change."""
        if op_type not in OP_TYPES:
            raise InvalidPanelError(f"unknown board operation {op_type[:20]!r}")
        if not actor.can(Permission.BOARD_PUSH) and not actor.can(Permission.MODERATE):
            raise ForbiddenError(f"your role ({actor.role.value}) may not change the board")
        checked = getattr(self, f"_check_{op_type}")(actor, payload, now, push_restricted)
        self._render_notes(checked, render_note)
        return BoardOp(
            seq=self.seq + 1, type=op_type, by=actor.id, by_name=actor.name, at=now, payload=checked
        )

    def _render_notes(self, checked: dict[str, Any], render_note: NoteRenderer) -> None:
        panel = checked.get("panel")
        if isinstance(panel, dict) and panel.get("kind") == "note":
            panel["data"]["html"] = render_note(panel["data"]["markdown"])
        if checked.get("kind") == "note" and "data" in checked:
            checked["data"]["html"] = render_note(checked["data"]["markdown"])

    def _owned(self, actor: Participant, payload: Mapping[str, Any]) -> Panel:
        panel = self.panel(payload.get("panelId"))
        if panel.owner_id != actor.id and not actor.can(Permission.MODERATE):
            raise ForbiddenError("only its owner or a moderator may change this panel")
        return panel

    def _check_push(
        self, actor: Participant, payload: Mapping[str, Any], now: float, restricted: bool
    ) -> dict[str, Any]:
        if restricted and not actor.can(Permission.MODERATE):
            raise ForbiddenError("in this room only moderators push panels")
        if len(self.panels) >= MAX_PANELS:
            raise BoardFullError(f"the board holds at most {MAX_PANELS} panels")
        raw = payload.get("panel")
        if not isinstance(raw, dict):
            raise InvalidPanelError("give the panel to push")
        unknown = sorted(set(raw) - {"kind", "title", "data", "feed", "size"})
        if unknown:
            raise InvalidPanelError(f"unknown panel field(s): {', '.join(unknown)}")
        kind = raw.get("kind")
        panel = Panel(
            id=secrets.token_hex(6),
            kind=str(kind),
            title=text(raw.get("title"), "the title", MAX_TITLE),
            owner_id=actor.id,
            owner_name=actor.name,
            org=(actor.org.kind.value, actor.org.name),
            created_at=now,
            updated_at=now,
            data=validate_data(kind, raw.get("data")),
            feed=validate_feed(raw.get("feed")),
            size=_size(raw.get("size")),
        )
        return {"panel": panel.to_dict()}

    def _check_update(
        self, actor: Participant, payload: Mapping[str, Any], now: float, restricted: bool
    ) -> dict[str, Any]:
        panel = self._owned(actor, payload)
        unknown = sorted(set(payload) - {"panelId", "title", "data", "feed"})
        if unknown:
            raise InvalidPanelError(f"unknown field(s): {', '.join(unknown)}")
        checked: dict[str, Any] = {"panelId": panel.id, "kind": panel.kind, "updatedAt": now}
        if "title" in payload:
            checked["title"] = text(payload["title"], "the title", MAX_TITLE)
        if "data" in payload:
            checked["data"] = validate_data(panel.kind, payload["data"])
        if "feed" in payload:
            checked["feed"] = validate_feed(payload["feed"])
        if len(checked) == 3:
            raise InvalidPanelError("give a title, data or feed to change")
        return checked

    def _check_move(
        self, actor: Participant, payload: Mapping[str, Any], now: float, restricted: bool
    ) -> dict[str, Any]:
        panel = self._owned(actor, payload)
        index = payload.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidPanelError("index must be an integer")
        return {"panelId": panel.id, "index": max(0, min(index, len(self.panels) - 1))}

    def _check_resize(
        self, actor: Participant, payload: Mapping[str, Any], now: float, restricted: bool
    ) -> dict[str, Any]:
        panel = self._owned(actor, payload)
        return {"panelId": panel.id, "size": _size(payload.get("size"))}

    def _check_remove(
        self, actor: Participant, payload: Mapping[str, Any], now: float, restricted: bool
    ) -> dict[str, Any]:
        return {"panelId": self._owned(actor, payload).id}

    def _check_focus(
        self, actor: Participant, payload: Mapping[str, Any], now: float, restricted: bool
    ) -> dict[str, Any]:
        panel_id = payload.get("panelId")
        if panel_id is None:
            return {"panelId": None}
        return {"panelId": self.panel(panel_id).id}

    def _check_layout(
        self, actor: Participant, payload: Mapping[str, Any], now: float, restricted: bool
    ) -> dict[str, Any]:
        layout = payload.get("layout")
        if layout not in LAYOUTS or isinstance(layout, bool):
            raise InvalidPanelError(f"layout must be one of {', '.join(map(str, LAYOUTS))}")
        return {"layout": layout}

    def _check_clear(
        self, actor: Participant, payload: Mapping[str, Any], now: float, restricted: bool
    ) -> dict[str, Any]:
        if not actor.can(Permission.MODERATE):
            raise ForbiddenError("only moderators clear the board")
        return {}

    def _check_page(
        self, actor: Participant, payload: Mapping[str, Any], now: float, restricted: bool
    ) -> dict[str, Any]:
        panel = self._owned(actor, payload)
        if panel.kind != "document":
            raise InvalidPanelError("only a document has pages")
        page = payload.get("page")
        if isinstance(page, bool) or not isinstance(page, int):
            raise InvalidPanelError("page must be an integer")
        if not 1 <= page <= int(panel.data["pageCount"]):
            raise InvalidPanelError("the page is outside the document")
        return {"panelId": panel.id, "page": page}

    # -- changing --------------------------------------------------------------------------

    def apply(self, op: BoardOp) -> None:
        """Apply the next operation (its number must follow the board's)."""
        if op.seq != self.seq + 1:
            raise ValueError(f"operation {op.seq} does not follow {self.seq}")
        payload = op.payload
        if op.type == "push":
            panel = Panel.from_dict(payload["panel"])
            self.panels[panel.id] = panel
        elif op.type == "update":
            panel = self.panels[payload["panelId"]]
            if "title" in payload:
                panel.title = payload["title"]
            if "data" in payload:
                panel.data = dict(payload["data"])
            if "feed" in payload:
                panel.feed = payload["feed"]
            panel.updated_at = payload["updatedAt"]
        elif op.type == "move":
            order = [pid for pid in self.panels if pid != payload["panelId"]]
            order.insert(payload["index"], payload["panelId"])
            self.panels = {pid: self.panels[pid] for pid in order}
        elif op.type == "resize":
            self.panels[payload["panelId"]].size = dict(payload["size"])
        elif op.type == "remove":
            del self.panels[payload["panelId"]]
            if self.focus == payload["panelId"]:
                self.focus = None
        elif op.type == "focus":
            self.focus = payload["panelId"]
        elif op.type == "layout":
            self.layout = payload["layout"]
        elif op.type == "clear":
            self.panels.clear()
            self.focus = None
        elif op.type == "page":
            self.panels[payload["panelId"]].data["page"] = payload["page"]
        self.seq = op.seq
