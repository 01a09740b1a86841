"""Data feeds over HTTP: an authorised system posts values (one or a batch) to a channel; every
screen whose board shows that channel gets them at once; the last values are kept, so a screen
joining later starts with them. Wrong keys, a disabled feed API, bad JSON and bad channels are
refused with a status and a code."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from conference import Org, Role, mint_token
from signaling import PROTOCOL_VERSION
from tests.conftest import TEST_SECRET, RunningServer, running_server

FEED_KEY = "feed-key-for-tests"
CHANNEL = "covid/dobong"
KPI = {
    "kind": "kpi",
    "title": "도봉구 확진자",
    "data": {"items": [{"label": "확진자", "value": 0, "unit": "명"}]},
    "feed": CHANNEL,
}


@contextlib.asynccontextmanager
async def running(tmp_path: Path, **overrides: object) -> AsyncIterator[RunningServer]:
    async with running_server(tmp_path, **overrides) as server:
        yield server


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running(tmp_path, security__feed_key=FEED_KEY) as server:
        yield server


async def send(
    method: str,
    url: str,
    key: str | None = FEED_KEY,
    headers_extra: dict[str, str] | None = None,
    **kwargs: Any,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    headers.update(headers_extra or {})
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, **kwargs) as response,
    ):
        return response.status, await response.json()


class Screen:
    """A joined Socket.IO client that records what the server sends."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.joined: dict[str, Any] = {}

        @self.sio.on("*")  # type: ignore[untyped-decorator]
        async def record(event: str, data: Any = None) -> None:
            self.events.append((event, data))

    async def join(self, url: str, room: str, role: Role, name: str) -> Screen:
        await self.sio.connect(url, transports=["websocket"])
        token = mint_token(
            TEST_SECRET,
            room=room,
            name=name,
            org=Org.parse("district:도봉구"),
            role=role,
            now=time.time(),
            ttl_seconds=600,
        )
        payload = {"protocol": PROTOCOL_VERSION, "room": room, "token": token}
        self.joined = await self.sio.call("join", {**payload, "autoSubscribe": False}, timeout=10)
        assert self.joined["ok"] is True, self.joined
        return self

    def named(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def event(self, event: str, count: int = 1, timeout: float = 5) -> list[Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.named(event)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no {event!r}; got {[n for n, _ in self.events]}")
            await asyncio.sleep(0.02)
        return self.named(event)


@pytest.fixture
async def screens(node: RunningServer) -> AsyncIterator[Callable[..., Any]]:
    made: list[Screen] = []

    async def make(room: str, role: Role = Role.HOST, name: str = "") -> Screen:
        screen = Screen()
        made.append(screen)
        return await screen.join(node.url, room, role, name or f"{room} {role.value}")

    yield make
    for screen in made:
        with contextlib.suppress(Exception):
            await screen.sio.disconnect()


async def bound_board(screens: Callable[..., Any], room: str) -> Screen:
    """A host in ``room`` who pushed a KPI panel bound to covid/dobong."""
    host: Screen = await screens(room)
    reply = await host.sio.call("board-op", {"type": "push", "panel": copy.deepcopy(KPI)})
    assert reply["ok"] is True, reply
    return host


def feed_url(node: RunningServer, channel: str = CHANNEL) -> str:
    return f"{node.url}/api/feeds/{channel}"


async def test_a_posted_value_reaches_every_screen_showing_the_channel(
    node: RunningServer, screens: Callable[..., Any]
) -> None:
    host = await bound_board(screens, "situation")
    wall: Screen = await screens("situation", Role.VIEWER, "상황판")
    elsewhere: Screen = await screens("other-room")  # no panel bound to the channel
    before = time.time()
    status, body = await send("POST", feed_url(node), json={"cases": 12, "district": "도봉구"})
    assert (status, body) == (202, {"accepted": 1, "rooms": 1})
    for screen in (host, wall):
        (message,) = await screen.event("feed")
        assert message["channel"] == CHANNEL
        (value,) = message["values"]
        assert (value["cases"], value["district"]) == (12, "도봉구")
        assert before - 1 <= value["at"] <= time.time()  # stamped on arrival
    await asyncio.sleep(0.1)
    assert elsewhere.named("feed") == []


async def test_a_batch_is_accepted_and_sent_in_order(
    node: RunningServer, screens: Callable[..., Any]
) -> None:
    host = await bound_board(screens, "batch")
    values = [{"cases": n, "at": 1000.0 + n} for n in range(5)]
    status, body = await send("POST", feed_url(node), json={"values": values})
    assert (status, body) == (202, {"accepted": 5, "rooms": 1})
    (message,) = await host.event("feed")
    assert message == {"channel": CHANNEL, "values": values}  # a given time is kept


async def test_the_last_values_are_kept_and_read_back(node: RunningServer) -> None:
    for start in (0, 100, 200):
        values = [{"n": n} for n in range(start, start + 100)]
        status, _ = await send("POST", feed_url(node), json={"values": values})
        assert status == 202  # no room shows it yet: stored all the same
    status, body = await send("GET", feed_url(node))
    assert status == 200
    assert [v["n"] for v in body["values"]] == list(range(200, 300))  # the newest, in order
    status, body = await send("GET", feed_url(node, "river/jungnangcheon"))
    assert (status, body) == (200, {"values": []})


async def test_a_screen_joining_later_starts_with_the_channels_last_values(
    node: RunningServer, screens: Callable[..., Any]
) -> None:
    await bound_board(screens, "later")
    for cases in (3, 5, 8):
        status, _ = await send("POST", feed_url(node), json={"cases": cases})
        assert status == 202
    await send("POST", feed_url(node, "unrelated/channel"), json={"x": 1})
    late: Screen = await screens("later", Role.VIEWER, "늦은 상황판")
    feeds = late.joined["feeds"]
    assert list(feeds) == [CHANNEL]
    assert [v["cases"] for v in feeds[CHANNEL]] == [3, 5, 8]
    snapshot = await late.sio.call("board-snapshot", {}, timeout=10)
    assert snapshot["feeds"] == feeds


async def test_a_panel_bound_later_gets_the_values_from_then_on(
    node: RunningServer, screens: Callable[..., Any]
) -> None:
    host: Screen = await screens("rebind")
    panel = {key: value for key, value in KPI.items() if key != "feed"}
    pushed = await host.sio.call("board-op", {"type": "push", "panel": panel}, timeout=10)
    status, body = await send("POST", feed_url(node), json={"cases": 1})
    assert body["rooms"] == 0
    panel_id = pushed["op"]["payload"]["panel"]["id"]
    bind = {"type": "update", "panelId": panel_id, "feed": CHANNEL}
    assert (await host.sio.call("board-op", bind, timeout=10))["ok"] is True
    status, body = await send("POST", feed_url(node), json={"cases": 2})
    assert (status, body["rooms"]) == (202, 1)
    (message,) = await host.event("feed")
    assert message["values"][0]["cases"] == 2


@pytest.mark.parametrize("key", ["wrong-key", "", None, FEED_KEY + "x"])
async def test_a_wrong_or_missing_key_is_refused(
    node: RunningServer, key: str | None, screens: Callable[..., Any]
) -> None:
    host = await bound_board(screens, "keys")
    status, body = await send("POST", feed_url(node), key=key, json={"cases": 1})
    assert status == 401 and body["error"]["code"] == "invalid_feed_key"
    status, body = await send("GET", feed_url(node), key=key)
    assert status == 401
    await asyncio.sleep(0.1)
    assert host.named("feed") == []
    assert await node.service.board.store.feed_values(CHANNEL, 10) == []


async def test_without_a_feed_key_the_feed_api_is_disabled(tmp_path: Path) -> None:
    async with running(tmp_path, security__feed_key="") as plain:
        status, body = await send("POST", feed_url(plain), key="anything", json={"cases": 1})
        assert status == 403 and body["error"]["code"] == "feeds_disabled"
        status, body = await send("POST", feed_url(plain), key="", json={"cases": 1})
        assert status == 403
        status, body = await send("GET", feed_url(plain), key="anything")
        assert status == 403
        assert await plain.service.board.store.feed_values(CHANNEL, 10) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "invalid_payload"),
        (b'"text"', "invalid_payload"),
        (b"null", "invalid_payload"),
        (b'{"values": "many"}', "invalid_payload"),
        (b'{"values": [{"a": 1}, 2]}', "invalid_payload"),
        (b'{"values": []}', "invalid_payload"),
        (b'{"values": [' + b",".join([b'{"n": 1}'] * 101) + b"]}", "invalid_payload"),
    ],
)
async def test_a_malformed_body_is_refused(node: RunningServer, body: bytes, expected: str) -> None:
    status, reply = await send("POST", feed_url(node), data=body)
    assert status == 400 and reply["error"]["code"] == expected
    assert reply["error"]["message"]
    assert await node.service.board.store.feed_values(CHANNEL, 10) == []


