"""The toolkit's metrics, exported by the live stack through Airflow's own OpenTelemetry integration
(``[metrics] otel_on``, OTLP/HTTP every second) to a receiver in this process, counted after real runs.

Two probe workflows: one approved (its first email refused once by the provider: an outside-call error and a
retry), one rejected and compensated; each parks on an outside event the ingress ends and on an approval.
Two deliveries the ingress refuses. The counts are deltas over the test (the stack is shared), read once the
exporters had time to send them.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from include.security.hmac_signing import signed_headers
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = [pytest.mark.live, pytest.mark.timeout(600)]

DAG = "toolkit_probe"
M = "airflow.execution_plane."

# (metric, attributes) -> how much the scenario adds.
W = ("workflow", DAG)
EXPECTED: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {
    ("wait.parked", (("kind", "event"), W)): 2,
    ("wait.parked", (("kind", "approval"), W)): 2,
    ("wait.resumed", (("by", "ingress"), ("kind", "event"), ("outcome", "received"), W)): 2,
    ("wait.resumed", (("kind", "approval"), ("outcome", "approved"), W)): 1,
    ("wait.resumed", (("kind", "approval"), ("outcome", "rejected"), W)): 1,
    ("wait.duration", (("kind", "event"), W)): 2,
    ("wait.duration", (("kind", "approval"), W)): 2,
    ("approval.answered", (("decision", "approved"), W)): 1,
    ("approval.answered", (("decision", "rejected"), W)): 1,
    ("compensation.started", (W,)): 1,
    ("compensation.completed", (W,)): 1,
    ("compensation.failed", (W,)): 0,
    ("webhook.accepted", (("route", "events"), ("status", "accepted"))): 2,
    ("webhook.refused", (("reason", "invalid_signature"), ("status", "401"))): 1,
    ("webhook.refused", (("reason", "malformed_json"), ("status", "400"))): 1,
    ("outside_call.errors", (("kind", "http_5xx"), ("system", "email"))): 1,
}
# Emails of the scenario: two hellos (one refused first) and the rejection's cancellation notice. Other
# DAGs of the shared stack may send mail meanwhile (the reminders, the compliance scan): at least these.
EMAILS_OK = 3


def totals(metrics: OtlpReceiver) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {key: metrics.total(M + key[0], **dict(key[1])) for key in EXPECTED}


def go_event(request_id: str) -> dict[str, Any]:
    return {
        "event_id": f"go-{request_id}",
        "type": "probe.go",
        "correlation_key": f"toolkit_probe:{request_id}",
        "payload": {},
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def run_probe(live: Any, answer: str) -> tuple[str, str]:
    af = live.airflow
    request_id = f"metrics-{uuid.uuid4().hex[:10]}"
    run_id = f"e2e__{request_id}"
    resp = af.trigger(DAG, run_id, {"request_id": request_id, "recipient": f"{request_id}@example.com"})
    assert resp.status_code == 200, resp.text
    af.wait_task_state(DAG, run_id, "wait_for_go", ("deferred",), timeout=300)
    delivery = live.post_event("partner", go_event(request_id))
    assert (delivery.status_code, delivery.json()["ended_waits"]) == (202, 1), delivery.text
    af.wait_task_state(DAG, run_id, "review", ("awaiting_input",), timeout=300)
    time.sleep(1.5)  # a person's answer, not a machine's (execution_plane.compat.hitl_early_answer)
    assert af.answer(DAG, run_id, "review", answer, user="manager").status_code == 200
    return request_id, run_id


def quiet(live: Any) -> None:
    """No compensation under way after a reconciler pass: the compensations of workflows
    that earlier sessions left ended badly (the stack's reconciler starts them) send mail of their own, and a
    fault injected while they run could hit one of their messages instead of the probe's."""
    af = live.airflow

    def runs(dag_id: str, *states: str) -> list[dict[str, Any]]:
        resp = af.request("GET", f"/dags/{dag_id}/dagRuns", params={"state": list(states), "limit": 100})
        resp.raise_for_status()
        return list(resp.json()["dag_runs"])

    # A pass of the reconciler started now (as an operator would: a manual run; it queues behind a scheduled
    # one, max_active_runs=1) starts every compensation the leftovers need. Waiting for its schedule instead
    # cost up to its two-minute interval.
    pass_id = f"manual__metrics_quiet_{uuid.uuid4().hex[:8]}"
    resp = af.trigger("saga_reconciler", pass_id, {})
    assert resp.status_code == 200, resp.text
    assert af.wait_run("saga_reconciler", pass_id, timeout=300) == "success"
    af.wait(
        "no compensation under way",
        lambda: not runs("saga_compensation", "queued", "running"),
        timeout=300,
        interval=2,
    )


def test_metrics_are_exported_and_count_what_happened(
    live: Any, otlp_metrics: OtlpReceiver, business_db: Any
) -> None:
    af = live.airflow
    quiet(live)
    time.sleep(2.5)  # whatever the stack recorded before, exported
    before = totals(otlp_metrics)
    emails_before = otlp_metrics.total(M + "outside_call.duration", system="email", outcome="ok")
    started = time.monotonic()

    # The first email of the approved probe is refused once (503): its task retries.
    live.sandbox(
        "POST", "/_sandbox/faults", json={"system": "email", "action": "send", "mode": "error", "count": 1}
    )
    _, approved_run = run_probe(live, "Approve")
    assert af.wait_run(DAG, approved_run, timeout=300) == "success"
    assert af.task_instance(DAG, approved_run, "send_hello")["try_number"] == 2

    rejected_id, rejected_run = run_probe(live, "Reject")
    assert af.wait_run(DAG, rejected_run, timeout=300) == "failed"
    assert af.wait_run("saga_compensation", f"compensate__{DAG}:{rejected_id}", timeout=300) == "success"

    # Refused deliveries: a wrong signature, a body that is not JSON (signed).
    raw = json.dumps(go_event("refused")).encode()
    bad_signature = httpx.post(
        f"{live.api_url}/webhooks/events/partner",
        content=raw,
        headers=signed_headers("not-the-senders-secret", raw, time.time()),
        timeout=30,
    )
    assert bad_signature.status_code == 401, bad_signature.text
    body = b"{not json"
    malformed = httpx.post(
        f"{live.api_url}/webhooks/events/partner",
        content=body,
        headers=signed_headers(live.stack.setup.secrets.webhook_events_secret, body, time.time()),
        timeout=30,
    )
    assert malformed.status_code == 400, malformed.text
    scenario_s = time.monotonic() - started

    def arrived() -> bool:
        now = totals(otlp_metrics)
        return all(now[key] - before[key] >= n for key, n in EXPECTED.items())

    deadline = time.monotonic() + 60
    while not arrived() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2.5)  # two more export intervals: anything counted twice would show now
    after = totals(otlp_metrics)
    deltas = {key: after[key] - before[key] for key in EXPECTED}
    assert deltas == {key: float(n) for key, n in EXPECTED.items()}, {
        k: (deltas[k], n) for k, n in EXPECTED.items() if deltas[k] != n
    }
    emails = otlp_metrics.total(M + "outside_call.duration", system="email", outcome="ok") - emails_before
    assert emails >= EMAILS_OK
    # The latencies are real durations: an approval waited at least the 1.5 s before its answer.
    assert otlp_metrics.sum(M + "wait.duration", kind="approval") >= 2 * 1500
    assert otlp_metrics.sum(M + "outside_call.duration", system="email") > 0
    print(
        f"\nscenario {scenario_s:.1f} s; metrics received in {otlp_metrics.requests} OTLP requests;"
        f" {len(otlp_metrics.names())} metric names (Airflow's own among them)"
    )
    # Airflow's own metrics come through the same pipeline (e.g. the scheduler's heartbeat).
    assert any(name.startswith("airflow.") and "execution_plane" not in name for name in otlp_metrics.names())
