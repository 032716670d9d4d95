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

from datetime import datetime

from airflow.sdk import Param, TaskGroup, dag, get_current_context, task, teardown
from airflow.sdk.definitions.edges import Label

from execution_plane.dag_parts import approval_gate, id_param, timeout_hours_param
from execution_plane.defaults import default_args, tags_for
from execution_plane.saga.callbacks import start_compensation_on_failure

# include.domain.dd_room.WORKSTREAMS (not imported here: the domain package pulls the PDF renderer at parse)
WORKSTREAMS = ("financial", "legal", "technical", "product", "security")


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(),
    tags=tags_for("dd_room", "priority", "deals"),
    # Hundreds of DDs park for weeks at once; a waiting run holds no slot.
    max_active_runs=2000,
    # A DD that ended badly stops at once: the other workstreams' sign-off waits are skipped instead of
    # parking for weeks, and compensation starts now, not when the last wait expires.
    fail_fast=True,
    on_failure_callback=start_compensation_on_failure,
    params={
        "request_id": id_param("Unique id of this DD (e.g. the CRM opportunity id)"),
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
    # ----------------------------------------------------------------------------- tasks
    @task
    def dd_initiated() -> dict:
        from execution_plane.workflows.dd_room import initiate

        return initiate(get_current_context())

    @task
    def workstreams_assigned() -> dict:
        from execution_plane.workflows.dd_room import assign_workstreams

        return assign_workstreams(get_current_context())

    @task
    def collect(started: dict, workstream: str) -> dict:
        from execution_plane.workflows.dd_room import collect as step

        return step(get_current_context(), workstream, started)

    @task
    def analyze(collected: dict, workstream: str) -> dict:
        from execution_plane.workflows.dd_room import analyze as step

        return step(get_current_context(), workstream, collected)

    @task
    def findings(analyzed: dict, workstream: str) -> dict:
        from execution_plane.workflows.dd_room import record_findings

        return record_findings(get_current_context(), workstream, analyzed)

    @task
    def signed_off(workstream: str) -> dict:
        from execution_plane.workflows.dd_room import signed_off as step

        return step(get_current_context(), workstream)

    @task
    def not_approved(gate_task_id: str, workstream: str | None = None) -> None:
        from execution_plane.saga.outcomes import end_not_approved
        from execution_plane.workflows.dd_room import record_bad_ending

        context = get_current_context()
        end_not_approved(context, gate_task_id, lambda status: record_bad_ending(context, status, workstream))

    @task
    def findings_consolidation() -> dict:
        from execution_plane.workflows.dd_room import consolidate_findings

        return consolidate_findings(get_current_context())

    @task
    def risk_register(consolidated: dict) -> list:
        from execution_plane.workflows.dd_room import build_risk_register

        return build_risk_register(get_current_context(), consolidated)

    @task
    def valuation_impact(consolidated: dict) -> dict:
        from execution_plane.workflows.dd_room import assess_valuation

        return assess_valuation(get_current_context(), consolidated)

    @task
    def ic_memo(started: dict, register: list, impact: dict) -> dict:
        from execution_plane.workflows.dd_room import generate_ic_memo

        return generate_ic_memo(get_current_context(), started, register, impact)

    @task
    def close_preparation(started: dict, memo: dict) -> dict:
        from execution_plane.workflows.dd_room import prepare_close

        return prepare_close(get_current_context(), started, memo)

    @task
    def complete() -> dict:
        from execution_plane.saga.outcomes import complete as finish

        return finish(get_current_context())

    @teardown(on_failure_fail_dagrun=True)
    def outcome() -> dict:
        from execution_plane.workflows.dd_room import settle_outcome

        return settle_outcome(get_current_context())

    # ----------------------------------------------------------------------------- calling tasks
    started = dd_initiated()
    assigned = workstreams_assigned()
    started >> assigned

    signed, refusals = [], []
    for workstream in WORKSTREAMS:
        with TaskGroup(group_id=workstream, tooltip=f"{workstream} workstream (lead: dd_lead)"):
            collected = collect(started, workstream)
            found = findings(analyze(collected, workstream), workstream)
            signoff = approval_gate(
                "lead_signoff",
                stage=f"signoff_{workstream}",
                assignee="dd_lead",
                approved=f"{workstream}.signed_off",
                group=workstream,
                timeout_param="signoff_timeout_hours",
                default_hours=336,
                subject=f"Sign off the {workstream} workstream of {{{{ params.target_company }}}}?",
                body=(
                    f"DD {{{{ params.request_id }}}} (deal {{{{ params.deal_id }}}}), {workstream}: "
                    f"{{{{ ti.xcom_pull(task_ids='{workstream}.findings')['summary'] }}}}. "
                    "Approve to sign off, or reject with a reason (ends the DD)."
                ),
            )
            done = signed_off(workstream)
            refused = not_approved.override(task_id="lead_signoff_not_approved")(
                f"{workstream}.lead_signoff", workstream
            )
            assigned >> collected
            found >> signoff >> Label("signed off") >> done
            signoff >> Label("refused / expired") >> refused
        signed.append(done)
        refusals.append(refused)

    consolidated = findings_consolidation()
    signed >> consolidated
    register = risk_register(consolidated)
    impact = valuation_impact(consolidated)
    register >> impact
    memo = ic_memo(started, register, impact)
    review = approval_gate(
        "ic_review",
        stage="ic_review",
        assignee="ic_member",
        approved="close_preparation",
        default_hours=168,
        subject="IC review: proceed with {{ params.target_company }} (deal {{ params.deal_id }})?",
        body=(
            "Memo recommendation: {{ ti.xcom_pull(task_ids='ic_memo')['recommendation_text'] }}. "
            "Risks (critical/high/medium/low): {{ ti.xcom_pull(task_ids='ic_memo')['risk_counts'].values()"
            " | join('/') }}. Valuation adjusted by {{ ti.xcom_pull(task_ids='ic_memo')"
            "['total_adjustment_pct'] }}% to USD {{ '{:,.0f}'.format(ti.xcom_pull(task_ids='ic_memo')"
            "['adjusted_valuation_usd']) }}. Memo: {{ ti.xcom_pull(task_ids='ic_memo')['uri'] }}"
        ),
    )
    memo >> review
    rejected = not_approved.override(task_id="ic_review_not_approved")("ic_review")
    review >> Label("reject / expired") >> rejected
    finished = complete()
    review >> Label("proceed") >> close_preparation(started, memo) >> finished
    # Whatever happened, the run's state says whether the DD completed (and a failed step is compensated).
    [finished, rejected, *refusals] >> outcome()


dd_room()
