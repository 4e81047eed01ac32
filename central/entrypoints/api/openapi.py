"""The OpenAPI document, made to say what the server does: every error status each operation can
answer (docs/rest.md, "Errors"), 422 bodies as they are sent, and nothing beyond OpenAPI 3.1.

FastAPI documents 200/201 and a 422 whose `detail` is a list; the rules below add what the app's
guards, error handlers and middleware answer, from what each operation takes (path, query, body).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from speedledger.central.entrypoints.api.schemas import ErrorOut, ValidationErrorOut

REF = "#/components/schemas/{model}"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

#: Why each error status can happen (the detail of each is in docs/rest.md).
REASONS: dict[int, str] = {
    400: "The body is not JSON or repeats a key.",
    401: "No valid bearer token (see the WWW-Authenticate header).",
    403: "The token's role lacks this operation's permission.",
    404: "No such resource.",
    409: "The request conflicts with the current state.",
    413: "The request body is over 1 MiB.",
    422: "Invalid input: a list of field errors, or a sentence for a domain rule or a bad cursor.",
    503: "The database does not answer; retry after the number of seconds in Retry-After.",
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    503: {"Retry-After": {"schema": {"type": "integer"}}},
}


def error_statuses(method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an `/api/` operation can answer, from what it takes (path, query, body)."""
    places = {parameter["in"] for parameter in operation.get("parameters", [])}
    has_body = "requestBody" in operation
    statuses = {401, 403, 503}
    if "path" in places:
        statuses.add(404)
    if places or has_body or method in WRITE_METHODS:
        statuses.add(422)
    if method in WRITE_METHODS:
        statuses.add(409)
    if has_body:
        statuses |= {400, 413}
    return statuses


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _response(status: int) -> dict[str, Any]:
    model = ValidationErrorOut if status == 422 else ErrorOut
    response: dict[str, Any] = {
        "description": REASONS[status],
        "content": {"application/json": {"schema": _ref(model)}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def _describe_errors(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in sorted(error_statuses(method.upper(), operation)):
                declared = responses.get(str(status))
                if declared is None or status == 422:
                    responses[str(status)] = _response(status)
                elif "content" not in declared:
                    declared["content"] = _response(status)["content"]


def _components(document: dict[str, Any]) -> None:
    _, definitions = models_json_schema(
        [(ErrorOut, "serialization"), (ValidationErrorOut, "serialization")], ref_template=REF
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(definitions.get("$defs", {}))


def _without_item_schema(document: dict[str, Any]) -> None:
    """`itemSchema` (FastAPI's SSE description) is OpenAPI 3.2; in 3.1 an event stream is a string."""
    for operations in document["paths"].values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                media = response.get("content", {}).get("text/event-stream")
                if media is not None:
                    media.pop("itemSchema", None)
                    media["schema"] = {"type": "string", "description": "Server-Sent Events (text/event-stream)."}


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` with the truthful document (built once, like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            _describe_errors(document)
            _components(document)
            _without_item_schema(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
