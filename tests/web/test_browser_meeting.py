"""Meetings in real Chromium: a moderator mutes someone (every page shows it and their audio
stops), the lobby (a guest waits, the host admits), a dropped connection comes back as the same
roster entry, and chat shows links as links and HTML as text."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, Page

from conference import Org, Role, RoomId, mint_token
from tests.conftest import TEST_SECRET, RunningServer
from tests.web.test_browser_call import JOINED, stats

pytestmark = pytest.mark.browser

WAITING = "() => document.body.dataset.screen === 'waiting'"
CLIENT_JOINED = "() => openroom.client.state === 'joined'"


class PageErrors:
    """Uncaught errors of every page: a meeting test fails on a broken script too."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


def token(room: str, name: str, org: str, role: Role) -> str:
    return mint_token(
        TEST_SECRET,
        room=room,
        name=name,
        org=Org.parse(org),
        role=role,
        now=time.time(),
        ttl_seconds=600,
    )


async def open_page(
    browser: Browser, url: str, errors: PageErrors, *, wait_for: str | None = JOINED
) -> Page:
    context = await browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    errors.watch(page)
    await page.goto(url)
    if wait_for:
        await page.wait_for_function(wait_for, timeout=15000)
    return page


async def open_member(
    browser: Browser,
    server: RunningServer,
    errors: PageErrors,
    room: str,
    name: str,
    org: str,
    role: Role = Role.PARTICIPANT,
) -> Page:
    url = f"{server.url}/r/{room}?token={token(room, name, org, role)}"
    return await open_page(browser, url, errors)


async def self_id(page: Page) -> str:
    result: str = await page.evaluate("openroom.client.self.id")
    return result


async def packets_from(page: Page, participant: str) -> dict[str, int]:
    row: dict[str, int] = (await stats(page)).get(
        participant, {"framesDecoded": 0, "audioPackets": 0, "videoPackets": 0}
    )
    return row


