"""Shared pieces of the webhook ingress tests: test DAG ids, param models, request bodies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from execution_plane.webhooks.app import CRM_CONN_ID, ESIGN_CONN_ID, EVENTS_CONN_ID
from execution_plane.webhooks.workflows import StartParams

DAGS_DIR = Path(__file__).parent / "dags"
BUNDLE = "ep-webhook-tests"
STARTABLE_DAG_ID = "ep_webhook_test_startable"
PAUSED_DAG_ID = "ep_webhook_test_paused"
MISSING_DAG_ID = "ep_webhook_test_missing"

ROUTE_CONN_IDS = {"/crm/events": CRM_CONN_ID, "/esign": ESIGN_CONN_ID, "/events/partner": EVENTS_CONN_ID}


class RunParams(StartParams):
    """The params contract of the test DAGs (the real DAGs have theirs in ``workflows``)."""

    amount: int = Field(ge=1)


class LooseRunParams(StartParams):
    """Looser than the DAG's own ``params`` (amount >= 1), to show Airflow's check still applies."""

    amount: int


Post = Callable[..., Any]
"""``post(route, body, *, secret=, timestamp=, headers=, drop=)`` from the ``post`` fixture."""


def esign_body(tag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": f"evt_{tag}",
        "type": "envelope.signed",
        "envelope_id": "env_0001",
        "correlation_key": f"sig:{tag}",
        "occurred_at": "2026-11-25T10:00:00.000Z",
        **overrides,
    }


def outside_body(tag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": f"evt_{tag}",
        "type": "partner.response",
        "correlation_key": f"partner:{tag}",
        "payload": {"kind": "accept", "note": "looks good"},
        "occurred_at": "2026-11-25T10:00:00Z",
        **overrides,
    }


def crm_body(tag: str, workflow: str = STARTABLE_DAG_ID, **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": f"crm_{tag}",
        "workflow": workflow,
        "occurred_at": "2026-11-25T10:00:00+00:00",
        "payload": {"request_id": f"req_{tag}", "amount": 3},
        **overrides,
    }
