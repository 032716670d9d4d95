"""
### Approval reminders (internal, every 5 minutes)

Approvers are told once when a gate opens; this DAG reminds them before the expiry and escalates approvals
that are overdue. Each run reads the open approvals of running workflows and sends what the policy says is
due and was not sent yet:

1. **reminders** to the approver: by default at half-time of the approval's window and 24 h before its
   expiry (only the latest one due is sent when a scan was missed);
2. an **escalation** to the approver's manager (or the fallback group) once the approval is overdue: past
   0.75 of its window, or past its expiry still unanswered.

Each message carries the deep link to the request on Airflow's Required Actions page, is sent once per
(approval, kind) through the ledger's message dedup, and is written to the audit log (`approval.reminded`,
`approval.escalated`). The policy is the Variable `approval_reminders` (`airflow_settings.yaml`; see
`execution_plane.approvals.policy`): a malformed one fails the run with the field named and sends nothing.

One short task per run, whatever the number of parked workflows: the approvals wait in `awaiting_input` with
no worker, no triggerer slot and no scheduler cost (docs/adr/0003).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from execution_plane.defaults import default_args, tags_for


@dag(
    schedule=timedelta(minutes=5),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(retry_delay=timedelta(seconds=30)),
    tags=tags_for("approval_reminders", "approvals"),
    max_active_runs=1,
)
def approval_reminders() -> None:
    @task
    def send_due_reminders() -> dict:
        from airflow.sdk import get_current_context

        from execution_plane.approvals.reminders import load_policy, send_due

        return send_due(load_policy(), context=get_current_context())

    send_due_reminders()


approval_reminders()
