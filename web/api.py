"""The admin REST API: create, list and change rooms, mint join tokens. Protected by the API
key from the settings (`Authorization: Bearer <key>`); disabled while no key is set."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from conference import ConferenceError, Org, Role, is_valid_room_id, mint_token
from config import Settings, token_secret
from signaling import ConferenceService
from signaling.errors import ProtocolError
from signaling.store import RoomSettings, StoreError

MAX_BODY_BYTES = 64 * 1024
_STORE_STATUS = {"room_exists": 409, "room_not_found": 404, "store_unavailable": 503}
_PROTOCOL_STATUS = {"rate_limited": 429, "unknown_wall": 404}
MAX_TTL_SECONDS = 31_536_000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class AdminApi:
    def __init__(self, settings: Settings, service: ConferenceService) -> None:
        self.settings = settings
        self.service = service

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/rooms", self._guarded(self.list_rooms)),
            web.post("/api/rooms", self._guarded(self.create_room)),
            web.get("/api/rooms/{room}", self._guarded(self.get_room)),
            web.patch("/api/rooms/{room}", self._guarded(self.update_room)),
            web.post("/api/rooms/{room}/tokens", self._guarded(self.create_token)),
            web.get("/api/rooms/{room}/board/timeline", self._guarded(self.board_timeline)),
            web.get("/api/rooms/{room}/walls", self._guarded(self.list_walls)),
            web.post("/api/rooms/{room}/walls", self._guarded(self.pair_wall)),
            web.delete("/api/rooms/{room}/walls/{wall}", self._guarded(self.unpair_wall)),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            key = self.settings.security.admin_api_key
            if not key:
                return api_error(
                    403, "admin_api_disabled", "set security.admin_api_key to use the admin API"
                )
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
                return api_error(401, "invalid_api_key", "a valid admin API key is required")
            try:
                return await handler(request)
            except ApiError as exc:
                return api_error(exc.status, exc.code, exc.message)
            except StoreError as exc:
                return api_error(_STORE_STATUS.get(exc.code, 400), exc.code, exc.message)
            except ConferenceError as exc:
                return api_error(400, exc.code, exc.message)
            except ProtocolError as exc:
                return api_error(_PROTOCOL_STATUS.get(exc.code, 400), exc.code, exc.message)

        return guarded

    async def list_rooms(self, request: web.Request) -> web.Response:
        rooms = await self.service.store.list_rooms()
        return web.json_response({"rooms": [self._view(room) for room in rooms]})

    async def get_room(self, request: web.Request) -> web.Response:
        room = await self._existing(request.match_info["room"])
        context = self.service.rooms.get(room.room_id)  # type: ignore[call-overload]
        roster = context.room.roster() if context is not None else []
        return web.json_response({"room": self._view(room), "participants": roster})

    async def create_room(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        _only(
            body,
            {
                "roomId",
                "title",
                "capacity",
                "lobby",
                "allowGuests",
                "moderatorsOnlyUnmute",
                "boardModeratorsOnly",
            },
        )
        room_id = _string(body, "roomId", required=True, max_length=64)
        if not is_valid_room_id(room_id):
            raise ApiError(400, "invalid_room", "the room id may use letters, digits, - and _")
        settings = RoomSettings(
            room_id=room_id,
            title=_string(body, "title", max_length=200),
            capacity=_integer(body, "capacity", 1, 1000, self.settings.media.max_participants),
            lobby=_boolean(body, "lobby", False),
            allow_guests=_boolean(body, "allowGuests", self.settings.security.allow_guests),
            moderators_only_unmute=_boolean(body, "moderatorsOnlyUnmute", False),
            board_moderators_only=_boolean(body, "boardModeratorsOnly", False),
            created_at=time.time(),
        )
        created = await self.service.store.create_room(settings)
        return web.json_response({"room": self._view(created)}, status=201)

    async def update_room(self, request: web.Request) -> web.Response:
        await self._existing(request.match_info["room"])
        body = await _json_body(request)
        names = {
            "title": "title",
            "capacity": "capacity",
            "lobby": "lobby",
            "allowGuests": "allow_guests",
            "locked": "locked",
            "moderatorsOnlyUnmute": "moderators_only_unmute",
            "boardModeratorsOnly": "board_moderators_only",
        }
        _only(body, set(names))
        changes: dict[str, object] = {}
        for key, field in names.items():
            if key not in body:
                continue
            if key == "title":
                changes[field] = _string(body, key, max_length=200)
            elif key == "capacity":
                changes[field] = _integer(body, key, 1, 1000, 0)
            else:
                changes[field] = _boolean(body, key, False)
        if not changes:
            raise ApiError(400, "missing_field", f"give one of {', '.join(names)}")
        updated = await self.service.store.update_room(request.match_info["room"], **changes)
        self.service.apply_room_settings(updated)
        return web.json_response({"room": self._view(updated)})

    async def create_token(self, request: web.Request) -> web.Response:
        room = await self._existing(request.match_info["room"])
        body = await _json_body(request)
        _only(body, {"name", "org", "role", "ttlSeconds", "identity"})
        role_name = _string(body, "role", max_length=32) or Role.PARTICIPANT.value
        try:
            role = Role(role_name)
        except ValueError as exc:
            roles = ", ".join(r.value for r in Role)
            raise ApiError(400, "invalid_field", f'"role" must be one of {roles}') from exc
        ttl = _integer(
            body, "ttlSeconds", 60, MAX_TTL_SECONDS, self.settings.security.token_ttl_seconds
        )
        now = time.time()
        token = mint_token(
            token_secret(self.settings),
            room=room.room_id,
            name=_string(body, "name", required=True, max_length=64),
            org=Org.parse(_string(body, "org", max_length=100) or "guest:"),
            role=role,
            now=now,
            ttl_seconds=ttl,
            identity=_string(body, "identity", max_length=64) or None,
        )
        base = self.settings.server.public_url or f"{request.scheme}://{request.host}"
        url = f"{base}/r/{room.room_id}?{urlencode({'token': token})}"
        return web.json_response(
            {"token": token, "url": url, "expiresAt": int(now) + ttl}, status=201
        )

    async def board_timeline(self, request: web.Request) -> web.Response:
        """What was shown on the room's board, by whom and when."""
        room = await self._existing(request.match_info["room"])
        after = request.query.get("after", "0")
        if not after.isdigit():
            raise ApiError(400, "invalid_field", '"after" must be a sequence number')
        ops = await self.service.board.timeline(room.room_id, int(after))
        return web.json_response({"room": room.room_id, "operations": ops})

    async def list_walls(self, request: web.Request) -> web.Response:
        """The room displays paired to the room, and whether each is in the meeting now."""
        room = await self._existing(request.match_info["room"])
        return web.json_response({"walls": await self.service.walls.list(room.room_id)})

    async def pair_wall(self, request: web.Request) -> web.Response:
        """``{code, name?}``: bind the wall showing this pairing code to the room."""
        room = await self._existing(request.match_info["room"])
        body = await _json_body(request)
        _only(body, {"code", "name"})
        code = _string(body, "code", required=True, max_length=16)
        name = _string(body, "name", max_length=64) or None
        reply = await self.service.walls.pair(room.room_id, code, name, by="admin")
        return web.json_response(reply, status=201)

    async def unpair_wall(self, request: web.Request) -> web.Response:
        """Revoke the wall's display token; the wall shows a new pairing code."""
        room = await self._existing(request.match_info["room"])
        await self.service.walls.unpair(room.room_id, request.match_info["wall"])
        return web.json_response({}, status=200)

    async def _existing(self, room_id: str) -> RoomSettings:
        if not is_valid_room_id(room_id):
            raise ApiError(404, "room_not_found", "no such room")
        room = await self.service.store.get_room(room_id)
        if room is None:
            raise ApiError(404, "room_not_found", "no such room")
        return room

    def _view(self, room: RoomSettings) -> dict[str, object]:
        context = self.service.rooms.get(room.room_id)  # type: ignore[call-overload]
        live = len(context.room.people) if context is not None else 0
        return {**room.to_dict(), "participantCount": live}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None when it is larger than ``limit`` (read no further)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await read_body(request, MAX_BODY_BYTES)
    if raw is None:
        raise ApiError(413, "payload_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw or b"{}", parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_payload", "the body must be a JSON object")
    return body


def _not_json(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "invalid_field", f"unknown field(s): {', '.join(unknown)}")


def _string(body: dict[str, Any], name: str, *, required: bool = False, max_length: int) -> str:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "missing_field", f'the field "{name}" is required')
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise ApiError(
            400, "invalid_field", f'"{name}" must be a string of at most {max_length} characters'
        )
    return value


def _integer(body: dict[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, "invalid_field", f'"{name}" must be an integer from {low} to {high}')
    return value


def _boolean(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, "invalid_field", f'"{name}" must be true or false')
    return value
