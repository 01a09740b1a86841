"""The mayor's wall over Socket.IO: pairing codes (asked for, entered by a host, wrong or expired
ones refused, guessing rate limited), the display token it receives (joins as a display,
refused once unpaired), the wall layout (moderators only, validated, in every snapshot,
broadcast, kept in Redis across a restart), and the admin API's pairing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conference import Role
from signaling.walls import CODE_ALPHABET, CODE_LENGTH, normalise_code
from tests.conftest import RunningServer, running_server
from tests.signaling.meeting_clients import Peer, Peers, code, ok

ROOM = "mayor"
API_KEY = "admin-key-for-wall-tests"


@pytest.fixture
async def peers(server: RunningServer) -> AsyncIterator[Peers]:
    pool = Peers(server)
    yield pool
    await pool.close()


async def host_in(peers: Peers, room: str = ROOM, role: Role = Role.HOST) -> Peer:
    host = await peers()
    ok(await host.join(room, role=role, name="김시장"))
    return host


async def paired_wall(peers: Peers, host: Peer) -> tuple[Peer, dict[str, Any]]:
    """A wall connection that asked for a code and was paired by ``host``; the wall-paired
    message it received."""
    wall = await peers()
    hello = ok(await wall.call("wall-hello", {}))
    ok(await host.call("pair-wall", {"code": hello["code"], "name": "시장실 벽면"}))
    paired = await wall.event("wall-paired")
    return wall, paired


def test_codes_are_read_as_typed() -> None:
    assert normalise_code(" ab3-k7x ") == "AB3K7X"
    assert normalise_code("AB3K7") is None
    assert normalise_code("AB3K7O") is None  # no O, 0, I or 1 in codes
    assert normalise_code("가나다라마바") is None


async def test_a_host_pairs_a_wall_by_its_code_and_the_wall_joins_as_a_display(
    peers: Peers,
) -> None:
    host = await host_in(peers)
    wall = await peers()
    hello = ok(await wall.call("wall-hello", {}))
    assert len(hello["code"]) == CODE_LENGTH and set(hello["code"]) <= set(CODE_ALPHABET)
    assert hello["expiresAt"] > 0 and hello["ttlSeconds"] == 600

    # typed in lower case with a dash: still the code
    typed = hello["code"][:3].lower() + "-" + hello["code"][3:].lower()
    reply = ok(await host.call("pair-wall", {"code": typed, "name": "시장실 벽면"}))
    assert reply["wall"]["name"] == "시장실 벽면" and reply["wall"]["online"] is False
    paired = await wall.event("wall-paired")
    assert paired["room"] == ROOM and paired["wallId"] == reply["wall"]["id"]

    snapshot = ok(await wall.join(ROOM, token=paired["token"]))
    assert snapshot["self"]["role"] == "display"
    assert snapshot["wallLayout"] == {"layout": "grid", "spotlight": None}
    assert [p["name"] for p in snapshot["participants"]] == ["김시장"]  # a wall is not a person
    updated = await host.event("walls-updated", lambda d: d["walls"] and d["walls"][0]["online"])
    assert updated["walls"][0]["id"] == paired["wallId"]
    listed = ok(await host.call("list-walls", {}))["walls"]
    assert [(w["id"], w["online"]) for w in listed] == [(paired["wallId"], True)]

    # a code works once
    assert code(await host.call("pair-wall", {"code": hello["code"]})) == "wrong_code"


async def test_a_wrong_code_is_refused_and_guessing_is_rate_limited(peers: Peers) -> None:
    host = await host_in(peers)
    wall = await peers()
    hello = ok(await wall.call("wall-hello", {}))
    wrong = "ZZZZZZ" if hello["code"] != "ZZZZZZ" else "YYYYYY"
    assert code(await host.call("pair-wall", {"code": wrong})) == "wrong_code"
    assert code(await host.call("pair-wall", {"code": "not a code"})) == "wrong_code"
    refusals = [code(await host.call("pair-wall", {"code": wrong})) for _ in range(6)]
    assert "rate_limited" in refusals
    # once limited, even the right code is refused on this connection
    assert code(await host.call("pair-wall", {"code": hello["code"]})) == "rate_limited"
    assert not wall.named("wall-paired")


async def test_only_hosts_and_moderators_pair_walls(peers: Peers) -> None:
    await host_in(peers)
    wall = await peers()
    hello = ok(await wall.call("wall-hello", {}))
    for role in (Role.PARTICIPANT, Role.VIEWER):
        someone = await peers()
        ok(await someone.join(ROOM, role=role))
        assert code(await someone.call("pair-wall", {"code": hello["code"]})) == "forbidden"
    stranger = await peers()
    assert code(await stranger.call("pair-wall", {"code": hello["code"]})) == "not_in_room"
    moderator = await host_in(peers, role=Role.MODERATOR)
    ok(await moderator.call("pair-wall", {"code": hello["code"]}))


async def test_an_expired_code_is_refused(tmp_path: Path) -> None:
    async with running_server(tmp_path, wall__pairing_code_seconds=1) as server:
        pool = Peers(server)
        try:
            host = await host_in(pool)
            wall = await pool()
            hello = ok(await wall.call("wall-hello", {}))
            assert hello["ttlSeconds"] == 1
            await asyncio.sleep(1.3)
            assert code(await host.call("pair-wall", {"code": hello["code"]})) == "wrong_code"
            # the wall asks again and gets a fresh code that works
            fresh = ok(await wall.call("wall-hello", {}))
            ok(await host.call("pair-wall", {"code": fresh["code"]}))
        finally:
            await pool.close()


async def test_a_joined_connection_asks_for_no_code(peers: Peers) -> None:
    host = await host_in(peers)
    assert code(await host.call("wall-hello", {})) == "already_joined"


async def test_unpairing_tells_the_wall_takes_it_out_and_revokes_its_token(
    peers: Peers,
) -> None:
    host = await host_in(peers)
    wall, paired = await paired_wall(peers, host)
    ok(await wall.join(ROOM, token=paired["token"]))
    assert code(await host.call("unpair-wall", {"wallId": "nope"})) == "unknown_wall"
    ok(await host.call("unpair-wall", {"wallId": paired["wallId"]}))
    await wall.event("wall-unpaired", lambda d: d["wallId"] == paired["wallId"])
    await wall.until_disconnected()
    assert ok(await host.call("list-walls", {}))["walls"] == []

    again = await peers()
    assert code(await again.join(ROOM, token=paired["token"])) == "wall_unpaired"


async def test_a_display_token_minted_by_hand_still_joins(peers: Peers) -> None:
    """`openroom token --role display` (no wall id): not a paired wall, not revocable here."""
    display = await peers()
    assert ok(await display.join(ROOM, role=Role.DISPLAY, name="로비 화면"))["self"]["role"] == (
        "display"
    )


async def test_hosts_switch_the_wall_layout_and_everyone_hears_it(peers: Peers) -> None:
    host = await host_in(peers)
    wall, paired = await paired_wall(peers, host)
    ok(await wall.join(ROOM, token=paired["token"]))
    participant = await peers()
    ok(await participant.join(ROOM, role=Role.PARTICIPANT, name="도봉구청"))

    reply = ok(await host.call("set-wall-layout", {"layout": "speaker"}))
    assert reply["wallLayout"]["layout"] == "speaker" and reply["wallLayout"]["by"] == "김시장"
    heard = await wall.event("wall-layout", lambda d: d["layout"] == "speaker")
    assert heard["spotlight"] is None

    spotlight = {"participantId": participant.id}
    ok(await host.call("set-wall-layout", {"layout": "spotlight", "spotlight": spotlight}))
    await wall.event("wall-layout", lambda d: d["spotlight"] == spotlight)

    refused = {
        "participant": code(await participant.call("set-wall-layout", {"layout": "grid"})),
        "wall": code(await wall.call("set-wall-layout", {"layout": "grid"})),
        "layout": code(await host.call("set-wall-layout", {"layout": "mosaic"})),
        "missing": code(await host.call("set-wall-layout", {})),
        "spotlight type": code(
            await host.call("set-wall-layout", {"layout": "spotlight", "spotlight": "x"})
        ),
        "spotlight both": code(
            await host.call(
                "set-wall-layout",
                {"layout": "spotlight", "spotlight": {"participantId": "a", "panelId": "b"}},
            )
        ),
        "nobody": code(
            await host.call(
                "set-wall-layout", {"layout": "spotlight", "spotlight": {"participantId": "x"}}
            )
        ),
        "the wall": code(
            await host.call(
                "set-wall-layout",
                {"layout": "spotlight", "spotlight": {"participantId": wall.joined["self"]["id"]}},
            )
        ),
        "no panel": code(
            await host.call(
                "set-wall-layout", {"layout": "spotlight", "spotlight": {"panelId": "p1"}}
            )
        ),
    }
    assert refused == {
        "participant": "forbidden",
        "wall": "forbidden",
        "layout": "invalid_field",
        "missing": "missing_field",
        "spotlight type": "invalid_field",
        "spotlight both": "invalid_field",
        "nobody": "not_in_room",
        "the wall": "not_in_room",
        "no panel": "panel_not_found",
    }

    board = ok(
        await host.call(
            "board-op",
            {"type": "push", "panel": {"kind": "note", "title": "공지", "data": {"markdown": "x"}}},
        )
    )
    panel = {"panelId": board["op"]["payload"]["panel"]["id"]}
    ok(await host.call("set-wall-layout", {"layout": "spotlight", "spotlight": panel}))

    # a wall that joins again (a reload) comes back in the same layout
    later = await peers()
    snapshot = ok(await later.join(ROOM, role=Role.PARTICIPANT, name="늦은 사람"))
    assert snapshot["wallLayout"]["layout"] == "spotlight"
    assert snapshot["wallLayout"]["spotlight"] == panel


async def test_pairing_and_the_layout_survive_a_restart_with_redis(
    tmp_path: Path, redis_server: str
) -> None:
    room = "mayor-redis"
    async with running_server(tmp_path, redis__url=redis_server) as server:
        pool = Peers(server)
        try:
            host = await host_in(pool, room)
            wall, paired = await paired_wall(pool, host)
            ok(await host.call("set-wall-layout", {"layout": "board"}))
        finally:
            await pool.close()
    async with running_server(tmp_path, redis__url=redis_server) as server:
        pool = Peers(server)
        try:
            wall = await pool()
            snapshot = ok(await wall.join(room, token=paired["token"]))
            assert snapshot["self"]["role"] == "display"
            assert snapshot["wallLayout"]["layout"] == "board"
            host = await host_in(pool, room)
            ok(await host.call("unpair-wall", {"wallId": paired["wallId"]}))
            again = await pool()
            assert code(await again.join(room, token=paired["token"])) == "wall_unpaired"
        finally:
            await pool.close()


async def test_the_admin_api_pairs_lists_and_unpairs_walls(tmp_path: Path) -> None:
    async with running_server(tmp_path, security__admin_api_key=API_KEY) as server:
        pool = Peers(server)
        headers = {"Authorization": f"Bearer {API_KEY}"}
        base = f"{server.url}/api/rooms/{ROOM}/walls"
        try:
            async with aiohttp.ClientSession(headers=headers) as http:
                async with http.post(f"{server.url}/api/rooms", json={"roomId": ROOM}) as r:
                    assert r.status == 201
                wall = await pool()
                hello = ok(await wall.call("wall-hello", {}))
                async with http.post(base, json={"code": "ZZZZZZ"}) as r:
                    assert r.status == 400 and (await r.json())["error"]["code"] == "wrong_code"
                async with http.post(base, json={"code": hello["code"], "name": "상황실"}) as r:
                    assert r.status == 201
                    wall_id = (await r.json())["wall"]["id"]
                paired = await wall.event("wall-paired")
                assert paired["wallId"] == wall_id
                ok(await wall.join(ROOM, token=paired["token"]))
                async with http.get(base) as r:
                    walls = (await r.json())["walls"]
                    assert [(w["name"], w["online"]) for w in walls] == [("상황실", True)]
                async with http.delete(f"{base}/{wall_id}") as r:
                    assert r.status == 200
                await wall.event("wall-unpaired")
                async with http.delete(f"{base}/{wall_id}") as r:
                    assert r.status == 404
                async with http.get(f"{server.url}/api/rooms/nowhere/walls") as r:
                    assert r.status == 404
        finally:
            await pool.close()
