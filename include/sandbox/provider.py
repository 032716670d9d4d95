"""What every provider route shares, applied in one place by a custom route class: credentials check,
injected faults, and Idempotency-Key handling (execute once, store the response, replay it).

A route's system comes from its router and its action from the endpoint's name, so the effect log, the
fault matcher and the idempotency store all speak the same (system, action) vocabulary.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from include.sandbox.state import SandboxState, StoredResponse

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

AuthMode = Literal["bearer_or_api_key", "bearer"]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ProviderError(Exception):
    """A business-level refusal (404, 409, ...). Unlike validation errors it is stored for replay."""

    def __init__(self, http_status: int, error: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error = error
        self.message = message
        self.details = details

    def to_response(self) -> JSONResponse:
        return JSONResponse({"error": self.error, "message": self.message, **self.details}, self.http_status)


@dataclass(frozen=True)
class Call:
    """The provider request being served, handed to endpoints so they can log their side effect."""

    state: SandboxState
    system: str
    action: str
    idempotency_key: str | None

    def record(self, resource_id: str | None, payload: Any) -> dict[str, Any]:
        return self.state.record_effect(
            self.system,
            self.action,
            idempotency_key=self.idempotency_key,
            resource_id=resource_id,
            payload=payload,
        )


def current_call(request: Request) -> Call:
    call: Call = request.state.sandbox_call
    return call


async def raw_body(request: Request) -> bytes:
    return await request.body()


CallDep = Annotated[Call, Depends(current_call)]
RawBody = Annotated[bytes, Depends(raw_body)]


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Identify "the same request": JSON is canonicalised so key order or spacing is not a difference."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def _authenticated(request: Request, mode: AuthMode) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return True
    return mode == "bearer_or_api_key" and bool(request.headers.get("X-API-Key", "").strip())


def _unauthorized(mode: AuthMode) -> JSONResponse:
    expected = "Authorization: Bearer <token>" + (" or X-API-Key" if mode == "bearer_or_api_key" else "")
    return JSONResponse(
        {"error": "unauthorized", "message": f"missing credentials: send {expected}"},
        401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _fault_response(fault: dict[str, Any]) -> JSONResponse:
    status = int(fault["status"])
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return JSONResponse(
        {"error": "injected_fault", "message": f"sandbox fault {fault['fault_id']}", "status": status},
        status,
        headers=headers,
    )


def _dropped_response() -> JSONResponse:
    return JSONResponse({"error": "gateway_timeout", "message": "upstream response lost"}, 504)


def _stored(response: Response) -> StoredResponse:
    return StoredResponse(response.status_code, bytes(response.body), response.media_type)


def provider_router(system: str, prefix: str, *, auth: AuthMode = "bearer_or_api_key") -> APIRouter:
    """A router whose routes behave like the ``system`` provider (auth, faults, idempotency)."""

    class ProviderRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            inner = super().get_route_handler()
            action = self.name
            mutating = bool(self.methods & _MUTATING_METHODS)

            async def handler(request: Request) -> Response:
                state: SandboxState = request.app.state.sandbox
                if not _authenticated(request, auth):
                    return _unauthorized(auth)
                fault = state.take_fault(system, action)
                if fault is not None and fault["mode"] == "error":
                    return _fault_response(fault)
                delay_s = float(fault["delay_s"]) if fault is not None and fault["mode"] == "slow" else 0.0
                key = request.headers.get(IDEMPOTENCY_HEADER) if mutating else None
                request.state.sandbox_call = Call(state, system, action, key or None)
                if key:
                    response = await _run_idempotent(request, state, system, key, inner, delay_s)
                else:
                    response = await _run(request, inner, delay_s)
                if fault is not None and fault["mode"] == "drop":
                    return _dropped_response()
                return response

            return handler

    return APIRouter(prefix=prefix, route_class=ProviderRoute, tags=[system])


async def _run(request: Request, inner: Handler, delay_s: float) -> Response:
    # The delay sits inside the work: a client that times out meanwhile still gets the effect done behind
    # its back, and a concurrent retry with the same key finds it in progress, as at real providers.
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    try:
        return await inner(request)
    except ProviderError as exc:
        return exc.to_response()


async def _run_idempotent(
    request: Request, state: SandboxState, system: str, key: str, inner: Handler, delay_s: float
) -> Response:
    request_print = fingerprint(request.method, request.url.path, await request.body())
    outcome = state.idempotency_begin(system, key, request_print)
    if outcome.kind == "conflict":
        return JSONResponse(
            {
                "error": "idempotency_key_reused",
                "message": f"{IDEMPOTENCY_HEADER} {key!r} was used with a different request",
                "idempotency_key": key,
            },
            422,
        )
    if outcome.kind == "in_progress":
        return JSONResponse(
            {
                "error": "idempotency_key_in_use",
                "message": f"a request with {IDEMPOTENCY_HEADER} {key!r} is still being processed",
                "idempotency_key": key,
            },
            409,
            headers={"Retry-After": "1"},
        )
    if outcome.kind == "replay" and outcome.stored is not None:
        stored = outcome.stored
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        return Response(
            stored.body, stored.status, headers={REPLAYED_HEADER: "true"}, media_type=stored.media_type
        )
    try:
        response = await _run(request, inner, delay_s)
    except BaseException:
        # Validation errors and crashes never started the work: the key stays free for a retry.
        state.idempotency_abandon(system, key)
        raise
    if response.status_code >= 500:
        state.idempotency_abandon(system, key)
    else:
        state.idempotency_complete(system, key, request_print, _stored(response))
    return response
