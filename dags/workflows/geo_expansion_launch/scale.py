"""The scale decision after each canary round: the launch lead widens, holds or rolls back.

Airflow's approval gate has two answers; this one has three. ``ScaleDecisionGate`` is the toolkit's gate
(approval bridge, one notice, first answer wins, the early-answer guard) whose person sees **Widen**, **Hold**
and **Roll back** (no Hold in the last round). Widen and Hold continue the rollout: the bridge records them as
approved and the gate records which one in ``geo_rollout_rounds`` (first answer wins, before the bridge, so a
retry finds it); Roll back is a rejection, no answer in time an expiry, and both end the launch through the
gate's not-approved ending (compensation then rolls the canary back).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import task
from airflow.sdk.definitions.edges import Label

from execution_plane.durable import Run, routed_step
from execution_plane.durable.gates import end_not_approved
from execution_plane.durable.params import ADMIN
from execution_plane.operators.approval import APPROVE, REJECT, ApprovalGateOperator
from workflows.geo_expansion_launch.common import (
    LAUNCH_LEAD,
    LAUNCH_LEAD_EMAIL,
    MAX_ROUNDS,
    open_window,
    plan_of,
    record_ending,
    round_window,
)

log = logging.getLogger(__name__)

TIMEOUT_PARAM = "scale_decision_timeout_hours"
WIDEN = "Widen"
HOLD = "Hold"
ROLL_BACK = "Roll back"


def choices_for_round(round_no: int, max_rounds: int = MAX_ROUNDS) -> list[str]:
    """What the launch lead may answer after round ``round_no``: no Hold in the last round (none is left)."""
    if not 1 <= round_no <= max_rounds:
        raise ValueError(f"round {round_no} is outside 1..{max_rounds}")
    return [WIDEN, HOLD, ROLL_BACK] if round_no < max_rounds else [WIDEN, ROLL_BACK]


def stage_of(round_no: int) -> str:
    return f"scale_decision_r{round_no}"


class ScaleDecisionGate(ApprovalGateOperator):
    """The gate with the launch lead's three answers (see the module docstring)."""

    def __init__(self, *, round_no: int, choices: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.round_no = round_no
        self.options = list(choices)
        self.defaults = [ROLL_BACK]
        self.validate_defaults()

    def validate_chosen_options(self, chosen_options: list[str]) -> None:
        # The base gate validates its own Approve/Reject after the translation below.
        as_label = {APPROVE: WIDEN, REJECT: ROLL_BACK}
        super().validate_chosen_options([as_label.get(option, option) for option in chosen_options])

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" in event:
            return super().execute_complete(context, event)
        chosen = list(event.get("chosen_options") or [])
        self.validate_chosen_options(chosen)
        user = event.get("responded_by_user") or {}
        timed_out = bool(event.get("timedout")) or not user
        label = ROLL_BACK if timed_out else chosen[0]
        if label in (WIDEN, HOLD):
            comment = (event.get("params_input") or {}).get("comment") or None
            record_choice(
                Run(context), self.round_no, label, str(user.get("id") or user.get("name")), comment
            )
        gate_option = APPROVE if label in (WIDEN, HOLD) else REJECT
        return super().execute_complete(context, {**event, "chosen_options": [gate_option]})


def record_choice(run: Run, round_no: int, choice: str, decided_by: str, comment: str | None) -> str:
    """The launch lead's Widen or Hold for the round; the first answer recorded wins. Returns it."""

    def write(cur: Any) -> dict[str, Any]:
        cur.execute(
            "UPDATE geo_rollout_rounds SET decision = %s, decided_by = %s, comment = %s, updated_at = now()"
            " WHERE workflow_id = %s AND round = %s AND decision IS NULL",
            (choice, decided_by, comment, run.workflow_id, round_no),
        )
        return {"choice": choice, "decided_by": decided_by}

    try:
        recorded = run.saga.db_write(f"scale_choice.r{round_no}", write, request={"round": round_no})
    finally:
        run.close()
    return str(recorded["choice"])


def scale_decision(round_no: int, max_rounds: int, *, body: Any) -> ScaleDecisionGate:
    """Round ``round_no``'s gate and its not-approved ending (rolled back by the person, or no answer)."""
    stage = stage_of(round_no)
    gate = ScaleDecisionGate(
        task_id="scale_decision",
        stage=stage,
        round_no=round_no,
        choices=choices_for_round(round_no, max_rounds),
        assignees=[LAUNCH_LEAD, ADMIN],
        approved_task_ids=[],
        rejected_task_id="scale_decision_not_approved",
        response_timeout=timedelta(hours=72),
        response_timeout_hours_param=TIMEOUT_PARAM,
        subject=f"Scale the launch in {{{{ params.market_name }}}} after round {round_no}?",
        body=body,
        notify_to=LAUNCH_LEAD_EMAIL,
    )

    @task(task_id="scale_decision_not_approved")
    def rolled_back() -> None:
        from airflow.sdk import get_current_context

        end_not_approved(Run(get_current_context()), stage, f"round {round_no}", record_rolled_back)

    ending = rolled_back()
    ending_operator: Any = ending.operator  # type: ignore[attr-defined]
    gate.rejected_task_id = gate.expired_task_id = ending_operator.task_id
    gate.ending = ending_operator
    gate >> Label("roll back / no answer") >> ending
    return gate


def record_rolled_back(run: Run, decision: dict[str, Any]) -> None:
    """Rolled back by the launch lead, or nobody answered in time: the round and the launch say so."""
    round_no = int(str(decision["stage"]).rsplit("_r", 1)[1])
    who = decision.get("decided_by") or "nobody (timed out)"
    reason = f"rolled back at the scale decision of round {round_no} by {who}" + (
        f": {decision['comment']}" if decision.get("comment") else ""
    )
    with run.saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE geo_rollout_rounds SET decision = %s, decided_by = %s, comment = %s, updated_at = now()"
            " WHERE workflow_id = %s AND round = %s AND decision IS NULL",
            (ROLL_BACK, decision.get("decided_by"), decision.get("comment"), run.workflow_id, round_no),
        )
    record_ending(run, "rolled_back", f"round_{round_no}", reason)


