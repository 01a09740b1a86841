"""OpenRoom settings: a commented TOML defaults file, then OPENROOM_* env vars, then overrides.

Precedence, lowest first:

1. the embedded defaults of the dataclasses below (used for keys a file leaves out);
2. the TOML file: ``path`` if given, else the file named by ``OPENROOM_CONFIG``, else the
   packaged ``config/openroom.toml``;
3. environment variables ``OPENROOM_<SECTION>_<KEY>`` (e.g. ``OPENROOM_SERVER_PORT``);
4. ``overrides`` such as ``{"server.port": 9000}`` (already typed; used by the CLI).

Every value is validated strictly and every error is a :class:`SettingsError` whose message
starts with the setting's name and where it came from.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import secrets
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import TypeVar

__all__ = [
    "DocumentSettings",
    "IceServer",
    "MediaSettings",
    "RedisSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "WallSettings",
    "load_settings",
    "token_secret",
]

ENV_PREFIX = "OPENROOM_"
CONFIG_ENV = "OPENROOM_CONFIG"
PACKAGED_LABEL = "config/openroom.toml"
TOKEN_SECRET_FILE = "token-secret"
MIN_SECRET_LENGTH = 16

_T = TypeVar("_T")


class SettingsError(Exception):
    """A setting is missing, unknown or invalid; the message names the setting."""


@dataclass(frozen=True)
class IceServer:
    """One STUN/TURN server, in the shape of aiortc's RTCIceServer."""

    urls: tuple[str, ...]
    username: str = ""
    credential: str = field(default="", repr=False)


@dataclass(frozen=True)
class ServerSettings:
    host: str = "0.0.0.0"
    port: int = 8080
    # Base URL printed to users; empty means http://localhost:<port>.
    public_url: str = ""
    # Where the server keeps small files (e.g. the generated token secret).
    data_dir: str = "var"


@dataclass(frozen=True)
class SecuritySettings:
    # Empty means: generated once and kept in <data_dir>/token-secret (mode 0600).
    token_secret: str = field(default="", repr=False)
    token_ttl_seconds: int = 86400
    allow_guests: bool = True
    admin_api_key: str = field(default="", repr=False)
    # Key that data feeds present to POST /api/feeds/<channel>; empty = feeds disabled.
    feed_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class MediaSettings:
    video_codec: str = "VP8"
    # Empty means no STUN/TURN (aiortc gets iceServers=[]).
    ice_servers: tuple[IceServer, ...] = ()
    udp_buffer_bytes: int = 4194304
    max_participants: int = 50
    # "rtp" forwards encoded packets (the SFU); "transcode" decodes and re-encodes with
    # aiortc's MediaRelay, only as the benchmark's baseline.
    forwarding: str = "rtp"


@dataclass(frozen=True)
class MeetingSettings:
    # A dropped participant may come back as the same roster entry within this many seconds.
    reconnect_grace_seconds: int = 30
    # Chat messages kept per room (late joiners get the newest of them).
    chat_history: int = 200
    # Someone removed by a moderator may not rejoin with the same identity for this long.
    removal_ban_seconds: int = 600


@dataclass(frozen=True)
class DocumentSettings:
    # Uploaded PDFs: the largest body accepted, in bytes.
    max_upload_bytes: int = 20 * 1024 * 1024
    # A PDF with more pages than this is refused before anything is rendered.
    max_pages: int = 200
    # The largest page side, in PDF points (1/72 inch); 14400 = 200 inches.
    max_page_points: int = 14400
    # Rendering all pages of one PDF is stopped (and nothing kept) after this many seconds.
    render_timeout_seconds: int = 60
    # Width of the rendered page images, in pixels.
    page_width_px: int = 1600
    # Uploaded images (PNG, JPEG): the largest body accepted, in bytes.
    max_image_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class WallSettings:
    # When the room display (/wall) shows the meeting, "HH:MM-HH:MM" in the wall's local time
    # (an end before the start spans midnight); outside it shows a calm idle screen.
    # Empty = always.
    operating_hours: str = "07:00-22:00"
    # How long a pairing code shown by an unpaired wall stays valid, in seconds.
    pairing_code_seconds: int = 600


