"""Request-scoped access to the Central the app was built with (kept on app.state, never a module global)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from speedledger.central.auth import Principal
from speedledger.central.bootstrap import Central


def get_central(request: Request) -> Central:
    central: Central = request.app.state.central
    return central


CentralDep = Annotated[Central, Depends(get_central)]


def get_principal(request: Request) -> Principal:
    """The caller, authenticated by GuardedRoute before the endpoint runs."""
    principal: Principal = request.state.principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
