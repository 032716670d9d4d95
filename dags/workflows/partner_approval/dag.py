"""
### Partner approval (long-lived durable, 1-14 days)

Partner identified (CRM) -> fit score generated -> **manager approval** (pause) -> term sheet drafted
(PDF, stored once by content hash) -> **legal review** (pause) -> partner sent terms (email + WhatsApp,
CRM updated) -> **partner negotiation** (waits for the partner's answer: accept, counter-proposal, or
decline; a counter returns to legal review with a new revision, at most `max_negotiation_rounds`) ->
**executive approval** (pause) -> activation (CRM, welcome email).

Rejected at any stage, declined, out of rounds or timed out: the run ends failed with the reason in its
note, and `saga_compensation` undoes what was done, newest first: the term sheet is retracted (storage and
record), a partner who was contacted is told once that the proposal is withdrawn, the CRM status becomes
rejected.

**Answer an approval**: Airflow UI -> Required Actions, or
`PATCH /api/v2/dags/partner_approval/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails`
`{"chosen_options": ["Approve"], "params_input": {"comment": "..."}}` as the assigned user.
**Answer as the partner**: the outside-event webhook `POST /webhooks/events/partner` with
`correlation_key = partner_approval:<request_id>:round:<n>` and type `partner.accepted` /
`partner.countered` (payload: revenue_share_pct, term_months, exclusivity, territory, note) /
`partner.declined`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, TaskGroup

from execution_plane.durable import (
    approval,
    complete,
    durable_workflow,
    id_param,
    routes,
    timeout_hours_param,
    wait_for_event,
)
from workflows.partner_approval import steps

GATE_BODY = (
    "Partner {{ params.partner_id }}, request {{ params.request_id }}. Approve or reject with a comment."
)


@durable_workflow(
    doc_md=__doc__,
    tags=["priority", "partners"],
    crm_start=True,
    request_id_description="Unique id of this approval request (e.g. the CRM opportunity id)",
    params={
        "partner_id": id_param("CRM partner id"),
        "requested_by": Param("crm", type="string", maxLength=120),
        "max_negotiation_rounds": Param(
            steps.MAX_ROUNDS, type="integer", minimum=1, maximum=steps.MAX_ROUNDS
        ),
        "approval_timeout_hours": timeout_hours_param(
            72, description="Each approval expires (-> rejected path) after this"
        ),
        "partner_response_timeout_hours": timeout_hours_param(168, max_days=60),
    },
)
def partner_approval() -> None:
    profile = steps.identify_partner()
    fit = steps.fit_score(profile)
    manager = approval(
        "manager_approval",
        assignee="manager",
        subject="Approve partner {{ params.partner_id }} for a term sheet?",
        body=GATE_BODY,
        on_not_approved=steps.record_not_approved,
    )
    fit >> manager

    # Negotiation rounds: a counter-proposal in round n opens round n + 1 (a new revision, a new review).
    previous = None
    accepted_markers = []
    for round_no in range(1, steps.MAX_ROUNDS + 1):
        with TaskGroup(group_id=f"round_{round_no}", tooltip=f"Negotiation round {round_no}"):
            sheet = steps.draft_term_sheet(
                profile, fit, round_no, counter=previous["counter"] if previous is not None else None
            )
            legal = approval(
                "legal_review",
                stage=f"legal_review_r{round_no}",
                assignee="legal",
                subject=f"Legal review of term sheet revision {round_no} for {{{{ params.partner_id }}}}",
                body=GATE_BODY,
                on_not_approved=steps.record_not_approved,
            )
            sheet >> legal
            sent = legal.then(steps.send_terms(profile, sheet, round_no))
            answer = wait_for_event(
                "partner_response",
                correlation_key=sent["correlation_key"],
                event_types=steps.RESPONSE_TYPES,
                timeout_at=sent["respond_by"],
            )
            sent >> answer
            routed = steps.route_response(answer.output, round_no)
            accepted = EmptyOperator(task_id="accepted")
            routes(routed, executive_approval=accepted, otherwise=steps.negotiation_ended(routed, round_no))
        if previous is None:
            manager.then(sheet)
        else:
            routes(previous, legal_review=sheet)
        previous = routed
        accepted_markers.append(accepted)

    executive = approval(
        "executive_approval",
        assignee="executive",
        subject="Executive approval: activate partner {{ params.partner_id }}?",
        body=GATE_BODY,
        on_not_approved=steps.record_not_approved,
        trigger_rule="one_success",
    )
    accepted_markers >> executive
    executive.then(steps.activate(profile)) >> complete()


partner_approval()
