"""The shared board over Socket.IO, through the real server: numbered operations stored, then
acknowledged and broadcast; snapshots in the join reply and on request; refusals with codes
that leave the number where it was; sanitised notes; convergence of every screen; the
pointer; a restart with Redis; and the board timeline in the admin API."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import socketio

from conference import Org, Role, RoomId, mint_token
from conference.board import Board, BoardOp
from signaling import PROTOCOL_VERSION, ConferenceService
from signaling.store import StoreUnavailableError
from tests.conftest import TEST_SECRET, RunningServer, running_server

ORG = Org.parse("district:도봉구")
KPI = {
    "kind": "kpi",
    "title": "도봉구 확진자",
    "data": {"items": [{"label": "확진자", "value": 12, "unit": "명"}]},
}
NOTE = {"kind": "note", "title": "메모", "data": {"markdown": "상황 **주의**"}}
DOCUMENT = {"kind": "document", "title": "매뉴얼", "data": {"documentId": "doc-1", "pageCount": 3}}


async def upload_document(service: ConferenceService) -> None:
    """DOCUMENT's file, as the upload leaves it once rendered: a document panel is pushed
    only when its file is ready."""
    meta = {"id": "doc-1", "kind": "document", "status": "ready", "pageCount": 3}
    await service.board.store.put_document("doc-1", meta)


def token(room: str, role: Role, name: str) -> str:
    return mint_token(
        TEST_SECRET, room=room, name=name, org=ORG, role=role, now=time.time(), ttl_seconds=600
    )


class Client:
    """A Socket.IO client that records every event and mirrors the board like a screen does:
    the snapshot of its join, then every operation in number order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.joined: dict[str, Any] = {}
        self.board: Board | None = None
        self._pending: dict[int, dict[str, Any]] = {}

        @self.sio.on("*")  # type: ignore[untyped-decorator]
        async def record(event: str, data: Any = None) -> None:
            self.events.append((event, data))
            if event == "board-op":
                self.receive(data)

    async def join(self, room: str, role: Role = Role.PARTICIPANT, name: str = "") -> Client:
        await self.sio.connect(self.url, transports=["websocket"])
        payload = {
            "protocol": PROTOCOL_VERSION,
            "room": room,
            "token": token(room, role, name or f"도봉구 {role.value}"),
            "autoSubscribe": False,
        }
        reply = await self.call("join", payload)
        assert reply["ok"] is True, reply
        self.joined = reply
        self.board = Board.from_dict(reply["board"])
        return self

    async def call(self, event: str, payload: Any = None) -> dict[str, Any]:
        reply: dict[str, Any] = await self.sio.call(event, payload, timeout=10)
        return reply

    async def op(self, op_type: str, **payload: Any) -> dict[str, Any]:
        """Send an operation; an accepted one is applied to this client's mirror."""
        reply = await self.call("board-op", {"type": op_type, **payload})
        if reply.get("ok"):
            self.receive(reply["op"])
        return reply

    async def push(self, panel: dict[str, Any]) -> str:
        reply = await self.op("push", panel=copy.deepcopy(panel))
        assert reply["ok"] is True, reply
        return str(reply["op"]["payload"]["panel"]["id"])

    def receive(self, op: dict[str, Any]) -> None:
        assert self.board is not None
        if op["seq"] <= self.board.seq:
            return
        self._pending[op["seq"]] = op
        while self.board.seq + 1 in self._pending:
            self.board.apply(BoardOp.from_dict(self._pending.pop(self.board.seq + 1)))

    def named(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def event(
        self, event: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = 5
    ) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for data in self.named(event):
                if where(data):
                    return data
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no {event!r}; got {[n for n, _ in self.events]}")
            await asyncio.sleep(0.02)

    async def caught_up(self, seq: int, timeout: float = 5) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.board is None or self.board.seq < seq:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the mirror is at {self.board and self.board.seq}, not {seq}")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


@pytest.fixture
async def clients(server: RunningServer) -> AsyncIterator[Callable[..., Any]]:
    await upload_document(server.service)
    made: list[Client] = []

    async def make(room: str, role: Role = Role.PARTICIPANT, name: str = "") -> Client:
        client = Client(server.url)
        made.append(client)
        return await client.join(room, role, name)

    yield make
    for client in made:
        await client.close()


def code(reply: dict[str, Any]) -> str:
    assert reply["ok"] is False, reply
    assert reply["error"]["message"], "an error must say what is wrong"
    return str(reply["error"]["code"])


async def live_seq(server: RunningServer, room: str) -> int:
    return (await server.service.board.board(RoomId(room))).seq


# -- operations -----------------------------------------------------------------------------


async def test_a_push_is_acknowledged_with_its_number_and_broadcast_to_the_others(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    alice = await clients("push", name="앨리스")
    bob = await clients("push", name="밥")
    reply = await alice.op("push", panel=copy.deepcopy(KPI))
    assert reply["ok"] is True
    sent = reply["op"]
    assert (sent["seq"], sent["type"], sent["by"]) == (1, "push", alice.joined["self"]["id"])
    assert sent["byName"] == "앨리스" and sent["payload"]["panel"]["title"] == "도봉구 확진자"
    received = await bob.event("board-op")
    assert received == sent
    await asyncio.sleep(0.1)
    assert alice.named("board-op") == []  # the sender has its acknowledgement, not an echo
    stored = await server.service.board.store.timeline("push")
    assert stored == [sent]


async def test_a_late_joiner_gets_the_board_and_feed_values_in_its_join_reply(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    alice = await clients("late", name="앨리스")
    await server.service.board.store.put_feed_values("covid/dobong", [{"cases": 7}], keep=10)
    panel_id = await alice.push({**KPI, "feed": "covid/dobong"})
    await alice.op("layout", layout=2)
    late = await clients("late", name="늦은 사람")
    board = late.joined["board"]
    assert (board["seq"], board["layout"]) == (2, 2)
    assert [p["id"] for p in board["panels"]] == [panel_id]
    assert board["panels"][0]["feed"] == "covid/dobong"
    assert late.joined["feeds"] == {"covid/dobong": [{"cases": 7}]}


async def test_board_snapshot_returns_the_same_board_as_the_live_one(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    alice = await clients("snap", name="앨리스")
    first = await alice.push(KPI)
    await alice.push(DOCUMENT)
    await alice.op("focus", panelId=first)
    reply = await alice.call("board-snapshot", {})
    assert reply["ok"] is True
    live = (await server.service.board.board(RoomId("snap"))).to_dict()
    assert reply["board"] == live and reply["board"]["seq"] == 3
    assert reply["feeds"] == {}
    assert alice.board is not None and alice.board.to_dict() == live
    assert code(await alice.call("board-snapshot", {"x": 1})) == "invalid_field"


async def test_a_snapshot_before_joining_is_refused(server: RunningServer) -> None:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(server.url, transports=["websocket"])
    try:
        assert code(await sio.call("board-snapshot", {}, timeout=10)) == "not_in_room"
        assert code(await sio.call("board-op", {"type": "clear"}, timeout=10)) == "not_in_room"
    finally:
        await sio.disconnect()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"type": "push", "panel": {"kind": "iframe", "title": "x", "data": {}}}, "invalid_panel"),
        ({"type": "push", "panel": {**KPI, "data": {"items": "many"}}}, "invalid_panel"),
        ({"type": "push", "panel": {**KPI, "title": "a\u0000b"}}, "invalid_panel"),
        ({"type": "push"}, "invalid_panel"),
        ({"type": "explode"}, "invalid_panel"),
        ({"type": "layout", "layout": 5}, "invalid_panel"),
        ({"type": "remove", "panelId": "nope"}, "panel_not_found"),
        ({"type": "update", "panelId": "nope", "title": "x"}, "panel_not_found"),
        ({"type": "update", "panelId": "OTHER", "title": "가로채기"}, "forbidden"),
        ({"type": "remove", "panelId": "OTHER"}, "forbidden"),
        ({"type": "clear"}, "forbidden"),
        ({"title": "no type"}, "missing_field"),
        ({"type": 5}, "invalid_field"),
    ],
)
async def test_a_refused_operation_gets_a_code_and_the_number_does_not_advance(
    server: RunningServer, clients: Callable[..., Any], payload: dict[str, Any], expected: str
) -> None:
    owner = await clients("refuse", name="주인")
    other = await clients("refuse", name="다른 사람")
    owners_panel = await owner.push(KPI)
    payload = {k: (owners_panel if v == "OTHER" else v) for k, v in payload.items()}
    before = (await server.service.board.board(RoomId("refuse"))).to_dict()
    assert code(await other.call("board-op", payload)) == expected
    assert (await server.service.board.board(RoomId("refuse"))).to_dict() == before
    assert [op["seq"] for op in await server.service.board.store.timeline("refuse")] == [1]
    await asyncio.sleep(0.1)
    assert owner.named("board-op") == []  # nothing was broadcast
    assert (await other.op("layout", layout=1))["op"]["seq"] == 2  # the next one follows


