"""The approval request's announcement says the same thing on every try of the gate.

Its message goes out under one idempotency key per request (the ledger's outbound message dedup). A try that
crashed after the provider took it but before it was recorded sends it again under that key: a different
text is refused by the provider (HTTP 422 idempotency_key_reused) and fails every later try of the gate
(seen in the chaos suite across a Postgres restart, when the announced expiry was the try's own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from execution_plane.operators.approval import ApprovalGateOperator


def gate(**kwargs: object) -> ApprovalGateOperator:
    return ApprovalGateOperator(
        task_id="manager_approval",
        stage="manager_approval",
        assignees=["manager"],
        approved_task_ids="next",
        rejected_task_id="rejected",
        response_timeout=timedelta(hours=48),
        subject="Partner review",
        notify_to="manager@execution-plane.example",
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_announced_expiry_is_the_requests_first_one_whenever_the_try_runs() -> None:
    opened = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    said = gate().announcement(link="/required_actions?run=r1", opened_at=opened)
    assert said == {
        "subject": "Partner review",
        "message": "Partner review\n\n",
        "link": "/required_actions?run=r1",
        "expires_at": "2026-12-03 09:30",
    }
    # The database hands created_at back in the session's zone: the text is the same in UTC.
    riyadh = opened.astimezone(timezone(timedelta(hours=3)))
    assert gate().announcement(link="/required_actions?run=r1", opened_at=riyadh) == said


def test_a_gate_without_a_timeout_announces_no_expiry() -> None:
    op = gate()
    op.response_timeout = None
    said = op.announcement(link="/x", opened_at=datetime(2026, 12, 1, tzinfo=UTC))
    assert said["expires_at"] == "never"
