"""POST /services/trust-scores: the history read from the business database, stored with a version."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.plugins.services.conftest import bearer

ROUTE = "/services/trust-scores"


@pytest.fixture
def history(business_db: Any, tag: str) -> Iterator[Any]:
    """``add(kind, status)``: a partner approval or a signature workflow of partner ``P-<tag>`` / deals
    ``D-<tag>-*``, with its saga row; all deleted afterwards."""
    made: list[str] = []

    def add(kind: str, status: str, *, signature: str | None = None) -> None:
        n = len(made)
        dag_id = "partner_approval" if kind == "approval" else "signature_commitment"
        workflow_id = f"{dag_id}:T-{tag}-{n}"
        with business_db.cursor() as cur:
            cur.execute(
                "INSERT INTO saga_workflows (workflow_id, dag_id, run_id, business_key, status)"
                " VALUES (%s, %s, 'manual', %s, %s)",
                (workflow_id, dag_id, f"T-{tag}-{n}", status),
            )
            if kind == "approval":
                cur.execute(
                    "INSERT INTO partner_approvals (workflow_id, partner_id, profile, stage, status)"
                    " VALUES (%s, %s, '{}'::jsonb, 'done', 'activated')",
                    (workflow_id, f"P-{tag}"),
                )
            else:
                cur.execute(
                    "INSERT INTO signature_requests (workflow_id, deal_id, terms, terms_sha256, approved_by,"
                    " signer_email, status) VALUES (%s, %s, '{}'::jsonb, 'x', 'exec', 's@example.com', %s)",
                    (workflow_id, f"D-{tag}-{n}", signature),
                )
        made.append(workflow_id)

    yield add
    with business_db.cursor() as cur:
        cur.execute("DELETE FROM partner_approvals WHERE workflow_id = ANY(%s)", (made,))
        cur.execute("DELETE FROM signature_requests WHERE workflow_id = ANY(%s)", (made,))
        cur.execute("DELETE FROM saga_workflows WHERE workflow_id = ANY(%s)", (made,))


def body(tag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "subject_type": "partner",
        "subject_id": f"P-{tag}",
        "payments": {"invoices": 10, "paid_on_time": 9, "paid_late": 1},
        "deal_ids": [f"D-{tag}-{n}" for n in range(10)],
        **overrides,
    }


def stored(business_db: Any, tag: str) -> list[tuple[Any, ...]]:
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT score, tier, rules_version, revision, computed_at FROM trust_scores"
            " WHERE subject_id = %s",
            (f"P-{tag}",),
        )
        return list(cur.fetchall())


def test_history_from_the_database_scored_stored_once_and_revised_when_it_changes(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, history: Any, tag: str
) -> None:
    for _ in range(4):
        history("approval", "completed")
    history("approval", "compensated")
    history("approval", "running")
    history("signature", "completed", signature="signed")
    history("signature", "compensated", signature="voided")
    history("signature", "completed", signature="signed")

    first = services_client.post(ROUTE, json=body(tag), headers=bearer(tokens["service"]))
    assert first.status_code == 200, first.text
    result = first.json()
    assert result["history"] == {
        "completed": 6,
        "compensated": 2,
        "ended_badly": 0,
        "running": 1,
        "signatures": {"signed": 2, "declined": 0, "expired": 0, "voided": 1, "pending": 0},
    }
    factors = {f["name"]: f["points"] for f in result["factors"]}
    assert factors["workflow_history"] == 10.0  # (6 - 2) / 8 x 20, full volume
    assert factors["signature_behaviour"] == 5.0  # (2 - 1) / 3 x 15
    assert factors["payment_record"] == 12.5  # 15 x 0.9 - 10 x 0.1
    assert result["score"] == round(50 + 10 + 5 + 12.5) and result["tier"] == "trusted"
    assert (result["rules_version"], result["revision"], result["stored"]) == ("trust-v1", 1, "created")
    [(score, tier, version, revision, computed_at)] = stored(business_db, tag)
    assert (score, tier, version, revision) == (78, "trusted", "trust-v1", 1)

    again = services_client.post(ROUTE, json=body(tag), headers=bearer(tokens["service"]))
    assert (again.json()["revision"], again.json()["stored"]) == (1, "unchanged")
    assert stored(business_db, tag) == [(score, tier, version, revision, computed_at)]

    history("approval", "rejected")  # the history changed: same request, new revision
    revised = services_client.post(ROUTE, json=body(tag), headers=bearer(tokens["service"]))
    assert (revised.json()["revision"], revised.json()["stored"]) == (2, "updated")
    assert revised.json()["history"]["ended_badly"] == 1
    assert [r[3] for r in stored(business_db, tag)] == [2]


def test_an_affiliate_has_no_partner_approvals(
    services_client: TestClient, tokens: dict[str, str], history: Any, tag: str
) -> None:
    history("approval", "completed")  # partner P-<tag>'s, not the affiliate's of the same id
    response = services_client.post(
        ROUTE, json=body(tag, subject_type="affiliate", deal_ids=[]), headers=bearer(tokens["user"])
    )
    assert response.json()["history"]["completed"] == 0


def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    for overrides, field in (
        ({"payments": {"invoices": 1, "paid_on_time": 2}}, "payments"),
        ({"compliance_flags": [{"code": "k", "severity": "huge"}]}, "compliance_flags.0.severity"),
        ({"deal_ids": ["x" * 200]}, "deal_ids.0"),
        ({"subject_type": "vendor"}, "subject_type"),
    ):
        response = services_client.post(ROUTE, json=body(tag, **overrides), headers=bearer(tokens["user"]))
        assert (response.status_code, response.json()["field"]) == (422, field), response.text
    assert stored(business_db, tag) == []


def test_the_task_function_is_the_same_computation(business_db: Any, history: Any, tag: str) -> None:
    from execution_plane.services.trust_score import trust_score_task

    history("approval", "completed")
    first = trust_score_task(body(tag))
    assert first["history"]["completed"] == 1 and first["revision"] == 1 and first["stored"] == "created"
    assert trust_score_task(body(tag))["stored"] == "unchanged"
    assert len(stored(business_db, tag)) == 1
