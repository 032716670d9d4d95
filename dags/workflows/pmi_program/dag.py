"""
### PMI program execution (long-lived durable, 3-6 months)

**Integration plan** from the closed deal (the CRM deal must be `closed_won` or `closed`; a deal that has not
closed, or phase days that do not increase, fail the run at `closed_deal` with the reason, nothing recorded
or changed) -> **Day-1 readiness gate** (pause, `integration_lead`) -> **Day 1**, the five functions in
parallel, each on its own system:

- HR: employees transferred into the acquirer's organisation (HRIS), then each employee told;
- finance: ledgers consolidated into the group ledger (ERP), a bank mandate requested per bank account (the
  bank confirms later);
- IT: an account per employee (identity directory; a name taken by an earlier acquisition's employee gets
  the company's id in it), then access to the acquirer's groups;
- legal: the entity filed under the acquirer (the registry decides later), the assignable contracts
  assigned, their counterparties told;
- CRM: customer records merged, then each customer told.

-> **Day-30, Day-60, Day-90 gates**: each waits for its date, counted from Day 1 (`day1_started` records it;
`dayNN_days` program days of `day_seconds` seconds, plus every extension granted so far; a
`DateTimeSensorAsync` deferred from a worker: while it waits it holds no worker, only a sleeping trigger),
then shows the phase's checklist (computed from what the systems hold then: Day 30 = Day 1's work in place;
Day 60 also the banks' and the registry's confirmations; Day 90 also no contract still waiting for a
counterparty's consent) to the integration lead, who chooses **Pass**, **Extend** (`extend_days`: the same
phase is reviewed again that many program days later, and every later phase moves by as much; two extensions
per phase, the third review offers Pass or Stop) or **Stop** -> **program closed** with its report (PDF
stored once by content hash, CRM deal `integrated`, the deal's owner and the integration lead told; items
still open are handed over to the line organisation and listed in the report).

**A function's step that fails after its retries pauses only that function**: its `paused_N` step records
the error and emails the integration lead, and `decision_N` (Required Actions) offers **Retry** (the same
steps again: what was done is replayed, not redone) or **Skip** (the function's remaining Day-1 work is left
to the line organisation and shows as open on every checklist); no answer within `decision_timeout_hours`
skips. The other functions go on meanwhile. The graph holds three attempts per function: when the third
fails too, the failure cannot be resolved: once the other functions have settled, `day1_closed` stops the
program (failed) and it is compensated.

**Compensation** (a review's Stop, a readiness gate rejected or expired, a review nobody answered within
`review_timeout_hours`, a failure that cannot be resolved, any other step failing after its retries):
`saga_compensation` undoes every integration step newest first, so each function is undone in reverse order
(the entities separated again: accounts disabled, ledgers unlinked, records unmerged, filings withdrawn);
each undo records whom it affected, and the last undo tells **everyone affected once**, in one email listing
what was undone for them (an employee whose transfer and accounts were both undone gets one message), the
deal's owner and the integration lead included; the CRM deal becomes `integration_stopped`.

**Where the spec is silent, read as an integration office would**: "Day N" is N program days after Day 1
began (not after the previous review); an extension moves every later date, because the phases are
sequential; a phase's checklist informs the reviewer and never decides for them; a retry/skip question
nobody answers skips (the program is not held for one function, and nothing is rolled back for it), while a
phase review nobody answers ends the program as expired, like every unanswered gate of the project; the banks
and the registry are not waited for on Day 1 (their confirmations take weeks: Day 60's checklist shows them);
a bank hears of a revoked mandate through the ERP's revocation itself, people by one email each.

**Answer a gate**: Airflow UI -> Required Actions as `integration_lead` (or `admin`), or
`PATCH /api/v2/dags/pmi_program/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails` with
`{"chosen_options": ["Approve"], "params_input": {"comment": "..."}}` (task `day1_readiness`),
`["Retry"]` / `["Skip"]` (tasks `<function>.decision_<n>`), `["Pass"]` / `["Extend"]` / `["Stop"]` with
`{"extend_days": 14, "comment": "..."}` (tasks `<phase>.review_r<n>`, phase `day30` / `day60` / `day90`).
**Outside confirmations**: the ERP relays each bank's answer (`mandate.activated` / `mandate.rejected`,
`POST /webhooks/events/erp`), the registry its decision on the filing (`parent_change.registered` /
`refused`, `POST /webhooks/events/legal`); the checklists ask both systems for the current status.
"""

from __future__ import annotations

from itertools import pairwise

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import Param, TaskGroup

from execution_plane.durable import (
    approval,
    choice,
    complete,
    durable_workflow,
    id_param,
    routes,
    timeout_hours_param,
)
from execution_plane.saga.keys import ID_PATTERN
from workflows.pmi_program import day1, phases, program
from workflows.pmi_program.common import ATTEMPTS, CHECK_TASK, FUNCTIONS, LEAD, review_stage
from workflows.pmi_program.review_gate import phase_review

PHASES = ("day30", "day60", "day90")  # domain.PHASES
REVIEW_ROUNDS = 3  # domain.REVIEW_ROUNDS
PHASE_TITLES = {"day30": "Day-30", "day60": "Day-60", "day90": "Day-90"}


def days_param(default: int, description: str) -> Param:
    return Param(default, type="integer", minimum=1, maximum=365, description=description)


