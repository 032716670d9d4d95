"""Document storage: content-addressed objects (the same bytes are stored once) and DD rooms whose
documents the target "uploads" deterministically."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import Call, CallDep, ProviderError, RawBody, provider_router
from include.sandbox.state import utc_now_iso

router = provider_router("docstore", "/docstore/v1")

_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class RoomIn(BaseModel):
    room_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1)


def _checked_sha(sha256: str) -> str:
    sha = sha256.lower()
    if not _SHA256_RE.fullmatch(sha):
        raise ProviderError(400, "invalid_sha256", "path must be a 64-character hex sha256", sha256=sha256)
    return sha


def _object(resources: dict[str, dict[str, Any]], sha256: str) -> dict[str, Any]:
    record = resources["objects"].get(_checked_sha(sha256))
    if record is None:
        raise ProviderError(404, "object_not_found", f"object {sha256} not found", sha256=sha256)
    return record


def _meta(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name != "content_b64"}


def _room(resources: dict[str, dict[str, Any]], room_id: str) -> dict[str, Any]:
    room = resources["rooms"].get(room_id)
    if room is None:
        raise ProviderError(404, "room_not_found", f"room {room_id} not found", room_id=room_id)
    return room


@router.put("/objects/{sha256}")
def put_object(sha256: str, request: Request, body: RawBody, call: CallDep) -> JSONResponse:
    sha = _checked_sha(sha256)
    actual = hashlib.sha256(body).hexdigest()
    if actual != sha:
        raise ProviderError(
            400, "sha256_mismatch", "body does not hash to the path's sha256", expected=sha, actual=actual
        )
    result = {"sha256": sha, "size": len(body), "uri": f"docstore://objects/{sha}"}
    with call.state.transaction() as resources:
        if sha in resources["objects"]:
            return JSONResponse({**result, "created": False}, 200)
        resources["objects"][sha] = {
            "sha256": sha,
            "size": len(body),
            "content_type": request.headers.get("Content-Type", "application/octet-stream"),
            "status": "stored",
            "created_at": utc_now_iso(),
            "archived_at": None,
            "retracted_at": None,
            "content_b64": base64.b64encode(body).decode(),
        }
        call.record(sha, {"size": len(body)})
    return JSONResponse({**result, "created": True}, 201)


@router.get("/objects/{sha256}")
def get_object(sha256: str, call: CallDep) -> Response:
    with call.state.view() as resources:
        record = _object(resources, sha256)
        if record["status"] == "retracted":
            raise ProviderError(410, "object_retracted", f"object {sha256} was retracted", sha256=sha256)
        return Response(base64.b64decode(record["content_b64"]), media_type=record["content_type"])


@router.get("/objects/{sha256}/meta")
def get_object_meta(sha256: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return _meta(_object(resources, sha256))


def _transition(sha256: str, target: str, call: Call) -> dict[str, Any]:
    with call.state.transaction() as resources:
        record = _object(resources, sha256)
        if record["status"] == target:
            raise ProviderError(
                409, f"already_{target}", f"object is already {target}", sha256=record["sha256"]
            )
        if record["status"] == "retracted":
            raise ProviderError(
                409, "object_retracted", "a retracted object cannot change state", sha256=record["sha256"]
            )
        record.update({"status": target, f"{target}_at": utc_now_iso()})
        call.record(record["sha256"], {"status": target})
        return _meta(record)


@router.post("/objects/{sha256}/archive")
def archive_object(sha256: str, call: CallDep) -> dict[str, Any]:
    return _transition(sha256, "archived", call)


@router.post("/objects/{sha256}/retract")
def retract_object(sha256: str, call: CallDep) -> dict[str, Any]:
    return _transition(sha256, "retracted", call)


@router.post("/rooms", status_code=201)
def create_room(body: RoomIn, call: CallDep) -> JSONResponse:
    with call.state.transaction() as resources:
        existing = resources["rooms"].get(body.room_id)
        if existing is not None:
            return JSONResponse({**existing, "created": False}, 200)
        room = {
            "room_id": body.room_id,
            "name": body.name,
            "status": "open",
            "created_at": utc_now_iso(),
            "archived_at": None,
        }
        resources["rooms"][body.room_id] = room
        call.record(body.room_id, body.model_dump())
        return JSONResponse({**room, "created": True}, 201)


@router.post("/rooms/{room_id}/archive")
def archive_room(room_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        room = _room(resources, room_id)
        if room["status"] == "archived":
            raise ProviderError(409, "already_archived", "room is already archived", room_id=room_id)
        room.update(status="archived", archived_at=utc_now_iso())
        call.record(room_id, {"status": "archived"})
        return dict(room)


@router.get("/rooms/{room_id}/documents")
def list_room_documents(room_id: str, call: CallDep, workstream: str | None = None) -> dict[str, Any]:
    with call.state.view() as resources:
        room = dict(_room(resources, room_id))
    documents = derive.room_documents(room_id)
    if workstream is not None:
        documents = [document for document in documents if document["workstream"] == workstream]
    return {"room_id": room_id, "status": room["status"], "documents": documents}
