"""Document storage: content-addressed objects (sha256) and DD rooms."""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderError, ProviderHook


class DocstoreHook(ProviderHook):
    system = "docstore"
    default_conn_name = "docstore_default"
    hook_name = "Document storage"

    def put_object(self, sha256: str, data: bytes) -> dict[str, Any]:
        """Idempotent by construction: the same bytes live at the same address."""
        return self.json(
            "PUT", f"/objects/{sha256}", content=data, headers={"Content-Type": "application/octet-stream"}
        )

    def get_object(self, sha256: str) -> bytes:
        """The stored bytes (a retracted object is a 410 ProviderError)."""
        return self.request("GET", f"/objects/{sha256}").content

    def object_uri(self, sha256: str) -> str:
        # httpx keeps a trailing slash on base_url
        return f"{str(self.client().base_url).rstrip('/')}/objects/{sha256}"

    def retract(self, sha256: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Retracting an object that is already retracted is success: the undo is idempotent (the same
        bytes may have been stored, and are then retracted, by several workflows)."""
        return self._transition(
            f"/objects/{sha256}/retract", {"reason": reason}, "already_retracted", idempotency_key
        )

    def archive(self, sha256: str, *, idempotency_key: str) -> dict[str, Any]:
        return self.json("POST", f"/objects/{sha256}/archive", json={}, idempotency_key=idempotency_key)

    def create_room(self, room_id: str, name: str, *, idempotency_key: str) -> dict[str, Any]:
        return self.json(
            "POST",
            "/rooms",
            json={"room_id": room_id, "name": name},
            idempotency_key=idempotency_key,
            accept=(409,),
        )

    def archive_room(self, room_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Archiving a room that is already archived is success: the undo is idempotent."""
        return self._transition(
            f"/rooms/{room_id}/archive", {"reason": reason}, "already_archived", idempotency_key
        )

    def _transition(
        self, path: str, body: dict[str, Any], done_error: str, idempotency_key: str
    ) -> dict[str, Any]:
        resp = self.request("POST", path, json=body, idempotency_key=idempotency_key, accept=(409,))
        answer: dict[str, Any] = resp.json()
        if resp.status_code == 409 and answer.get("error") != done_error:
            raise ProviderError(self.system, 409, resp.text, retryable=False)
        return answer

    def room_documents(self, room_id: str, workstream: str | None = None) -> list[dict[str, Any]]:
        params = {"workstream": workstream} if workstream else None
        body = self.request("GET", f"/rooms/{room_id}/documents", params=params).json()
        items = body.get("documents", body) if isinstance(body, dict) else body
        return list(items)
