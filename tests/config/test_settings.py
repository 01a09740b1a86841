"""Tests for config.settings: defaults, env vars, overrides, validation and the token secret."""

from __future__ import annotations

import dataclasses
import json
import stat
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from config import (
    IceServer,
    MediaSettings,
    RedisSettings,
    SecuritySettings,
    ServerSettings,
    Settings,
    SettingsError,
    load_settings,
    token_secret,
)

DEFAULTS = Settings(ServerSettings(), SecuritySettings(), MediaSettings(), RedisSettings())


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "openroom.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- defaults


def test_the_packaged_defaults_load_and_match_the_embedded_defaults() -> None:
    assert load_settings(env={}) == DEFAULTS


def test_the_packaged_file_lists_every_setting_with_its_env_var() -> None:
    text = resources.files("config").joinpath("openroom.toml").read_text(encoding="utf-8")
    document = tomllib.loads(text)
    for section in dataclasses.fields(Settings):
        for name in (f.name for f in dataclasses.fields(getattr(DEFAULTS, section.name))):
            assert name in document[section.name], f"{section.name}.{name} missing"
            assert f"OPENROOM_{section.name}_{name}".upper() in text


def test_the_defaults_are_sensible() -> None:
    settings = load_settings(env={})
    assert settings.server.port == 8080
    assert settings.security.allow_guests is True
    assert settings.media.video_codec == "VP8"
    assert settings.media.ice_servers == ()
    assert settings.redis.url == ""


def test_a_file_that_sets_only_some_keys_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 9001\n")
    settings = load_settings(path, env={})
    assert settings.server.port == 9001
    assert settings.server.host == "0.0.0.0"
    assert settings.media == MediaSettings()


def test_openroom_config_names_the_file_to_read_instead(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[media]\nvideo_codec = "h264"\n')
    settings = load_settings(env={"OPENROOM_CONFIG": str(path)})
    assert settings.media.video_codec == "H264"


def test_an_openroom_config_file_that_does_not_exist_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="^OPENROOM_CONFIG: "):
        load_settings(env={"OPENROOM_CONFIG": str(tmp_path / "missing.toml")})


def test_ice_servers_can_be_written_as_tables_in_the_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        "[[media.ice_servers]]\n"
        'urls = "stun:stun.example.org:3478"\n'
        "[[media.ice_servers]]\n"
        'urls = ["turn:turn.example.org:3478"]\n'
        'username = "u"\n'
        'credential = "p"\n',
    )
    assert load_settings(path, env={}).media.ice_servers == (
        IceServer(urls=("stun:stun.example.org:3478",)),
        IceServer(urls=("turn:turn.example.org:3478",), username="u", credential="p"),
    )


# --------------------------------------------------------------------------- environment


def test_env_vars_override_each_type_of_setting() -> None:
    ice = [{"urls": ["turn:coturn:3478"], "username": "u", "credential": "p"}]
    settings = load_settings(
        env={
            "OPENROOM_SERVER_HOST": "127.0.0.1",
            "OPENROOM_SERVER_PORT": "9000",
            "OPENROOM_SERVER_PUBLIC_URL": "https://meet.example.org/",
            "OPENROOM_SECURITY_ALLOW_GUESTS": "false",
            "OPENROOM_SECURITY_TOKEN_TTL_SECONDS": "3600",
            "OPENROOM_MEDIA_VIDEO_CODEC": "h264",
            "OPENROOM_MEDIA_ICE_SERVERS": json.dumps(ice),
            "OPENROOM_REDIS_URL": "redis://redis:6379/0",
            "UNRELATED": "ignored",
        }
    )
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 9000
    assert settings.server.public_url == "https://meet.example.org"
    assert settings.security.allow_guests is False
    assert settings.security.token_ttl_seconds == 3600
    assert settings.media.video_codec == "H264"
    assert settings.media.ice_servers == (
        IceServer(urls=("turn:coturn:3478",), username="u", credential="p"),
    )
    assert settings.redis.url == "redis://redis:6379/0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("1", True), ("YES", True), ("false", False), ("0", False), ("no", False)],
)
def test_a_boolean_env_var_accepts_the_usual_spellings(text: str, expected: bool) -> None:
    settings = load_settings(env={"OPENROOM_SECURITY_ALLOW_GUESTS": text})
    assert settings.security.allow_guests is expected


