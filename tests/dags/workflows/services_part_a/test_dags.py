"""lead_scoring, dashboard_aggregation, trust_score_calculation and audit_log_write through dag.test(): each
DAG's one step is the toolkit's service (the same code as its route), run in a real task with the request as
params, storing the same rows; a bad param is refused before any task runs, and what only the service's model
or its stored rows can refuse fails the step naming the field, without a retry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.workflow_runs import load_dag, paused

IDS = ("lead_scoring", "dashboard_aggregation", "trust_score_calculation", "audit_log_write")
NOTES = (
    "Budget: approved 80k USD for Q3.\nTimeline: start in June.\nDecision maker: the CFO signs.\n"
    "Need: replacing spreadsheets"
)


@pytest.fixture(scope="module")
def dags() -> Iterator[dict[str, Any]]:
    loaded = {dag_id: load_dag(dag_id) for dag_id in IDS}
    with paused(IDS[0]), paused(IDS[1]), paused(IDS[2]), paused(IDS[3]):
        yield loaded


@pytest.fixture
def tag(business_db: Any) -> Iterator[str]:
    value = uuid.uuid4().hex[:12]
    yield value
    with business_db.cursor() as cur:
        cur.execute("DELETE FROM lead_scores WHERE lead_key LIKE %s", (f"%{value}%",))
        cur.execute("DELETE FROM trust_scores WHERE subject_id LIKE %s", (f"%{value}%",))
        cur.execute("DELETE FROM partner_approvals WHERE partner_id LIKE %s", (f"%{value}%",))
        cur.execute("DELETE FROM approval_requests WHERE dag_id LIKE %s", (f"%{value}%",))
        cur.execute("DELETE FROM saga_workflows WHERE workflow_id LIKE %s", (f"%{value}%",))
        cur.execute("DELETE FROM outside_calls WHERE detail LIKE %s", (f"%{value}%",))


def only_result(run: Any, task_id: str) -> dict[str, Any]:
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    result: dict[str, Any] = run.get_task_instance(task_id).xcom_pull(task_ids=task_id)
    return result


def rows(business_db: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with business_db.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def lead(tag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "lead_id": f"L-{tag}",
        "company_name": "Acme",
        "company_size": 120,
        "industry": "Fintech",
        "source": "referral",
        "engagement": {"replies": 2, "meetings": 1},
        "notes": NOTES,
        **overrides,
    }


# ---------------------------------------------------------------------------------------------- lead scoring


def test_lead_scoring_dag_scores_with_the_llm_and_stores_the_row(
    dags: dict[str, Any], sandbox: Any, business_db: Any, tag: str
) -> None:
    from execution_plane.services.lead_scoring import score_lead_task

    result = only_result(dags["lead_scoring"].test(run_conf=lead(tag)), "score")

    # Rules: 10 (120 employees) + 8 (fintech) + 12 (referral) + 14 (2 replies, 1 meeting); the LLM: 4 x 10.
    assert (result["score"], result["band"], result["degraded"], result["stored"]) == (
        84,
        "hot",
        False,
        "created",
    )
    assert result["llm_reference"].startswith("sbx-")
    assert len(sandbox.effects(system="llm", action="completion")) == 1
    sql = "SELECT score, band, degraded, llm_reference FROM lead_scores WHERE lead_key = %s"
    assert rows(business_db, sql, f"L-{tag}") == [(84, "hot", False, result["llm_reference"])]
    # The route's function on the same lead: the same row, unchanged, the LLM not asked again.
    again = score_lead_task(lead(tag))
    assert {**again, "stored": "created"} == result and again["stored"] == "unchanged"
    assert len(sandbox.effects(system="llm", action="completion")) == 1


def test_lead_scoring_refuses_what_only_the_model_can_say_without_a_retry(business_db: Any, tag: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from workflows.lead_scoring import steps

    with pytest.raises(AirflowFailException, match=r"bad lead: notes: .*NUL"):
        steps.score(lead(tag, notes="call \x00 back"))
    with pytest.raises(AirflowFailException, match=r"bad lead: owner: Extra inputs are not permitted"):
        steps.score(lead(tag, owner="someone"))
    assert rows(business_db, "SELECT 1 FROM lead_scores WHERE lead_key = %s", f"L-{tag}") == []


# ------------------------------------------------------------------------------------------- trust score


def seed_partner_history(business_db: Any, tag: str, statuses: list[str]) -> None:
    with business_db.cursor() as cur:
        for n, status in enumerate(statuses):
            workflow_id = f"partner_approval:T-{tag}-{n}"
            cur.execute(
                "INSERT INTO saga_workflows (workflow_id, dag_id, run_id, business_key, status)"
                " VALUES (%s, 'partner_approval', 'manual', %s, %s)",
                (workflow_id, f"T-{tag}-{n}", status),
            )
            cur.execute(
                "INSERT INTO partner_approvals (workflow_id, partner_id, profile, stage, status)"
                " VALUES (%s, %s, '{}'::jsonb, 'done', 'activated')",
                (workflow_id, f"P-{tag}"),
            )


def test_trust_score_calculation_dag_reads_the_history_and_stores_the_row(
    dags: dict[str, Any], business_db: Any, tag: str
) -> None:
    from execution_plane.services.trust_score import trust_score_task

    seed_partner_history(business_db, tag, ["completed", "completed", "compensated"])
    request = {
        "subject_type": "partner",
        "subject_id": f"P-{tag}",
        "payments": {"invoices": 10, "paid_on_time": 9, "paid_late": 1},
        "compliance_flags": [{"code": "kyc-stale", "severity": "medium"}],
    }
    result = only_result(dags["trust_score_calculation"].test(run_conf=request), "calculate")

    assert (result["history"]["completed"], result["history"]["compensated"]) == (2, 1)
    factors = {f["name"]: f["points"] for f in result["factors"]}
    assert factors["payment_record"] == 12.5  # 15 x 0.9 - 10 x 0.1
    assert factors["compliance"] < 0  # the open flag takes points away
    assert (result["revision"], result["stored"]) == (1, "created")
    sql = (
        "SELECT score, tier, rules_version, revision FROM trust_scores"
        " WHERE subject_type = 'partner' AND subject_id = %s"
    )
    assert rows(business_db, sql, f"P-{tag}") == [
        (result["score"], result["tier"], result["rules_version"], 1)
    ]
    # The route's function on the same request: one row, the same revision.
    again = trust_score_task(request)
    assert (again["score"], again["revision"], again["stored"]) == (result["score"], 1, "unchanged")


def test_trust_score_refuses_more_invoices_paid_than_issued_without_a_retry(
    business_db: Any, tag: str
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from workflows.trust_score_calculation import steps

    bad = {
        "subject_type": "partner",
        "subject_id": f"P-{tag}",
        "payments": {"invoices": 2, "paid_on_time": 3},
    }
    with pytest.raises(AirflowFailException, match=r"payments: .*exceeds invoices"):
        steps.calculate(bad)
    assert rows(business_db, "SELECT 1 FROM trust_scores WHERE subject_id = %s", f"P-{tag}") == []


# --------------------------------------------------------------------------------------------- audit log


def event(tag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": f"ev-{tag}",
        "component": "partner-portal",
        "actor": "manager",
        "action": "terms.viewed",
        "workflow_id": f"partner_approval:{tag}",
        "occurred_at": "2026-12-05T10:00:00Z",
        "details": {"ip": "10.0.0.1", "pages": [1, 2]},
        **overrides,
    }


def test_audit_log_write_dag_chains_the_event_once(dags: dict[str, Any], business_db: Any, tag: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.saga.audit import GENESIS
    from execution_plane.services.audit import write_audit_event_task
    from workflows.audit_log_write import steps

    result = only_result(dags["audit_log_write"].test(run_conf=event(tag)), "write")

    assert result["stored"] == "created"
    [(actor, workflow_id, action, details, prev_hash, link)] = rows(
        business_db,
        "SELECT actor, workflow_id, action, details, prev_hash, hash FROM audit_log WHERE id = %s",
        result["audit_id"],
    )
    assert (actor, workflow_id, action, link) == (
        "manager",
        f"partner_approval:{tag}",
        "terms.viewed",
        result["hash"],
    )
    assert details == {
        "event_id": f"ev-{tag}",
        "component": "partner-portal",
        "occurred_at": "2026-12-05T10:00:00+00:00",
        "details": {"ip": "10.0.0.1", "pages": [1, 2]},
    }
    # A link of the chain: its prev_hash is the hash of the row before it (the genesis hash for the first).
    before = "SELECT hash FROM audit_log WHERE id < %s ORDER BY id DESC LIMIT 1"
    assert (rows(business_db, before, result["audit_id"]) or [(GENESIS,)]) == [(prev_hash,)]
    # Redelivered through the route's function: the same link, nothing chained twice.
    assert write_audit_event_task(event(tag)) == {**result, "stored": "duplicate"}
    # The same event id with other content names another event: refused, without a retry.
    with pytest.raises(AirflowFailException, match=r"^event_id: event ev-\w+ was already recorded"):
        steps.write(event(tag, action="terms.signed"))
    chained = "SELECT count(*) FROM audit_log WHERE details->>'event_id' = %s"
    assert rows(business_db, chained, f"ev-{tag}") == [(1,)]


# ------------------------------------------------------------------------------------------------ dashboard


def test_dashboard_aggregation_dag_returns_the_figures_of_the_rows(
    dags: dict[str, Any], business_db: Any, tag: str
) -> None:
    from execution_plane.services.dashboard import OVERDUE_LIST

    dag_id = f"dash_{tag}"
    with business_db.cursor() as cur:
        for i, (status, age) in enumerate(
            [("running", "0 days"), ("compensated", "3 days"), ("completed", "0 days")]
        ):
            cur.execute(
                "INSERT INTO saga_workflows (workflow_id, dag_id, run_id, business_key, status, updated_at)"
                " VALUES (%s, %s, 'r', %s, %s, now() - %s::interval)",
                (f"{dag_id}:{i}", dag_id, str(i), status, age),
            )
        for i, age in enumerate(["3 hours", "10 minutes"]):
            cur.execute(
                "INSERT INTO approval_requests (request_id, workflow_id, stage, dag_id, run_id, task_id,"
                " assignees, subject, status, created_at)"
                " VALUES (%s, %s, 'review', %s, 'r', 't', %s, 's', 'pending', now() - %s::interval)",
                (f"{dag_id}:{i}:review", f"{dag_id}:{i}", dag_id, [f"alice-{tag}"], age),
            )
        for ok in (True, False):
            cur.execute(
                "INSERT INTO outside_calls (system, source, ok, latency_ms, detail)"
                " VALUES (%s, 'test', %s, 1, %s)",
                (f"sys-{tag}", ok, tag),
            )

    body = only_result(dags["dashboard_aggregation"].test(run_conf={"overdue_after_hours": 1}), "aggregate")

    mine = {w["status"]: w["count"] for w in body["workflows"] if w["dag_id"] == dag_id}
    assert mine == {"running": 1, "compensated": 1, "completed": 1}
    [stage] = [s for s in body["waiting_by_stage"] if s["dag_id"] == dag_id]
    assert (stage["stage"], stage["pending"]) == ("review", 2)
    assert stage["oldest_hours"] == pytest.approx(3, abs=0.1)
    assert [w["pending"] for w in body["waiting_on"] if w["assignee"] == f"alice-{tag}"] == [2]
    assert body["overdue"]["after_hours"] == 1  # the param: the 3-hour-old approval is overdue, not the other
    overdue = [o["request_id"] for o in body["overdue"]["oldest"] if o["dag_id"] == dag_id]
    assert f"{dag_id}:1:review" not in overdue  # 10 minutes old
    # The 3-hour-old one is listed unless older overdue approvals of other tests fill the list.
    assert overdue == [f"{dag_id}:0:review"] or len(body["overdue"]["oldest"]) == OVERDUE_LIST
    assert body["compensations"]["by_window"]["7d"][dag_id] == {"compensated": 1}
    [errors] = [e for e in body["outside_errors"] if e["system"] == f"sys-{tag}"]
    assert (errors["calls"], errors["errors"], errors["error_rate"]) == (2, 1, 0.5)
    assert set(body["query_ms"]) >= {"workflows", "overdue", "lead_funnel"}


def test_dashboard_refuses_an_undeclared_param_without_a_retry() -> None:
    """A misspelt threshold would otherwise silently give the default's figures."""
    from airflow.sdk.exceptions import AirflowFailException

    from workflows.dashboard_aggregation import steps

    with pytest.raises(AirflowFailException, match=r"unknown params: overdue_after_hrs"):
        steps.aggregate({"overdue_after_hours": 48.0, "overdue_after_hrs": 1})


