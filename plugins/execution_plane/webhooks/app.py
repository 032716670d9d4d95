"""The ingress app: signed webhooks from the CRM, the e-signature provider and other outside parties.

Every route reads the raw body (bounded), checks its HMAC signature, and only then parses JSON: nothing
of an unauthenticated body is interpreted. Endpoints are plain ``def`` so their blocking database calls
run in the thread pool; only the body read, which must ``await``, is an async dependency.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from execution_plane import telemetry
from execution_plane.webhooks import db, resume, runs, starter, workflows
from execution_plane.webhooks.credentials import webhook_secret
from execution_plane.webhooks.errors import WebhookError, install_error_handlers, invalid_body
from execution_plane.webhooks.models import CrmEvent, EsignEvent, OutsideEvent
from include.domain.common import jsonb_problem
from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
REPLAY_WINDOW_S = 300

CRM_CONN_ID = "webhook_crm"
ESIGN_CONN_ID = "webhook_esign"
EVENTS_CONN_ID = "webhook_events"

OUTSIDE_SOURCES = frozenset(
    {"partner", "regulator", "target", "counsel", "advisor", "erp", "legal", "infra", "messaging", "payouts"}
)
_SOURCE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,31}$")

CRM_EVENT_TYPE = "workflow.start_requested"

STARTER = starter.Starter(workflows.STARTABLE_WORKFLOWS.keys())
"""Starts the stored start requests; one per API server process (the app's lifespan starts it)."""

M = TypeVar("M", bound=BaseModel)


async def raw_body(request: Request) -> bytes:
    """The request body, refused early when it is too large or not JSON (nothing else is read yet)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise WebhookError(400, "bad_request", "invalid Content-Length header", field="Content-Length")
        if int(declared) > MAX_BODY_BYTES:
            raise WebhookError(413, "body_too_large", f"body exceeds {MAX_BODY_BYTES} bytes", field="body")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise WebhookError(
            415, "unsupported_media_type", "Content-Type must be application/json", field="Content-Type"
        )
    # Counted while reading: a chunked body has no Content-Length, and a declared one can lie.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise WebhookError(413, "body_too_large", f"body exceeds {MAX_BODY_BYTES} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


Body = Annotated[bytes, Depends(raw_body)]


def authenticate(request: Request, body: bytes, conn_id: str) -> None:
    try:
        verify(
            webhook_secret(conn_id),
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            body,
            now=time.time(),
            window_s=REPLAY_WINDOW_S,
        )
    except SignatureError as exc:
        raise WebhookError(401, "invalid_signature", f"{exc.field}: {exc.message}", field=exc.field) from None


MAX_JSON_DEPTH = 32  # far more than any provider sends; pydantic and jsonb refuse much deeper documents


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        # 1e400 would be stored as null: the sender's value silently changed.
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, invalid UTF-8, NaN/Infinity and overflowing numbers.
        raise WebhookError(400, "malformed_json", f"body is not valid JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise WebhookError(400, "malformed_json", "body must be a JSON object", field="body")
    if (problem := jsonb_problem(data, MAX_JSON_DEPTH)) is not None:
        raise WebhookError(400, "malformed_json", problem, field="body")
    return data


def validate(model: type[M], data: dict[str, Any], *, prefix: tuple[str, ...] = ()) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_body(exc.errors(include_url=False, include_input=False), prefix=prefix) from None


def _accepted(request: Request, what: str, **fields: Any) -> None:
    # crm, esign or events: the route's first segment, mounted under /webhooks or not.
    route = request.url.path.split("/webhooks/", 1)[-1].lstrip("/").split("/", 1)[0] or "unknown"
    telemetry.incr("webhook.accepted", route=route, status=what)
    details = " ".join(f"{key}={value}" for key, value in fields.items())
    log.info(
        "webhook accepted: %s %s %s %s delivery=%s",
        request.method,
        request.url.path,
        what,
        details,
        request.headers.get("X-EP-Delivery-Id"),
    )


def create_app() -> FastAPI:
    """Build the app; cheap and database-free (the plugin calls it at import in every component)."""
    # No docs/OpenAPI routes: the only unauthenticated route is /health.
    app = FastAPI(
        title="Execution Plane webhooks",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan,
    )
    install_error_handlers(app)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/crm/events")
    def crm_event(request: Request, body: Body) -> JSONResponse:
        """Store the request to start the event's workflow (run id ``crm__<event_id>``) and answer 202; the
        starter starts the run (``webhooks.starter``). A redelivery stores and starts nothing (200)."""
        authenticate(request, body, CRM_CONN_ID)
        event = validate(CrmEvent, parse_json_object(body))
        startable = workflows.STARTABLE_WORKFLOWS
        params_model = startable.get(event.workflow)
        if params_model is None:
            raise WebhookError(
                404,
                "unknown_workflow",
                f"workflow {event.workflow!r} cannot be started by webhook",
                field="workflow",
            )
        params = validate(params_model, event.payload, prefix=("payload",))
        conf = params.model_dump(mode="json")
        run_id = runs.crm_run_id(event.event_id)
        # A redelivery is answered as such whatever became of its workflow since; the event id naming
        # another workflow is the sender's error. Then the workflow must be startable with these params.
        earlier = db.start_requested(f"crm:{event.event_id}")
        if earlier is None:
            runs.check_startable(event.workflow, conf)
        if earlier in (None, event.workflow):
            # Stores again only the inbox row a first delivery may lack (and wins or loses a race).
            earlier = db.insert_start_request(
                f"crm:{event.event_id}",
                f"crm:{event.workflow}:{params.request_id}",
                {**event.model_dump(mode="json"), "payload": conf},
                event_type=CRM_EVENT_TYPE,
                dag_id=event.workflow,
                run_id=run_id,
                conf=conf,
            )
        if earlier is not None and earlier != event.workflow:
            raise WebhookError(
                409, "event_id_conflict", f"event_id already started workflow {earlier!r}", field="event_id"
            )
        # Woken on a duplicate too: the first delivery may have been stored by a server that died since.
        STARTER.wake()
        status = "accepted" if earlier is None else "duplicate"
        _accepted(request, status, dag_id=event.workflow, run_id=run_id)
        return JSONResponse(
            {"status": status, "dag_id": event.workflow, "run_id": run_id},
            status_code=202 if status == "accepted" else 200,
        )

    @app.post("/esign")
    def esign_event(request: Request, body: Body) -> JSONResponse:
        """Store an envelope status change in the inbox; its NOTIFY wakes the run waiting on it."""
        authenticate(request, body, ESIGN_CONN_ID)
        event = validate(EsignEvent, parse_json_object(body))
        return _store(request, "esign", event.event_id, event.type, event.correlation_key, event)

    @app.post("/events/{source}")
    def outside_event(source: str, request: Request, body: Body) -> JSONResponse:
        """Store an event from another outside party (partner answer, regulator filing, ...)."""
        authenticate(request, body, EVENTS_CONN_ID)
        if not _SOURCE_PATTERN.fullmatch(source) or source not in OUTSIDE_SOURCES:
            raise WebhookError(404, "unknown_source", "unknown event source", field="source")
        event = validate(OutsideEvent, parse_json_object(body))
        return _store(request, source, event.event_id, event.type, event.correlation_key, event)

    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """In the API server (Airflow enters its mounted apps' lifespans): the run starter runs while it does,
    and starts what a server that died left stored but not started."""
    STARTER.start()
    try:
        yield
    finally:
        STARTER.stop()


def _store(
    request: Request, source: str, event_id: str, event_type: str, correlation_key: str, event: BaseModel
) -> JSONResponse:
    inserted = db.insert_external_event(
        f"{source}:{event_id}", source, event_type, correlation_key, event.model_dump(mode="json")
    )
    status = "accepted" if inserted else "duplicate"
    # Stored first; then the waits it ends are ended here and now (a duplicate too: the first delivery may
    # have been stored by a server that died before this step). The trigger is the fallback.
    ended = resume.end_waiting_tasks(correlation_key, event_type)
    _accepted(
        request, status, source=source, event_id=event_id, type=event_type, key=correlation_key, ended=ended
    )
    return JSONResponse(
        {"status": status, "event_id": f"{source}:{event_id}", "ended_waits": ended}, status_code=202
    )
