"""Lead captured: the request's leads read from the CRM and checked, then recorded as this workflow's.

A lead id the CRM does not have, or a lead without the facts qualification needs, fails the run in
``check_leads``, before anything is registered or changed: the error names the field (``lead_ids[2]``). A
lead someone in the CRM already owns, or that another run of this workflow is qualifying, is left alone
(one qualification per lead: ``lead_qualifications`` is keyed by lead id) and listed as skipped.
"""

from __future__ import annotations

from typing import Any

from execution_plane.durable import Run, step


@step
def check_leads(run: Run) -> dict[str, Any]:
    """Read every lead of the request; refuse the request if one is missing or unusable (nothing recorded)."""
    from airflow.sdk.exceptions import AirflowFailException
    from pydantic import ValidationError

    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.http import ProviderError
    from workflows.lead_qualification.domain import CrmLead, LeadNotFound

    with CrmHook() as crm:
        leads = []
        for index, lead_id in enumerate(run.params["lead_ids"]):
            field = f"lead_ids[{index}]"
            try:
                record = crm.get_lead(str(lead_id))
            except ProviderError as exc:
                if exc.status == 404:
                    raise AirflowFailException(str(LeadNotFound(field, str(lead_id)))) from exc
                raise
            try:
                leads.append(CrmLead.model_validate(record).snapshot())
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
                )
                raise AirflowFailException(
                    f"{field}: lead {lead_id!r} in the CRM is unusable: {problems}"
                ) from exc
    return {"leads": leads}


@step
def capture(run: Run, checked: dict[str, Any]) -> dict[str, Any]:
    """Register the workflow and record its leads (once each); returns the lead ids this run qualifies."""
    import json

    from workflows.lead_qualification.domain import CrmLead, company_domain

    leads = [CrmLead.model_validate(lead) for lead in checked["leads"]]
    with run.saga as saga:
        saga.register()

        def record(cur: Any) -> dict[str, Any]:
            mine: list[str] = []
            skipped: list[dict[str, str]] = []
            for lead in leads:
                if lead.owner_id:
                    skipped.append(
                        {"lead_id": lead.lead_id, "reason": f"owned by {lead.owner_id} in the CRM"}
                    )
                    continue
                cur.execute(
                    "INSERT INTO lead_qualifications (lead_id, workflow_id, status, lead, company_domain)"
                    " VALUES (%s, %s, 'captured', %s::jsonb, %s) ON CONFLICT (lead_id) DO NOTHING",
                    (lead.lead_id, saga.workflow_id, json.dumps(lead.snapshot()), company_domain(lead)),
                )
                cur.execute("SELECT workflow_id FROM lead_qualifications WHERE lead_id = %s", (lead.lead_id,))
                (owner,) = cur.fetchone()
                if owner == saga.workflow_id:
                    mine.append(lead.lead_id)
                else:
                    skipped.append({"lead_id": lead.lead_id, "reason": f"qualified by {owner}"})
            return {"lead_ids": mine, "skipped": skipped}

        return saga.db_write("capture", record, request={"lead_ids": [lead.lead_id for lead in leads]})
