"""The mayor's wall in real Chromium: a wall is paired by its code (a wrong code refused), three
participants join, a host switches the wall to every layout and the wall follows within a
second, a spotlighted panel fills the wall, a frozen video becomes an avatar, a reloaded wall
comes back in its layout, an unpaired wall shows a new code; outside operating hours it shows
the idle screen; and when the server process restarts, the wall is back within 15 s.

With OPENROOM_SCREENSHOT_DIR set, takes the README's screenshots of each layout."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from conference import Org, Role, mint_token
from signaling.dashboards import DASHBOARDS
from tests.conftest import TEST_SECRET, RunningServer, free_port, running_server
from tests.signaling.meeting_clients import Peers, ok
from web import demo_feed

pytestmark = pytest.mark.browser

ROOM = "mayors-office"
JOINED = "() => document.body.dataset.joined === 'true'"
WALL_STATE = "(state) => document.body.dataset.state === state"
WALL_LAYOUT = "(layout) => document.querySelector('#live').dataset.layout === layout"
CODE_SHOWN = "() => (document.querySelector('#pair-code')?.dataset.code ?? '').length === 6"
FLOWING = """(n) => [...document.querySelectorAll('.wall-tile')]
    .filter(t => t.isConnected && t.dataset.video === 'flowing').length >= n"""
PEOPLE = [
    ("김시장", "city:서울특별시", Role.HOST),
    ("도봉구청 안전과", "district:도봉구", Role.PARTICIPANT),
    ("소방재난본부", "agency:서울소방", Role.PARTICIPANT),
]


def token(room: str, name: str, org: str, role: Role) -> str:
    return mint_token(
        TEST_SECRET,
        room=room,
        name=name,
        org=Org.parse(org),
        role=role,
        now=time.time(),
        ttl_seconds=3600,
    )


async def open_wall(browser: Browser, url: str) -> Page:
    context = await browser.new_context(locale="ko-KR", viewport={"width": 1600, "height": 900})
    page = await context.new_page()
    await page.goto(f"{url}/wall")
    return page


async def open_person(browser: Browser, url: str, room: str, person: tuple[str, str, Role]) -> Page:
    context = await browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{url}/r/{room}?token={token(room, *person)}")
    await page.wait_for_function(JOINED, timeout=15000)
    return page


async def shown_code(wall: Page) -> str:
    await wall.wait_for_function(CODE_SHOWN, timeout=10000)
    return str(await wall.evaluate("() => document.querySelector('#pair-code').dataset.code"))


async def screenshot(wall: Page, name: str) -> None:
    if shots := os.environ.get("OPENROOM_SCREENSHOT_DIR"):
        Path(shots).mkdir(parents=True, exist_ok=True)
        await asyncio.sleep(0.8)  # charts settle into their new size
        await wall.screenshot(path=str(Path(shots) / f"wall-{name}.png"))


async def switch(host: Page, wall: Page, layout: str, *, spotlight: str | None = None) -> float:
    """Press "show on the wall" on the host's page; seconds until the wall showed it (both
    clocks are this machine's)."""
    pressed: float = await host.evaluate(
        """([layout, spotlight]) => {
            const pressed = Date.now();
            if (spotlight === null) {
                document.querySelector(`[data-wall-layout='${layout}']`).click();
            } else {
                const select = document.querySelector('#wall-spotlight');
                select.value = spotlight;
                select.dispatchEvent(new Event('change'));
            }
            return pressed;
        }""",
        [layout, spotlight],
    )
    wanted = spotlight.split(":", 1)[1] if spotlight else None
    await wall.wait_for_function(
        """([layout, wanted]) => {
            const shown = openroom.wall.shownLayout;
            if (!shown || shown.layout !== layout) return false;
            const spot = shown.spotlight;
            return wanted === null || (spot?.participantId ?? spot?.panelId) === wanted;
        }""",
        arg=[layout, wanted],
        timeout=3000,
    )
    assert await wall.evaluate("document.querySelector('#live').dataset.layout") == layout
    shown_at: float = await wall.evaluate("openroom.wall.shownAt")
    return (shown_at - pressed) / 1000


