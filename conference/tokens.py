"""Join tokens: JWT (HS256) signed with the server's secret, expiring, carrying the room,
the identity, the display name, the organisation and the role."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from conference.errors import ExpiredTokenError, InvalidNameError, InvalidTokenError
from conference.model import Org, Role, clean_name, is_valid_room_id

_HEADER = {"alg": "HS256", "typ": "JWT"}
MAX_TOKEN_LENGTH = 4096
CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True)
class JoinClaims:
    room: str
    identity: str
    name: str
    org: Org
    role: Role
    issued_at: int
    expires_at: int


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, signing_input: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()


def mint_token(
    secret: str,
    *,
    room: str,
    name: str,
    org: Org,
    role: Role,
    now: float,
    ttl_seconds: int,
    identity: str | None = None,
) -> str:
    if not is_valid_room_id(room):
        raise InvalidNameError(f"room id {room!r} is not valid (letters, digits, - and _)")
    payload = {
        "room": room,
        "sub": identity or secrets.token_hex(8),
        "name": clean_name(name),
        "org": org.to_dict(),
        "role": role.value,
        "iat": int(now),
        "exp": int(now) + ttl_seconds,
        "jti": secrets.token_hex(8),
    }
    header = _b64encode(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    signing_input = f"{header}.{body}".encode("ascii")
    return f"{header}.{body}.{_b64encode(_sign(secret, signing_input))}"


def verify_token(secret: str, token: str, *, now: float) -> JoinClaims:
    """The token's claims, or a specific error: malformed, forged, expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError("the join token is empty or too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidTokenError("the join token is not a JWT")
    header_b64, body_b64, signature_b64 = parts
    try:
        header = json.loads(_b64decode(header_b64))
        signature = _b64decode(signature_b64)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidTokenError("the join token is malformed") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidTokenError("the join token is not signed with HS256")
    expected = _sign(secret, f"{header_b64}.{body_b64}".encode("ascii"))
    if not hmac.compare_digest(expected, signature):
        raise InvalidTokenError("the join token's signature does not match")
    try:
        payload = json.loads(_b64decode(body_b64))
        claims = JoinClaims(
            room=str(payload["room"]),
            identity=str(payload["sub"]),
            name=clean_name(str(payload["name"])),
            org=Org.parse(f"{payload['org']['kind']}:{payload['org']['name']}"),
            role=Role(payload["role"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, InvalidNameError) as exc:
        raise InvalidTokenError("the join token's claims are malformed") from exc
    if claims.expires_at + CLOCK_SKEW_SECONDS < now:
        raise ExpiredTokenError("the join token has expired")
    return claims
