"""Bearer tokens: minting, verification and every way a token can be wrong."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from speedledger.central.auth import InvalidToken, Role, TokenAuthority, WeakSecret

SECRET = "s" * 32


def test_minted_token_verifies_to_its_subject_and_role() -> None:
    authority = TokenAuthority(SECRET)
    for role in Role:
        principal = authority.verify(authority.mint(role, "alice", ttl_s=60))
        assert principal.role is role
        assert principal.subject == "alice"
        assert abs(principal.expires_at - (time.time() + 60)) < 5


def test_token_is_hs256_with_expiry() -> None:
    token = TokenAuthority(SECRET).mint(Role.AGENCY, "bob", ttl_s=120, now=1_000_000)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert claims["exp"] - claims["iat"] == 120
    assert claims["role"] == "agency"


def test_short_secret_is_refused() -> None:
    with pytest.raises(WeakSecret, match="at least 32 bytes"):
        TokenAuthority("short")


def test_expired_token_is_rejected() -> None:
    authority = TokenAuthority(SECRET)
    token = authority.mint(Role.ADMIN, "alice", ttl_s=10, now=int(time.time()) - 3600)
    with pytest.raises(InvalidToken, match="expired"):
        authority.verify(token)


def test_token_signed_with_another_secret_is_rejected() -> None:
    token = TokenAuthority("x" * 32).mint(Role.ADMIN, "mallory")
    with pytest.raises(InvalidToken, match="Signature"):
        TokenAuthority(SECRET).verify(token)


def test_unsigned_token_is_rejected() -> None:
    forged = jwt.encode({"sub": "m", "role": "admin", "iss": "speedledger", "iat": 0, "exp": 2**40}, None, "none")
    with pytest.raises(InvalidToken):
        TokenAuthority(SECRET).verify(forged)


def test_tampered_role_is_rejected() -> None:
    header, payload, signature = TokenAuthority(SECRET).mint(Role.AGENCY, "eve").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        TokenAuthority(SECRET).verify(f"{header}.{forged_payload}.{signature}")


def test_unknown_role_is_rejected() -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "x", "role": "root", "iss": "speedledger", "iat": now, "exp": now + 60}, SECRET)
    with pytest.raises(InvalidToken, match="unknown role"):
        TokenAuthority(SECRET).verify(token)


def test_token_without_expiry_is_rejected() -> None:
    token = jwt.encode({"sub": "x", "role": "admin", "iss": "speedledger", "iat": int(time.time())}, SECRET)
    with pytest.raises(InvalidToken, match="exp"):
        TokenAuthority(SECRET).verify(token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x"])
def test_garbage_is_rejected(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        TokenAuthority(SECRET).verify(garbage)
