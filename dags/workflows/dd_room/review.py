"""Task-side steps of dd_room after the five sign-offs: findings consolidation, risk register, valuation
impact, IC memo (its undo archives it) and, once the IC approved, close preparation.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, step
from execution_plane.saga.compensations import Compensation, compensation
from workflows.dd_room.steps import (
    CLOSE_CANCELLED_NOTICE,
    CRM_CLOSING_STATUS,
    LEAD,
    WORKSTREAMS,
    persisted_findings,
)

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


@step
def findings_consolidation(run: Run) -> dict[str, Any]:
    """All five signed-off workstreams' findings, one per code, riskiest first (from the findings rows)."""
    from workflows.dd_room.domain import consolidate

    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            consolidated = consolidate(persisted_findings(cur, saga.workflow_id))
            cur.execute(
                "UPDATE dd_rooms SET status = 'in_review', updated_at = now() WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return consolidated.model_dump(mode="json")

        return saga.db_write("findings_consolidated", write, request={"workstreams": list(WORKSTREAMS)})


@step
def risk_register(run: Run, consolidated: dict[str, Any]) -> list[dict[str, Any]]:
    from workflows.dd_room.domain import ConsolidatedFindings
    from workflows.dd_room.domain import risk_register as build

    entries = build(ConsolidatedFindings.model_validate(consolidated))
    with run.saga as saga:

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


@step
def valuation_impact(run: Run, consolidated: dict[str, Any]) -> dict[str, Any]:
    from workflows.dd_room.domain import ConsolidatedFindings
    from workflows.dd_room.domain import valuation_impact as assess

    base = float(run.params["base_valuation_usd"])
    impact = assess(base, ConsolidatedFindings.model_validate(consolidated))
    with run.saga as saga:

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
@step
def ic_memo(
    run: Run, started: dict[str, Any], register: list[dict[str, Any]], impact: dict[str, Any]
) -> dict[str, Any]:
    from workflows.dd_room.domain import RiskEntry, ValuationImpact, ic_recommendation
    from workflows.dd_room.domain import ic_memo as memo_pdf

    entries = [RiskEntry.model_validate(r) for r in register]
    valuation = ValuationImpact.model_validate(impact)
    recommendation = ic_recommendation(entries, valuation)
    with run.saga as saga:
        pdf = memo_pdf(started["deal"], entries, valuation, prepared_on=saga.started_on())
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
    text = recommendation.replace("_", " ").upper()
    return {
        "sha256": doc["sha256"],
        "uri": doc["uri"],
        "recommendation": recommendation,
        "recommendation_text": text,
        "risk_counts": counts,
        "adjusted_valuation_usd": valuation.adjusted_valuation_usd,
        "total_adjustment_pct": valuation.total_adjustment_pct,
        # What the IC member reads in the review request.
        "review_request": (
            f"Memo recommendation: {text}. Risks (critical/high/medium/low): "
            f"{'/'.join(str(n) for n in counts.values())}. Valuation adjusted by "
            f"{valuation.total_adjustment_pct}% to USD {valuation.adjusted_valuation_usd:,.0f}. "
            f"Memo: {doc['uri']}"
        ),
    }


@compensation("dd_room.archive_memo")
def archive_memo(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The memo of a deal that did not go ahead is the record of that decision: archived, not retracted.
    Content-addressed bytes may be shared: keep them live while another live workflow holds them."""
    from execution_plane.hooks.docstore import DocstoreHook

    holders = saga.live_holders("dd_room.archive_memo", sha256=args["sha256"])
    if holders:
        return {"kept": args["sha256"], "still_used_by": holders}
    with DocstoreHook() as hook:
        return hook.archive(args["sha256"], idempotency_key=key)


# ----------------------------------------------------------------------------- decision: proceed
@step
def close_preparation(run: Run, started: dict[str, Any], memo: dict[str, Any]) -> dict[str, Any]:
    """CRM deal to closing, the DD record to closing with the IC decision, and a notice to the deal team."""
    from execution_plane.hooks.crm import CrmHook

    params = run.params
    deal_id = str(params["deal_id"])
    decision = run.decision("ic_review") or {}
    with run.saga as saga:
        with CrmHook() as crm:
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