# ------------------------------------------------------------------------------------------------ bad params


def test_a_bad_param_is_refused_before_any_run_exists(
    dags: dict[str, Any], business_db: Any, tag: str
) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.param import ParamValidationError
    from airflow.utils.session import create_session

    def runs() -> int:
        with create_session() as session:
            return int(session.query(DagRun).filter(DagRun.dag_id == "lead_scoring").count())

    before = runs()
    with pytest.raises(ParamValidationError, match="param engagement:"):
        dags["lead_scoring"].test(run_conf=lead(tag, engagement={"replies": -1}))
    assert runs() == before
    assert rows(business_db, "SELECT 1 FROM lead_scores WHERE lead_key = %s", f"L-{tag}") == []


LEAD = {"lead_id": "L-1", "company_name": "Acme"}
SUBJECT = {"subject_type": "partner", "subject_id": "P-1"}


@pytest.mark.parametrize(
    ("dag_id", "good", "param", "bad"),
    [
        ("lead_scoring", LEAD, "lead_id", "has space"),
        ("lead_scoring", LEAD, "company_name", ""),
        ("lead_scoring", LEAD, "country", "Oman"),
        ("lead_scoring", LEAD, "stage", "maybe"),
        ("lead_scoring", LEAD, "engagement", {"replies": 1, "likes": 3}),
        ("dashboard_aggregation", {}, "overdue_after_hours", 0),
        ("dashboard_aggregation", {}, "overdue_after_hours", "48"),
        ("trust_score_calculation", SUBJECT, "subject_type", "vendor"),
        ("trust_score_calculation", SUBJECT, "payments", {"paid_on_time": 1}),
        ("trust_score_calculation", SUBJECT, "compliance_flags", [{"code": "x", "severity": "dire"}]),
        ("trust_score_calculation", SUBJECT, "deal_ids", ["D 1"]),
        ("audit_log_write", event("x"), "occurred_at", "2026-12-05 10:00"),
        ("audit_log_write", event("x"), "component", "Partner Portal"),
        ("audit_log_write", event("x"), "details", ["not", "an", "object"]),
    ],
)
def test_the_params_refuse_what_the_service_refuses(
    dags: dict[str, Any], dag_id: str, good: dict[str, Any], param: str, bad: Any
) -> None:
    """The check every new run passes before it is created (create_dagrun: the serialized DAG's params
    merged with the conf, validated), as the trigger form, the REST API and dag.test() call it. The good
    request is accepted; the same with one bad field is refused, naming it."""
    from airflow.sdk.definitions.param import ParamValidationError
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dags[dag_id]))
    serialized.params.deep_merge(good).validate()
    with pytest.raises(ParamValidationError, match=f"param {param}:"):
        serialized.params.deep_merge({**good, param: bad}).validate()
