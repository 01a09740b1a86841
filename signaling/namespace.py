"""The Socket.IO namespace: every event validated, rate limited where it matters, and every
request answered with ``{ok: true, ...}`` or ``{ok: false, error: {code, message}}``;
unknown events included. docs/protocol.md lists them all."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio

from conference import Role
from media.transport import MAX_SDP_LENGTH
from signaling.errors import ProtocolError, error_reply, reply_for
from signaling.ratelimit import RateLimiter
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
MEDIA_KINDS = frozenset({"audio", "video"})
MAX_LAST_N = 100
MAX_REASON = 200
ID_LENGTH = 64


@dataclass(frozen=True)
class Event:
    handler: Handler
    max_bytes: int = 1024
    rate: str | None = None  # a RateLimiter category


class RoomNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, service: ConferenceService, limiter: RateLimiter | None = None) -> None:
        super().__init__("/")
        self.service = service
        self.limiter = limiter or RateLimiter()
        self._connected: set[str] = set()
        small = 1024
        lists = 16 * 1024
        self.events: dict[str, Event] = {
            "join": Event(self._join, 16 * 1024),
            "leave": Event(self._leave),
            "publish": Event(self._publish, MAX_SDP_LENGTH + 4096, "media"),
            "unpublish": Event(self._unpublish, small, "media"),
            "set-media": Event(self._set_media, small, "media"),
            "subscribe": Event(self._subscribe, lists, "media"),
            "unsubscribe": Event(self._unsubscribe, lists, "media"),
            "pause": Event(self._pause, lists, "media"),
            "resume": Event(self._resume, lists, "media"),
            "set-last-n": Event(self._set_last_n, small, "media"),
            "chat": Event(self._chat, 8 * 1024, "chat"),
            "raise-hand": Event(self._raise_hand, small, "hands"),
            "lower-hand": Event(self._lower_hand, small, "hands"),
            "ask-to-speak": Event(self._ask_to_speak, small, "hands"),
            "admit": Event(self._admit, small, "moderation"),
            "deny": Event(self._deny, small, "moderation"),
            "mute": Event(self._mute, small, "moderation"),
            "mute-all": Event(self._mute_all, small, "moderation"),
            "allow-speak": Event(self._allow_speak, small, "moderation"),
            "remove": Event(self._remove, small, "moderation"),
            "set-role": Event(self._set_role, small, "moderation"),
            "set-room": Event(self._set_room, small, "moderation"),
            "end-meeting": Event(self._end_meeting, small, "moderation"),
            "board-snapshot": Event(self._board_snapshot, small, "media"),
            "board-op": Event(self._board_op, MAX_BOARD_OP_BYTES, "board"),
            "board-pointer": Event(self._board_pointer, small, "pointer"),
            "library-list": Event(self._library_list, small, "board"),
            "library-save": Event(self._library_save, lists, "board"),
            "library-share": Event(self._library_share, lists, "board"),
            "library-delete": Event(self._library_delete, small, "board"),
            "library-push": Event(self._library_push, small, "board"),
            "wall-hello": Event(self._wall_hello, small, "wall"),
            "pair-wall": Event(self._pair_wall, small, "pairing"),
            "unpair-wall": Event(self._unpair_wall, small, "moderation"),
            "list-walls": Event(self._list_walls, small, "moderation"),
            "set-wall-layout": Event(self._set_wall_layout, small, "moderation"),
        }

    async def trigger_event(self, event: str, *args: Any) -> Any:
        # python-socketio routes a client's event named "connect" or "disconnect" here too:
        # only the server's own (a new connection; one that is going away) count as such.
        if event == "connect" and args[0] not in self._connected:
            self._connected.add(args[0])
            await self.emit("welcome", {"protocol": PROTOCOL_VERSION}, to=args[0])
            return True
        if event == "disconnect" and not self.server.manager.is_connected(args[0], "/"):
            self._connected.discard(args[0])
            sid, reason = args[0], (args[1] if len(args) > 1 else "")
            self.limiter.forget(sid)
            await self.service.walls.connection_closed(sid)
            # a client that closes its socket on purpose (leave, page closing) is gone;
            # a dropped one (ping timeout, broken transport) may come back
            graceful = reason in ("client disconnect", "server disconnect")
            await self.service.disconnected(sid, graceful=graceful)
            return None
        sid, data = args[0], args[1:]
        spec = self.events.get(event)
        if spec is None:
            return error_reply("unknown_event", f"there is no event named {str(event)[:64]!r}")
        try:
            if len(data) > 1:
                raise ProtocolError("invalid_payload", "send one payload object per event")
            payload = payload_dict(data[0] if data else None, max_bytes=spec.max_bytes)
            if spec.rate is not None:
                self.limiter.check(sid, spec.rate)
            result = await spec.handler(sid, payload)
        except Exception as exc:  # every failure becomes a reply; none reaches the transport
            return reply_for(exc)
        return {"ok": True, **result}

    # -- joining ---------------------------------------------------------------------------

    async def _join(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(
            payload,
            frozenset({"protocol", "room", "name", "token", "autoSubscribe", "lastN", "resume"}),
        )
        protocol = int_field(payload, "protocol")
        if protocol != PROTOCOL_VERSION:
            raise ProtocolError(
                "unsupported_protocol", f"this server speaks protocol {PROTOCOL_VERSION}"
            )
        room = required_string(payload, "room", max_length=64)
        token = string_field(payload, "token", required=False, max_length=4096)
        name = string_field(payload, "name", required=False, max_length=256)
        resume = _resume(payload)
        if token is None and name is None and resume is None:
            raise ProtocolError("missing_field", 'give a "token" or a "name"')
        auto_subscribe = bool_field(payload, "autoSubscribe")
        return await self.service.join(
            sid,
            room,
            token=token,
            name=name,
            auto_subscribe=True if auto_subscribe is None else auto_subscribe,
            last_n=_last_n(payload, required=False),
            resume=resume,
        )

    async def _leave(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset())
        await self.service.leave(sid)
        return {}

    # -- media -----------------------------------------------------------------------------

    async def _publish(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"sdp", "sources"}))
        sdp = required_string(payload, "sdp", max_length=MAX_SDP_LENGTH)
        sources = string_map_field(payload, "sources", allowed_values=TRACK_SOURCES)
        return await self.service.media.publish(sid, sdp, sources)

    async def _unpublish(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackId"}))
        track = required_string(payload, "trackId", max_length=128)
        await self.service.media.unpublish(sid, track)
        return {}

    async def _set_media(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"audioMuted", "videoMuted"}))
        audio = bool_field(payload, "audioMuted")
        video = bool_field(payload, "videoMuted")
        if audio is None and video is None:
            raise ProtocolError("missing_field", 'give "audioMuted" or "videoMuted"')
        return await self.service.media.set_media_state(sid, audio_muted=audio, video_muted=video)

    async def _subscribe(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackIds"}))
        return self.service.media.subscribe(sid, string_list_field(payload, "trackIds"))

    async def _unsubscribe(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackIds"}))
        return self.service.media.unsubscribe(sid, string_list_field(payload, "trackIds"))

    async def _pause(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackIds"}))
        return self.service.media.set_paused(sid, string_list_field(payload, "trackIds"), True)

    async def _resume(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"trackIds"}))
        return self.service.media.set_paused(sid, string_list_field(payload, "trackIds"), False)

    async def _set_last_n(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"lastN"}))
        return self.service.media.set_last_n(sid, _last_n(payload, required=True))

    # -- chat and hands ----------------------------------------------------------------------

    async def _chat(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"text", "to"}))
        text = required_string(payload, "text", max_length=4000)
        to = string_field(payload, "to", required=False, max_length=ID_LENGTH)
        return await self.service.meeting.chat(sid, text, to)

    async def _raise_hand(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset())
        return await self.service.meeting.raise_hand(sid)

    async def _lower_hand(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"participantId"}))
        target = string_field(payload, "participantId", required=False, max_length=ID_LENGTH)
        return await self.service.meeting.lower_hand(sid, target)

    async def _ask_to_speak(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset())
        return await self.service.meeting.ask_to_speak(sid)

    # -- moderation ----------------------------------------------------------------------------

    async def _admit(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"participantId"}))
        return await self.service.admit(sid, _target(payload))

    async def _deny(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"participantId", "reason"}))
        return await self.service.deny(sid, _target(payload), _reason(payload))

    async def _mute(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"participantId", "kind"}))
        return await self.service.meeting.mute(sid, _target(payload), _kind(payload))

    async def _mute_all(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"kind"}))
        return await self.service.meeting.mute_all(sid, _kind(payload))

    async def _allow_speak(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"participantId"}))
        return await self.service.meeting.allow_to_speak(sid, _target(payload))

    async def _remove(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"participantId", "reason"}))
        return await self.service.meeting.remove(sid, _target(payload), _reason(payload))

    async def _set_role(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"participantId", "role"}))
        role_name = required_string(payload, "role", max_length=32)
        try:
            role = Role(role_name)
        except ValueError as exc:
            roles = ", ".join(r.value for r in Role)
            raise ProtocolError("invalid_field", f'"role" must be one of {roles}') from exc
        return await self.service.meeting.set_role(sid, _target(payload), role)

    async def _set_room(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        names = {
            "locked": "locked",
            "lobby": "lobby",
            "moderatorsOnlyUnmute": "moderators_only_unmute",
            "boardModeratorsOnly": "board_moderators_only",
        }
        only_fields(payload, frozenset(names))
        changes = {
            field: value
            for key, field in names.items()
            if (value := bool_field(payload, key)) is not None
        }
        if not changes:
            raise ProtocolError("missing_field", f"give one of {', '.join(names)}")
        return await self.service.meeting.set_room(sid, changes)

    async def _end_meeting(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset())
        return await self.service.meeting.end_meeting(sid)

    # -- the board -----------------------------------------------------------------------------

    async def _board_snapshot(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset())
        return await self.service.board.snapshot_for(sid)

    async def _board_op(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``{type, ...}``: push, update, move, resize, remove, focus, layout, clear, page."""
        op_type = required_string(payload, "type", max_length=16)
        fields = {key: value for key, value in payload.items() if key != "type"}
        return await self.service.board.operate(sid, op_type, fields)

    async def _library_list(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset())
        return await self.service.library.visible_items(sid)

    async def _library_save(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"name", "panelIds"}))
        name = required_string(payload, "name", max_length=120)
        panels = string_list_field(payload, "panelIds", max_items=12, max_length=64)
        return await self.service.library.save(sid, name, panels)

    async def _library_share(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"itemId", "with"}))
        item = required_string(payload, "itemId", max_length=64)
        orgs = string_list_field(payload, "with", max_items=50, max_length=80)
        return await self.service.library.share(sid, item, orgs)

    async def _library_delete(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"itemId"}))
        return await self.service.library.delete(sid, required_string(payload, "itemId"))

    async def _library_push(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"itemId"}))
        return await self.service.library.push(sid, required_string(payload, "itemId"))

    async def _board_pointer(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"panelId", "x", "y", "visible"}))
        return await self.service.board.pointer(sid, payload)

    # -- the mayor's wall ------------------------------------------------------------------------

    async def _wall_hello(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset())
        return await self.service.walls.hello(sid)

    async def _pair_wall(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"code", "name"}))
        code = required_string(payload, "code", max_length=16)
        name = string_field(payload, "name", required=False, max_length=64)
        return await self.service.walls.pair_from(sid, code, name)

    async def _unpair_wall(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"wallId"}))
        wall_id = required_string(payload, "wallId", max_length=ID_LENGTH)
        return await self.service.walls.unpair_from(sid, wall_id)

    async def _list_walls(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset())
        return await self.service.walls.list_from(sid)

    async def _set_wall_layout(self, sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        only_fields(payload, frozenset({"layout", "spotlight"}))
        layout = required_string(payload, "layout", max_length=16)
        return await self.service.walls.set_layout(sid, layout, _spotlight(payload))


MAX_BOARD_OP_BYTES = 768 * 1024  # a map panel carries its GeoJSON


def _target(payload: dict[str, Any]) -> str:
    return required_string(payload, "participantId", max_length=ID_LENGTH)


def _reason(payload: dict[str, Any]) -> str:
    return string_field(payload, "reason", required=False, max_length=MAX_REASON) or ""


def _kind(payload: dict[str, Any]) -> str:
    kind = required_string(payload, "kind", max_length=8)
    if kind not in MEDIA_KINDS:
        raise ProtocolError("invalid_field", '"kind" must be "audio" or "video"')
    return kind


def _spotlight(payload: dict[str, Any]) -> dict[str, str] | None:
    """``spotlight``: absent or null, ``{participantId}`` or ``{panelId}``."""
    value = payload.get("spotlight")
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise ProtocolError("invalid_field", '"spotlight" must be {participantId} or {panelId}')
    only_fields(value, frozenset({"participantId", "panelId"}))
    key = next(iter(value))
    return {key: required_string(value, key, max_length=ID_LENGTH)}


def _resume(payload: dict[str, Any]) -> tuple[str, str] | None:
    value = payload.get("resume")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError("invalid_field", '"resume" must be {participantId, resumeToken}')
    only_fields(value, frozenset({"participantId", "resumeToken"}))
    participant = required_string(value, "participantId", max_length=ID_LENGTH)
    token = required_string(value, "resumeToken", max_length=128)
    return participant, token


def _last_n(payload: dict[str, Any], *, required: bool) -> int | None:
    """``lastN``: a count from 0 to MAX_LAST_N, or -1 (or absent) for everyone."""
    value = int_field(payload, "lastN", required=required)
    if value is None or value == -1:
        return None
    if not 0 <= value <= MAX_LAST_N:
        raise ProtocolError("invalid_field", f'"lastN" must be -1 or from 0 to {MAX_LAST_N}')
    return value