async def ids_in(wall: Page, container: str) -> list[str]:
    result: list[str] = await wall.evaluate(
        "(c) => [...document.querySelectorAll(`${c} > .wall-tile`)]"
        ".map(t => t.dataset.participantId)",
        container,
    )
    return result


async def test_a_paired_wall_follows_the_host_through_every_layout(
    browser: Browser, server: RunningServer
) -> None:
    wall = await open_wall(browser, server.url)
    code = await shown_code(wall)
    host, dobong, fire = [await open_person(browser, server.url, ROOM, p) for p in PEOPLE]
    ids = [await page.evaluate("openroom.client.self.id") for page in (host, dobong, fire)]

    await host.click("#open-people")
    wrong = "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY"
    await host.fill("#wall-code", wrong)
    await host.click("#wall-pair")
    await host.wait_for_function(
        "() => document.querySelector('#wall-pair-result').dataset.kind === 'error'", timeout=3000
    )
    assert await host.text_content("#wall-pair-result") == "코드가 맞지 않거나 만료되었습니다."
    assert await wall.evaluate("document.body.dataset.state") == "pairing"

    await host.fill("#wall-code", code.lower())
    await host.fill("#wall-name", "시장실 벽면")
    await host.click("#wall-pair")
    await wall.wait_for_function(WALL_STATE, arg="live", timeout=10000)
    await host.wait_for_selector("#wall-list li[data-online='true']", timeout=5000)
    assert await wall.evaluate("openroom.client.self.role") == "display"
    assert await wall.evaluate("JSON.parse(localStorage.getItem('openroom.wall')).room") == ROOM
    await wall.wait_for_function(FLOWING, arg=3, timeout=30000)
    names = await wall.evaluate(
        "() => [...document.querySelectorAll('#wall-grid .wall-tile')].map(t =>"
        " [t.querySelector('.name').textContent, t.querySelector('.org').textContent])"
    )
    assert sorted(names) == sorted(
        [["김시장", "서울특별시"], ["도봉구청 안전과", "도봉구"], ["소방재난본부", "서울소방"]]
    )
    # the host's own page has not changed: the wall is not a person
    assert await host.evaluate("openroom.client.participants.size") == 2

    boards = {dashboard["id"]: dashboard["panels"] for dashboard in DASHBOARDS}
    for panel in [*boards["covid-19"], boards["river-disaster"][0]]:
        await host.evaluate("(panel) => openroom.board.operate('push', {panel})", panel)
    # live data, as the city's systems would send it: some history, then a value a second
    publish = server.service.board.publish_feed
    await demo_feed.run(publish, interval=0.02, duration=0.8)
    feed = asyncio.create_task(demo_feed.run(publish, interval=1.0))
    await dobong.click("#toggle-hand")
    await wall.wait_for_function(
        "() => !document.querySelector('#wall-hands').hidden"
        " && document.querySelector('#wall-hands').textContent.includes('도봉구청 안전과')",
        timeout=3000,
    )
    await wall.wait_for_function(
        "(id) => !document.querySelector(`[data-participant-id='${id}'] .hand`).hidden",
        arg=ids[1],
        timeout=3000,
    )
    await screenshot(wall, "grid")

    assert await switch(host, wall, "speaker") < 1.0
    assert len(await ids_in(wall, "#wall-focus")) == 1
    assert len(await ids_in(wall, "#wall-strip")) == 2
    await screenshot(wall, "speaker")

    assert await switch(host, wall, "board") < 1.0
    await wall.wait_for_function(
        "() => document.querySelectorAll('#wall-board .panel-frame:not([hidden])').length === 4",
        timeout=3000,
    )
    assert len(await ids_in(wall, "#wall-strip")) == 3
    await screenshot(wall, "board")

    assert await switch(host, wall, "split") < 1.0
    assert len(await ids_in(wall, "#wall-focus")) == 1
    assert await wall.is_visible("#wall-board .panel-frame")
    await screenshot(wall, "split")

    assert await switch(host, wall, "spotlight", spotlight=f"p:{ids[2]}") < 1.0
    assert await ids_in(wall, "#wall-focus") == [ids[2]]
    assert not await wall.is_visible("#wall-grid") and not await wall.is_visible("#wall-strip")
    await screenshot(wall, "spotlight")

    panel_id = await host.evaluate(
        "() => [...openroom.board.state.panels.values()].find(p => p.kind === 'chart').id"
    )
    assert await switch(host, wall, "spotlight", spotlight=f"panel:{panel_id}") < 1.0
    frame = wall.locator(f"#wall-board .panel-frame[data-panel-id='{panel_id}']")
    box = await frame.bounding_box()
    assert box is not None and box["width"] > 0.9 * 1600 and box["height"] > 0.8 * 900
    assert await wall.locator("#wall-board .panel-frame:not([hidden])").count() == 1
    await wall.wait_for_selector(
        f"#wall-board .panel-frame[data-panel-id='{panel_id}'] canvas", timeout=5000
    )
    await screenshot(wall, "spotlight-panel")

    # a reloaded wall comes back paired, in the same layout
    await wall.reload()
    await wall.wait_for_function(WALL_STATE, arg="live", timeout=15000)
    await wall.wait_for_function(WALL_LAYOUT, arg="spotlight", timeout=5000)
    assert await wall.locator("#wall-board .panel-frame.spot:not([hidden])").count() == 1

    # a video that stops coming: its tile shows the name and the avatar, not a frozen frame
    assert await switch(host, wall, "grid") < 1.0
    await wall.wait_for_function(FLOWING, arg=3, timeout=20000)
    await fire.evaluate(
        "() => openroom.client.publisher.getSenders()"
        ".find(s => s.track?.kind === 'video').replaceTrack(null)"
    )
    tile = f"#wall-grid .wall-tile[data-participant-id='{ids[2]}']"
    await wall.wait_for_function(
        "(s) => document.querySelector(s).classList.contains('no-video')", arg=tile, timeout=8000
    )
    assert await wall.is_visible(f"{tile} .wall-avatar")
    assert await wall.text_content(f"{tile} .avatar-name") == "소방재난본부"
    assert await wall.evaluate("(s) => document.querySelector(s).dataset.video", tile) == "off"

    # unpaired by the host: the wall forgets its token and shows a new code
    await host.click("#wall-list button.unpair")
    await wall.wait_for_function(WALL_STATE, arg="pairing", timeout=5000)
    assert await shown_code(wall) != code
    assert await wall.evaluate("localStorage.getItem('openroom.wall')") is None
    await host.wait_for_selector("#wall-list .wall-none", timeout=5000)
    feed.cancel()
    for page in (wall, host, dobong, fire):
        await page.context.close()