@dataclass(frozen=True)
class RedisSettings:
    # Empty means in-memory state, one process.
    url: str = field(default="", repr=False)


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    security: SecuritySettings
    media: MediaSettings
    redis: RedisSettings
    meetings: MeetingSettings = field(default_factory=MeetingSettings)
    documents: DocumentSettings = field(default_factory=DocumentSettings)
    wall: WallSettings = field(default_factory=WallSettings)


# --------------------------------------------------------------------------- validation


class _InvalidValueError(ValueError):
    """Raised by a checker; the loader prefixes the setting's name and source."""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _integer(low: int, high: int) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _InvalidValueError(f"must be an integer from {low} to {high}, got {_show(value)}")
        return value

    return check


def _integer_from_env(check: Callable[[object], object]) -> Callable[[str], object]:
    def parse(text: str) -> object:
        stripped = text.strip()
        return check(int(stripped) if re.fullmatch(r"[+-]?[0-9]+", stripped) else text)

    return parse


def _boolean(value: object) -> object:
    if not isinstance(value, bool):
        raise _InvalidValueError(f"must be true or false, got {_show(value)}")
    return value


_ENV_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _boolean_from_env(text: str) -> object:
    try:
        return _ENV_BOOLEANS[text.strip().lower()]
    except KeyError:
        raise _InvalidValueError(
            f"must be one of true/false/1/0/yes/no, got {_show(text)}"
        ) from None


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _InvalidValueError(f"must be a string, got {_show(value)}")
    return value


def _non_empty(value: object) -> object:
    text = _string(value).strip()
    if not text:
        raise _InvalidValueError("must not be empty")
    return text


def _public_url(value: object) -> object:
    text = _string(value).strip()
    if text and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise _InvalidValueError(f"must be empty or an http:// or https:// URL, got {_show(text)}")
    return text.rstrip("/")


_HOURS = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]|24):([0-5][0-9])")


def _operating_hours(value: object) -> object:
    text = _string(value).strip()
    if not text:
        return ""
    match = _HOURS.fullmatch(text.replace(" ", ""))
    if match is None or (match.group(3) == "24" and match.group(4) != "00"):
        raise _InvalidValueError(
            f'must be empty (always) or "HH:MM-HH:MM" like "07:00-22:00", got {_show(value)}'
        )
    start, end = match.group(1, 2), match.group(3, 4)
    if start == end:
        raise _InvalidValueError(f"must not start and end at the same time, got {_show(value)}")
    return f"{start[0]}:{start[1]}-{end[0]}:{end[1]}"


def _secret(value: object) -> object:
    text = _string(value)
    if text and len(text) < MIN_SECRET_LENGTH:
        # Never echo the secret itself.
        raise _InvalidValueError(
            f"must be empty (generate one) or at least {MIN_SECRET_LENGTH} characters long, "
            f"got {len(text)} characters"
        )
    return text


_VIDEO_CODECS = ("VP8", "H264")


def _video_codec(value: object) -> object:
    text = _string(value).strip().upper()
    if text not in _VIDEO_CODECS:
        raise _InvalidValueError(f"must be one of {', '.join(_VIDEO_CODECS)}, got {_show(value)}")
    return text


_FORWARDING_MODES = ("rtp", "transcode")


def _forwarding(value: object) -> object:
    text = _string(value).strip().lower()
    if text not in _FORWARDING_MODES:
        raise _InvalidValueError(
            f"must be one of {', '.join(_FORWARDING_MODES)}, got {_show(value)}"
        )
    return text


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _redis_url(value: object) -> object:
    text = _string(value).strip()
    if text and not text.startswith(_REDIS_SCHEMES):
        # The URL may hold a password: show only its scheme.
        scheme = text.split("://", 1)[0] if "://" in text else "no scheme"
        raise _InvalidValueError(
            "must be empty (in-memory, one process) or start with redis://, rediss:// or "
            f"unix:// (got {scheme!r})"
        )
    return text


