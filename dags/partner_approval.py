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

from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, TaskGroup, dag, get_current_context, task
from airflow.sdk.definitions.edges import Label

from execution_plane.dag_parts import approval_gate, id_param, timeout_hours_param
from execution_plane.defaults import default_args, tags_for
from execution_plane.saga.callbacks import start_compensation_on_failure
from execution_plane.sensors.external_event import ExternalEventSensor

MAX_ROUNDS = 3  # negotiation rounds in the graph (execution_plane.workflows.partner_approval.MAX_ROUNDS)
APPROVAL_TIMEOUT = "{{ params.approval_timeout_hours }}"
GATE_BODY = (
    "Partner {{ params.partner_id }}, request {{ params.request_id }}. Approve or reject with a comment."
)


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(),
    tags=tags_for("partner_approval", "priority", "partners"),
    # Hundreds of approvals park for days at once; a waiting run holds no slot.
    max_active_runs=2000,
    on_failure_callback=start_compensation_on_failure,
    params={
        "request_id": id_param("Unique id of this approval request (e.g. the CRM opportunity id)"),
        "partner_id": id_param("CRM partner id"),
        "requested_by": Param("crm", type="string", maxLength=120),
        "max_negotiation_rounds": Param(MAX_ROUNDS, type="integer", minimum=1, maximum=MAX_ROUNDS),
        "approval_timeout_hours": timeout_hours_param(
            72, description="Each approval expires (-> rejected path) after this"
        ),
        "partner_response_timeout_hours": timeout_hours_param(168, max_days=60),
    },
)
def partner_approval() -> None:
    # ----------------------------------------------------------------------------- tasks
    @task
    def identify_partner() -> dict:
        from execution_plane.workflows.partner_approval import identify_partner as step

        return step(get_current_context())

    @task
    def fit_score(profile: dict) -> dict:
        from execution_plane.workflows.partner_approval import score_partner

        return score_partner(get_current_context(), profile)

    @task
    def draft_term_sheet(profile: dict, fit: dict, round_no: int) -> dict:
        from execution_plane.workflows.partner_approval import draft_terms

        context = get_current_context()
        counter = None
        if round_no > 1:
            counter = context["ti"].xcom_pull(task_ids=f"round_{round_no - 1}.route_response", key="details")[
                "counter"
            ]
        return draft_terms(context, profile, fit, round_no, counter)

    @task
    def send_terms(profile: dict, sheet: dict, round_no: int) -> dict:
        from execution_plane.workflows.partner_approval import send_terms as step

        return step(get_current_context(), profile, sheet, round_no)

    @task.branch
    def route_response(outcome: dict, round_no: int) -> str:
        from execution_plane.workflows.partner_approval import route_response as step

        context = get_current_context()
        next_step, details = step(context, outcome, round_no)
        context["ti"].xcom_push(key="details", value=details)
        if next_step == "executive_approval":
            return f"round_{round_no}.accepted"
        if next_step == "legal_review":
            return f"round_{round_no + 1}.draft_term_sheet"
        return f"round_{round_no}.negotiation_ended"

    @task
    def negotiation_ended(round_no: int) -> None:
        from execution_plane.saga.outcomes import end_badly
        from execution_plane.workflows.partner_approval import record_bad_ending

        context = get_current_context()
        details = context["ti"].xcom_pull(task_ids=f"round_{round_no}.route_response", key="details")
        expired = details["next_step"] == "expired"
        record_bad_ending(context, "expired" if expired else "declined", f"negotiation_r{round_no}")
        end_badly(context, "expired" if expired else "rejected", details["reason"])

    @task(trigger_rule="one_success")
    def gate_not_approved(gate_task_id: str) -> None:
        from execution_plane.saga.outcomes import end_not_approved
        from execution_plane.workflows.partner_approval import record_bad_ending

        context = get_current_context()
        stage = gate_task_id.split(".")[-1]
        end_not_approved(context, gate_task_id, lambda status: record_bad_ending(context, status, stage))

    @task
    def activate(profile: dict) -> dict:
        from execution_plane.workflows.partner_approval import activate as step

        context = get_current_context()
        for round_no in range(1, MAX_ROUNDS + 1):
            details = context["ti"].xcom_pull(task_ids=f"round_{round_no}.route_response", key="details")
            if details and details.get("next_step") == "executive_approval":
                sheet = context["ti"].xcom_pull(task_ids=f"round_{round_no}.draft_term_sheet")
                return step(context, profile, sheet)
        raise RuntimeError("activation without an accepted term sheet")

    @task
    def complete() -> dict:
        from execution_plane.saga.outcomes import complete as finish

        return finish(get_current_context())

    # ----------------------------------------------------------------------------- calling tasks
    profile = identify_partner()
    fit = fit_score(profile)
    manager = approval_gate(
        "manager_approval",
        stage="manager_approval",
        assignee="manager",
        approved="round_1.draft_term_sheet",
        subject="Approve partner {{ params.partner_id }} for a term sheet?",
        body=GATE_BODY,
    )
    (
        fit
        >> manager
        >> Label("rejected / expired")
        >> gate_not_approved.override(task_id="manager_approval_not_approved")("manager_approval")
    )

    accepted_markers = []
    previous_route = None
    for round_no in range(1, MAX_ROUNDS + 1):
        with TaskGroup(group_id=f"round_{round_no}", tooltip=f"Negotiation round {round_no}"):
            sheet = draft_term_sheet(profile, fit, round_no)
            legal = approval_gate(
                "legal_review",
                stage=f"legal_review_r{round_no}",
                assignee="legal",
                approved=f"round_{round_no}.send_terms",
                group=f"round_{round_no}",
                subject=f"Legal review of term sheet revision {round_no} for {{{{ params.partner_id }}}}",
                body=GATE_BODY,
            )
            legal_no = gate_not_approved.override(task_id="legal_review_not_approved")(
                f"round_{round_no}.legal_review"
            )
            sent = send_terms(profile, sheet, round_no)
            answer = ExternalEventSensor(
                task_id="partner_response",
                correlation_key="partner_approval:{{ params.request_id }}:round:" + str(round_no),
                event_types=["partner.accepted", "partner.countered", "partner.declined"],
                timeout_at="{{ ti.xcom_pull(task_ids='round_"
                + str(round_no)
                + ".send_terms')['respond_by'] }}",
            )
            route = route_response(answer.output, round_no)
            accepted = EmptyOperator(task_id="accepted")
            ended = negotiation_ended(round_no)

            sheet >> legal >> [sent, legal_no]
            sent >> answer
            route >> [accepted, ended]
        if previous_route is not None:
            previous_route >> sheet  # a counter-proposal opens the next round
        else:
            manager >> sheet
        previous_route = route
        accepted_markers.append(accepted)

    executive = approval_gate(
        "executive_approval",
        stage="executive_approval",
        assignee="executive",
        approved="activate",
        subject="Executive approval: activate partner {{ params.partner_id }}?",
        body=GATE_BODY,
    )
    executive.trigger_rule = "one_success"
    accepted_markers >> executive
    executive >> gate_not_approved.override(task_id="executive_approval_not_approved")("executive_approval")
    executive >> activate(profile) >> complete()


partner_approval()
