"""Data feeds over HTTP: an authorised system posts values to a named channel
(`POST /api/feeds/<channel>`, `Authorization: Bearer <feed key>`); every board showing that
channel updates. A value is a JSON object; a batch is `{"values": [...]}`."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from aiohttp import web

from conference import ConferenceError
from config import Settings
from signaling import ConferenceService, ProtocolError
from web.api import api_error, read_body

MAX_FEED_BODY_BYTES = 256 * 1024


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class FeedApi:
    def __init__(self, settings: Settings, service: ConferenceService) -> None:
        self.settings = settings
        self.service = service

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/feeds/{channel:[a-z0-9/_-]+}", self.post),
            web.get("/api/feeds/{channel:[a-z0-9/_-]+}", self.get),
        ]

    def _authorised(self, request: web.Request) -> web.Response | None:
        key = self.settings.security.feed_key
        if not key:
            return api_error(403, "feeds_disabled", "set security.feed_key to accept data feeds")
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            return api_error(401, "invalid_feed_key", "a valid feed key is required")
        return None

    async def post(self, request: web.Request) -> web.Response:
        refused = self._authorised(request)
        if refused is not None:
            return refused
        raw = await read_body(request, MAX_FEED_BODY_BYTES)
        if raw is None:
            return api_error(413, "payload_too_large", "the feed body is too large")
        try:
            body = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError):
            return api_error(400, "invalid_json", "the body is not JSON (NaN and Infinity are not)")
        values = body.get("values") if isinstance(body, dict) and "values" in body else [body]
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            return api_error(400, "invalid_payload", "send a JSON object or {values: [objects]}")
        stamped: list[dict[str, Any]] = [{"at": time.time(), **value} for value in values]
        try:
            rooms = await self.service.board.publish_feed(request.match_info["channel"], stamped)
        except (ProtocolError, ConferenceError) as exc:
            return api_error(400, exc.code, exc.message)
        return web.json_response({"accepted": len(stamped), "rooms": rooms}, status=202)

    async def get(self, request: web.Request) -> web.Response:
        refused = self._authorised(request)
        if refused is not None:
            return refused
        values = await self.service.board.store.feed_values(request.match_info["channel"], 100)
        return web.json_response({"values": values})