_ICE_KEYS = ("urls", "username", "credential")
_ICE_SCHEMES = ("stun", "turn", "turns")


def _ice_server(index: int, item: object) -> IceServer:
    where = f"entry {index}"
    if not isinstance(item, Mapping):
        raise _InvalidValueError(f"{where} must be a table/object with 'urls', got {_show(item)}")
    unknown = sorted(str(key) for key in item if key not in _ICE_KEYS)
    if unknown:
        raise _InvalidValueError(
            f"{where} has unknown key(s) {', '.join(unknown)}; known: urls, username, credential"
        )
    urls: object = item.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list | tuple) or not urls:
        raise _InvalidValueError(f"{where}: 'urls' must be a URL or a non-empty list of URLs")
    checked: list[str] = []
    for url in urls:
        if not isinstance(url, str) or url.split(":", 1)[0].lower() not in _ICE_SCHEMES:
            raise _InvalidValueError(
                f"{where}: each URL must start with stun:, turn: or turns:, got {_show(url)}"
            )
        checked.append(url.strip())
    username = item.get("username", "")
    credential = item.get("credential", "")
    if not isinstance(username, str) or not isinstance(credential, str):
        raise _InvalidValueError(f"{where}: 'username' and 'credential' must be strings")
    is_turn = any(url.lower().startswith("turn") for url in checked)
    if is_turn and not (username and credential):
        raise _InvalidValueError(f"{where}: turn:/turns: URLs need a 'username' and a 'credential'")
    return IceServer(urls=tuple(checked), username=username, credential=credential)


def _ice_servers(value: object) -> object:
    if not isinstance(value, list | tuple):
        raise _InvalidValueError(f"must be a list of ICE servers, got {_show(value)}")
    return tuple(_ice_server(index, item) for index, item in enumerate(value))


def _ice_servers_from_env(text: str) -> object:
    try:
        parsed: object = json.loads(text)
    except json.JSONDecodeError as error:
        raise _InvalidValueError(
            'must be a JSON list like [{"urls": ["stun:host:3478"]}], '
            f"invalid JSON: {error.msg} at position {error.pos}"
        ) from None
    return _ice_servers(parsed)


def _as_is(text: str) -> object:
    return text


@dataclass(frozen=True)
class _Field:
    name: str  # "section.key"
    check: Callable[[object], object]  # typed value -> normalised value
    from_env: Callable[[str], object] | None = None  # env string -> normalised value

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.replace(".", "_").upper()

    def parse_env(self, text: str) -> object:
        return self.from_env(text) if self.from_env else self.check(text)


def _int_field(name: str, low: int, high: int) -> _Field:
    check = _integer(low, high)
    return _Field(name, check, _integer_from_env(check))


_FIELDS: dict[str, _Field] = {
    spec.name: spec
    for spec in (
        _Field("server.host", _non_empty),
        _int_field("server.port", 1, 65535),
        _Field("server.public_url", _public_url),
        _Field("server.data_dir", _non_empty),
        _Field("security.token_secret", _secret),
        _int_field("security.token_ttl_seconds", 60, 31536000),
        _Field("security.allow_guests", _boolean, _boolean_from_env),
        _Field("security.admin_api_key", _string, _as_is),
        _Field("security.feed_key", _string, _as_is),
        _Field("media.video_codec", _video_codec),
        _Field("media.ice_servers", _ice_servers, _ice_servers_from_env),
        _int_field("media.udp_buffer_bytes", 65536, 67108864),
        _int_field("media.max_participants", 1, 1000),
        _Field("media.forwarding", _forwarding),
        _Field("redis.url", _redis_url),
        _int_field("meetings.reconnect_grace_seconds", 0, 3600),
        _int_field("meetings.chat_history", 0, 10000),
        _int_field("meetings.removal_ban_seconds", 0, 86400),
        _int_field("documents.max_upload_bytes", 1024, 1024 * 1024 * 1024),
        _int_field("documents.max_pages", 1, 10000),
        _int_field("documents.max_page_points", 72, 200 * 14400),
        _int_field("documents.render_timeout_seconds", 1, 3600),
        _int_field("documents.page_width_px", 100, 8000),
        _int_field("documents.max_image_bytes", 1024, 1024 * 1024 * 1024),
        _Field("wall.operating_hours", _operating_hours),
        _int_field("wall.pairing_code_seconds", 1, 86400),
    )
}
_SECTIONS = tuple(dict.fromkeys(name.split(".", 1)[0] for name in _FIELDS))
_ENV_VARS = {spec.env_var: spec for spec in _FIELDS.values()}


