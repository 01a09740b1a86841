"""Media features in real Chromium: screen share as a second video track with its own tile,
camera off shows the avatar, speaking indicators from audio levels."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.conftest import RunningServer
from tests.web.test_browser_call import TILES_ARE, open_participant

pytestmark = pytest.mark.browser

SCREEN_TILE_PLAYS = """() => {
  const video = document.querySelector('#tiles .tile.screen video');
  return !!video && video.videoWidth > 0 && !video.paused;
}"""


async def test_a_shared_screen_reaches_the_others_as_its_own_large_tile(
    browser: Browser, server: RunningServer
) -> None:
    sharer = await open_participant(browser, server, "screen", "발표자")
    viewer = await open_participant(browser, server, "screen", "시청자")
    await viewer.wait_for_function(TILES_ARE, arg=2, timeout=10000)

    await sharer.click("#toggle-screen")
    await viewer.wait_for_function(SCREEN_TILE_PLAYS, timeout=15000)
    caption = await viewer.text_content("#tiles .tile.screen .name")
    assert caption is not None and "발표자" in caption

    await sharer.click("#toggle-screen")  # stop sharing
    await viewer.wait_for_function(TILES_ARE, arg=2, timeout=5000)
    await sharer.context.close()
    await viewer.context.close()


async def test_turning_the_camera_off_shows_the_avatar_on_the_other_screens(
    browser: Browser, server: RunningServer
) -> None:
    alice = await open_participant(browser, server, "camera", "앨리스")
    bob = await open_participant(browser, server, "camera", "밥")
    await bob.wait_for_function(TILES_ARE, arg=2, timeout=10000)
    alice_id = await alice.evaluate("openroom.client.self.id")

    await alice.click("#toggle-cam")
    tile = f'#tiles .tile[data-participant-id="{alice_id}"]'
    await bob.wait_for_selector(f"{tile}.video-off", timeout=5000)
    assert await bob.is_visible(f"{tile} .avatar")
    await alice.click("#toggle-cam")
    await bob.wait_for_selector(f"{tile}:not(.video-off)", timeout=5000)
    await alice.context.close()
    await bob.context.close()