@durable_workflow(
    doc_md=__doc__,
    tags=["integration", "deals"],
    # The CRM starts the program when the deal closes (the webhook validates its payload against the params).
    crm_start=True,
    request_id_description="Unique id of this integration program (e.g. the CRM deal's PMI id)",
    # A deal that has not closed is refused before anything is registered: nothing to compensate.
    fails_before_effects=[CHECK_TASK],
    params={
        "deal_id": id_param("CRM deal id of the closed deal"),
        "target_company": Param(type="string", minLength=1, maxLength=200, description="Company acquired"),
        "target_company_id": id_param("The acquired company's id in the HRIS, ERP, legal registry and CRM"),
        "acquirer_company_id": Param(
            "EP-GROUP", type="string", pattern=ID_PATTERN, description="The acquirer"
        ),
        "acquirer_domain": Param(
            "execution-plane.example",
            type="string",
            pattern=r"^[a-z0-9.-]{3,200}$",
            description="The acquirer's email domain (new accounts)",
        ),
        "day_seconds": Param(
            86_400,
            type="number",
            exclusiveMinimum=0,
            maximum=86_400,
            description="Length of one program day in seconds (86,400; tests shrink it)",
        ),
        "day30_days": days_param(30, "Day-30 review: program days after Day 1"),
        "day60_days": days_param(60, "Day-60 review: program days after Day 1"),
        "day90_days": days_param(90, "Day-90 review: program days after Day 1"),
        "readiness_timeout_hours": timeout_hours_param(
            168, description="The Day-1 readiness gate expires (-> not started, compensated) after this"
        ),
        "decision_timeout_hours": timeout_hours_param(
            72, description="A function's retry/skip decision not taken by then skips the function"
        ),
        "review_timeout_hours": timeout_hours_param(
            336, max_days=60, description="A phase review not answered by then stops the program (expired)"
        ),
    },
)
def pmi_program() -> None:
    checked = program.closed_deal()
    planned = program.integration_plan()
    checked >> planned
    readiness = approval(
        "day1_readiness",
        assignee=LEAD,
        timeout_param="readiness_timeout_hours",
        default_hours=168,
        subject="Day-1 readiness: start integrating {{ params.target_company }} (deal {{ params.deal_id }})?",
        body=planned["readiness_request"],
        on_not_approved=program.record_not_ready,
        label="not ready / expired",
    )
    planned >> readiness
    started = program.day1_started()
    readiness.then(started, label="ready")

    # Day 1: each function on its own; a failure pauses that function only, for a person to retry or skip.
    settled_markers = []
    for function in FUNCTIONS:
        with TaskGroup(group_id=function, tooltip=f"{function}: Day-1 work, paused for a person on failure"):
            attempts = [
                day1.attempt.override(task_id=f"attempt_{n}")(planned["plan"], started, function, n)
                for n in range(1, ATTEMPTS + 1)
            ]
            skips = []
            for n, (failed, retry) in enumerate(pairwise(attempts), start=1):
                paused = day1.paused.override(task_id=f"paused_{n}")(function, n)
                failed >> paused
                skip = day1.skipped.override(task_id=f"skipped_{n}")(function, n)
                decision = choice(
                    f"decision_{n}",
                    stage=f"{function}_decision_{n}",
                    assignee=LEAD,
                    timeout_param="decision_timeout_hours",
                    subject=f"Day 1, {function}: retry or skip? ({{{{ params.target_company }}}})",
                    body=paused["decision_request"],
                    first=("Retry", retry),
                    second=("Skip", skip),
                )
                paused >> decision
                skips.append(skip)
            unresolved = day1.unresolved(function)
            attempts[-1] >> unresolved
            settled = EmptyOperator(task_id="settled", trigger_rule="one_success")
            [*attempts, *skips, unresolved] >> settled
        settled_markers.append(settled)
    closed = program.day1_closed()
    settled_markers >> closed

    # Day 30, 60, 90: a date counted from Day 1, then the integration lead's review of the checklist.
    previous = [closed]
    for phase in PHASES:
        title = PHASE_TITLES[phase]
        with TaskGroup(group_id=phase, tooltip=f"{title} gate: wait for the date, review the checklist"):
            passed, extended_to = [], None
            for round_no in range(1, REVIEW_ROUNDS + 1):
                due = phases.due.override(
                    task_id=f"due_r{round_no}", trigger_rule="one_success" if round_no == 1 else "all_success"
                )(phase, round_no)
                if round_no == 1:
                    previous >> due
                else:
                    routes(extended_to, passed=passed[-1], extended=due)
                # Deferred from a worker (a required param: compat.trigger_start), resumed on one for a moment
                # at the date: the project's lifecycle listener rules out end_from_trigger.
                wait = DateTimeSensorAsync(task_id=f"wait_r{round_no}", target_time=due["wait_until"])
                due >> wait
                checked_phase = phases.checklist.override(task_id=f"checklist_r{round_no}")(phase, round_no)
                wait >> checked_phase
                review = phase_review(
                    f"review_r{round_no}",
                    stage=review_stage(phase, round_no),
                    can_extend=round_no < REVIEW_ROUNDS,
                    subject=f"{title} review of {{{{ params.target_company }}}}: pass, extend or stop?",
                    body=checked_phase["review_request"],
                    on_not_approved=phases.record_review_stop,
                )
                checked_phase >> review
                extended_to = phases.outcome.override(task_id=f"outcome_r{round_no}")(phase, round_no)
                review.then(extended_to, label="pass / extend")
                passed.append(EmptyOperator(task_id=f"passed_r{round_no}"))
            routes(extended_to, passed=passed[-1])
        previous = passed
    closing = program.close_program.override(trigger_rule="one_success")()
    previous >> closing
    closing >> complete(**program.FORWARD_ONLY)


pmi_program()
