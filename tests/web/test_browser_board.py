"""The shared board in real Chromium: A pushes a chart and a PDF, B renders both; A turns to
page 2 and B follows; a feed update changes a KPI on B's screen; B reloads and gets the same
board back. Also takes the README's screenshot of a living board."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from tests.conftest import RunningServer
from tests.web.test_browser_call import open_participant
from tests.web.test_documents import letter_pdf

pytestmark = pytest.mark.browser

CHART = {
    "kind": "chart",
    "title": "중랑천 수위 (m)",
    "data": {
        "type": "line",
        "categories": ["10:00", "10:10", "10:20"],
        "series": [{"name": "창동교", "values": [1.2, 1.9, 2.6]}],
        "unit": "m",
    },
}
KPI = {
    "kind": "kpi",
    "title": "코로나19 오늘",
    "feed": "covid/dobong",
    "data": {"items": [{"label": "신규 확진", "value": 10, "unit": "명"}]},
}
PANEL_TITLES = "() => [...document.querySelectorAll('#board .panel-title')].map(e => e.textContent)"


async def push(page: Page, panel: dict[str, object]) -> None:
    await page.evaluate("(panel) => openroom.board.operate('push', {panel})", panel)


async def upload_pdf(page: Page, pdf: bytes) -> dict[str, object]:
    """Upload through the page (its session authenticates it) and wait until rendered."""
    script = """async (b64) => {
      const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
      const file = new File([bytes], "회의자료.pdf", {type: "application/pdf"});
      await openroom.board.upload(file);
    }"""
    await page.evaluate(script, base64.b64encode(pdf).decode())
    return {}


async def test_a_chart_and_a_document_reach_b_and_b_follows_pages_feeds_and_reloads(
    browser: Browser, server: RunningServer, tmp_path: Path
) -> None:
    a = await open_participant(browser, server, "board", "발표자")
    b = await open_participant(browser, server, "board", "참석자")

    await push(a, CHART)
    await upload_pdf(a, letter_pdf(3))
    await push(a, KPI)
    await b.wait_for_function(
        "(n) => document.querySelectorAll('#board .panel-frame').length === n", arg=3, timeout=10000
    )
    assert set(await b.evaluate(PANEL_TITLES)) == {"중랑천 수위 (m)", "회의자료", "코로나19 오늘"}
    await b.wait_for_selector("#board .panel-frame[data-kind='chart'] canvas", timeout=5000)
    page_image = "#board .panel-frame[data-kind='document'] img.document-page"
    await b.wait_for_function(
        "(s) => { const i = document.querySelector(s);"
        " return i && i.complete && i.naturalWidth > 0 }",
        arg=page_image,
        timeout=10000,
    )

    document_id = await a.evaluate(
        "() => [...openroom.board.state.panels.values()].find(p => p.kind === 'document').id"
    )
    turned = asyncio.get_running_loop().time()
    await a.evaluate("(id) => openroom.board.operate('page', {panelId: id, page: 2})", document_id)
    await b.wait_for_function(
        "(s) => document.querySelector(s)?.getAttribute('src')?.endsWith('/2.png')",
        arg=page_image,
        timeout=1000,
    )
    assert asyncio.get_running_loop().time() - turned < 1.0

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.url}/api/feeds/covid/dobong",
            json={"items": [{"label": "신규 확진", "value": 57, "unit": "명"}]},
            headers={"Authorization": "Bearer feed-key-for-browser-tests"},
        ) as response,
    ):
        assert response.status == 202
    kpi_value = "#board .panel-frame[data-kind='kpi'] .kpi-value span"
    await b.wait_for_function(
        "(s) => document.querySelector(s)?.textContent === '57'", arg=kpi_value, timeout=3000
    )

    board_before = await b.evaluate("() => openroom.board.state.seq")
    await b.reload()
    await b.wait_for_function("() => document.body.dataset.joined === 'true'", timeout=15000)
    await b.wait_for_function(
        "(n) => document.querySelectorAll('#board .panel-frame').length === n", arg=3, timeout=10000
    )
    assert await b.evaluate("() => openroom.board.state.seq") == board_before
    await b.wait_for_function(
        "(s) => document.querySelector(s)?.getAttribute('src')?.endsWith('/2.png')",
        arg=page_image,
        timeout=5000,
    )
    await b.wait_for_function(
        "(s) => document.querySelector(s)?.textContent === '57'", arg=kpi_value, timeout=3000
    )

    await a.context.close()
    await b.context.close()


async def test_the_demo_room_shows_a_living_board(browser: Browser, tmp_path: Path) -> None:
    """What `make run` shows: dashboards whose charts grow as the demo feed pushes data."""
    from aiohttp import web

    from tests.conftest import free_port, make_settings
    from web.app import create_app

    port = free_port()
    runner = web.AppRunner(create_app(make_settings(tmp_path, server__port=port), demo=True))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        context = await browser.new_context(locale="ko-KR", viewport={"width": 1440, "height": 900})
        page = await context.new_page()
        await page.goto(f"http://localhost:{port}/r/demo?name=시장실&autojoin=1")
        await page.wait_for_function("() => document.body.dataset.joined === 'true'", timeout=15000)
        await page.click(".view-switch button[data-view='board']")
        growing = """() => [...openroom.board.state.panels.values()]
            .filter(p => p.kind === 'chart' && p.feed === 'river/jungnangcheon')
            .every(p => p.data.categories.length >= 4)"""
        await page.wait_for_function(growing, timeout=15000)
        assert await page.locator("#board .panel-frame.stale").count() == 0
        if shots := os.environ.get("OPENROOM_SCREENSHOT_DIR"):
            await asyncio.sleep(6)  # a few more points make a readable chart
            await page.evaluate("() => openroom.board.operate('layout', {layout: 6})")
            await asyncio.sleep(1)
            Path(shots).mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(Path(shots) / "living-board.png"))
        await context.close()
    finally:
        await runner.cleanup()


async def test_a_participants_video_pinned_to_the_board_plays_on_the_other_screen(
    browser: Browser, server: RunningServer
) -> None:
    a = await open_participant(browser, server, "pin", "발표자")
    b = await open_participant(browser, server, "pin", "참석자")
    b_id = await b.evaluate("() => openroom.client.self.id")
    tile = f"#tiles .tile[data-participant-id='{b_id}']"
    await a.wait_for_selector(tile, timeout=10000)
    await a.hover(tile)
    await a.click(f"{tile} .pin-to-board")
    pinned = "#board .panel-frame[data-kind='video'] video"
    await b.wait_for_selector("#board .panel-frame[data-kind='video']", timeout=5000)
    await a.wait_for_function(
        "(s) => { const v = document.querySelector(s); return v && v.videoWidth > 0 }",
        arg=pinned,
        timeout=10000,
    )
    await a.context.close()
    await b.context.close()