def test_an_ice_server_url_may_be_a_single_string_in_the_env_var() -> None:
    settings = load_settings(env={"OPENROOM_MEDIA_ICE_SERVERS": '[{"urls": "stun:s:3478"}]'})
    assert settings.media.ice_servers == (IceServer(urls=("stun:s:3478",)),)


def test_env_vars_win_over_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 9001\n")
    assert load_settings(path, env={"OPENROOM_SERVER_PORT": "9002"}).server.port == 9002


# --------------------------------------------------------------------------- overrides


def test_overrides_win_over_env_vars_and_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 9001\n")
    settings = load_settings(
        path,
        env={"OPENROOM_SERVER_PORT": "9002"},
        overrides={"server.port": 9003, "security.allow_guests": False},
    )
    assert settings.server.port == 9003
    assert settings.security.allow_guests is False


def test_an_override_with_the_wrong_type_names_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"^server\.port \(override\): must be an integer"):
        load_settings(env={}, overrides={"server.port": "9000"})


def test_an_unknown_override_names_it() -> None:
    with pytest.raises(SettingsError, match=r"^server\.prot \(override\): unknown setting"):
        load_settings(env={}, overrides={"server.prot": 9000})


# --------------------------------------------------------------------------- bad values


def test_a_port_that_is_not_a_number_names_the_setting() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env={"OPENROOM_SERVER_PORT": "abc"})
    assert str(caught.value) == (
        "OPENROOM_SERVER_PORT: must be an integer from 1 to 65535, got 'abc'"
    )


@pytest.mark.parametrize("port", ["0", "65536", "-1", "80.5", ""])
def test_a_port_out_of_range_names_the_setting(port: str) -> None:
    with pytest.raises(SettingsError, match="^OPENROOM_SERVER_PORT: must be an integer"):
        load_settings(env={"OPENROOM_SERVER_PORT": port})


def test_a_port_of_the_wrong_type_in_the_file_names_the_setting_and_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[server]\nport = "8080"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path, env={})
    assert str(caught.value).startswith(f"server.port ({path}): must be an integer")


def test_a_token_ttl_out_of_range_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="^OPENROOM_SECURITY_TOKEN_TTL_SECONDS: .*60"):
        load_settings(env={"OPENROOM_SECURITY_TOKEN_TTL_SECONDS": "59"})


def test_an_unknown_video_codec_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="^OPENROOM_MEDIA_VIDEO_CODEC: must be one of VP8"):
        load_settings(env={"OPENROOM_MEDIA_VIDEO_CODEC": "AV1"})


def test_a_boolean_that_is_not_a_boolean_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="^OPENROOM_SECURITY_ALLOW_GUESTS: must be one of"):
        load_settings(env={"OPENROOM_SECURITY_ALLOW_GUESTS": "maybe"})


def test_a_string_boolean_in_the_file_names_the_setting(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[security]\nallow_guests = "false"\n')
    with pytest.raises(SettingsError, match=r"^security\.allow_guests \(.*\): must be true"):
        load_settings(path, env={})


def test_a_redis_url_with_another_scheme_names_the_setting_without_echoing_it() -> None:
    with pytest.raises(SettingsError, match="^OPENROOM_REDIS_URL: ") as caught:
        load_settings(env={"OPENROOM_REDIS_URL": "http://user:hunter2@redis:6379"})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("url", ["redis://r:6379/0", "rediss://r:6380", "unix:///run/r.sock"])
def test_the_accepted_redis_url_schemes_load(url: str) -> None:
    assert load_settings(env={"OPENROOM_REDIS_URL": url}).redis.url == url


def test_a_short_token_secret_names_the_setting_without_echoing_it() -> None:
    with pytest.raises(SettingsError, match="^OPENROOM_SECURITY_TOKEN_SECRET: ") as caught:
        load_settings(env={"OPENROOM_SECURITY_TOKEN_SECRET": "tooshort"})
    assert "tooshort" not in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        '{"urls": "stun:s"}',
        '[{"urls": "http://s"}]',
        '[{"urls": "turn:t:3478"}]',
        '[{"urls": "stun:s", "password": "x"}]',
        '[{"urls": []}]',
    ],
)
def test_bad_ice_servers_name_the_setting(value: str) -> None:
    with pytest.raises(SettingsError, match="^OPENROOM_MEDIA_ICE_SERVERS: "):
        load_settings(env={"OPENROOM_MEDIA_ICE_SERVERS": value})


