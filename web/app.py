"""The aiohttp application: pages, health, static files and the Socket.IO endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from conference import RoomId, is_valid_room_id
from config import Settings, token_secret
from media import IceServerSpec, TransportOptions
from signaling import ConferenceService, ServiceOptions, create_signaling
from signaling.dashboards import DASHBOARDS
from web import demo_feed
from web.api import AdminApi
from web.documents import DocumentApi
from web.feeds import FeedApi
from web.i18n import LANGUAGES, catalogue, choose_language

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
VENDOR_FILES = {
    "socket.io.esm.min.js": WEB_DIR / "node_modules/socket.io-client/dist/socket.io.esm.min.js",
    "echarts.esm.min.js": WEB_DIR / "node_modules/echarts/dist/echarts.esm.min.js",
}

SETTINGS_KEY = web.AppKey("settings", Settings)
SERVICE_KEY = web.AppKey("service", ConferenceService)
TEMPLATES_KEY = web.AppKey("templates", jinja2.Environment)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self' ws: wss:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self)")
    return response


def _page_context(request: web.Request) -> dict[str, Any]:
    language = choose_language(
        request.query.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("Accept-Language", ""),
    )
    other = next(code for code in LANGUAGES if code != language)
    return {"lang": language, "t": catalogue(language), "other_lang": other}


def _render(request: web.Request, template: str, **context: Any) -> web.Response:
    page = _page_context(request)
    html = request.app[TEMPLATES_KEY].get_template(template).render(**page, **context)
    response = web.Response(text=html, content_type="text/html")
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie("lang", request.query["lang"], max_age=365 * 86400, samesite="Lax")
    return response


async def start_page(request: web.Request) -> web.Response:
    return _render(request, "start.html", error=request.query.get("error", ""))


async def join_redirect(request: web.Request) -> web.Response:
    """The start page's form: /join?room=..&name=.. -> /r/<room>?name=..&autojoin=1."""
    room = request.query.get("room", "").strip()
    name = request.query.get("name", "").strip()
    if not is_valid_room_id(room):
        raise web.HTTPFound("/?" + urlencode({"error": "room"}))
    query = urlencode({"name": name, "autojoin": "1"}) if name else ""
    raise web.HTTPFound(f"/r/{room}" + (f"?{query}" if query else ""))


async def room_page(request: web.Request) -> web.Response:
    room = request.match_info["room"]
    if not is_valid_room_id(room):
        raise web.HTTPNotFound(text="This is not a valid room name.")
    page = _page_context(request)
    settings = request.app[SETTINGS_KEY]
    client_config = {
        "room": room,
        "lang": page["lang"],
        "messages": page["t"],
        "iceServers": [
            {"urls": list(s.urls), "username": s.username, "credential": s.credential}
            for s in settings.media.ice_servers
        ],
        "allowGuests": settings.security.allow_guests,
    }
    return _render(request, "room.html", room=room, config_json=json.dumps(client_config))


async def wall_page(request: web.Request) -> web.Response:
    """The room display (the mayor's wall): kiosk style, paired to a room with a code."""
    page = _page_context(request)
    settings = request.app[SETTINGS_KEY]
    client_config = {
        "lang": page["lang"],
        "messages": page["t"],
        "iceServers": [
            {"urls": list(s.urls), "username": s.username, "credential": s.credential}
            for s in settings.media.ice_servers
        ],
        "operatingHours": settings.wall.operating_hours,
    }
    return _render(request, "wall.html", config_json=json.dumps(client_config))


async def healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    return web.json_response(
        {"status": "ok", "rooms": len(service.rooms), "sessions": len(service.sessions)}
    )


async def metrics(request: web.Request) -> web.Response:
    """Forwarding counters and the in-server latency histogram (for `openroom bench`)."""
    service = request.app[SERVICE_KEY]
    return web.json_response(
        {
            "rooms": len(service.rooms),
            "sessions": len(service.sessions),
            "forwarding": service.metrics.snapshot(),
        }
    )


async def vendor_file(request: web.Request) -> web.FileResponse:
    path = VENDOR_FILES.get(request.match_info["name"])
    if path is None or not path.is_file():
        raise web.HTTPNotFound(text="front-end library missing: run `make setup` (npm ci)")
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


def service_options(settings: Settings) -> ServiceOptions:
    media = TransportOptions(
        video_codec=settings.media.video_codec,
        ice_servers=tuple(
            IceServerSpec(urls=s.urls, username=s.username, credential=s.credential)
            for s in settings.media.ice_servers
        ),
        udp_buffer_bytes=settings.media.udp_buffer_bytes,
        forwarding=settings.media.forwarding,
    )
    return ServiceOptions(
        token_secret=token_secret(settings),
        media=media,
        allow_guests=settings.security.allow_guests,
        capacity=settings.media.max_participants,
        reconnect_grace_seconds=settings.meetings.reconnect_grace_seconds,
        chat_history=settings.meetings.chat_history,
        removal_ban_seconds=settings.meetings.removal_ban_seconds,
        wall_code_seconds=settings.wall.pairing_code_seconds,
    )


DEMO_ROOM = "demo"
DEMO_DASHBOARDS = ("covid-19", "river-disaster")


def create_app(settings: Settings, *, demo: bool = False) -> web.Application:
    """The whole server. ``demo``: the room "demo" starts with dashboards on its board and
    a demo feed keeps them moving (what `make run` shows)."""
    app = web.Application(middlewares=[security_headers], client_max_size=1024 * 1024)
    app[SETTINGS_KEY] = settings
    app[TEMPLATES_KEY] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    sio, service = create_signaling(service_options(settings), settings.redis.url)
    app[SERVICE_KEY] = service
    sio.attach(app)

    app.router.add_get("/", start_page)
    app.router.add_get("/join", join_redirect)
    app.router.add_get("/r/{room}", room_page)
    app.router.add_get("/wall", wall_page)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/metrics", metrics)
    app.router.add_routes(AdminApi(settings, service).routes())
    app.router.add_routes(FeedApi(settings, service).routes())
    documents = DocumentApi(settings, service)
    app.router.add_routes(documents.routes())
    app.cleanup_ctx.append(documents.context)
    app.router.add_get("/vendor/{name}", vendor_file)
    app.router.add_static("/static", STATIC_DIR)

    async def close_service(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[SERVICE_KEY].close()

    app.cleanup_ctx.append(close_service)
    if demo:
        app.cleanup_ctx.append(_demo_board)
    return app


async def _demo_board(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE_KEY]
    panels = [
        panel
        for dashboard in DASHBOARDS
        if dashboard["id"] in DEMO_DASHBOARDS
        for panel in dashboard["panels"]
    ]
    await service.board.seed(RoomId(DEMO_ROOM), panels)
    feed = asyncio.create_task(demo_feed.run(service.board.publish_feed, interval=1.0))
    yield
    feed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await feed
