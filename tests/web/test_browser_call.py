"""The first call in real Chromium: three pages see and hear each other through the SFU; a
fourth joins and leaves and the others drop its tile."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.conftest import CodecActivity, RunningServer

pytestmark = pytest.mark.browser

# Function predicates, not strings: the page's CSP forbids eval, and Playwright honours it.
TILES_ARE = "(n) => document.querySelectorAll('#tiles .tile').length === n"
JOINED = "() => document.body.dataset.joined === 'true'"


async def open_participant(browser: Browser, server: RunningServer, room: str, name: str) -> Page:
    context = await browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    await page.goto(f"{server.url}/r/{room}?name={name}&autojoin=1")
    await page.wait_for_function(JOINED, timeout=15000)
    return page


async def stats(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("openroom.stats()")
    return result


async def wait_for_media_from(page: Page, count: int, timeout: float = 30.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await stats(page)
        flowing = [
            row for row in current.values() if row["framesDecoded"] > 0 and row["audioPackets"] > 0
        ]
        if len(flowing) >= count:
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"media from {len(flowing)} of {count} participants: {current}")
        await asyncio.sleep(0.5)


async def test_three_browsers_see_and_hear_each_other_and_a_leaver_tile_disappears(
    browser: Browser, server: RunningServer, codec_activity: CodecActivity
) -> None:
    pages = [
        await open_participant(browser, server, "first-call", name)
        for name in ("김시장", "Dobong", "소방서")
    ]
    ids = [await page.evaluate("openroom.client.self.id") for page in pages]

    before = [await wait_for_media_from(page, 2) for page in pages]
    await asyncio.sleep(3)
    after = [await stats(page) for page in pages]
    for index, page_stats in enumerate(after):
        others = [pid for pid in ids if pid != ids[index]]
        assert set(page_stats) == set(others)
        for pid in others:
            assert page_stats[pid]["framesDecoded"] > before[index][pid]["framesDecoded"]
            assert page_stats[pid]["audioPackets"] > before[index][pid]["audioPackets"]

    if shots := os.environ.get("OPENROOM_SCREENSHOT_DIR"):
        Path(shots).mkdir(parents=True, exist_ok=True)
        await pages[0].screenshot(path=str(Path(shots) / "first-call.png"))

    fourth = await open_participant(browser, server, "first-call", "보건소")
    for page in pages:
        await page.wait_for_function(TILES_ARE, arg=4, timeout=10000)
    await fourth.click("#leave")
    for page in pages:
        await page.wait_for_function(TILES_ARE, arg=3, timeout=5000)
    await fourth.context.close()

    assert codec_activity.encoded == 0, "the server encoded media"
    assert codec_activity.decoded == 0, "the server decoded media"
    for page in pages:
        await page.context.close()


async def test_a_participant_who_closes_the_tab_disappears_from_the_others(
    browser: Browser, server: RunningServer
) -> None:
    stay = await open_participant(browser, server, "closing", "남는사람")
    go = await open_participant(browser, server, "closing", "나가는사람")
    await stay.wait_for_function(TILES_ARE, arg=2, timeout=10000)
    await go.context.close()
    await stay.wait_for_function(TILES_ARE, arg=1, timeout=5000)
    await stay.context.close()