def _validate(label: str, parse: Callable[[_T], object], value: _T) -> object:
    try:
        return parse(value)
    except _InvalidValueError as error:
        raise SettingsError(f"{label}: {error}") from None


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


# --------------------------------------------------------------------------- sources


def _read_file(path: Path | None, env: Mapping[str, str]) -> tuple[dict[str, object], str]:
    """Return the parsed TOML document and the label used in error messages."""
    if path is None and env.get(CONFIG_ENV, "").strip():
        path = Path(env[CONFIG_ENV].strip())
        missing_label = f"{CONFIG_ENV}: no such file {str(path)!r}"
    else:
        missing_label = f"config file not found: {str(path)!r}"
    if path is None:
        label = PACKAGED_LABEL
        data = resources.files(__package__ or "config").joinpath("openroom.toml").read_bytes()
    else:
        label = str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SettingsError(missing_label) from None
        except OSError as error:
            raise SettingsError(f"{label}: cannot read: {error.strerror or error}") from None
    try:
        return tomllib.loads(data.decode("utf-8")), label
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{label}: invalid TOML: {error}") from None


def _apply_file(values: dict[str, object], document: dict[str, object], label: str) -> None:
    for section, table in document.items():
        if section not in _SECTIONS:
            raise SettingsError(
                f"{section} ({label}): unknown section{_suggest(section, list(_SECTIONS))}; "
                f"known: {', '.join(_SECTIONS)}"
            )
        if not isinstance(table, dict):
            raise SettingsError(f"{section} ({label}): must be a table ([{section}])")
        for key, value in table.items():
            name = f"{section}.{key}"
            spec = _FIELDS.get(name)
            if spec is None:
                raise SettingsError(
                    f"{name} ({label}): unknown setting{_suggest(name, list(_FIELDS))}"
                )
            values[name] = _validate(f"{name} ({label})", spec.check, value)


def _apply_env(values: dict[str, object], env: Mapping[str, str]) -> None:
    unknown = sorted(
        name
        for name in env
        if name.startswith(ENV_PREFIX) and name != CONFIG_ENV and name not in _ENV_VARS
    )
    if unknown:
        raise SettingsError(
            "; ".join(
                f"{name}: unknown setting{_suggest(name, [*_ENV_VARS, CONFIG_ENV])}"
                for name in unknown
            )
        )
    for env_var, spec in _ENV_VARS.items():
        if env_var in env:
            values[spec.name] = _validate(env_var, spec.parse_env, env[env_var])


def _apply_overrides(values: dict[str, object], overrides: Mapping[str, object]) -> None:
    for name, value in overrides.items():
        spec = _FIELDS.get(name)
        if spec is None:
            raise SettingsError(
                f"{name} (override): unknown setting{_suggest(name, list(_FIELDS))}"
            )
        values[name] = _validate(f"{name} (override)", spec.check, value)


# --------------------------------------------------------------------------- public API