async def test_outside_operating_hours_the_wall_shows_a_calm_idle_screen(
    browser: Browser, tmp_path: Path
) -> None:
    now = datetime.datetime.now()
    start = (now + datetime.timedelta(hours=2)).strftime("%H:%M")
    end = (now + datetime.timedelta(hours=3)).strftime("%H:%M")
    hours = f"{start}-{end}"
    async with running_server(tmp_path, wall__operating_hours=hours) as server:
        pool = Peers(server)
        try:
            host = await pool()
            ok(await host.join(ROOM, token=token(ROOM, *PEOPLE[0])))
            kpis = [p for d in DASHBOARDS for p in d["panels"] if p["kind"] == "kpi"]
            for panel in kpis[:2]:
                ok(await host.call("board-op", {"type": "push", "panel": panel}))
            await demo_feed.run(server.service.board.publish_feed, interval=0.02, duration=0.2)
            wall = await open_wall(browser, server.url)
            code = await shown_code(wall)
            ok(await host.call("pair-wall", {"code": code, "name": "시장실 벽면"}))
            await wall.wait_for_function(WALL_STATE, arg="idle", timeout=10000)
            await wall.wait_for_function(
                "() => document.querySelectorAll('#idle-headlines .idle-panel').length === 2",
                timeout=5000,
            )
            assert await wall.text_content("#idle-status") == f"운영 시간이 아닙니다 · {hours}"
            assert await wall.evaluate("openroom.client.joined") is True
            assert not await wall.is_visible("#live")
            await screenshot(wall, "idle")
            await wall.context.close()
        finally:
            await pool.close()


