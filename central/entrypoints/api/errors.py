"""Every error leaves the API as JSON `{"detail": ...}`: domain errors mapped to 404/409/422, an unreachable
database to 503 with Retry-After, bugs to a logged 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from speedledger.central.entrypoints.api.metrics import METHODS
from speedledger.central.errors import ConfigurationError, Conflict, Invalid, NotFound
from speedledger.central.eventstore import WrongExpectedVersion

log = logging.getLogger(__name__)

#: Seconds a client should wait before retrying while the database does not answer.
DATABASE_RETRY_S = 5

_STATUS: dict[type[Exception], int] = {
    NotFound: 404,
    Conflict: 409,
    # Another writer changed the aggregate between our read and our append: the client may retry.
    WrongExpectedVersion: 409,
    Invalid: 422,
}


#: The errors commands and queries report to their caller, each answered with its status below.
DOMAIN_ERRORS = tuple(_STATUS)


def status_of(exc: Exception) -> int:
    """The HTTP status of a domain error (NotFound, Conflict, WrongExpectedVersion, Invalid)."""
    return next(code for kind, code in _STATUS.items() if isinstance(exc, kind))


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=status_of(exc), content={"detail": str(exc)})


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's `{type, loc, msg}` per error. The offending `input` is not echoed back: it can
    be huge, hold personal data, or be a value JSON cannot carry (`1e999` parses to infinity)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "type": error["type"],
            "loc": [str(part) if not isinstance(part, int) else part for part in error["loc"]],
            "msg": error["msg"],
        }
        for error in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": errors})


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or unreachable: not a bug, and the client may retry (docs/rest.md)."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse(
        status_code=503,
        content={"detail": "the database does not answer; retry later"},
        headers={"Retry-After": str(DATABASE_RETRY_S)},
    )


async def _misconfigured(request: Request, exc: Exception) -> JSONResponse:
    """A setting the request needs is wrong (e.g. SPEEDLEDGER_CONFIG_KEY names no file): the operator's to fix."""
    log.error("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(status_code=503, content={"detail": "central is misconfigured; the server log says how"})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's errors as JSON; a 405 names every method the path has (Starlette names one route's)."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        routes = request.app.router.routes
        allowed = [
            method
            for method in sorted(METHODS)
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
        ]
        headers["Allow"] = ", ".join(allowed)
    return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": "internal server error"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(ConfigurationError, _misconfigured)
    for kind in _STATUS:
        app.add_exception_handler(kind, _domain_error)
    app.add_exception_handler(Exception, _unexpected_error)
