"""The admin REST API: rooms and tokens behind an API key; and, with Redis, a restarted node
keeps its rooms, settings and chat history."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import socketio
from aiohttp import web

from conference import Role, verify_token
from signaling import PROTOCOL_VERSION
from tests.conftest import TEST_SECRET, free_port, make_settings
from web.app import create_app

API_KEY = "admin-key-for-tests"


class Node:
    """One openroom process (in this test process), started and stopped at will."""

    def __init__(self, tmp_path: Path, **overrides: object) -> None:
        self.port = free_port()
        self.settings = make_settings(tmp_path, server__port=self.port, **overrides)
        self.url = f"http://127.0.0.1:{self.port}"
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.runner = web.AppRunner(create_app(self.settings))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    running = Node(tmp_path, security__admin_api_key=API_KEY)
    await running.start()
    yield running
    await running.stop()


async def call(method: str, url: str, key: str | None = API_KEY, **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, **kwargs) as response,
    ):
        return response.status, await response.json()


async def test_without_a_configured_key_the_admin_api_is_disabled(tmp_path: Path) -> None:
    plain = Node(tmp_path)
    await plain.start()
    try:
        status, body = await call("GET", f"{plain.url}/api/rooms", key="anything")
        assert status == 403 and body["error"]["code"] == "admin_api_disabled"
    finally:
        await plain.stop()


async def test_a_wrong_key_is_refused(node: Node) -> None:
    status, body = await call("GET", f"{node.url}/api/rooms", key="wrong")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    status, _ = await call("GET", f"{node.url}/api/rooms", key=None)
    assert status == 401


async def test_rooms_are_created_listed_changed_and_refused_twice(node: Node) -> None:
    room = {"roomId": "flood-2026", "title": "중랑천 홍수 대책회의", "capacity": 30, "lobby": True}
    status, body = await call("POST", f"{node.url}/api/rooms", json=room)
    assert status == 201 and body["room"]["title"] == "중랑천 홍수 대책회의"
    status, body = await call("POST", f"{node.url}/api/rooms", json=room)
    assert status == 409 and body["error"]["code"] == "room_exists"
    status, body = await call("GET", f"{node.url}/api/rooms")
    assert [r["roomId"] for r in body["rooms"]] == ["flood-2026"]
    status, body = await call("PATCH", f"{node.url}/api/rooms/flood-2026", json={"locked": True})
    assert status == 200 and body["room"]["locked"] is True
    status, body = await call("GET", f"{node.url}/api/rooms/nope")
    assert status == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"roomId": "../x"}, "invalid_room"),
        ({"roomId": "ok", "capacity": "many"}, "invalid_field"),
        ({"roomId": "ok", "lobby": "yes"}, "invalid_field"),
        ({"roomId": "ok", "admin": True}, "invalid_field"),
        ({"title": "no id"}, "missing_field"),
    ],
)
async def test_a_malformed_room_is_refused_with_a_code(node: Node, body: Any, code: str) -> None:
    status, reply = await call("POST", f"{node.url}/api/rooms", json=body)
    assert status == 400 and reply["error"]["code"] == code
    _, rooms = await call("GET", f"{node.url}/api/rooms")
    assert rooms["rooms"] == []


async def test_a_body_that_is_not_json_is_refused(node: Node) -> None:
    status, reply = await call("POST", f"{node.url}/api/rooms", data=b"{not json")
    assert status == 400 and reply["error"]["code"] == "invalid_json"


async def test_a_minted_token_carries_the_room_name_organisation_and_role(node: Node) -> None:
    await call("POST", f"{node.url}/api/rooms", json={"roomId": "briefing"})
    status, body = await call(
        "POST",
        f"{node.url}/api/rooms/briefing/tokens",
        json={"name": "도봉구청장", "org": "district:도봉구", "role": "host", "ttlSeconds": 600},
    )
    assert status == 201
    claims = verify_token(TEST_SECRET, body["token"], now=time.time())
    assert (claims.room, claims.name, claims.org.name, claims.role) == (
        "briefing",
        "도봉구청장",
        "도봉구",
        Role.HOST,
    )
    assert body["url"].endswith(f"/r/briefing?token={body['token']}")
    status, body = await call("POST", f"{node.url}/api/rooms/briefing/tokens", json={"role": "x"})
    assert status == 400


async def test_a_restarted_node_with_redis_keeps_rooms_settings_and_chat(
    tmp_path: Path, redis_server: str
) -> None:
    client = aioredis.from_url(redis_server)
    await client.flushdb()
    await client.aclose()
    first = Node(tmp_path, security__admin_api_key=API_KEY, redis__url=redis_server)
    await first.start()
    sio = socketio.AsyncClient(reconnection=False)
    try:
        await call("POST", f"{first.url}/api/rooms", json={"roomId": "keep", "title": "유지"})
        await call("PATCH", f"{first.url}/api/rooms/keep", json={"moderatorsOnlyUnmute": True})
        await sio.connect(first.url, transports=["websocket"])
        join = {"protocol": PROTOCOL_VERSION, "room": "keep", "name": "기록자"}
        assert (await sio.call("join", join, timeout=10))["ok"]
        sent = await sio.call("chat", {"text": "회의록 남깁니다"}, timeout=10)
        assert sent["ok"]
    finally:
        await sio.disconnect()
        await first.stop()

    second = Node(tmp_path, security__admin_api_key=API_KEY, redis__url=redis_server)
    await second.start()
    late = socketio.AsyncClient(reconnection=False)
    try:
        status, body = await call("GET", f"{second.url}/api/rooms/keep")
        assert status == 200
        assert body["room"]["title"] == "유지" and body["room"]["moderatorsOnlyUnmute"] is True
        await late.connect(second.url, transports=["websocket"])
        join = {"protocol": PROTOCOL_VERSION, "room": "keep", "name": "늦은 사람"}
        reply = await late.call("join", join, timeout=10)
        assert [m["text"] for m in reply["chat"]] == ["회의록 남깁니다"]
    finally:
        await late.disconnect()
        await second.stop()
