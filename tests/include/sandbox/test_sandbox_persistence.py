from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from include.sandbox.app import create_app
from include.sandbox.state import SandboxConfig, SandboxState
from tests.include.sandbox.sandbox_testkit import AUTH

CreateBody = Callable[..., dict[str, Any]]


def _client(state_file: Path, config: SandboxConfig) -> TestClient:
    return TestClient(create_app(state=SandboxState(config, state_file=state_file)), headers=AUTH)


def test_state_survives_recreating_the_app(
    tmp_path: Path, config: SandboxConfig, envelope_request: CreateBody
) -> None:
    state_file = tmp_path / "sandbox.json"
    pdf = b"%PDF evidence pack"
    sha = hashlib.sha256(pdf).hexdigest()
    headers = {"Idempotency-Key": "term-sheet:P-1:send"}
    with _client(state_file, config) as before:
        created = before.post("/esign/v1/envelopes", json=envelope_request(), headers=headers).json()
        before.post(f"/_sandbox/esign/envelopes/{created['envelope_id']}/sign")
        before.put(f"/docstore/v1/objects/{sha}", content=pdf)
        before.patch("/crm/v1/deals/D-1", json={"status": "won"})
        before.post("/_sandbox/faults", json={"system": "sms", "count": 2})

    assert json.loads(state_file.read_text())["effects"]

    with _client(state_file, config) as after:
        assert after.get(f"/esign/v1/envelopes/{created['envelope_id']}").json()["status"] == "signed"
        assert after.get(f"/docstore/v1/objects/{sha}").content == pdf
        assert after.get("/crm/v1/deals/D-1").json()["status"] == "won"
        assert after.get("/_sandbox/effects/summary").json()["total"] == 3
        assert after.get("/_sandbox/deliveries").json()["count"] == 1
        assert after.get("/_sandbox/faults").json()["faults"][0]["remaining"] == 2

        replay = after.post("/esign/v1/envelopes", json=envelope_request(), headers=headers)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == created
        assert after.get("/_sandbox/effects", params={"action": "create_envelope"}).json()["count"] == 1


def test_reset_is_persisted_too(tmp_path: Path, config: SandboxConfig) -> None:
    state_file = tmp_path / "sandbox.json"
    with _client(state_file, config) as before:
        before.post("/crm/v1/notes", json={"subject_id": "D-1", "text": "x"})
        before.post("/_sandbox/reset")
    with _client(state_file, config) as after:
        assert after.get("/_sandbox/effects").json()["count"] == 0


def test_without_a_state_file_nothing_is_written(tmp_path: Path, config: SandboxConfig) -> None:
    state = SandboxState(config)
    state.record_effect("crm", "create_note", idempotency_key=None, resource_id="n", payload={})
    assert list(tmp_path.iterdir()) == []
    assert SandboxState(config).effects() == []


def test_state_file_and_config_come_from_the_environment(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state = SandboxState.from_env(
        {
            "EP_SANDBOX_STATE_FILE": str(state_file),
            "EP_SANDBOX_WEBHOOK_BASE": "http://127.0.0.1:8080/webhooks",
            "EP_SANDBOX_ESIGN_SECRET": "e",
            "EP_SANDBOX_EVENTS_SECRET": "v",
            "EP_SANDBOX_CRM_SECRET": "c",
        }
    )
    assert state.config.webhook_base == "http://127.0.0.1:8080/webhooks"
    assert (state.config.esign_secret, state.config.events_secret, state.config.crm_secret) == ("e", "v", "c")
    state.record_effect("sms", "send", idempotency_key=None, resource_id=None, payload={})
    assert state_file.exists()
    assert SandboxState.from_env({"EP_SANDBOX_STATE_FILE": str(state_file)}).effects()[0]["action"] == "send"


def test_defaults_without_environment() -> None:
    state = SandboxState.from_env({})
    assert state.config.webhook_base is None
    assert state.config.esign_secret
