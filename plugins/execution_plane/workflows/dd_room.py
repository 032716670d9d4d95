"""Task-side steps of the dd_room workflow, each an idempotent saga step with its undo beside it.

The DAG file (dags/dd_room.py) wires these in the spec's order; the analysis, register, valuation, memo and
lessons learned live in include/domain/dd_room. Each workstream's collect / analyze / findings / sign-off
is its own saga step under its own key (``collect.financial``, ``findings.legal``, ...): a retry of one
workstream replays or redoes only that workstream's step, never another's.

Compensation (newest first, by saga_compensation): the IC memo is archived (kept as the record of the
decision), the deal team is told a prepared close is off, the target gets the termination notice (only if
the "DD initiated" notice reached it), the room is archived, the CRM deal leaves due diligence, and last
``dd_room.lessons_learned`` closes the DD record and writes the lessons-learned record. The lessons are
written by compensation, not by a task on the rejection path, because every bad ending must leave one:
a refused sign-off, an IC rejection or expiry, and also a run that failed (an outside system down after
retries), which has no rejection path at all; the compensation DAG runs for all of them, once.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

from execution_plane.saga.compensations import compensation
from execution_plane.saga.ledger import Compensation
from execution_plane.saga.steps import Saga
from include.domain.dd_room import (
    WORKSTREAMS,
    Deal,
    Finding,
    RiskEntry,
    ValuationImpact,
    analyze_workstream,
    consolidate,
    ic_memo,
    ic_recommendation,
    lessons_learned,
    risk_register,
    valuation_impact,
)

log = logging.getLogger(__name__)

LEAD = "dd_lead"  # every workstream's lead (Airflow user; admin may answer too), as in dags/dd_room.py
CRM_DD_STATUS = "due_diligence"
CRM_CLOSING_STATUS = "closing"
CRM_TERMINATED_STATUS = "dd_terminated"
TERMINATION_NOTICE = (
    "Thank you for your cooperation during our due diligence. We have decided not to proceed with the "
    "transaction at this time. The data room has been closed and archived; no further uploads are needed. "
    "We will keep the information you shared confidential."
)
CLOSE_CANCELLED_NOTICE = (
    "The close preparation announced earlier for this deal is cancelled: the due diligence was terminated "
    "({reason}). Please stop closing work."
)


def room_id_for(request_id: str) -> str:
    """One room per DD request (the room outlives the run: it is archived, never deleted)."""
    return f"dd-{request_id}"


def _started_on(saga: Saga) -> date:
    """The DD's first day: the memo dated by it is byte-identical in every retry and re-run."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute("SELECT created_at::date FROM saga_workflows WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
    return row[0] if row else date.today()


# ----------------------------------------------------------------------------- provider facts -> domain facts
def _monthly_from_annual_churn(annual_pct: Any) -> float | None:
    if isinstance(annual_pct, bool) or not isinstance(annual_pct, int | float) or not 0 <= annual_pct < 100:
        return None
    return round((1 - (1 - annual_pct / 100) ** (1 / 12)) * 100, 2)


# What the data-room provider calls a fact, and the domain's name for it (include/domain/dd_room/analyzers).
# Only facts with the same meaning are mapped: a fact the room does not hold stays missing, and the analyzer
# reports it as insufficient evidence instead of us guessing it.
_FACT_NAMES: dict[str, dict[str, str]] = {
    "legal": {
        "open_litigations": "open_litigation_count",
        "change_of_control_clauses": "change_of_control_contracts",
        "material_contracts": "material_contracts_count",
    },
    "technical": {"uptime_pct": "uptime_pct_12m"},
    "product": {},
    "security": {"last_pentest_days_ago": "last_pen_test_age_days"},
    "financial": {},
}


def domain_facts(workstream: str, facts: dict[str, Any]) -> dict[str, Any]:
    out = dict(facts)
    for provider_name, name in _FACT_NAMES[workstream].items():
        if provider_name in facts:
            out[name] = facts[provider_name]
    if workstream == "legal" and isinstance(facts.get("ip_assignments_complete"), bool):
        # "not complete" is at least one contributor without an assignment: the analyzer's lowest gap count.
        out["ip_assignment_gaps"] = 0 if facts["ip_assignments_complete"] else 1
    if workstream == "product" and "annual_churn_pct" in facts:
        monthly = _monthly_from_annual_churn(facts["annual_churn_pct"])
        if monthly is not None:
            out["monthly_churn_pct"] = monthly
    return out


