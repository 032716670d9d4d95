"""One error shape for every refusal of the services app: ``{"error", "message", "field"}`` (+ ``fields``).

The same shape as the webhook ingress: a stable ``error`` code and the ``field`` at fault. A request the
routes' pydantic models refuse is a 422 naming the field (``lead.company_size``), and nothing was written:
validation happens before the endpoint runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_HTTP_ERROR_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    503: "unavailable",
}


class ServiceError(Exception):
    """A refusal raised by a service (or its route), answered with the shared error shape."""

    def __init__(self, status_code: int, error: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{error}: {message}")
        self.status_code = status_code
        self.error = error
        self.message = message
        self.field = field


def http_error_code(status_code: int) -> str:
    return _HTTP_ERROR_CODES.get(status_code, "error")


def error_body(error: str, message: str, field: str | None, **extra: Any) -> dict[str, Any]:
    return {"error": error, "message": message, "field": field, **extra}


def field_path(loc: Sequence[int | str]) -> str | None:
    """``("body", "lead", "company_size")`` -> ``"lead.company_size"``; a query parameter keeps its name."""
    # Only the first element names where the value was (body, query, path): a field may be called "query".
    parts = [str(part) for part in (loc[1:] if loc and loc[0] in ("body", "query", "path") else loc)]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": field_path(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]
        first = fields[0] if fields else {"field": None, "message": "invalid request"}
        return JSONResponse(
            error_body(
                "invalid_request",
                f"{first['field'] or 'body'}: {first['message']}",
                first["field"],
                fields=fields,
            ),
            status_code=422,
        )

    @app.exception_handler(ServiceError)
    async def refused(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(error_body(exc.error, exc.message, exc.field), status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = http_error_code(exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        return JSONResponse(
            error_body(code, str(exc.detail), None), status_code=exc.status_code, headers=headers or None
        )
