"""Who is looking: every dashboard route depends on `needs(permission)`, the API's role matrix.

Without a valid session the browser is sent to the sign-in page (nothing with data is served);
with a role that lacks the permission it gets a 403 page. Pages only offer what `Viewer.may` allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Form, Request

from speedledger.central.auth import Permission, Principal, allows
from speedledger.central.entrypoints.dashboard.session import csrf_token, csrf_valid, session_principal


class SignInRequired(Exception):
    """No valid session: answered with a redirect to the sign-in page."""


class Refused(Exception):
    """Signed in, but not allowed: answered with a 403 page saying why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    #: Put in every form that changes something (checked by `needs_form`).
    csrf: str

    def may(self, permission: Permission) -> bool:
        return allows(self.principal.role, permission)


def _viewer(request: Request, permission: Permission) -> Viewer:
    principal = session_principal(request)
    if principal is None:
        raise SignInRequired()
    viewer = Viewer(principal, csrf_token(request))
    if not viewer.may(permission):
        raise Refused(f"role {principal.role.value!r} lacks permission {permission.value!r}")
    return viewer


def needs(permission: Permission) -> Callable[[Request], Viewer]:
    """A dependency: the signed-in viewer, who must hold `permission`."""

    def dependency(request: Request) -> Viewer:
        return _viewer(request, permission)

    return dependency


def needs_form(permission: Permission) -> Callable[..., Viewer]:
    """As `needs`, for a POSTed form, which must also carry the session's CSRF token."""

    def dependency(request: Request, csrf: str = Form("")) -> Viewer:
        viewer = _viewer(request, permission)
        if not csrf_valid(request, csrf):
            raise Refused("the form's CSRF token is missing or stale: reload the page and try again")
        return viewer

    return dependency


def signed_in(request: Request) -> Viewer:
    """Any signed-in viewer, whatever the role (the navigation decides what it shows)."""
    principal = session_principal(request)
    if principal is None:
        raise SignInRequired()
    return Viewer(principal, csrf_token(request))
