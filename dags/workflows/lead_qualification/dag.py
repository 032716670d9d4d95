"""
### Lead qualification (medium-lived orchestrated, 1-5 min)

**Lead captured**: the CRM's `lead.created` webhook starts a run for one lead (`POST /webhooks/crm/events`
with `workflow: lead_qualification`, payload `{"request_id", "lead_ids": ["<lead id>"]}`), or the trigger
form / `POST /api/v2/dags/lead_qualification/dagRuns` for a batch of new leads (up to 50). Each lead is read
from the CRM; a lead the CRM does not have, or without a company name, refuses the whole request before
anything is recorded (the error names `lead_ids[i]`). A lead someone already owns in the CRM, or that
another run is qualifying, is skipped: one qualification per lead.

-> **Enriched** from the company research and financial data APIs: cached per company for
`enrichment_cache_hours`, their rate limits honoured (`429 Retry-After` waited out, up to
`rate_limit_wait_s` per request), partial data allowed (an unknown company, a limit beyond the budget or an
outage leaves a gap with its reason) -> **scored** by the lead scoring service (the function behind
`POST /services/lead-scores`; rules-only and flagged `degraded` when the LLM cannot answer) -> **routed**
to an owner by territory, segment (company size), score band and load (the CRM's sales team; hot and warm
leads to account executives, cold ones to the nurture desk; hottest lead first; nobody is left without an
owner) -> **handed over**: each lead's CRM record updated once (owner, `qualified` / `nurture`, score,
enrichment), then each owner told once, in one email listing their new leads.

Every side effect goes through the ledger, so a retry or a re-run of the same `request_id` changes nothing
twice. Nothing is undone when a run fails (the spec lists no compensation for this workflow): leads already
handed over stay with their owners; the run's failure and its reason show in the run and in
`saga_workflows`.
"""

from __future__ import annotations

from airflow.sdk import Param

from execution_plane.durable import complete, durable_workflow
from execution_plane.saga.keys import ID_PATTERN
from workflows.lead_qualification import capture, enrichment, steps
from workflows.lead_qualification.common import CHECK_TASK

MAX_BATCH = 50


@durable_workflow(
    doc_md=__doc__,
    tags=["sales", "leads"],
    # The CRM's lead.created webhook starts one run per new lead.
    crm_start=True,
    request_id_description="Unique id of this qualification request (the CRM event's lead id, or a batch id)",
    # A lead the CRM does not have is refused before anything is registered: nothing to compensate.
    fails_before_effects=[CHECK_TASK],
    params={
        "lead_ids": Param(
            type="array",
            items={"type": "string", "pattern": ID_PATTERN},
            minItems=1,
            maxItems=MAX_BATCH,
            uniqueItems=True,
            description=f"The CRM ids of the new leads to qualify (1-{MAX_BATCH})",
        ),
        "enrichment_cache_hours": Param(
            168,
            type="number",
            exclusiveMinimum=0,
            maximum=720,
            description="A company's research and financial data are reused for this long",
        ),
        "rate_limit_wait_s": Param(
            30,
            type="number",
            minimum=0,
            maximum=300,
            description="How long one research or financial data request may wait out rate limits",
        ),
    },
)
def lead_qualification() -> None:
    checked = capture.check_leads()
    captured = capture.capture(checked)
    enriched = enrichment.enrich(captured)
    scored = steps.score(enriched)
    routed = steps.route(scored)
    steps.hand_over(routed) >> complete()


lead_qualification()
