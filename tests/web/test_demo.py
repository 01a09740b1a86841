"""The demo: the "demo" room opens with the ready-made dashboards and the demo feed keeps
their panels moving; every dashboard in the library is valid panel data."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web

from conference.panels import validate_data, validate_feed
from signaling import PROTOCOL_VERSION
from signaling.dashboards import DASHBOARDS, builtin_library
from tests.conftest import free_port, make_settings
from web.app import create_app
from web.demo_feed import DemoData


def test_every_ready_made_dashboard_is_valid_panel_data() -> None:
    assert {d["id"] for d in DASHBOARDS} >= {
        "covid-19",
        "district-indicators",
        "requests-to-the-mayor",
        "press-trends",
        "population-traffic",
        "river-disaster",
    }
    for item in builtin_library():
        assert item["sharedWith"] == ["*"]
        for panel in item["panels"]:
            validate_data(panel["kind"], panel["data"])
            assert validate_feed(panel["feed"]) == panel["feed"]


def test_the_demo_data_feeds_every_channel_the_dashboards_use() -> None:
    channels = {p["feed"] for d in DASHBOARDS for p in d["panels"]}
    values = DemoData().values(1_800_000_000.0)
    assert channels <= set(values)


async def test_the_demo_room_opens_with_dashboards_that_the_feed_keeps_moving(
    tmp_path: Path,
) -> None:
    port = free_port()
    runner = web.AppRunner(create_app(make_settings(tmp_path, server__port=port), demo=True))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    client = socketio.AsyncClient(reconnection=False)
    feeds: list[dict[str, Any]] = []
    client.on("feed", lambda data: feeds.append(data))
    try:
        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        join = {"protocol": PROTOCOL_VERSION, "room": "demo", "name": "시장실"}
        reply = await client.call("join", join, timeout=10)
        titles = [panel["title"] for panel in reply["board"]["panels"]]
        assert "코로나19 오늘" in titles and "중랑천 수위" in titles
        for _ in range(50):
            if len({f["channel"] for f in feeds}) >= 3:
                break
            await asyncio.sleep(0.1)
        assert {"covid/dobong", "river/jungnangcheon"} <= {f["channel"] for f in feeds}
    finally:
        await client.disconnect()
        await runner.cleanup()
