"""Join tokens: HS256 JWTs that round-trip their claims and refuse anything forged or stale."""

from __future__ import annotations

import base64
import json

import pytest

from conference import (
    GUEST_ORG,
    ExpiredTokenError,
    InvalidNameError,
    InvalidTokenError,
    Org,
    OrgKind,
    Role,
    mint_token,
    verify_token,
)
from conference.tokens import CLOCK_SKEW_SECONDS

SECRET = "a-secret-that-is-long-enough-0123456789"
NOW = 1_700_000_000.0
TTL = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mint(secret: str = SECRET, **overrides: object) -> str:
    values: dict[str, object] = {
        "room": "council-2024",
        "name": "홍길동",
        "org": Org(OrgKind.DISTRICT, "도봉구"),
        "role": Role.MODERATOR,
        "now": NOW,
        "ttl_seconds": TTL,
        "identity": "user-42",
    }
    values.update(overrides)
    return mint_token(secret, **values)  # type: ignore[arg-type]


def test_a_minted_token_verifies_to_the_same_claims() -> None:
    claims = verify_token(SECRET, _mint(), now=NOW + 10)

    assert claims.room == "council-2024"
    assert claims.identity == "user-42"
    assert claims.name == "홍길동"
    assert claims.org == Org(OrgKind.DISTRICT, "도봉구")
    assert claims.role is Role.MODERATOR
    assert claims.issued_at == int(NOW)
    assert claims.expires_at == int(NOW) + TTL


def test_a_token_without_identity_gets_a_random_one() -> None:
    first = verify_token(SECRET, _mint(identity=None), now=NOW)
    second = verify_token(SECRET, _mint(identity=None), now=NOW)

    assert first.identity
    assert first.identity != second.identity


@pytest.mark.parametrize("org", [GUEST_ORG, Org(OrgKind.CITY, "")], ids=["guest", "city"])
def test_a_token_for_an_org_without_a_name_round_trips(org: Org) -> None:
    claims = verify_token(SECRET, _mint(org=org), now=NOW)

    assert claims.org == org


def test_a_token_minted_with_another_secret_is_refused_as_invalid() -> None:
    token = _mint(secret="some-other-secret-0123456789abcdef")

    with pytest.raises(InvalidTokenError):
        verify_token(SECRET, token, now=NOW)


def test_a_token_whose_payload_was_changed_is_refused_as_invalid() -> None:
    header, body, signature = _mint(role=Role.VIEWER).split(".")
    payload = json.loads(_unb64(body))
    payload["role"] = Role.HOST.value
    forged_body = _b64(json.dumps(payload, ensure_ascii=False).encode())

    with pytest.raises(InvalidTokenError):
        verify_token(SECRET, f"{header}.{forged_body}.{signature}", now=NOW)


def test_a_token_is_still_accepted_within_the_clock_skew_after_expiry() -> None:
    claims = verify_token(SECRET, _mint(), now=NOW + TTL + CLOCK_SKEW_SECONDS)

    assert claims.room == "council-2024"


def test_a_token_past_expiry_and_skew_is_refused_as_expired() -> None:
    with pytest.raises(ExpiredTokenError):
        verify_token(SECRET, _mint(), now=NOW + TTL + CLOCK_SKEW_SECONDS + 1)


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "!!!.###.$$$", "a.b.c.d", "x" * 5000],
    ids=["empty", "two-parts", "garbage-base64", "four-parts", "too-long"],
)
def test_a_malformed_token_is_refused_as_invalid(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        verify_token(SECRET, token, now=NOW)


def test_a_token_with_alg_none_and_no_signature_is_refused_as_invalid() -> None:
    _, body, _ = _mint().split(".")
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())

    with pytest.raises(InvalidTokenError):
        verify_token(SECRET, f"{header}.{body}.", now=NOW)


def test_a_name_with_control_characters_cannot_be_minted() -> None:
    with pytest.raises(InvalidNameError):
        _mint(name="홍길동\x07")


@pytest.mark.parametrize("room", ["", "-starts-with-dash", "has space", "a/b", "x" * 65])
def test_an_invalid_room_id_cannot_be_minted(room: str) -> None:
    with pytest.raises(InvalidNameError):
        _mint(room=room)
