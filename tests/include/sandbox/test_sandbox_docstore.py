from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi.testclient import TestClient

Count = Callable[[str, str], int]

PDF = b"%PDF-1.7 term sheet for partner P-1"
SHA = hashlib.sha256(PDF).hexdigest()
WORKSTREAMS = {"financial", "legal", "technical", "product", "security"}


def _put(client: TestClient, body: bytes = PDF, sha: str = SHA) -> tuple[int, dict[str, object]]:
    response = client.put(
        f"/docstore/v1/objects/{sha}", content=body, headers={"Content-Type": "application/pdf"}
    )
    return response.status_code, response.json()


def test_the_same_bytes_are_stored_once(client: TestClient, effect_count: Count) -> None:
    assert _put(client) == (
        201,
        {"sha256": SHA, "size": len(PDF), "uri": f"docstore://objects/{SHA}", "created": True},
    )
    status, body = _put(client)
    assert (status, body["created"]) == (200, False)
    assert effect_count("docstore", "put_object") == 1


def test_body_must_hash_to_the_path(client: TestClient, effect_count: Count) -> None:
    status, body = _put(client, body=PDF + b"tampered")
    assert (status, body["error"]) == (400, "sha256_mismatch")
    assert _put(client, sha="not-a-sha")[0] == 400
    assert effect_count("docstore", "put_object") == 0


def test_get_returns_the_bytes_and_meta_describes_them(client: TestClient) -> None:
    _put(client)
    response = client.get(f"/docstore/v1/objects/{SHA}")
    assert response.content == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    meta = client.get(f"/docstore/v1/objects/{SHA.upper()}/meta").json()
    assert (meta["sha256"], meta["size"], meta["status"]) == (SHA, len(PDF), "stored")
    assert "content_b64" not in meta
    assert client.get(f"/docstore/v1/objects/{'0' * 64}").status_code == 404


def test_archive_then_retract(client: TestClient, effect_count: Count) -> None:
    _put(client)
    archived = client.post(f"/docstore/v1/objects/{SHA}/archive")
    assert archived.json()["status"] == "archived"
    assert client.get(f"/docstore/v1/objects/{SHA}").status_code == 200
    assert client.post(f"/docstore/v1/objects/{SHA}/archive").json()["error"] == "already_archived"

    retracted = client.post(f"/docstore/v1/objects/{SHA}/retract")
    assert retracted.json()["status"] == "retracted"
    assert client.get(f"/docstore/v1/objects/{SHA}").status_code == 410
    assert client.get(f"/docstore/v1/objects/{SHA}/meta").json()["retracted_at"] is not None
    assert client.post(f"/docstore/v1/objects/{SHA}/retract").status_code == 409
    assert effect_count("docstore", "archive_object") == 1
    assert effect_count("docstore", "retract_object") == 1


def test_rooms_are_created_once_and_archived(client: TestClient, effect_count: Count) -> None:
    created = client.post("/docstore/v1/rooms", json={"room_id": "dd-acme", "name": "DD Acme"})
    assert created.status_code == 201
    assert created.json()["status"] == "open"
    again = client.post("/docstore/v1/rooms", json={"room_id": "dd-acme", "name": "DD Acme"})
    assert (again.status_code, again.json()["created"]) == (200, False)

    archived = client.post("/docstore/v1/rooms/dd-acme/archive")
    assert archived.json()["status"] == "archived"
    assert client.post("/docstore/v1/rooms/dd-acme/archive").status_code == 409
    assert client.post("/docstore/v1/rooms/nope/archive").status_code == 404
    assert effect_count("docstore", "create_room") == 1
    assert effect_count("docstore", "archive_room") == 1


def test_room_documents_cover_every_workstream_deterministically(client: TestClient) -> None:
    client.post("/docstore/v1/rooms", json={"room_id": "dd-acme", "name": "DD Acme"})
    client.post("/docstore/v1/rooms", json={"room_id": "dd-other", "name": "DD Other"})
    listing = client.get("/docstore/v1/rooms/dd-acme/documents").json()
    documents = listing["documents"]

    assert listing["status"] == "open"
    assert {document["workstream"] for document in documents} == WORKSTREAMS
    assert client.get("/docstore/v1/rooms/dd-acme/documents").json() == listing
    assert client.get("/docstore/v1/rooms/dd-other/documents").json()["documents"] != documents
    for document in documents:
        assert len(document["sha256"]) == 64
        assert document["facts"]
    financial = next(document for document in documents if document["workstream"] == "financial")
    assert isinstance(financial["facts"]["revenue_usd"], int)
    assert financial["facts"]["audit_opinion"] in {"qualified", "unqualified"}
    security = next(document for document in documents if document["workstream"] == "security")
    assert isinstance(security["facts"]["soc2_type2"], bool)


def test_room_documents_filter_by_workstream_and_need_the_room(client: TestClient) -> None:
    client.post("/docstore/v1/rooms", json={"room_id": "dd-acme", "name": "DD Acme"})
    legal = client.get("/docstore/v1/rooms/dd-acme/documents", params={"workstream": "legal"}).json()[
        "documents"
    ]
    assert {document["workstream"] for document in legal} == {"legal"}
    assert client.get("/docstore/v1/rooms/unknown/documents").status_code == 404
