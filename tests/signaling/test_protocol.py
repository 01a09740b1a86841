"""Bad input over Socket.IO: every malformed, unknown or unauthorised request gets an error
reply naming the problem, and the server's state is unchanged."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio

from conference import Org, OrgKind, Role, mint_token
from media.client import BotPublisher
from media.synthetic import encode_opus
from signaling import PROTOCOL_VERSION
from tests.conftest import TEST_SECRET, RunningServer


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[socketio.AsyncClient]:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(server.url, transports=["websocket"])
    yield sio
    await sio.disconnect()


async def call(sio: socketio.AsyncClient, event: str, payload: Any = None) -> dict[str, Any]:
    reply: dict[str, Any] = await sio.call(event, payload, timeout=10)
    return reply


def error_code(reply: dict[str, Any]) -> str:
    assert reply["ok"] is False, reply
    assert reply["error"]["message"], "an error must say what is wrong"
    return str(reply["error"]["code"])


def token_for(
    room: str, *, ttl: int = 600, now: float | None = None, secret: str = TEST_SECRET
) -> str:
    return mint_token(
        secret,
        room=room,
        name="도봉구청 재난안전과",
        org=Org(OrgKind.DISTRICT, "도봉구"),
        role=Role.PARTICIPANT,
        now=time.time() if now is None else now,
        ttl_seconds=ttl,
    )


def assert_untouched(server: RunningServer) -> None:
    assert server.service.rooms == {}
    assert server.service.sessions == {}


async def test_an_unknown_event_gets_an_unknown_event_error_and_changes_nothing(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    assert error_code(await call(client, "drop-tables", {"x": 1})) == "unknown_event"
    assert_untouched(server)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (None, "missing_field"),
        ("join me", "invalid_payload"),
        ([1, 2], "invalid_payload"),
        ({"protocol": PROTOCOL_VERSION}, "missing_field"),
        ({"protocol": PROTOCOL_VERSION, "room": 42, "name": "a"}, "invalid_field"),
        ({"protocol": PROTOCOL_VERSION, "room": "ok", "name": ["a"]}, "invalid_field"),
        ({"protocol": PROTOCOL_VERSION, "room": "ok"}, "missing_field"),
        ({"protocol": PROTOCOL_VERSION, "room": "../etc", "name": "a"}, "invalid_room"),
        ({"protocol": PROTOCOL_VERSION, "room": "ok", "name": "a", "admin": True}, "invalid_field"),
        ({"protocol": PROTOCOL_VERSION, "room": "ok", "name": "x" * 300}, "invalid_field"),
        ({"protocol": PROTOCOL_VERSION, "room": "ok", "name": "  "}, "invalid_name"),
        ({"protocol": PROTOCOL_VERSION, "room": "ok", "name": "a\u0000b"}, "invalid_name"),
        ({"protocol": 99, "room": "ok", "name": "a"}, "unsupported_protocol"),
        ({"protocol": "1", "room": "ok", "name": "a"}, "invalid_field"),
        ({"protocol": PROTOCOL_VERSION, "room": "ok", "name": "a" * 20000}, "payload_too_large"),
    ],
)
async def test_a_malformed_join_is_refused_with_a_specific_code(
    server: RunningServer, client: socketio.AsyncClient, payload: Any, code: str
) -> None:
    assert error_code(await call(client, "join", payload)) == code
    assert_untouched(server)


async def test_two_payloads_in_one_event_are_refused(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    reply: dict[str, Any] = await client.call("join", ({"a": 1}, {"b": 2}), timeout=10)
    assert error_code(reply) == "invalid_payload"
    assert_untouched(server)


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda: token_for("tokens", secret="another-secret-of-enough-length"), "invalid_token"),
        (lambda: token_for("tokens", now=time.time() - 7200, ttl=60), "token_expired"),
        (lambda: token_for("another-room"), "wrong_room"),
        (lambda: "not.a.jwt", "invalid_token"),
    ],
)
async def test_a_forged_expired_or_wrong_room_token_is_refused_with_its_reason(
    server: RunningServer, client: socketio.AsyncClient, make_token: Any, code: str
) -> None:
    payload = {"protocol": PROTOCOL_VERSION, "room": "tokens", "token": make_token()}
    assert error_code(await call(client, "join", payload)) == code
    assert_untouched(server)


async def test_a_valid_token_joins_with_its_name_organisation_and_role(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    payload = {"protocol": PROTOCOL_VERSION, "room": "tokens", "token": token_for("tokens")}
    reply = await call(client, "join", payload)
    assert reply["ok"] is True
    assert reply["self"]["name"] == "도봉구청 재난안전과"
    assert reply["self"]["org"] == {"kind": "district", "name": "도봉구"}
    assert reply["self"]["role"] == "participant"


async def test_publishing_before_joining_is_refused(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    reply = await call(client, "publish", {"sdp": "v=0\r\n"})
    assert error_code(reply) == "not_in_room"
    assert_untouched(server)


async def test_joining_twice_on_one_connection_is_refused(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    payload = {"protocol": PROTOCOL_VERSION, "room": "twice", "name": "a"}
    assert (await call(client, "join", payload))["ok"] is True
    assert error_code(await call(client, "join", payload)) == "already_joined"
    assert len(server.service.rooms["twice"].room.participants) == 1


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "hello",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",  # no media section
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n",  # no ICE, no DTLS
    ],
)
async def test_an_sdp_the_server_cannot_accept_gets_a_clear_error_and_leaves_no_media(
    server: RunningServer, client: socketio.AsyncClient, sdp: str
) -> None:
    await call(client, "join", {"protocol": PROTOCOL_VERSION, "room": "sdp", "name": "a"})
    reply = await call(client, "publish", {"sdp": sdp})
    assert error_code(reply) in {"invalid_sdp", "missing_field"}
    assert server.service.rooms["sdp"].router.producers == {}


async def test_after_a_bad_offer_a_good_one_still_publishes(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    await call(client, "join", {"protocol": PROTOCOL_VERSION, "room": "retry", "name": "a"})
    assert error_code(await call(client, "publish", {"sdp": "junk"})) == "invalid_sdp"
    publisher = BotPublisher([encode_opus(seconds=0.2)])
    try:
        offer, sources = await publisher.create_offer()
        reply = await call(client, "publish", {"sdp": offer, "sources": sources})
        assert reply["ok"] is True and reply["sdp"].startswith("v=0")
        assert len(server.service.rooms["retry"].router.producers) == 1
    finally:
        await publisher.close()


async def test_an_offer_without_a_codec_the_room_accepts_is_refused_by_name(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    await call(client, "join", {"protocol": PROTOCOL_VERSION, "room": "codec", "name": "a"})
    publisher = BotPublisher([encode_opus(seconds=0.2)])
    try:
        offer, sources = await publisher.create_offer()
        # keep only PCMU in the audio section: the room speaks Opus
        pcmu_only = re.sub(r"(m=audio \d+ UDP/TLS/RTP/SAVPF) [\d ]+", r"\1 0", offer)
        pcmu_only = re.sub(r"a=(rtpmap|fmtp|rtcp-fb):(?!0 )\d+ [^\r]*\r\n", "", pcmu_only)
        assert "SAVPF 0\r\n" in pcmu_only, "the aiortc offer format changed; update this test"
        reply = await call(client, "publish", {"sdp": pcmu_only, "sources": sources})
        assert error_code(reply) == "unsupported_codec"
        assert server.service.rooms["codec"].router.producers == {}
    finally:
        await publisher.close()


async def test_an_unknown_track_source_is_refused(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    await call(client, "join", {"protocol": PROTOCOL_VERSION, "room": "src", "name": "a"})
    reply = await call(client, "publish", {"sdp": "v=0", "sources": {"0": "<script>"}})
    assert error_code(reply) == "invalid_field"


async def test_set_media_validates_its_flags(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    await call(client, "join", {"protocol": PROTOCOL_VERSION, "room": "flags", "name": "a"})
    assert error_code(await call(client, "set-media", {"audioMuted": "yes"})) == "invalid_field"
    assert error_code(await call(client, "set-media", {})) == "missing_field"
    reply = await call(client, "set-media", {"audioMuted": True})
    assert reply["ok"] is True and reply["self"]["audioMuted"] is True


async def test_leaving_removes_the_participant_and_the_empty_room(
    server: RunningServer, client: socketio.AsyncClient
) -> None:
    await call(client, "join", {"protocol": PROTOCOL_VERSION, "room": "bye", "name": "a"})
    assert (await call(client, "leave", {}))["ok"] is True
    assert_untouched(server)


async def test_the_server_refuses_guests_when_the_setting_says_so(tmp_path: Any) -> None:
    from aiohttp import web

    from tests.conftest import free_port, make_settings
    from web.app import create_app

    port = free_port()
    app = create_app(make_settings(tmp_path, server__port=port, security__allow_guests=False))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sio = socketio.AsyncClient(reconnection=False)
    try:
        await sio.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        payload = {"protocol": PROTOCOL_VERSION, "room": "closed", "name": "guest"}
        assert error_code(await call(sio, "join", payload)) == "guests_not_allowed"
    finally:
        await sio.disconnect()
        await runner.cleanup()
