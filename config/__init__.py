"""OpenRoom configuration: ``load_settings()`` returns frozen, validated settings."""

from config.settings import (
    IceServer,
    MediaSettings,
    MeetingSettings,
    RedisSettings,
    SecuritySettings,
    ServerSettings,
    Settings,
    SettingsError,
    WallSettings,
    load_settings,
    token_secret,
)

__all__ = [
    "IceServer",
    "MediaSettings",
    "MeetingSettings",
    "RedisSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "WallSettings",
    "load_settings",
    "token_secret",
]
