"""Every error leaves the API as JSON `{"detail": ...}`: domain errors mapped to 404/409/422, bugs to a logged 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.eventstore import WrongExpectedVersion

log = logging.getLogger(__name__)

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


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": "internal server error"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for kind in _STATUS:
        app.add_exception_handler(kind, _domain_error)
    app.add_exception_handler(Exception, _unexpected_error)
