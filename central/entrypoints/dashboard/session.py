"""Sign-in sessions: a short-lived cookie minted from a bearer token, and the CSRF token of its forms.

The cookie holds a token of the same role and subject, signed by the same authority, that expires
after `SESSION_TTL_S` or with the token it was minted from, whichever comes first. It is `HttpOnly`
(no script reads it) and `SameSite=Strict` (no other site's page sends it). Every state-changing form
also carries a CSRF token derived from the cookie, which a page of another origin cannot know.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from fastapi import Request, Response

from speedledger.central.auth import InvalidToken, Principal, TokenAuthority

SESSION_COOKIE = "speedledger_session"
#: A session lasts at most this long (seconds), then the user signs in again with their token.
SESSION_TTL_S = 3600


def _authority(request: Request) -> TokenAuthority:
    authority: TokenAuthority = request.app.state.token_authority
    return authority


def open_session(request: Request, response: Response, token: str) -> Principal:
    """Verify `token` and set the session cookie on `response`; InvalidToken when it is not valid."""
    principal = _authority(request).verify(token.strip())
    ttl_s = min(SESSION_TTL_S, principal.expires_at - int(time.time()))
    if ttl_s <= 0:
        raise InvalidToken("token expired")
    session = _authority(request).mint(principal.role, principal.subject, ttl_s)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=ttl_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return principal


def close_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def session_principal(request: Request) -> Principal | None:
    """Who the session cookie belongs to, or None without a valid one."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return _authority(request).verify(cookie)
    except InvalidToken:
        return None


def csrf_token(request: Request) -> str:
    """The token the session's forms carry: a hash of the (HttpOnly, unreadable elsewhere) cookie."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hashlib.sha256(b"speedledger-csrf:" + cookie.encode()).hexdigest()


def csrf_valid(request: Request, submitted: str) -> bool:
    return bool(request.cookies.get(SESSION_COOKIE)) and hmac.compare_digest(csrf_token(request), submitted)
