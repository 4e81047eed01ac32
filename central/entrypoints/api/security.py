"""Authentication (401) and authorisation (403) for every `/api/` route, checked before anything else.

Each route declares the one permission it needs with `requires(...)`. `GuardedRoute` checks the bearer
token and that permission before FastAPI reads the body or validates parameters, so a caller without
the right token learns nothing about the endpoint beyond 401/403. A route under `/api/` that declares
no permission is refused when the app is built: access is denied unless granted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from speedledger.central.auth import PERMISSIONS, InvalidToken, Permission, Principal, Role, TokenAuthority

PERMISSION_KEY = "x-permission"
#: Declares the bearer scheme in OpenAPI, so Swagger UI offers "Authorize"; checking is GuardedRoute's job.
bearer_scheme = HTTPBearer(auto_error=False, description="A token from `speedledger token mint`.")


def requires(permission: Permission) -> dict[str, Any]:
    """Route keyword arguments declaring `permission` (shown in the OpenAPI operation as `x-permission`)."""
    return {"openapi_extra": {PERMISSION_KEY: permission.value}}


def route_permission(route: APIRoute) -> Permission | None:
    value = (route.openapi_extra or {}).get(PERMISSION_KEY)
    return None if value is None else Permission(value)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise HTTPException(status_code=400, detail=f"duplicate key in the JSON body: {', '.join(repeated)}")
    return dict(pairs)


class StrictJsonRequest(Request):
    """A request whose JSON body may not repeat a key (json.loads would keep the last one silently)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), object_pairs_hook=_unique_keys)
        return self._json


def _unauthorized(detail: str, error: str | None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": challenge})


def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("missing bearer token", None)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("expected 'Authorization: Bearer <token>'", "invalid_request")
    authority: TokenAuthority = request.app.state.token_authority
    try:
        return authority.verify(token.strip())
    except InvalidToken as exc:
        raise _unauthorized(str(exc), "invalid_token") from exc


class GuardedRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        permission = route_permission(self)
        if permission is None:
            raise RuntimeError(f"route {path} declares no permission; pass **requires(Permission....)")
        roles = ", ".join(f"`{role}`" for role in Role if permission in PERMISSIONS[role])
        note = f"Requires permission `{permission}` (roles: {roles})."
        self.description = f"{self.description}\n\n{note}" if self.description else note

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        permission = route_permission(self)
        assert permission is not None  # checked in __init__

        async def guarded(request: Request) -> Response:
            principal = authenticate(request)
            if permission not in PERMISSIONS[principal.role]:
                raise HTTPException(
                    status_code=403, detail=f"role {principal.role.value!r} lacks permission {permission.value!r}"
                )
            request.state.principal = principal
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return guarded
