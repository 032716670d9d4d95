"""One error shape for every answer of the ingress: ``{"error": code, "message": text, "field": name}``.

Senders are machines: a stable ``error`` code and the ``field`` at fault let them (and the people reading
their delivery logs) tell a bad signature from a bad payload without parsing prose.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from execution_plane import telemetry

log = logging.getLogger(__name__)

_HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed"}


class WebhookError(Exception):
    """A refusal: raised anywhere while handling a request, answered by :func:`install_error_handlers`."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        *,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{error}: {message}")
        self.status_code = status_code
        self.error = error
        self.message = message
        self.field = field
        self.extra = extra or {}


def error_body(error: str, message: str, field: str | None, **extra: Any) -> dict[str, Any]:
    return {"error": error, "message": message, "field": field, **extra}


def field_path(loc: Sequence[int | str]) -> str | None:
    """``("payload", "ic_members", 0)`` -> ``"payload.ic_members.0"``; the body root has no name."""
    parts = [str(part) for part in loc if part != "body"]
    return ".".join(parts) or None


def invalid_body(errors: Sequence[Any], *, prefix: tuple[str, ...] = ()) -> WebhookError:
    """A 422 naming every field pydantic refused (``errors`` as from ``ValidationError.errors()``)."""
    fields = [{"field": field_path((*prefix, *err["loc"])), "message": err["msg"]} for err in errors]
    first = fields[0] if fields else {"field": None, "message": "invalid body"}
    summary = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
    if len(fields) > 1:
        summary += f" (and {len(fields) - 1} more)"
    return WebhookError(422, "invalid_body", summary, field=first["field"], extra={"fields": fields})


def _refused(request: Request, status_code: int, error: str, field: str | None) -> None:
    telemetry.incr("webhook.refused", reason=error, status=str(status_code))
    log.info(
        "webhook refused: %s %s -> %d %s field=%s delivery=%s",
        request.method,
        request.url.path,
        status_code,
        error,
        field,
        request.headers.get("X-EP-Delivery-Id"),
    )


async def _webhook_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WebhookError)
    _refused(request, exc.status_code, exc.error, exc.field)
    return JSONResponse(
        error_body(exc.error, exc.message, exc.field, **exc.extra), status_code=exc.status_code
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error = _HTTP_ERROR_CODES.get(exc.status_code, "http_error")
    _refused(request, exc.status_code, error, None)
    return JSONResponse(
        error_body(error, str(exc.detail), None), status_code=exc.status_code, headers=exc.headers
    )


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return await _webhook_error(request, invalid_body(exc.errors()))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # No exception text in the answer: it may quote SQL, hosts or configuration.
    log.exception("webhook failed: %s %s", request.method, request.url.path)
    telemetry.incr("webhook.refused", reason="internal_error", status="500")
    return JSONResponse(
        error_body("internal_error", "the request could not be processed; retry later", None),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Replace FastAPI's ``{"detail": ...}`` answers in this sub-app only (Airflow's API keeps its own)."""
    app.add_exception_handler(WebhookError, _webhook_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
