"""Scored, routed, handed over.

- **Scored**: each lead by the lead scoring service (``execution_plane.services.lead_scoring``, the same
  function ``POST /services/lead-scores`` answers with), from the CRM's facts with enrichment's filling the
  gaps; an LLM that cannot answer gives a rules-only score flagged ``degraded``, never a failure.
- **Routed**: the whole batch at once, from the CRM's sales team as it stands (``domain.routing``), in one
  ledger step: a retry routes nothing again.
- **Handed over**: each lead's CRM record updated once (owner, status, score, enrichment; the ledger's key
  is the CRM's Idempotency-Key), then each owner told once, one message listing their new leads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from execution_plane.durable import Run, step
from workflows.lead_qualification.common import lead_rows


@step(pool="llm")
def score(run: Run, enriched: dict[str, Any]) -> dict[str, Any]:
    from execution_plane.services.lead_scoring import score_lead_task
    from workflows.lead_qualification.domain import CrmLead, Enrichment, scoring_input

    scores: dict[str, dict[str, Any]] = {}
    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            rows = {row["lead_id"]: row for row in lead_rows(cur, saga.workflow_id)}
        for lead_id in enriched["lead_ids"]:
            lead = CrmLead.model_validate(rows[lead_id]["lead"])
            enrichment = Enrichment.model_validate(rows[lead_id]["enrichment"])

            def write(cur: Any, lead: CrmLead = lead, enrichment: Enrichment = enrichment) -> dict[str, Any]:
                result = score_lead_task(scoring_input(lead, enrichment))
                cur.execute(
                    "UPDATE lead_qualifications SET status = 'scored', score = %s, band = %s,"
                    " score_degraded = %s, updated_at = now() WHERE lead_id = %s AND workflow_id = %s",
                    (result["score"], result["band"], result["degraded"], lead.lead_id, saga.workflow_id),
                )
                return {key: result[key] for key in ("score", "band", "degraded", "degraded_reason")}

            scores[lead_id] = saga.db_write(f"score.{lead_id}", write, request={"lead_id": lead_id})
    return {"lead_ids": list(enriched["lead_ids"]), "scores": scores}


@step
def route(run: Run, scored: dict[str, Any]) -> dict[str, Any]:
    """Choose each lead's owner (territory, segment, band, load), hottest lead first; recorded once."""
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.hooks.crm import CrmHook
    from workflows.lead_qualification.domain import (
        CrmLead,
        Enrichment,
        LeadToRoute,
        NoOwner,
        Owner,
        route_batch,
    )

    lead_ids = list(scored["lead_ids"])
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            with CrmHook() as crm:
                owners = [Owner.model_validate(owner) for owner in crm.owners()]
            rows = {row["lead_id"]: row for row in lead_rows(cur, saga.workflow_id)}
            leads = []
            for lead_id in lead_ids:
                row = rows[lead_id]
                lead, enrichment = (
                    CrmLead.model_validate(row["lead"]),
                    Enrichment.model_validate(row["enrichment"]),
                )
                leads.append(
                    LeadToRoute(
                        lead_id=lead_id,
                        country=lead.country or enrichment.country,
                        company_size=lead.company_size or enrichment.employees,
                        score=row["score"],
                        band=row["band"],
                    )
                )
            try:
                decisions = route_batch(leads, owners)
            except NoOwner as exc:
                raise AirflowFailException(f"the sales team cannot take these leads: {exc}") from exc
            for decision in decisions:
                cur.execute(
                    "UPDATE lead_qualifications SET status = 'routed', owner_id = %s, owner_email = %s,"
                    " routing = %s::jsonb, updated_at = now() WHERE lead_id = %s AND workflow_id = %s",
                    (
                        decision.owner_id,
                        decision.owner_email,
                        decision.model_dump_json(),
                        decision.lead_id,
                        saga.workflow_id,
                    ),
                )
            return {"decisions": [json.loads(decision.model_dump_json()) for decision in decisions]}

        return saga.db_write("route", write, request={"lead_ids": sorted(lead_ids)})


@step
def hand_over(run: Run, routed: dict[str, Any]) -> dict[str, Any]:
    """Each lead's CRM record updated once; each owner told once about their new leads."""
    from execution_plane.hooks.crm import CrmHook
    from workflows.lead_qualification.domain import (
        CRM_STATUS,
        CrmLead,
        Enrichment,
        RoutedLead,
        RoutingDecision,
        crm_fields,
        owner_digest,
    )

    decisions = [RoutingDecision.model_validate(d) for d in routed["decisions"]]
    by_owner: dict[str, list[RoutedLead]] = defaultdict(list)
    owner_names: dict[str, tuple[str, str]] = {}
    with CrmHook() as crm, run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            rows = {row["lead_id"]: row for row in lead_rows(cur, saga.workflow_id)}
        for decision in decisions:
            row = rows[decision.lead_id]
            lead, enrichment = (
                CrmLead.model_validate(row["lead"]),
                Enrichment.model_validate(row["enrichment"]),
            )
            fields = crm_fields(
                decision, score=row["score"], degraded=row["score_degraded"], enrichment=enrichment
            )
            status = CRM_STATUS[decision.band]

            def update(
                key: str, d: RoutingDecision = decision, s: str = status, f: dict[str, Any] = fields
            ) -> dict[str, Any]:
                return crm.update_lead(
                    d.lead_id, status=s, owner_id=d.owner_id, fields=f, idempotency_key=key
                )

            saga.call(
                f"crm.{decision.lead_id}",
                side_effect="crm.update_lead",
                request={"status": status, "owner_id": decision.owner_id, "fields": fields},
                call=update,
            )
            with saga.conn() as conn, conn.cursor() as cur:
                cur.execute(
                    "UPDATE lead_qualifications SET crm_updated_at = COALESCE(crm_updated_at, now()),"
                    " updated_at = now() WHERE lead_id = %s AND workflow_id = %s",
                    (decision.lead_id, saga.workflow_id),
                )
            owner_names[decision.owner_id] = (decision.owner_name, decision.owner_email)
            by_owner[decision.owner_id].append(
                RoutedLead(
                    lead_id=lead.lead_id,
                    company_name=lead.company_name,
                    contact_name=lead.contact_name,
                    contact_email=lead.contact_email,
                    score=row["score"],
                    band=row["band"],
                    degraded=row["score_degraded"],
                    reason=decision.reason,
                    enrichment=enrichment,
                )
            )
        told = {}
        for owner_id, leads in sorted(by_owner.items()):
            name, email = owner_names[owner_id]
            message = owner_digest(name, leads)
            sent = saga.send_message(
                f"notify.{owner_id}",
                channel="email",
                to=email,
                template="leads_routed",
                subject=message.subject,
                body=message.body,
            )
            told[owner_id] = sent["message_id"]
            with saga.conn() as conn, conn.cursor() as cur:
                cur.execute(
                    "UPDATE lead_qualifications SET status = 'handed_over',"
                    " owner_notified_at = COALESCE(owner_notified_at, now()), updated_at = now()"
                    " WHERE workflow_id = %s AND owner_id = %s",
                    (saga.workflow_id, owner_id),
                )
    return {"crm_updated": [d.lead_id for d in decisions], "owners_told": told}