async def test_a_body_too_large_is_refused(node: RunningServer) -> None:
    status, reply = await send("POST", feed_url(node), data=b'{"x": "' + b"a" * 300_000 + b'"}')
    assert status == 413 and reply["error"]["code"] == "payload_too_large"


async def test_a_full_batch_just_under_the_size_limit_is_accepted(node: RunningServer) -> None:
    values = [{"n": n, "text": "가" * 800} for n in range(100)]  # about 250 KB of UTF-8 JSON
    body = json.dumps({"values": values}, ensure_ascii=False).encode()
    assert 200_000 < len(body) < 256 * 1024
    status, reply = await send(
        "POST", feed_url(node), data=body, headers_extra={"Content-Type": "application/json"}
    )
    assert (status, reply.get("accepted")) == (202, 100), reply


async def test_a_batch_of_a_hundred_values_is_accepted(node: RunningServer) -> None:
    values = [{"n": n, "label": "도봉구 " * 10} for n in range(100)]
    status, reply = await send("POST", feed_url(node), json={"values": values})
    assert (status, reply["accepted"]) == (202, 100)


@pytest.mark.parametrize("channel", ["Covid/Dobong", "covid%20dobong", "코로나"])
async def test_a_channel_name_outside_the_route_is_not_found(
    node: RunningServer, channel: str
) -> None:
    status, _ = await post_raw(f"{node.url}/api/feeds/{channel}")
    assert status == 404


@pytest.mark.parametrize("channel", ["covid//dobong", "covid/", "a/b/c/d/e", "x" * 41, "-x"])
async def test_a_bad_channel_name_is_refused_with_400(node: RunningServer, channel: str) -> None:
    status, body = await post_raw(f"{node.url}/api/feeds/{channel}")
    assert status == 400 and body["error"]["code"] == "invalid_feed"


async def post_raw(url: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, headers={"Authorization": f"Bearer {FEED_KEY}"}, json={"cases": 1}
        ) as response,
    ):
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
async def test_a_non_finite_number_is_refused(node: RunningServer, token: bytes) -> None:
    status, reply = await send("POST", feed_url(node), data=b'{"cases": ' + token + b"}")
    assert status == 400, reply
    assert await node.service.board.store.feed_values(CHANNEL, 10) == []
