"""Validation of event payloads: every field checked for presence, type and size, each
failure a ProtocolError that names the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from signaling.errors import ProtocolError

DEFAULT_MAX_PAYLOAD_BYTES = 8 * 1024


def payload_dict(payload: object, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ProtocolError("invalid_payload", "the payload must be an object")
    try:
        # allow_nan=False: NaN and Infinity are not JSON; a browser could not parse them back
        size = len(json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise ProtocolError("invalid_payload", "the payload is not plain JSON") from exc
    if size > max_bytes:
        raise ProtocolError("payload_too_large", f"the payload is larger than {max_bytes} bytes")
    return payload


def string_field(
    payload: Mapping[str, Any],
    name: str,
    *,
    required: bool = True,
    max_length: int = 256,
    default: str | None = None,
) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise ProtocolError("missing_field", f'the field "{name}" is required')
        return default
    if not isinstance(value, str):
        raise ProtocolError("invalid_field", f'the field "{name}" must be a string')
    if len(value) > max_length:
        raise ProtocolError("invalid_field", f'the field "{name}" is longer than {max_length}')
    return value


def required_string(payload: Mapping[str, Any], name: str, *, max_length: int = 256) -> str:
    value = string_field(payload, name, max_length=max_length)
    assert value is not None
    return value


def bool_field(payload: Mapping[str, Any], name: str) -> bool | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ProtocolError("invalid_field", f'the field "{name}" must be true or false')
    return value


def int_field(payload: Mapping[str, Any], name: str, *, required: bool = True) -> int | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise ProtocolError("missing_field", f'the field "{name}" is required')
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError("invalid_field", f'the field "{name}" must be an integer')
    return value


def string_map_field(
    payload: Mapping[str, Any],
    name: str,
    *,
    allowed_values: frozenset[str],
    max_items: int = 16,
) -> dict[str, str]:
    value = payload.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > max_items:
        raise ProtocolError("invalid_field", f'the field "{name}" must be an object')
    result: dict[str, str] = {}
    for key, item in value.items():
        if (
            not isinstance(key, str)
            or len(key) > 32
            or not isinstance(item, str)
            or item not in allowed_values
        ):
            allowed = ", ".join(sorted(allowed_values))
            raise ProtocolError("invalid_field", f'"{name}" values must be one of {allowed}')
        result[key] = str(item)
    return result


def only_fields(payload: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise ProtocolError("invalid_field", f"unknown field(s): {', '.join(unknown)}")


def string_list_field(
    payload: Mapping[str, Any], name: str, *, max_items: int = 64, max_length: int = 128
) -> list[str]:
    value = payload.get(name)
    if value is None:
        raise ProtocolError("missing_field", f'the field "{name}" is required')
    if not isinstance(value, list) or len(value) > max_items:
        raise ProtocolError(
            "invalid_field", f'the field "{name}" must be a list of at most {max_items} strings'
        )
    if not all(isinstance(item, str) and 0 < len(item) <= max_length for item in value):
        raise ProtocolError("invalid_field", f'the field "{name}" must hold non-empty strings')
    return list(dict.fromkeys(value))
