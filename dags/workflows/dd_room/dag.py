"""
### DD room orchestration (long-lived durable, 2-8 weeks)

DD initiated (CRM deal in due diligence, data room opened, the target told) -> workstreams assigned
(financial, legal, technical, product, security; lead `dd_lead`) -> **each workstream, in parallel**:
collect (the room's documents; financial also the financial data API) -> analyze -> findings (persisted)
-> **lead sign-off** (pause) -> findings consolidation (after all five sign-offs) -> risk register
(severity x likelihood) -> valuation impact -> IC memo (PDF, stored once by content hash) -> **IC review**
(pause, `ic_member`; the memo's recommendation is in the request) -> decision -> proceed: close
preparation (CRM deal closing, deal team told) -> complete.

Each workstream's steps are their own idempotent saga steps: a workstream that fails and retries, or waits
for its lead, neither blocks nor repeats the others. A refused or expired sign-off, an IC rejection or
expiry, or a step failing after its retries ends the DD at once (`fail_fast`: the other waits are skipped);
`outcome` (a teardown: it always runs) fails the run unless the DD completed, the run's note says why,
and `saga_compensation` undoes what was done, newest first: the IC memo is archived, the target gets a
termination notice (only if it was told the DD started), the room is archived, the CRM deal leaves due
diligence, and the lessons-learned record is written.

**Answer a sign-off or the IC review**: Airflow UI -> Required Actions, or
`PATCH /api/v2/dags/dd_room/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails`
`{"chosen_options": ["Approve"], "params_input": {"comment": "..."}}` as `dd_lead` (tasks
`<workstream>.lead_signoff`) or `ic_member` (task `ic_review`); `admin` may answer any of them.
"""

from __future__ import annotations

from airflow.sdk import Param, TaskGroup

from execution_plane.durable import (
    approval,
    complete,
    durable_workflow,
    id_param,
    settle,
    timeout_hours_param,
)
from workflows.dd_room import review, steps


@durable_workflow(
    doc_md=__doc__,
    tags=["priority", "deals"],
    crm_start=True,
    request_id_description="Unique id of this DD (e.g. the CRM opportunity id)",
    # A DD that ended badly stops at once: the other workstreams' sign-off waits are skipped instead of
    # parking for weeks, and compensation starts now, not when the last wait expires.
    fail_fast=True,
    params={
        "deal_id": id_param("CRM deal id"),
        "target_company": Param(type="string", minLength=1, maxLength=200, description="Company under DD"),
        "target_contact_email": Param(
            type="string",
            format="email",
            maxLength=320,
            description="The target's DD contact (told when DD starts and ends)",
        ),
        "base_valuation_usd": Param(type="number", exclusiveMinimum=0, description="Valuation before DD"),
        "approval_timeout_hours": timeout_hours_param(
            168, description="The IC review expires (-> rejected path) after this"
        ),
        "signoff_timeout_hours": timeout_hours_param(
            336, max_days=60, description="Each workstream sign-off expires after this"
        ),
    },
)
def dd_room() -> None:
    started = steps.dd_initiated()
    assigned = steps.workstreams_assigned()
    started >> assigned

    signed, refusals = [], []
    for workstream in steps.WORKSTREAMS:
        with TaskGroup(group_id=workstream, tooltip=f"{workstream} workstream (lead: {steps.LEAD})"):
            collected = steps.collect(started, workstream)
            assigned >> collected
            found = steps.findings(steps.analyze(collected, workstream), workstream)
            signoff = approval(
                "lead_signoff",
                stage=steps.signoff_stage(workstream),
                assignee=steps.LEAD,
                timeout_param="signoff_timeout_hours",
                default_hours=336,
                subject=f"Sign off the {workstream} workstream of {{{{ params.target_company }}}}?",
                body=found["signoff_request"],
                on_not_approved=steps.record_not_approved,
                label="refused / expired",
            )
            found >> signoff
            signed.append(signoff.then(steps.signed_off(workstream), label="signed off"))
        refusals.append(signoff.ending)

    consolidated = review.findings_consolidation()
    signed >> consolidated
    register = review.risk_register(consolidated)
    impact = review.valuation_impact(consolidated)
    register >> impact
    memo = review.ic_memo(started, register, impact)
    ic = approval(
        "ic_review",
        assignee="ic_member",
        default_hours=168,
        subject="IC review: proceed with {{ params.target_company }} (deal {{ params.deal_id }})?",
        body=memo["review_request"],
        on_not_approved=steps.record_not_approved,
        label="reject / expired",
    )
    memo >> ic
    finished = ic.then(review.close_preparation(started, memo), label="proceed") >> complete()
    # Whatever happened, the run's state says whether the DD completed (and a failed step is compensated).
    [finished, ic.ending, *refusals] >> settle()


dd_room()
