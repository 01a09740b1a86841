"""The panel library: each organisation saves panels or sets of panels, shares them with
other organisations (Seoul City shares its dashboards with the districts), and pushes them
from the library onto any room's board."""

from __future__ import annotations

import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from conference import ForbiddenError, Participant, Permission
from conference.panels import MAX_TITLE, text, validate_data, validate_feed
from signaling.dashboards import builtin_library
from signaling.errors import ProtocolError

if TYPE_CHECKING:
    from signaling.service import ConferenceService

MAX_ITEMS_PER_ORG = 200
MAX_PANELS_PER_ITEM = 12
ORG_PATTERN = re.compile(r"^(city|district|agency|guest):.{0,64}$")


def org_key(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def visible_to(item: dict[str, Any], org: str) -> bool:
    owner = org_key(item["org"]["kind"], item["org"]["name"])
    shared = item.get("sharedWith", [])
    return owner == org or "*" in shared or org in shared


class LibraryControl:
    def __init__(self, service: ConferenceService) -> None:
        self._service = service

    def _actor(self, sid: str) -> Participant:
        session = self._service.session(sid)
        actor = session.room.room.get(session.participant_id)
        if not actor.can(Permission.BOARD_PUSH):
            raise ForbiddenError(f"your role ({actor.role.value}) may not use the panel library")
        return actor

    async def _items(self) -> list[dict[str, Any]]:
        return builtin_library() + await self._service.board.store.library_items()

    async def visible_items(self, sid: str) -> dict[str, Any]:
        actor = self._actor(sid)
        org = org_key(actor.org.kind.value, actor.org.name)
        return {"items": [item for item in await self._items() if visible_to(item, org)]}

    async def save(self, sid: str, name: str, panel_ids: list[str]) -> dict[str, Any]:
        """Save panels of the current board (their kind, title, data, feed and size)."""
        actor = self._actor(sid)
        if not 1 <= len(panel_ids) <= MAX_PANELS_PER_ITEM:
            raise ProtocolError("invalid_field", f"save 1 to {MAX_PANELS_PER_ITEM} panels")
        board = await self._service.board.board(self._service.session(sid).room.room.id)
        panels = []
        for panel_id in panel_ids:
            panel = board.panel(panel_id)
            data = {k: v for k, v in panel.data.items() if k != "html"}
            panels.append(
                {
                    "kind": panel.kind,
                    "title": panel.title,
                    "data": validate_data(panel.kind, data),
                    "feed": validate_feed(panel.feed),
                    "size": panel.size,
                }
            )
        org = org_key(actor.org.kind.value, actor.org.name)
        own = [i for i in await self._service.board.store.library_items() if visible_to(i, org)]
        if len(own) >= MAX_ITEMS_PER_ORG:
            raise ProtocolError("library_full", "your organisation's library is full")
        item = {
            "id": secrets.token_hex(6),
            "name": text(name, "the name", MAX_TITLE),
            "org": actor.org.to_dict(),
            "ownerName": actor.name,
            "sharedWith": [],
            "createdAt": time.time(),
            "panels": panels,
        }
        await self._service.board.store.save_library_item(item)
        return {"item": item}

    async def _owned_item(self, actor: Participant, item_id: str) -> dict[str, Any]:
        org = org_key(actor.org.kind.value, actor.org.name)
        for item in await self._service.board.store.library_items():
            if item["id"] == item_id:
                if org_key(item["org"]["kind"], item["org"]["name"]) != org:
                    raise ForbiddenError("only its organisation may change a library item")
                return item
        raise ProtocolError("unknown_item", "no such library item")

    async def share(self, sid: str, item_id: str, orgs: list[str]) -> dict[str, Any]:
        actor = self._actor(sid)
        for org in orgs:
            if org != "*" and not ORG_PATTERN.match(org):
                raise ProtocolError("invalid_field", 'share with "*" or "kind:name" organisations')
        item = await self._owned_item(actor, item_id)
        item["sharedWith"] = sorted(set(orgs))
        await self._service.board.store.save_library_item(item)
        return {"item": item}

    async def delete(self, sid: str, item_id: str) -> dict[str, Any]:
        actor = self._actor(sid)
        await self._owned_item(actor, item_id)
        await self._service.board.store.delete_library_item(item_id)
        return {}

    async def push(self, sid: str, item_id: str) -> dict[str, Any]:
        """Push every panel of a visible library item onto this room's board."""
        actor = self._actor(sid)
        org = org_key(actor.org.kind.value, actor.org.name)
        item = next((i for i in await self._items() if i["id"] == item_id), None)
        if item is None or not visible_to(item, org):
            raise ProtocolError("unknown_item", "no such library item")
        ops = []
        for panel in item["panels"]:
            reply = await self._service.board.operate(sid, "push", {"panel": panel})
            ops.append(reply["op"])
        return {"ops": ops}