async def test_a_wall_in_a_room_without_a_meeting_is_idle_until_someone_comes(
    browser: Browser, server: RunningServer
) -> None:
    pool = Peers(server)
    try:
        host = await pool()
        ok(await host.join("quiet", token=token("quiet", *PEOPLE[0])))
        wall = await open_wall(browser, server.url)
        ok(await host.call("pair-wall", {"code": await shown_code(wall)}))
        await wall.wait_for_function(WALL_STATE, arg="live", timeout=10000)  # the host is there
        await host.close()
        await wall.wait_for_function(WALL_STATE, arg="idle", timeout=server_grace(server))
        assert await wall.text_content("#idle-status") == "진행 중인 회의가 없습니다"
        someone = await open_person(browser, server.url, "quiet", PEOPLE[1])
        await wall.wait_for_function(WALL_STATE, arg="live", timeout=10000)
        await wall.wait_for_function(FLOWING, arg=1, timeout=20000)
        await someone.context.close()
        await wall.context.close()
    finally:
        await pool.close()


def server_grace(server: RunningServer) -> float:
    """Milliseconds until a dropped connection leaves the meeting, and some."""
    return (server.settings.meetings.reconnect_grace_seconds + 10) * 1000


# -- the server process restarts ------------------------------------------------------------------


class ServerProcess:
    """``python -m web.cli serve`` in its own process: started, stopped and started again."""

    def __init__(self, tmp_path: Path, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "server.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OPENROOM_")},
            "OPENROOM_SERVER_DATA_DIR": str(tmp_path / "var"),
            "OPENROOM_SECURITY_TOKEN_SECRET": TEST_SECRET,
            "OPENROOM_REDIS_URL": redis_url,
            "OPENROOM_WALL_OPERATING_HOURS": "",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "web.cli", "serve"),
                    *("--port", str(self.port), "--host", "127.0.0.1"),
                ],
                cwd=Path(__file__).resolve().parents[2],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    async def until_healthy(self, timeout: float = 20.0) -> float:
        """The time (monotonic) at which /healthz first answered."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return time.monotonic()
                if time.monotonic() > deadline:
                    raise AssertionError("the server did not answer:\n" + self.log.read_text())
                await asyncio.sleep(0.1)


@pytest.fixture
def server_process(tmp_path: Path, redis_server: str) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path, redis_server)
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def test_when_the_server_restarts_the_wall_is_back_within_15_seconds(
    browser: Browser, server_process: ServerProcess
) -> None:
    room = f"restart-{os.getpid()}-{int(time.time())}"
    await server_process.until_healthy()
    wall = await open_wall(browser, server_process.url)
    code = await shown_code(wall)
    host = await open_person(browser, server_process.url, room, PEOPLE[0])
    other = await open_person(browser, server_process.url, room, PEOPLE[1])
    await host.evaluate("(code) => openroom.client.pairWall(code, '시장실 벽면')", code)
    await wall.wait_for_function(WALL_STATE, arg="live", timeout=10000)
    await host.evaluate("() => openroom.client.setWallLayout('speaker')")
    await wall.wait_for_function(WALL_LAYOUT, arg="speaker", timeout=3000)
    await wall.wait_for_function(FLOWING, arg=2, timeout=30000)
    before: dict[str, Any] = await wall.evaluate("() => ({id: openroom.client.self.id})")

    server_process.stop()
    await wall.wait_for_function("() => !openroom.client.joined", timeout=10000)
    assert await wall.is_visible("#wall-status")  # discreet, but there
    server_process.start()
    back = await server_process.until_healthy()

    await wall.wait_for_function(
        "(old) => openroom.client.joined && openroom.client.self.id !== old",
        arg=before["id"],
        timeout=15000,
    )
    await wall.wait_for_function(WALL_STATE, arg="live", timeout=15000)
    await wall.wait_for_function(WALL_LAYOUT, arg="speaker", timeout=1000)
    remaining = 15.0 - (time.monotonic() - back)
    assert remaining > 0, "the wall took longer than 15 s to rejoin"
    await wall.wait_for_function(FLOWING, arg=1, timeout=remaining * 1000)
    assert time.monotonic() - back < 15.0
    assert await wall.is_hidden("#wall-status")
    for page in (wall, host, other):
        await page.context.close()