def test_an_unknown_key_in_the_file_names_it(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nprot = 9000\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert message.startswith(f"server.prot ({path}): unknown setting")
    assert "server.port" in message


def test_an_unknown_section_in_the_file_names_it(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[sever]\nport = 9000\n")
    with pytest.raises(SettingsError, match=rf"^sever \({path}\): unknown section"):
        load_settings(path, env={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server\n")
    with pytest.raises(SettingsError, match="invalid TOML"):
        load_settings(path, env={})


def test_an_unknown_env_var_names_it() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env={"OPENROOM_SERVER_PROT": "9000"})
    message = str(caught.value)
    assert message.startswith("OPENROOM_SERVER_PROT: unknown setting")
    assert "OPENROOM_SERVER_PORT" in message


# --------------------------------------------------------------------------- frozen


def test_the_settings_are_frozen() -> None:
    settings = load_settings(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.server.port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.server = ServerSettings()  # type: ignore[misc]


def test_secrets_are_left_out_of_the_repr() -> None:
    settings = load_settings(
        env={
            "OPENROOM_SECURITY_TOKEN_SECRET": "s3cret-s3cret-s3cret",
            "OPENROOM_SECURITY_ADMIN_API_KEY": "adm1n-key",
        }
    )
    assert "s3cret" not in repr(settings)
    assert "adm1n" not in repr(settings)


# --------------------------------------------------------------------------- token secret


def test_a_configured_token_secret_is_used_as_is(tmp_path: Path) -> None:
    settings = load_settings(
        env={
            "OPENROOM_SECURITY_TOKEN_SECRET": "x" * 32,
            "OPENROOM_SERVER_DATA_DIR": str(tmp_path / "var"),
        }
    )
    assert token_secret(settings) == "x" * 32
    assert not (tmp_path / "var").exists()


def test_the_token_secret_file_is_created_once_with_mode_0600_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "var"
    settings = load_settings(env={"OPENROOM_SERVER_DATA_DIR": str(data_dir)})

    first = token_secret(settings)
    secret_file = data_dir / "token-secret"
    assert secret_file.is_file()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert secret_file.read_text(encoding="utf-8").strip() == first

    assert token_secret(settings) == first
    assert token_secret(load_settings(env={"OPENROOM_SERVER_DATA_DIR": str(data_dir)})) == first
    assert sorted(p.name for p in data_dir.iterdir()) == ["token-secret"]


def test_an_existing_token_secret_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "token-secret").write_text("existing-secret-value-123\n", encoding="utf-8")
    settings = load_settings(env={"OPENROOM_SERVER_DATA_DIR": str(tmp_path)})
    assert token_secret(settings) == "existing-secret-value-123"


def test_a_truncated_token_secret_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "token-secret").write_text("short", encoding="utf-8")
    settings = load_settings(env={"OPENROOM_SERVER_DATA_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match=r"^server\.data_dir "):
        token_secret(settings)


def test_ice_server_credentials_are_left_out_of_the_repr() -> None:
    server = IceServer(urls=("turn:t:3478",), username="u", credential="hunter2")
    assert "hunter2" not in repr(server)


# --------------------------------------------------------------------------- the wall


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("07:00-22:00", "07:00-22:00"),
        (" 22:00 - 06:30 ", "22:00-06:30"),
        ("", ""),
        ("00:00-24:00", "00:00-24:00"),
    ],
)
def test_operating_hours_are_read_and_normalised(given: str, kept: str) -> None:
    settings = load_settings(env={"OPENROOM_WALL_OPERATING_HOURS": given})
    assert settings.wall.operating_hours == kept


@pytest.mark.parametrize("given", ["7-22", "25:00-06:00", "07:00-24:30", "08:00-08:00", "x"])
def test_bad_operating_hours_are_refused_naming_the_setting(given: str) -> None:
    with pytest.raises(SettingsError, match="^OPENROOM_WALL_OPERATING_HOURS: must"):
        load_settings(env={"OPENROOM_WALL_OPERATING_HOURS": given})