def _get(values: Mapping[str, object], name: str, default: _T) -> _T:
    value = values.get(name, default)
    if not isinstance(value, type(default)):  # unreachable: checkers normalise the type
        raise TypeError(f"{name}: internal error, got {type(value).__name__}")
    return value


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Load, validate and freeze the settings. Raises SettingsError naming the bad setting."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    document, label = _read_file(path, env)
    _apply_file(values, document, label)
    _apply_env(values, env)
    _apply_overrides(values, overrides or {})

    server, security, media, redis, meetings = (
        ServerSettings(),
        SecuritySettings(),
        MediaSettings(),
        RedisSettings(),
        MeetingSettings(),
    )
    return Settings(
        server=ServerSettings(
            host=_get(values, "server.host", server.host),
            port=_get(values, "server.port", server.port),
            public_url=_get(values, "server.public_url", server.public_url),
            data_dir=_get(values, "server.data_dir", server.data_dir),
        ),
        security=SecuritySettings(
            token_secret=_get(values, "security.token_secret", security.token_secret),
            token_ttl_seconds=_get(
                values, "security.token_ttl_seconds", security.token_ttl_seconds
            ),
            allow_guests=_get(values, "security.allow_guests", security.allow_guests),
            admin_api_key=_get(values, "security.admin_api_key", security.admin_api_key),
            feed_key=_get(values, "security.feed_key", security.feed_key),
        ),
        media=MediaSettings(
            video_codec=_get(values, "media.video_codec", media.video_codec),
            ice_servers=_get(values, "media.ice_servers", media.ice_servers),
            udp_buffer_bytes=_get(values, "media.udp_buffer_bytes", media.udp_buffer_bytes),
            max_participants=_get(values, "media.max_participants", media.max_participants),
            forwarding=_get(values, "media.forwarding", media.forwarding),
        ),
        redis=RedisSettings(url=_get(values, "redis.url", redis.url)),
        meetings=MeetingSettings(
            reconnect_grace_seconds=_get(
                values, "meetings.reconnect_grace_seconds", meetings.reconnect_grace_seconds
            ),
            chat_history=_get(values, "meetings.chat_history", meetings.chat_history),
            removal_ban_seconds=_get(
                values, "meetings.removal_ban_seconds", meetings.removal_ban_seconds
            ),
        ),
        documents=_documents(values),
        wall=WallSettings(
            operating_hours=_get(values, "wall.operating_hours", WallSettings().operating_hours),
            pairing_code_seconds=_get(
                values, "wall.pairing_code_seconds", WallSettings().pairing_code_seconds
            ),
        ),
    )


def _documents(values: Mapping[str, object]) -> DocumentSettings:
    defaults = DocumentSettings()
    return DocumentSettings(
        **{
            f.name: _get(values, f"documents.{f.name}", getattr(defaults, f.name))
            for f in fields(DocumentSettings)
        }
    )


def token_secret(settings: Settings) -> str:
    """The secret used to sign tokens.

    Returns ``security.token_secret`` when set; otherwise reads ``<data_dir>/token-secret``,
    creating it once (mode 0600, parent directories created) with a random value.
    """
    if settings.security.token_secret:
        return settings.security.token_secret
    target = Path(settings.server.data_dir) / TOKEN_SECRET_FILE
    label = f"server.data_dir ({target})"
    try:
        return _read_secret(target)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise SettingsError(f"{label}: cannot read token secret: {error}") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _create_secret(target, secrets.token_urlsafe(32))
        return _read_secret(target)
    except OSError as error:
        raise SettingsError(f"{label}: cannot create token secret: {error}") from None


def _read_secret(target: Path) -> str:
    secret = target.read_text(encoding="utf-8").strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"server.data_dir ({target}): token secret file is shorter than "
            f"{MIN_SECRET_LENGTH} characters; delete it to generate a new one"
        )
    return secret


def _create_secret(target: Path, secret: str) -> None:
    """Write a complete file, then link it into place so a concurrent starter never sees a
    half-written secret and the first writer wins."""
    fd, temporary = tempfile.mkstemp(prefix=".token-secret-", dir=target.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, target)
        except FileExistsError:
            pass  # another process won the race; use its secret
        except OSError:
            _create_exclusive(target, secret)  # no hard links on this filesystem
    finally:
        os.unlink(temporary)


def _create_exclusive(target: Path, secret: str) -> None:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
