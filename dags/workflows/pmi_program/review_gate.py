"""The phase review: a person chooses Pass, Extend (by a number of program days) or Stop.

The toolkit's gates offer two ways forward (``approval``: Approve / Reject, ``choice``: two labels); a phase
review has three, and "Extend" carries a number. ``PhaseReviewGate`` is the toolkit's gate
(``ApprovalGateOperator``: Airflow HITL, no worker while it waits, the request recorded once in the approval
bridge, the integration lead told once, the early-answer guard) with three options: Pass and Extend are
recorded in the bridge as approved (the program goes on), Stop as rejected, no answer in time as expired.
Which of Pass or Extend, and by how many days, is recorded in ``pmi_phase_reviews`` (first answer wins, like
the bridge) before the bridge records the decision; ``phases.outcome`` routes on it. The last round of a
phase offers Pass and Stop only: the graph holds ``REVIEW_ROUNDS`` reviews per phase.

Stop or expiry leads to ``<review>_stopped``: the review and the program record it, the run ends rejected or
expired, and compensation starts (the toolkit's ``end_not_approved``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, task
from airflow.sdk.definitions.edges import Label

from execution_plane.durable import Run
from execution_plane.durable.gates import NotApproved, end_not_approved
from execution_plane.durable.params import ADMIN, APPROVER_EMAIL_DOMAIN
from execution_plane.operators.approval import APPROVE, REJECT, ApprovalGateOperator
from workflows.pmi_program.common import LEAD

PASS, EXTEND, STOP = "Pass", "Extend", "Stop"
# domain.phases: DEFAULT_EXTENSION_DAYS and MAX_EXTENSION_DAYS (not imported: parsed with the DAG file).
DEFAULT_EXTENSION_DAYS = 14
MAX_EXTENSION_DAYS = 90


class PhaseReviewGate(ApprovalGateOperator):
    """Pass / Extend / Stop on the toolkit's approval gate (see the module docstring)."""

    def __init__(self, *, can_extend: bool, **kwargs: Any) -> None:
        kwargs.setdefault(
            "params",
            {
                "extend_days": Param(
                    DEFAULT_EXTENSION_DAYS,
                    type="integer",
                    minimum=1,
                    maximum=MAX_EXTENSION_DAYS,
                    description="Extend: review this phase again after this many program days",
                ),
                "comment": Param("", type="string", description="Reason for the decision"),
            },
        )
        super().__init__(**kwargs)
        self.can_extend = can_extend
        self.options = [PASS, EXTEND, STOP] if can_extend else [PASS, STOP]
        self.defaults = [STOP]
        self.validate_defaults()

    def validate_chosen_options(self, chosen_options: list[str]) -> None:
        # The gate validates after mapping to its own words: Approve is Pass or Extend, Reject is Stop.
        as_label = {APPROVE: PASS, REJECT: STOP}
        super().validate_chosen_options([as_label.get(option, option) for option in chosen_options])

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        chosen = list(event.get("chosen_options") or [])
        user = event.get("responded_by_user") or {}
        answered = "error" not in event and not event.get("timedout") and bool(user) and len(chosen) == 1
        if answered and chosen[0] in self.options:
            record_review(
                context,
                self.stage,
                choice=chosen[0],
                params_input=event.get("params_input") or {},
                decided_by=str(user.get("id") or user.get("name")),
            )
        mapped = [{PASS: APPROVE, EXTEND: APPROVE, STOP: REJECT}.get(option, option) for option in chosen]
        return super().execute_complete(context, {**event, "chosen_options": mapped})


def record_review(
    context: Any, stage: str, *, choice: str, params_input: dict[str, Any], decided_by: str
) -> None:
    """The reviewer's answer in the review's row (first answer wins)."""
    from execution_plane.saga.steps import Saga
    from workflows.pmi_program.domain import extension

    decision = {PASS: "pass", EXTEND: "extend", STOP: "stop"}[choice]
    days = extension(params_input.get("extend_days")) if decision == "extend" else None
    with (
        Saga.from_context(context, actor=f"approval:{stage}") as saga,
        saga.conn() as conn,
        conn.cursor() as cur,
    ):
        cur.execute(
            "UPDATE pmi_phase_reviews SET decision = %s, extend_days = %s, decided_by = %s, comment = %s,"
            " decided_at = now() WHERE workflow_id = %s AND stage = %s AND decision IS NULL",
            (decision, days, decided_by, params_input.get("comment") or None, saga.workflow_id, stage),
        )


def phase_review(
    task_id: str,
    *,
    stage: str,
    can_extend: bool,
    subject: str,
    body: Any,
    on_not_approved: NotApproved,
    timeout_param: str = "review_timeout_hours",
    default_hours: float = 336,
) -> PhaseReviewGate:
    """A phase review for the integration lead (or admin), told by email, expiring after the run's
    ``timeout_param`` hours, with its stop ending beside it; ``then`` sets where Pass / Extend lead."""
    gate = PhaseReviewGate(
        task_id=task_id,
        stage=stage,
        can_extend=can_extend,
        assignees=[LEAD, ADMIN],
        approved_task_ids=[],
        rejected_task_id=f"{task_id}_stopped",
        response_timeout=timedelta(hours=default_hours),
        response_timeout_hours_param=timeout_param,
        subject=subject,
        body=body,
        notify_to=f"{LEAD}@{APPROVER_EMAIL_DOMAIN}",
    )

    @task(task_id=f"{task_id}_stopped")
    def stopped() -> None:
        from airflow.sdk import get_current_context

        end_not_approved(Run(get_current_context()), stage, task_id, on_not_approved)

    ending = stopped()
    ending_operator: Any = ending.operator  # type: ignore[attr-defined]
    gate.rejected_task_id = gate.expired_task_id = ending_operator.task_id
    gate.ending = ending_operator
    gate >> Label("stop / expired") >> ending
    return gate