@routed_step
def apply_scale_decision(run: Run, round_no: int) -> dict[str, Any]:
    """Widen or Hold, as the launch lead chose: ``next``: ``full_launch`` (widened past the plan's last share,
    or in the last round), or ``next_window`` (the flag at the next share, or the same, for another round)."""
    from execution_plane.hooks.flags import FlagsHook
    from workflows.geo_expansion_launch.domain import next_share

    plan = plan_of(run)
    flag_key = plan.flag_key(run.request_id)
    share = int(round_window(run, round_no)["share_pct"])
    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT decision FROM geo_rollout_rounds WHERE workflow_id = %s AND round = %s",
                (saga.workflow_id, round_no),
            )
            row = cur.fetchone()
        if row is None or row[0] not in (WIDEN, HOLD):
            raise RuntimeError(
                f"{saga.workflow_id}: round {round_no} continues without a Widen or Hold recorded"
            )
        choice = str(row[0])
        after = next_share(
            plan.rollout_steps_pct, share, widen=choice == WIDEN, last_round=round_no >= MAX_ROUNDS
        )
        log.info("round %s of %s: %s -> %s", round_no, saga.workflow_id, choice, after)
        if after.full_launch:
            return {
                "next": "full_launch",
                "choice": choice,
                "round": round_no,
                "share_pct": 100,
                "window_end": None,
            }
        if after.widened:
            with FlagsHook() as hook:
                saga.call(
                    f"flag.r{round_no + 1}",
                    side_effect="flags.set_rollout",
                    request={"flag_key": flag_key, "market": plan.market, "rollout_pct": after.share_pct},
                    call=lambda key: hook.set_rollout(
                        flag_key, plan.market, enabled=True, rollout_pct=after.share_pct, idempotency_key=key
                    ),
                )
        window = open_window(run, saga, round_no + 1, after.share_pct)
    return {"next": "next_window", "choice": choice, **window}