async def wait_until_flowing(page: Page, participant: str, timeout: float = 30.0) -> None:
    """Video frames and audio packets from ``participant`` keep arriving at ``page``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    first = await packets_from(page, participant)
    while True:
        await asyncio.sleep(0.5)
        now = await packets_from(page, participant)
        if (
            now["framesDecoded"] > first["framesDecoded"]
            and now["audioPackets"] > first["audioPackets"]
        ):
            return
        if loop.time() > deadline:
            raise AssertionError(f"no media from {participant}: {first} -> {now}")


def person(participant: str) -> str:
    return f'#roster .person[data-participant-id="{participant}"]'


def tile(participant: str) -> str:
    return f'#tiles .tile[data-participant-id="{participant}"]'


async def close_all(*pages: Page) -> None:
    for page in pages:
        await page.context.close()


async def test_a_moderator_mutes_a_participant_everyone_sees_it_and_their_audio_stops(
    browser: Browser, server: RunningServer, page_errors: PageErrors
) -> None:
    room = "mute"
    host = await open_member(
        browser, server, page_errors, room, "김시장", "city:서울특별시", Role.HOST
    )
    target = await open_member(
        browser, server, page_errors, room, "도봉구청 안전과", "district:도봉구"
    )
    other = await open_member(
        browser, server, page_errors, room, "소방재난본부", "agency:소방재난본부"
    )
    target_id = await self_id(target)
    for page in (host, other):
        await wait_until_flowing(page, target_id)

    await host.click("#open-people")
    await host.click(f"{person(target_id)} .person-menu summary")
    await host.click(f"{person(target_id)} .person-menu .mute-audio")

    for page in (host, target, other):
        await page.wait_for_selector(
            f'{person(target_id)}[data-audio-muted="true"]', state="attached"
        )
        await page.wait_for_selector(f"{tile(target_id)}.audio-off", state="attached")
    assert await target.get_attribute("#toggle-mic", "aria-pressed") == "true"
    await target.wait_for_selector(".notice.warn", timeout=5000)

    await asyncio.sleep(0.5)  # what was already on its way
    before = {page: (await packets_from(page, target_id))["audioPackets"] for page in (host, other)}
    await asyncio.sleep(1.5)
    for page in (host, other):
        after = (await packets_from(page, target_id))["audioPackets"]
        assert after == before[page], "the muted participant's audio still arrives"

    # the view the README shows: a moderator with the participants panel open
    await other.click("#toggle-hand")
    await host.wait_for_selector("#hand-queue li", timeout=5000)
    if shots := os.environ.get("OPENROOM_SCREENSHOT_DIR"):
        Path(shots).mkdir(parents=True, exist_ok=True)
        await host.screenshot(path=str(Path(shots) / "meeting.png"))

    assert page_errors.errors == []
    await close_all(host, target, other)


async def test_a_guest_waits_in_the_lobby_until_the_host_admits_them(
    browser: Browser, server: RunningServer, page_errors: PageErrors
) -> None:
    room = "lobby"
    host = await open_member(
        browser, server, page_errors, room, "진행자", "city:서울특별시", Role.HOST
    )
    await host.click("#open-people")
    await host.click("label:has(#room-lobby)")
    await host.wait_for_selector("#room-flags .flag", timeout=5000)

    guest = await open_page(
        browser,
        f"{server.url}/r/{room}?name={quote('방문객')}&autojoin=1",
        page_errors,
        wait_for=WAITING,
    )
    assert await guest.is_visible("#waiting-title")
    assert not await guest.is_visible("#tiles")
    guest_id = await self_id(guest)

    lobby_entry = f'#lobby li[data-participant-id="{guest_id}"]'
    await host.wait_for_selector(lobby_entry, timeout=5000)
    assert await host.text_content(f"{lobby_entry} .person-name") == "방문객"
    await host.click(f"{lobby_entry} .admit")

    await guest.wait_for_function(JOINED, timeout=10000)
    await host.wait_for_selector("#lobby", state="hidden", timeout=5000)
    host_id = await self_id(host)
    await wait_until_flowing(guest, host_id)
    await wait_until_flowing(host, guest_id)
    assert page_errors.errors == []
    await close_all(host, guest)


# Counts, on the page it runs in, how many roster rows ever showed one name at once, and
# whether a row was ever greyed as reconnecting.
WATCH_ROSTER = """(name) => {
  window.rosterWatch = {most: 0, sawReconnecting: false};
  const check = () => {
    const rows = [...document.querySelectorAll('#roster .person')]
      .filter((row) => row.querySelector('.person-name').textContent === name);
    window.rosterWatch.most = Math.max(window.rosterWatch.most, rows.length);
    if (rows.some((row) => row.classList.contains('reconnecting'))) {
      window.rosterWatch.sawReconnecting = true;
    }
  };
  new MutationObserver(check).observe(document.getElementById('roster'),
    {subtree: true, childList: true, attributes: true, characterData: true});
  check();
}"""


async def test_a_dropped_connection_comes_back_as_the_same_roster_entry(
    browser: Browser, server: RunningServer, page_errors: PageErrors
) -> None:
    room = "resume"
    stay = await open_member(browser, server, page_errors, room, "남는사람", "district:강북구")
    drop = await open_member(browser, server, page_errors, room, "끊기는사람", "district:도봉구")
    drop_id = await self_id(drop)
    stay_id = await self_id(stay)
    await wait_until_flowing(stay, drop_id)
    await stay.evaluate(WATCH_ROSTER, "끊기는사람")

    # the transport breaks without a goodbye; socket.io reconnects by itself
    await drop.evaluate("openroom.client.socket.io.engine.close()")
    await drop.wait_for_selector("#reconnecting", state="visible", timeout=5000)
    await stay.wait_for_function("() => window.rosterWatch.sawReconnecting", timeout=5000)
    await drop.wait_for_function(CLIENT_JOINED, timeout=15000)
    await drop.wait_for_selector("#reconnecting", state="hidden", timeout=5000)

    assert await self_id(drop) == drop_id
    await stay.wait_for_selector(
        f"{person(drop_id)}:not(.reconnecting)", state="attached", timeout=5000
    )
    await wait_until_flowing(stay, drop_id)
    await wait_until_flowing(drop, stay_id)
    watch: dict[str, Any] = await stay.evaluate("window.rosterWatch")
    assert watch["most"] == 1, "the roster showed the returning participant twice"
    assert await stay.locator(f"{tile(drop_id)}:not(.screen)").count() == 1
    people = server.service.rooms[RoomId(room)].room.people
    assert sorted(p.id for p in people) == sorted([stay_id, drop_id])
    assert page_errors.errors == []
    await close_all(stay, drop)


async def test_chat_shows_links_as_links_and_html_as_text(
    browser: Browser, server: RunningServer, page_errors: PageErrors
) -> None:
    room = "chat"
    writer = await open_member(browser, server, page_errors, room, "작성자", "district:도봉구")
    reader = await open_member(browser, server, page_errors, room, "독자", "agency:서울경찰청")
    reader_id = await self_id(reader)
    await writer.wait_for_selector(f'#chat-to option[value="{reader_id}"]', state="attached")

    text = "<b>hi</b> https://example.org"
    await writer.click("#open-chat")
    await writer.fill("#chat-text", text)
    await writer.press("#chat-text", "Enter")
    await writer.wait_for_selector("#chat-log .chat-message.own", timeout=5000)

    # the reader's chat tab is closed: an unread count, then the message
    await reader.wait_for_selector("#chat-unread:not([hidden])", state="attached", timeout=5000)
    assert await reader.text_content("#chat-unread") == "1"
    await reader.click("#open-chat")
    message = reader.locator("#chat-log .chat-message").last
    await message.wait_for(timeout=5000)
    assert await reader.is_hidden("#chat-unread-bar")
    assert await message.locator(".chat-text").text_content() == text
    links = message.locator("a")
    assert await links.count() == 1
    assert await links.first.get_attribute("href") == "https://example.org"
    assert await reader.locator("#chat-log b").count() == 0
    assert "own" not in (await message.get_attribute("class") or "")

    # a private answer reaches the writer, marked as private
    await reader.select_option("#chat-to", await self_id(writer))
    await reader.fill("#chat-text", "확인했습니다")
    await reader.press("#chat-text", "Enter")
    await writer.wait_for_selector("#chat-log .chat-message.private", timeout=5000)
    assert page_errors.errors == []
    await close_all(writer, reader)


async def test_where_only_moderators_unmute_a_muted_participant_asks_to_speak_first(
    browser: Browser, server: RunningServer, page_errors: PageErrors
) -> None:
    room = "ask"
    host = await open_member(
        browser, server, page_errors, room, "진행자", "city:서울특별시", Role.MODERATOR
    )
    speaker = await open_member(browser, server, page_errors, room, "발언자", "district:노원구")
    speaker_id = await self_id(speaker)
    await host.click("#open-people")
    await host.click("label:has(#room-mod-unmute)")
    await host.click(f"{person(speaker_id)} .person-menu summary")
    await host.click(f"{person(speaker_id)} .person-menu .mute-audio")

    # the microphone button turns into "ask to speak"; the moderator sees the request
    await speaker.wait_for_selector('#toggle-mic[data-mode="ask"]', timeout=5000)
    await speaker.click("#toggle-mic")
    await speaker.wait_for_selector('#toggle-mic[data-mode="asked"]', timeout=5000)
    await host.wait_for_selector(f"{person(speaker_id)}.asked", timeout=5000)
    await host.click(".notice button.small")  # "allow to speak" in the request's notice

    await speaker.wait_for_selector('#toggle-mic[data-mode="toggle"]', timeout=5000)
    await speaker.click("#toggle-mic")
    await host.wait_for_selector(
        f'{person(speaker_id)}[data-audio-muted="false"]', state="attached", timeout=5000
    )
    await wait_until_flowing(host, speaker_id)

    # removed with a reason: the removed page says so
    await host.click(f"{person(speaker_id)} .person-menu summary")
    await host.click(f"{person(speaker_id)} .person-menu .remove")
    await host.fill("#ask-input", "회의 목적과 무관")
    await host.click("#ask-confirm")
    await speaker.wait_for_selector("#left", state="visible", timeout=5000)
    assert "회의 목적과 무관" in (await speaker.text_content("#left-message") or "")
    assert page_errors.errors == []
    await close_all(host, speaker)


async def test_a_removed_participant_leaves_every_roster(
    browser: Browser, server: RunningServer, page_errors: PageErrors
) -> None:
    room = "remove"
    host = await open_member(
        browser, server, page_errors, room, "진행자", "city:서울특별시", Role.HOST
    )
    removed = await open_member(browser, server, page_errors, room, "퇴장자", "guest:")
    removed_id = await self_id(removed)
    await host.click("#open-people")
    await host.click(f"{person(removed_id)} .person-menu summary")
    await host.click(f"{person(removed_id)} .person-menu .remove")
    await host.click("#ask-confirm")
    await removed.wait_for_selector("#left", state="visible", timeout=5000)
    try:
        await host.wait_for_selector(person(removed_id), state="detached", timeout=5000)
    finally:
        await close_all(host, removed)
