"""Bearer tokens: HS256 JWTs signed with SPEEDLEDGER_SECRET, carrying a subject, a role and an expiry."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from speedledger.central.auth.roles import Role

ALGORITHM = "HS256"
ISSUER = "speedledger"
#: RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_SECRET_BYTES = 32
DEFAULT_TTL_S = 8 * 3600
#: Tokens cannot be revoked one by one (only all at once, by changing the secret): keep them bounded.
MAX_TTL_S = 366 * 86400
#: Clock skew tolerated between the minting host and central when checking `exp`, `iat` and `nbf`.
LEEWAY_S = 30


class WeakSecret(ValueError):
    """The signing secret is too short to sign HS256 tokens safely."""


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed, expired or names no known role."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    expires_at: int
    token_id: str


class TokenAuthority:
    """Mints and verifies the REST API's bearer tokens with one shared secret."""

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < MIN_SECRET_BYTES:
            raise WeakSecret(
                f"SPEEDLEDGER_SECRET must be at least {MIN_SECRET_BYTES} bytes (got {len(key)}); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        self._key = key
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})

    def mint(self, role: Role, subject: str, ttl_s: int = DEFAULT_TTL_S, *, now: int | None = None) -> str:
        if not subject.strip():
            raise ValueError("subject must not be empty")
        if not 0 < ttl_s <= MAX_TTL_S:
            raise ValueError(f"token lifetime must be between 1 s and {MAX_TTL_S // 86400} days")
        issued_at = int(time.time()) if now is None else now
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "role": role.value,
            "iat": issued_at,
            "exp": issued_at + ttl_s,
            "jti": str(uuid.uuid4()),
        }
        return self._jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        try:
            claims = self._jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"invalid token: {exc}") from exc
        if not isinstance(claims["sub"], str) or not claims["sub"].strip():
            raise InvalidToken("invalid token: empty subject")
        try:
            role = Role(str(claims.get("role")))
        except ValueError as exc:
            raise InvalidToken(f"invalid token: unknown role {claims.get('role')!r}") from exc
        return Principal(
            subject=str(claims["sub"]),
            role=role,
            expires_at=int(claims["exp"]),
            token_id=str(claims.get("jti", "")),
        )


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """Seconds in a duration like `90`, `90s`, `30m`, `8h` or `7d`."""
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    if not number.isdigit() or int(number) == 0:
        raise ValueError(f"invalid duration {text!r}: use a positive whole number with s, m, h or d (e.g. 8h)")
    return int(number) * _UNITS[unit]
