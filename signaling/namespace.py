"""The Socket.IO namespace: every event validated, every request answered with
``{ok: true, ...}`` or ``{ok: false, error: {code, message}}``; unknown events included."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from media.transport import MAX_SDP_LENGTH
from signaling.errors import ProtocolError, error_reply, reply_for
from signaling.service import PROTOCOL_VERSION, ConferenceService
from signaling.validation import (
    bool_field,
    int_field,
    only_fields,
    payload_dict,
    required_string,
    string_field,
    string_list_field,
    string_map_field,
)

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
TRACK_SOURCES = frozenset({"camera", "microphone", "screen"})


class RoomNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, service: ConferenceService) -> None:
        super().__init__("/")
        self.service = service
        self._handlers: dict[str, tuple[Handler, int]] = {
            "join": (self._join, 16 * 1024),
            "publish": (self._publish, MAX_SDP_LENGTH + 4096),
            "set-media": (self._set_media, 1024),
            "leave": (self._leave, 1024),
            "subscribe": (self._subscribe, 16 * 1024),
            "unsubscribe": (self._unsubscribe, 16 * 1024),
            "pause": (self._pause, 16 * 1024),
            "resume": (self._resume, 16 * 1024),
            "set-last-n": (self._set_last_n, 1024),
            "unpublish": (self._unpublish, 1024),
        }

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            sid = args[0]
            await self.emit("welcome", {"protocol": PROTOCOL_VERSION}, to=sid)
            return True
        if event == "disconnect":
            await self.service.leave(args[0])
            return None
        sid, data = args[0], args[1:]
        entry = self._handlers.get(event)
        if entry is None:
            return error_reply("unknown_event", f"there is no event named {event[:64]!r}")
        handler, max_bytes = entry
        try:
            if len(data) > 1:
                raise ProtocolError("invalid_payload", "send one payload object per event")
            payload = payload_dict(data[0] if data else None, max_bytes=max_bytes)
            result = await handler(sid, payload)
        except Exception as exc:  # every failure becomes a reply; none reaches the transport
            return reply_for(exc)
        return {"ok": True, **result}

    async def _join(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(
            payload, frozenset({"protocol", "room", "name", "token", "autoSubscribe", "lastN"})
        )
        protocol = int_field(payload, "protocol")
        if protocol != PROTOCOL_VERSION:
            raise ProtocolError(
                "unsupported_protocol", f"this server speaks protocol {PROTOCOL_VERSION}"
            )
        room = required_string(payload, "room", max_length=64)
        token = string_field(payload, "token", required=False, max_length=4096)
        name = string_field(payload, "name", required=False, max_length=256)
        if token is None and name is None:
            raise ProtocolError("missing_field", 'give a "token" or a "name"')
        auto_subscribe = bool_field(payload, "autoSubscribe")
        return await self.service.join(
            sid,
            room,
            token=token,
            name=name,
            auto_subscribe=True if auto_subscribe is None else auto_subscribe,
            last_n=_last_n(payload, required=False),
        )

    async def _publish(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"sdp", "sources"}))
        sdp = required_string(payload, "sdp", max_length=MAX_SDP_LENGTH)
        sources = string_map_field(payload, "sources", allowed_values=TRACK_SOURCES)
        return await self.service.publish(sid, sdp, sources)

    async def _set_media(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"audioMuted", "videoMuted"}))
        audio = bool_field(payload, "audioMuted")
        video = bool_field(payload, "videoMuted")
        if audio is None and video is None:
            raise ProtocolError("missing_field", 'give "audioMuted" or "videoMuted"')
        return await self.service.set_media_state(sid, audio_muted=audio, video_muted=video)

    async def _leave(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset())
        await self.service.leave(sid)
        return {}

    async def _subscribe(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackIds"}))
        return self.service.subscribe(sid, string_list_field(payload, "trackIds"))

    async def _unsubscribe(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackIds"}))
        return self.service.unsubscribe(sid, string_list_field(payload, "trackIds"))

    async def _pause(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackIds"}))
        return self.service.set_paused(sid, string_list_field(payload, "trackIds"), True)

    async def _resume(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackIds"}))
        return self.service.set_paused(sid, string_list_field(payload, "trackIds"), False)

    async def _set_last_n(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"lastN"}))
        return self.service.set_last_n(sid, _last_n(payload, required=True))

    async def _unpublish(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackId"}))
        await self.service.unpublish(sid, required_string(payload, "trackId", max_length=128))
        return {}


MAX_LAST_N = 100


def _last_n(payload: dict[str, Any], *, required: bool) -> int | None:
    """``lastN``: a count from 0 to MAX_LAST_N, or -1 (or absent) for everyone."""
    value = int_field(payload, "lastN", required=required)
    if value is None or value == -1:
        return None
    if not 0 <= value <= MAX_LAST_N:
        raise ProtocolError("invalid_field", f'"lastN" must be -1 or from 0 to {MAX_LAST_N}')
    return value