def financials_document(company_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The financial data API's yearly series as one more document of the financial workstream."""
    rows = [
        {
            "year": y.get("fiscal_year"),
            "revenue": y.get("revenue_usd"),
            "ebitda": y.get("ebitda_usd"),
            "debt": y.get("total_debt_usd"),
        }
        for y in body.get("years", [])
    ]
    return {
        "doc_id": f"financials-api:{company_id}",
        "workstream": "financial",
        "title": "Financial data API: yearly series",
        "facts": {"financials": rows},
    }


def company_id_for(deal: dict[str, Any], target_company: str) -> str:
    return str(deal.get("company_id") or re.sub(r"[^a-z0-9]+", "-", target_company.lower()).strip("-"))


# ----------------------------------------------------------------------------- DD initiated
def initiate(context: Any) -> dict[str, Any]:
    """Register the DD, record it, put the CRM deal in due diligence, open the room, tell the target."""
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.docstore import DocstoreHook

    params = context["params"]
    deal_id, target = str(params["deal_id"]), str(params["target_company"])
    room_id = room_id_for(str(params["request_id"]))
    with Saga.from_context(context) as saga:
        saga.register()
        crm = CrmHook()
        try:

            def record(cur: Any) -> dict[str, Any]:
                # The CRM read is part of the step: a retry replays what the DD started with.
                crm_deal = crm.get_deal(deal_id)
                cur.execute(
                    "INSERT INTO dd_rooms (workflow_id, deal_id, target_company, base_valuation_usd, status)"
                    " VALUES (%s, %s, %s, %s, 'open') ON CONFLICT (workflow_id) DO NOTHING",
                    (saga.workflow_id, deal_id, target, params["base_valuation_usd"]),
                )
                cur.execute(
                    "INSERT INTO deals (deal_id, status, workflow_id) VALUES (%s, %s, %s)"
                    " ON CONFLICT (deal_id) DO UPDATE SET status = EXCLUDED.status, status_reason = NULL,"
                    " workflow_id = EXCLUDED.workflow_id, updated_at = now()",
                    (deal_id, CRM_DD_STATUS, saga.workflow_id),
                )
                return {
                    "deal": Deal(
                        deal_id=deal_id, target_name=target, sector=str(crm_deal.get("sector") or "")
                    ).model_dump(mode="json"),
                    "deal_name": crm_deal.get("name"),
                    "owner_email": crm_deal.get("owner_email"),
                    "company_id": company_id_for(crm_deal, target),
                    "room_id": room_id,
                }

            started = saga.db_write(
                "dd_record",
                record,
                request={
                    "deal_id": deal_id,
                    "target_company": target,
                    "base_valuation_usd": params["base_valuation_usd"],
                    "room_id": room_id,
                },
                # Runs last in compensation: closes the record and writes the lessons learned.
                compensation=Compensation("dd_room.lessons_learned", {"deal_id": deal_id, "target": target}),
            )
            saga.call(
                "crm_deal_in_dd",
                side_effect="crm.update_deal",
                request={"status": CRM_DD_STATUS},
                call=lambda key: crm.update_deal(
                    deal_id,
                    status=CRM_DD_STATUS,
                    fields={"workflow_id": saga.workflow_id, "room_id": room_id},
                    idempotency_key=key,
                ),
                compensation=Compensation(
                    "crm.set_deal_status", {"deal_id": deal_id, "status": CRM_TERMINATED_STATUS}
                ),
            )
        finally:
            crm.close()
        docstore = DocstoreHook()
        try:
            saga.call(
                "room_opened",
                side_effect="docstore.create_room",
                request={"room_id": room_id},
                call=lambda key: docstore.create_room(
                    room_id, f"DD {target} ({deal_id})", idempotency_key=key
                ),
                compensation=Compensation("docstore.archive_room", {"room_id": room_id}),
            )
        finally:
            docstore.close()
        # The first contact with the target carries the undo "tell them it is off": a target hears about a
        # termination once, and only a target that heard about the DD at all.
        saga.send_message(
            "target_notified",
            channel="email",
            to=str(params["target_contact_email"]),
            template="dd_initiated",
            subject=f"Due diligence started: {target}",
            body=(
                f"We are starting due diligence on {target} (reference {deal_id}). A data room ({room_id}) "
                "is open for your documents on financials, legal, technical, product and security."
            ),
            compensation=Compensation(
                "message.notify",
                {
                    "channel": "email",
                    "to": str(params["target_contact_email"]),
                    "subject": f"Due diligence on {target} terminated",
                    "body": TERMINATION_NOTICE,
                    "template": "dd_terminated",
                },
            ),
        )
    return started


@compensation("dd_room.lessons_learned")
def close_with_lessons(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Close the DD record (room record archived, deal out of DD) and write its lessons-learned record.

    The register is rebuilt from the persisted findings: what the DD found before it ended, also when it
    ended before the register step ran. Idempotent on its own (upserts keyed by the workflow id).
    """
    import json

    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute("SELECT decision FROM dd_rooms WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
        decision = row[0] if row and row[0] else "failed"
        register = risk_register(consolidate(_persisted_findings(cur, saga.workflow_id)))
        record = lessons_learned(
            Deal(deal_id=args["deal_id"], target_name=args["target"]),
            register,
            decision,
            reason,
            recorded_on=date.today(),
        )
        cur.execute(
            "INSERT INTO lessons_learned (workflow_id, record) VALUES (%s, %s::jsonb)"
            " ON CONFLICT (workflow_id) DO NOTHING",
            (saga.workflow_id, json.dumps(record)),
        )
        cur.execute(
            "UPDATE dd_rooms SET status = 'archived', decision = COALESCE(decision, %s),"
            " updated_at = now() WHERE workflow_id = %s",
            (decision, saga.workflow_id),
        )
        cur.execute(
            "UPDATE deals SET status = %s, status_reason = %s, updated_at = now()"
            " WHERE deal_id = %s AND workflow_id = %s",
            (CRM_TERMINATED_STATUS, reason[:2000], args["deal_id"], saga.workflow_id),
        )
    return {"lessons_learned": record["record_id"], "decision": decision, "risks": len(register)}


# ----------------------------------------------------------------------------- workstreams assigned
def assign_workstreams(context: Any) -> dict[str, str]:
    with Saga.from_context(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            for workstream in WORKSTREAMS:
                cur.execute(
                    "INSERT INTO dd_workstreams (workflow_id, workstream, lead, status)"
                    " VALUES (%s, %s, %s, 'assigned') ON CONFLICT DO NOTHING",
                    (saga.workflow_id, workstream, LEAD),
                )
            return {workstream: LEAD for workstream in WORKSTREAMS}

        return saga.db_write(
            "workstreams_assigned", write, request={"leads": dict.fromkeys(WORKSTREAMS, LEAD)}
        )


# ----------------------------------------------------------------------------- each workstream
def collect(context: Any, workstream: str, started: dict[str, Any]) -> dict[str, Any]:
    """The room's documents of the workstream (financial: plus the financial data API), as the domain reads
    them. The reads are inside the step, so a retry after it committed replays the same evidence."""
    from execution_plane.hooks.docstore import DocstoreHook
    from execution_plane.hooks.research import FinancialsHook

    room_id = started["room_id"]
    with Saga.from_context(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            hook = DocstoreHook()
            try:
                raw = hook.room_documents(room_id, workstream)
            finally:
                hook.close()
            documents = [
                {
                    "doc_id": d.get("document_id"),
                    "workstream": d.get("workstream", workstream),
                    "title": d.get("title"),
                    "sha256": d.get("sha256"),
                    "facts": domain_facts(workstream, dict(d.get("facts") or {})),
                }
                for d in raw
                if d.get("workstream", workstream) == workstream
            ]
            if workstream == "financial":
                fin = FinancialsHook()
                try:
                    documents.append(
                        financials_document(started["company_id"], fin.company(started["company_id"]))
                    )
                finally:
                    fin.close()
            cur.execute(
                "UPDATE dd_workstreams SET status = 'collected', documents = %s, updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (len(documents), saga.workflow_id, workstream),
            )
            return {"workstream": workstream, "documents": documents}

        return saga.db_write(
            f"collect.{workstream}", write, request={"room_id": room_id, "workstream": workstream}
        )


def analyze(context: Any, workstream: str, collected: dict[str, Any]) -> dict[str, Any]:
    findings = analyze_workstream(workstream, collected["documents"])
    with Saga.from_context(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE dd_workstreams SET status = 'analyzed', updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (saga.workflow_id, workstream),
            )
            return {"workstream": workstream, "findings": [f.model_dump(mode="json") for f in findings]}

        return saga.db_write(
            f"analyze.{workstream}",
            write,
            request={"workstream": workstream, "documents": [d["doc_id"] for d in collected["documents"]]},
        )


def record_findings(context: Any, workstream: str, analyzed: dict[str, Any]) -> dict[str, Any]:
    findings = [Finding.model_validate(f) for f in analyzed["findings"]]
    with Saga.from_context(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            for f in findings:
                cur.execute(
                    "INSERT INTO dd_findings (workflow_id, workstream, code, title, severity, likelihood,"
                    " evidence, valuation_impact_pct) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (workflow_id, code) DO NOTHING",
                    (
                        saga.workflow_id,
                        f.workstream,
                        f.code,
                        f.title,
                        f.severity,
                        f.likelihood,
                        f.evidence,
                        f.valuation_impact_pct,
                    ),
                )
            cur.execute(
                "UPDATE dd_workstreams SET findings = %s, updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (len(findings), saga.workflow_id, workstream),
            )
            worst = max((f.risk_score for f in findings), default=0)
            summary = (
                f"{len(findings)} finding(s), highest risk score {worst}: "
                + "; ".join(f"{f.code} (S{f.severity}/L{f.likelihood})" for f in findings)
                if findings
                else "no findings"
            )
            return {
                "workstream": workstream,
                "findings": len(findings),
                "codes": [f.code for f in findings],
                "summary": summary,
            }

        return saga.db_write(
            f"findings.{workstream}",
            write,
            request={"workstream": workstream, "codes": sorted(f.code for f in findings)},
        )


def signed_off(context: Any, workstream: str) -> dict[str, Any]:
    decision = context["ti"].xcom_pull(task_ids=f"{workstream}.lead_signoff", key="decision") or {}
    with Saga.from_context(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE dd_workstreams SET status = 'signed_off', updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (saga.workflow_id, workstream),
            )
            return {"workstream": workstream, "signed_off_by": decision.get("decided_by")}

        return saga.db_write(f"signed_off.{workstream}", write, request={"workstream": workstream})


def record_bad_ending(context: Any, status: str, workstream: str | None = None) -> None:
    """Business-table status of a refused / rejected / expired DD (before compensation starts); the stage
    and the approver's comment are in the workflow's reason."""
    gate = f"{workstream}.lead_signoff" if workstream else "ic_review"
    decision = context["ti"].xcom_pull(task_ids=gate, key="decision") or {}
    with Saga.from_context(context) as saga, saga.conn() as conn, conn.cursor() as cur:
        if workstream:
            cur.execute(
                "UPDATE dd_workstreams SET status = 'not_signed_off', updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (saga.workflow_id, workstream),
            )
        cur.execute(
            "UPDATE dd_rooms SET decision = %s, decided_by = %s, updated_at = now() WHERE workflow_id = %s",
            (status, decision.get("decided_by"), saga.workflow_id),
        )


# ----------------------------------------------------------------------------- consolidation, register, value
def _persisted_findings(cur: Any, workflow_id: str) -> list[Finding]:
    cur.execute(
        "SELECT workstream, code, title, severity, likelihood, evidence, valuation_impact_pct"
        " FROM dd_findings WHERE workflow_id = %s ORDER BY code",
        (workflow_id,),
    )
    return [
        Finding(
            workstream=r[0],
            code=r[1],
            title=r[2],
            severity=r[3],
            likelihood=r[4],
            evidence=r[5],
            valuation_impact_pct=r[6],
        )
        for r in cur.fetchall()
    ]


def consolidate_findings(context: Any) -> dict[str, Any]:
    """All five signed-off workstreams' findings, one per code, riskiest first (from the findings rows)."""
    with Saga.from_context(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            consolidated = consolidate(_persisted_findings(cur, saga.workflow_id))
            cur.execute(
                "UPDATE dd_rooms SET status = 'in_review', updated_at = now() WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return consolidated.model_dump(mode="json")

        return saga.db_write("findings_consolidated", write, request={"workstreams": list(WORKSTREAMS)})


def build_risk_register(context: Any, consolidated: dict[str, Any]) -> list[dict[str, Any]]:
    from include.domain.dd_room import ConsolidatedFindings

    entries = risk_register(ConsolidatedFindings.model_validate(consolidated))
    with Saga.from_context(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            for r in entries:
                cur.execute(
                    "INSERT INTO risk_register (workflow_id, risk_id, workstream, title, severity,"
                    " likelihood, score, rating, mitigation) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (workflow_id, risk_id) DO NOTHING",
                    (
                        saga.workflow_id,
                        r.risk_id,
                        r.workstream,
                        r.title,
                        r.severity,
                        r.likelihood,
                        r.score,
                        r.rating,
                        r.mitigation,
                    ),
                )
            return {"entries": [r.model_dump(mode="json") for r in entries]}

        recorded = saga.db_write("risk_register", write, request={"risk_ids": [r.risk_id for r in entries]})
    log.info(
        "risk register: %s",
        "; ".join(f"{r['risk_id']} {r['rating']} ({r['score']}) {r['title']}" for r in recorded["entries"]),
    )
    return list(recorded["entries"])


def assess_valuation(context: Any, consolidated: dict[str, Any]) -> dict[str, Any]:
    from include.domain.dd_room import ConsolidatedFindings

    base = float(context["params"]["base_valuation_usd"])
    impact = valuation_impact(base, ConsolidatedFindings.model_validate(consolidated))
    with Saga.from_context(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            import json

            cur.execute(
                "INSERT INTO valuation_impacts (workflow_id, base_valuation_usd, adjusted_valuation_usd,"
                " total_adjustment_pct, per_workstream_pct, explanation)"
                " VALUES (%s, %s, %s, %s, %s::jsonb, %s)"
                " ON CONFLICT (workflow_id) DO NOTHING",
                (
                    saga.workflow_id,
                    impact.base_valuation_usd,
                    impact.adjusted_valuation_usd,
                    impact.total_adjustment_pct,
                    json.dumps(impact.per_workstream_pct),
                    "\n".join(impact.explanation),
                ),
            )
            return impact.model_dump(mode="json")

        return saga.db_write(
            "valuation_impact",
            write,
            request={"base_valuation_usd": base, "total_adjustment_pct": impact.total_adjustment_pct},
        )


# ----------------------------------------------------------------------------- IC memo
def generate_ic_memo(
    context: Any, started: dict[str, Any], register: list[dict[str, Any]], impact: dict[str, Any]
) -> dict[str, Any]:
    entries = [RiskEntry.model_validate(r) for r in register]
    valuation = ValuationImpact.model_validate(impact)
    recommendation = ic_recommendation(entries, valuation)
    with Saga.from_context(context) as saga:
        pdf = ic_memo(started["deal"], entries, valuation, prepared_on=_started_on(saga))
        doc = saga.store_document(
            "ic_memo",
            kind="ic_memo",
            data=pdf,
            compensation=lambda r: Compensation("dd_room.archive_memo", {"sha256": r["sha256"]}),
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE dd_rooms SET recommendation = %s, updated_at = now() WHERE workflow_id = %s",
                (recommendation, saga.workflow_id),
            )
            return {"recommendation": recommendation}

        saga.db_write(
            "ic_memo_record", write, request={"sha256": doc["sha256"], "recommendation": recommendation}
        )
    counts = {
        rating: sum(1 for r in entries if r.rating == rating)
        for rating in ("critical", "high", "medium", "low")
    }
    return {
        "sha256": doc["sha256"],
        "uri": doc["uri"],
        "recommendation": recommendation,
        "recommendation_text": recommendation.replace("_", " ").upper(),
        "risk_counts": counts,
        "adjusted_valuation_usd": valuation.adjusted_valuation_usd,
        "total_adjustment_pct": valuation.total_adjustment_pct,
    }


@compensation("dd_room.archive_memo")
def archive_memo(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The memo of a deal that did not go ahead is the record of that decision: archived, not retracted.
    Content-addressed bytes may be shared: keep them live while another live workflow holds them."""
    from execution_plane.hooks.docstore import DocstoreHook

    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT s.workflow_id FROM saga_steps s JOIN saga_workflows w USING (workflow_id)"
            " WHERE s.compensation_action = 'dd_room.archive_memo' AND s.compensation_args->>'sha256' = %s"
            " AND s.status = 'done' AND s.workflow_id <> %s AND w.status IN ('running', 'completed')",
            (args["sha256"], saga.workflow_id),
        )
        holders = [row[0] for row in cur.fetchall()]
    if holders:
        return {"kept": args["sha256"], "still_used_by": holders}
    hook = DocstoreHook()
    try:
        return hook.archive(args["sha256"], idempotency_key=key)
    finally:
        hook.close()


# ----------------------------------------------------------------------------- outcome
def settle_outcome(context: Any) -> dict[str, str]:
    """The run's state tells the truth: success only when the DD completed.

    Runs whatever happened before it (a teardown: ``fail_fast`` does not skip it). A DD still ``running``
    here stopped because a step failed after its retries and ``fail_fast`` skipped the rest; without this
    step such a run would end "success" (Airflow judges a run by its leaves, all skipped). Its bad ending is
    recorded and compensation asked for here. A DD that ended badly earlier (refused, rejected, expired)
    already asked for its compensation: the run just fails with its reason.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.saga import ledger
    from execution_plane.saga.outcomes import end_badly

    with Saga.from_context(context) as saga, saga.conn() as conn, conn.cursor() as cur:
        row = ledger.workflow_row(cur, saga.workflow_id) or {"status": "failed", "reason": "never registered"}
        workflow_id = saga.workflow_id
    if row["status"] == "completed":
        return {"workflow_id": workflow_id, "status": "completed"}
    if row["status"] == "running":
        ti, run_id = context["ti"], context["run_id"]
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[run_id]).get(run_id, {})
        failed = sorted(task_id for task_id, state in states.items() if state == "failed")
        end_badly(context, "failed", f"failed after retries: {', '.join(failed) or 'a step'}")
    raise AirflowFailException(f"workflow {workflow_id} {row['status']}: {row['reason']}")


# ----------------------------------------------------------------------------- decision: proceed
def prepare_close(context: Any, started: dict[str, Any], memo: dict[str, Any]) -> dict[str, Any]:
    """CRM deal to closing, the DD record to closing with the IC decision, and a notice to the deal team."""
    from execution_plane.hooks.crm import CrmHook

    params = context["params"]
    deal_id = str(params["deal_id"])
    decision = context["ti"].xcom_pull(task_ids="ic_review", key="decision") or {}
    with Saga.from_context(context) as saga:
        crm = CrmHook()
        try:
            saga.call(
                "crm_deal_closing",
                side_effect="crm.update_deal",
                request={"status": CRM_CLOSING_STATUS},
                call=lambda key: crm.update_deal(
                    deal_id,
                    status=CRM_CLOSING_STATUS,
                    fields={"ic_memo_sha256": memo["sha256"], "recommendation": memo["recommendation"]},
                    idempotency_key=key,
                ),
            )
        finally:
            crm.close()

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE dd_rooms SET status = 'closing', decision = 'proceed', decided_by = %s,"
                " updated_at = now() WHERE workflow_id = %s",
                (decision.get("decided_by"), saga.workflow_id),
            )
            cur.execute(
                "UPDATE deals SET status = %s, updated_at = now() WHERE deal_id = %s AND workflow_id = %s",
                (CRM_CLOSING_STATUS, deal_id, saga.workflow_id),
            )
            return {"status": "closing", "decided_by": decision.get("decided_by")}

        saga.db_write("closing_record", write, request={"decision": "proceed"})
        team = str(started.get("owner_email") or f"{LEAD}@execution-plane.example")
        saga.send_message(
            "deal_team_notice",
            channel="email",
            to=team,
            template="dd_close_preparation",
            subject=f"IC approved {params['target_company']}: prepare the close",
            body=(
                f"The investment committee approved deal {deal_id} ({params['target_company']}), "
                f"recommendation {memo['recommendation_text']}, adjusted valuation USD "
                f"{memo['adjusted_valuation_usd']:,.0f}. IC memo: {memo['uri']}. Please prepare the close."
            ),
            compensation=Compensation(
                "message.notify",
                {
                    "channel": "email",
                    "to": team,
                    "subject": f"Close preparation cancelled: deal {deal_id}",
                    "body": CLOSE_CANCELLED_NOTICE,
                    "template": "dd_close_cancelled",
                },
            ),
        )
    return {"deal_id": deal_id, "status": CRM_CLOSING_STATUS, "decided_by": decision.get("decided_by")}