async def test_a_viewer_may_not_push(server: RunningServer, clients: Callable[..., Any]) -> None:
    viewer = await clients("viewers", Role.VIEWER, name="시청자")
    assert code(await viewer.op("push", panel=copy.deepcopy(KPI))) == "forbidden"
    assert await live_seq(server, "viewers") == 0


async def test_owners_change_their_panels_and_moderators_any(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    host = await clients("owners", Role.HOST, name="시장")
    alice = await clients("owners", name="앨리스")
    panel_id = await alice.push(DOCUMENT)
    assert (await alice.op("page", panelId=panel_id, page=2))["ok"]
    assert (await alice.op("resize", panelId=panel_id, size={"w": 2, "h": 1}))["ok"]
    assert (await host.op("update", panelId=panel_id, title="시장이 바꾼 제목"))["ok"]
    assert (await host.op("move", panelId=panel_id, index=0))["ok"]
    assert (await host.op("clear"))["ok"]
    assert (await server.service.board.board(RoomId("owners"))).panels == {}
    assert await live_seq(server, "owners") == 6


async def test_a_note_reaches_the_others_as_sanitised_html(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    alice = await clients("notes", name="앨리스")
    bob = await clients("notes", name="밥")
    markdown = (
        "# 긴급\n\n<script>alert('x')</script>\n\n"
        "[click](javascript:alert(1)) and [site](https://seoul.go.kr)\n\n"
        '<img src=x onerror="alert(2)">\n\n**굵게**'
    )
    note = {"kind": "note", "title": "<b>제목</b>", "data": {"markdown": markdown}}
    panel_id = await alice.push(note)
    received = await bob.event("board-op")
    data = received["payload"]["panel"]["data"]
    html = data["html"]
    assert data["markdown"] == markdown  # the source stays as written
    assert "<script" not in html.lower()
    assert "<img" not in html.lower() and not re.search(r"<[^>]*onerror", html, re.I)
    assert "&lt;script&gt;" in html  # what was markup arrives as text
    assert 'href="javascript:' not in html.lower()
    assert '<a href="https://seoul.go.kr"' in html and "<strong>굵게</strong>" in html
    assert "<h1>긴급</h1>" in html
    assert received["payload"]["panel"]["title"] == "<b>제목</b>"  # text, the screen escapes it
    # an update renders again
    reply = await alice.op(
        "update", panelId=panel_id, data={"markdown": "<script>x</script>[a](javascript:x)"}
    )
    assert reply["ok"] is True
    updated = (await bob.event("board-op", lambda op: op["seq"] == 2))["payload"]["data"]["html"]
    assert "<script" not in updated.lower() and 'href="javascript:' not in updated.lower()
    live = await server.service.board.board(RoomId("notes"))
    assert live.panel(panel_id).data["html"] == updated


async def test_a_failing_store_refuses_the_operation_and_broadcasts_nothing(
    server: RunningServer, clients: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored first, then acknowledged and broadcast: an operation the store did not take
    never reaches a screen and does not take a number."""
    alice = await clients("down", name="앨리스")
    bob = await clients("down", name="밥")
    await alice.push(KPI)
    await bob.event("board-op")

    async def unavailable(*args: Any) -> None:
        raise StoreUnavailableError("the board store cannot be reached")

    monkeypatch.setattr(server.service.board.store, "commit_op", unavailable)
    assert code(await alice.op("layout", layout=1)) == "store_unavailable"
    await asyncio.sleep(0.1)
    assert len(bob.named("board-op")) == 1
    assert await live_seq(server, "down") == 1
    assert (await server.service.board.board(RoomId("down"))).layout == 4
    monkeypatch.undo()
    assert (await alice.op("layout", layout=1))["op"]["seq"] == 2


async def test_screens_applying_every_operation_converge_to_the_servers_board(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    host = await clients("converge", Role.HOST, name="시장")
    alice = await clients("converge", name="앨리스")
    bob = await clients("converge", name="밥")
    wall = await clients("converge", Role.VIEWER, name="상황판")  # watches only
    shared = await alice.push(DOCUMENT)
    await bob.caught_up(1)

    async def edits(client: Client, label: str) -> None:
        own = await client.push(KPI)
        for n in range(6):
            await client.op("update", panelId=own, title=f"{label} {n}")
            await client.op("move", panelId=own, index=n % 3)
            # both edit the shared panel: a participant who does not own it is refused
            await client.op("page", panelId=shared, page=1 + n % 3)
            await client.op("update", panelId=shared, title=f"{label} 공유 {n}")

    await asyncio.gather(edits(alice, "A"), edits(bob, "B"), edits(host, "H"))
    await host.op("focus", panelId=shared)
    final = await live_seq(server, "converge")
    live = (await server.service.board.board(RoomId("converge"))).to_dict()
    for client in (host, alice, bob, wall):
        await client.caught_up(final)
        assert client.board is not None and client.board.to_dict() == live
    assert (await host.call("board-snapshot", {}))["board"] == live
    # a screen joining now gets the same board from its snapshot alone
    late = await clients("converge", Role.VIEWER, name="늦은 상황판")
    assert late.joined["board"] == live
    # the shared panel's title is the last accepted update in the server's order
    timeline = await server.service.board.store.timeline("converge", limit=10_000)
    titles = [
        op["payload"]["title"]
        for op in timeline
        if op["type"] == "update" and op["payload"]["panelId"] == shared
    ]
    assert next(p for p in live["panels"] if p["id"] == shared)["title"] == titles[-1]
    assert [op["seq"] for op in timeline] == list(range(1, final + 1))


async def test_a_reconnecting_screen_asks_for_a_snapshot_and_continues(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    alice = await clients("again", name="앨리스")
    wall = await clients("again", Role.VIEWER, name="상황판")
    await alice.push(KPI)
    await wall.caught_up(1)
    await wall.close()
    await alice.push(NOTE)  # missed by the wall: a gap
    await alice.op("layout", layout=6)
    back = await clients("again", Role.VIEWER, name="상황판")
    assert back.joined["board"]["seq"] == 3
    await alice.op("layout", layout=1)
    await back.caught_up(4)
    live = (await server.service.board.board(RoomId("again"))).to_dict()
    assert back.board is not None and back.board.to_dict() == live


async def test_a_room_restricted_by_policy_refuses_a_participants_push(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    host = await clients("policy", Role.HOST, name="시장")
    alice = await clients("policy", name="앨리스")
    room = server.service.rooms[RoomId("policy")].room
    room.policy = dataclasses.replace(room.policy, board_moderators_only=True)
    assert code(await alice.op("push", panel=copy.deepcopy(KPI))) == "forbidden"
    assert (await host.op("push", panel=copy.deepcopy(KPI)))["op"]["seq"] == 1


async def test_set_room_board_moderators_only_makes_a_participants_push_forbidden(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    host = await clients("restrict", Role.HOST, name="시장")
    alice = await clients("restrict", name="앨리스")
    assert (await alice.op("push", panel=copy.deepcopy(KPI)))["ok"] is True
    reply = await host.call("set-room", {"boardModeratorsOnly": True})
    assert reply["ok"] is True, reply
    assert reply["room"]["boardModeratorsOnly"] is True
    assert code(await alice.op("push", panel=copy.deepcopy(KPI))) == "forbidden"
    assert (await host.op("push", panel=copy.deepcopy(KPI)))["op"]["seq"] == 2
    assert (await host.call("set-room", {"boardModeratorsOnly": False}))["ok"] is True
    assert (await alice.op("push", panel=copy.deepcopy(KPI)))["op"]["seq"] == 3


# -- the pointer ----------------------------------------------------------------------------


async def test_the_pointer_is_relayed_to_the_others_and_not_stored(
    server: RunningServer, clients: Callable[..., Any]
) -> None:
    host = await clients("pointer", Role.HOST, name="시장")
    wall = await clients("pointer", Role.VIEWER, name="상황판")
    panel_id = await host.push(KPI)
    reply = await host.call("board-pointer", {"panelId": panel_id, "x": 0.25, "y": 1})
    assert reply == {"ok": True}
    seen = await wall.event("board-pointer")
    assert seen == {"panelId": panel_id, "x": 0.25, "y": 1, "visible": True, "by": "시장"}
    await asyncio.sleep(0.1)
    assert host.named("board-pointer") == []
    assert await live_seq(server, "pointer") == 1
    assert len(await server.service.board.store.timeline("pointer")) == 1


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"panelId": "PANEL", "x": 1.5, "y": 0}, "invalid_field"),
        ({"panelId": "PANEL", "x": "0.5", "y": 0}, "invalid_field"),
        ({"panelId": "PANEL", "x": True, "y": 0}, "invalid_field"),
        ({"panelId": "PANEL", "x": 0, "y": 0, "visible": "no"}, "invalid_field"),
        ({"panelId": "PANEL", "x": 0, "y": 0, "colour": "red"}, "invalid_field"),
        ({"panelId": "nope", "x": 0, "y": 0}, "panel_not_found"),
    ],
)
async def test_a_malformed_pointer_is_refused(
    clients: Callable[..., Any], payload: dict[str, Any], expected: str
) -> None:
    host = await clients("pointing", Role.HOST, name="시장")
    wall = await clients("pointing", Role.VIEWER, name="상황판")
    panel_id = await host.push(KPI)
    payload = {k: (panel_id if v == "PANEL" else v) for k, v in payload.items()}
    assert code(await host.call("board-pointer", payload)) == expected
    await asyncio.sleep(0.1)
    assert wall.named("board-pointer") == []


# -- restart with Redis and the admin timeline --------------------------------------------

API_KEY = "admin-key-for-board-tests"


@contextlib.asynccontextmanager
async def node(tmp_path: Path, **overrides: object) -> AsyncIterator[RunningServer]:
    async with running_server(tmp_path, security__admin_api_key=API_KEY, **overrides) as server:
        yield server


async def api(method: str, url: str, key: str | None = API_KEY, **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, **kwargs) as response,
    ):
        return response.status, await response.json()


async def test_the_board_survives_a_restart_with_redis(tmp_path: Path, redis_server: str) -> None:
    client = aioredis.from_url(redis_server)
    await client.flushdb()
    await client.aclose()
    async with node(tmp_path, redis__url=redis_server) as first:
        await upload_document(first.service)
        status, _ = await api("POST", f"{first.url}/api/rooms", json={"roomId": "kept-board"})
        assert status == 201
        host = Client(first.url)
        try:
            await host.join("kept-board", Role.HOST, "시장")
            kept = await host.push(KPI)
            doc = await host.push(DOCUMENT)
            await host.op("page", panelId=doc, page=3)
            await host.op("focus", panelId=kept)
            before = (await host.call("board-snapshot", {}))["board"]
        finally:
            await host.close()

    async with node(tmp_path, redis__url=redis_server) as second:
        late = Client(second.url)
        try:
            await late.join("kept-board", Role.VIEWER, "상황판")
            assert late.joined["board"] == before
            assert before["seq"] == 4 and before["focus"] == kept
            status, body = await api("GET", f"{second.url}/api/rooms/kept-board/board/timeline")
            assert status == 200
            assert [op["seq"] for op in body["operations"]] == [1, 2, 3, 4]
            # and numbering goes on where the first node stopped
            moderator = Client(second.url)
            try:
                await moderator.join("kept-board", Role.MODERATOR, "사회자")
                assert (await moderator.op("layout", layout=1))["op"]["seq"] == 5
            finally:
                await moderator.close()
        finally:
            await late.close()


async def test_the_admin_api_lists_the_board_timeline_in_order_with_who_and_when(
    tmp_path: Path,
) -> None:
    async with node(tmp_path) as running:
        status, _ = await api("POST", f"{running.url}/api/rooms", json={"roomId": "briefing"})
        assert status == 201
        url = f"{running.url}/api/rooms/briefing/board/timeline"
        status, body = await api("GET", url)
        assert (status, body) == (200, {"room": "briefing", "operations": []})
        host, alice = Client(running.url), Client(running.url)
        try:
            await host.join("briefing", Role.HOST, "시장")
            await alice.join("briefing", Role.PARTICIPANT, "앨리스")
            started = time.time()
            panel_id = await alice.push(KPI)
            await host.op("focus", panelId=panel_id)
            await alice.op("update", panelId=panel_id, title="새 제목")
            await host.op("clear")
        finally:
            await host.close()
            await alice.close()
        status, body = await api("GET", url)
        assert status == 200 and body["room"] == "briefing"
        ops = body["operations"]
        assert [(op["seq"], op["type"], op["byName"]) for op in ops] == [
            (1, "push", "앨리스"),
            (2, "focus", "시장"),
            (3, "update", "앨리스"),
            (4, "clear", "시장"),
        ]
        assert all(started - 1 <= op["at"] <= time.time() for op in ops)
        assert [op["at"] for op in ops] == sorted(op["at"] for op in ops)
        assert ops[0]["by"] == ops[2]["by"] != ops[1]["by"]
        status, body = await api("GET", f"{url}?after=2")
        assert [op["seq"] for op in body["operations"]] == [3, 4]
        status, body = await api("GET", f"{url}?after=two")
        assert status == 400 and body["error"]["code"] == "invalid_field"
        status, body = await api("GET", f"{running.url}/api/rooms/nope/board/timeline")
        assert status == 404 and body["error"]["code"] == "room_not_found"
        status, body = await api("GET", url, key="wrong")
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
