"""
### Signature / term sheet commitment (long-lived durable, 1-7 days)

Terms finalized (the run's params) -> **approval token obtained**: the token from the approval bridge
is verified against the terms' canonical SHA-256 and this workflow (`signature_commitment:<request_id>`)
before anything is sent; a forged, expired or mismatched token fails the run at once with the reason,
nothing sent, nothing to compensate -> **signature request sent**: terms PDF stored once by content
hash, eSign envelope created with the step's idempotency key (correlation key = the workflow id), the
request recorded, the signer emailed -> **wait for signature** (a deferred wait holding no worker, until
`sign_by` = sent + `signature_timeout_hours`) -> signed -> record in CRM -> notify parties (signer and
deal team) -> update deal status -> **evidence pack** (documents, decisions and events of the request,
sealed by `manifest_sha256` in `evidence_packs`, PDF stored) -> complete.

**How the signature arrives**: the eSign webhook `POST /webhooks/esign` puts `envelope.signed` /
`declined` / `expired` in the `external_events` inbox and its NOTIFY wakes the wait. If that webhook is
lost, `esign_status_poller` (every 3 minutes) asks the provider for every request still `sent` and puts
the terminal status in the same inbox (`esign:poll:<envelope_id>:<status>`): the wait wakes the same way.

**Declined, expired or not signed in time**: `signature_not_obtained` records it (request and deal
status, saga ledger) and starts `saga_compensation` **at once**: the envelope is voided and the signer
and deal team are told the request is void (the undos recorded when the request went out; an envelope
the signer declined or that expired is already unsignable and is not voided again). Compensation does
not wait for a person, because an envelope left open while someone decides could still be signed.
Then the **re-negotiate choice** goes to `deal_desk` (or `admin`): "Re-negotiate" or "Close deal"
(no answer within `renegotiation_timeout_hours` closes the deal). The answer is recorded (deals status
`renegotiate` / `closed`, CRM deal status, audit log), and the run ends **failed** with the reason and
the choice in its note: an unsigned commitment never shows as a success. Re-negotiating means new terms,
a new approval token and a new run with a new `request_id`.

A failure after the signature (e.g. the CRM down for hours) does not undo the contract: those steps
retry for longer, and compensation keeps a signed envelope and sends no "void" notice.

**Answer the choice**: Airflow UI -> Required Actions, or
`PATCH /api/v2/dags/signature_commitment/dagRuns/{run}/taskInstances/renegotiate_choice/-1/hitlDetails`
`{"chosen_options": ["Re-negotiate"], "params_input": {"comment": "..."}}` as `deal_desk`.
**Start**: the trigger form, `POST /api/v2/dags/signature_commitment/dagRuns`, or the CRM webhook
(`workflow: signature_commitment`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.definitions.edges import Label

from execution_plane.dag_parts import id_param, timeout_hours_param
from execution_plane.defaults import default_args, tags_for
from execution_plane.sensors.external_event import ExternalEventSensor
from execution_plane.workflows.signature_commitment import (
    CHOICE_ASSIGNEES,
    SIGNATURE_EVENTS,
    RenegotiationChoiceOperator,
    compensate_on_failure,
)

# After the signature the contract binds: move forward through longer outages instead of failing.
FORWARD_ONLY = {"retries": 12, "max_retry_delay": timedelta(hours=1)}


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(),
    tags=tags_for("signature_commitment", "priority", "signature"),
    # Hundreds of signature requests wait for days at once; a waiting run holds no slot.
    max_active_runs=2000,
    on_failure_callback=compensate_on_failure,
    params={
        "request_id": id_param("Unique id of this signature request (e.g. the CRM request id)"),
        "deal_id": id_param("CRM deal id"),
        "partner_id": id_param("CRM partner id (the counterparty)"),
        "terms": Param(
            type="object",
            minProperties=1,
            description="The finalized terms, exactly as approved (the token is bound to their hash)",
        ),
        "approval_token": Param(
            type="string",
            minLength=1,
            maxLength=4096,
            description="Signed, expiring token from the approval bridge for these terms",
        ),
        "signer_email": Param(type="string", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", maxLength=254),
        "signer_name": Param(type="string", minLength=1, maxLength=200),
        "signature_timeout_hours": timeout_hours_param(
            168, description="Not signed by then -> voided, re-negotiate choice"
        ),
        "renegotiation_timeout_hours": timeout_hours_param(
            72, description="No re-negotiate answer by then -> deal closed"
        ),
    },
)
def signature_commitment() -> None:
    # ----------------------------------------------------------------------------- tasks
    @task
    def verify_approval_token() -> dict:
        from execution_plane.workflows.signature_commitment import verify_approval_token as step

        return step(get_current_context())

    @task
    def send_signature_request(approval: dict) -> dict:
        from execution_plane.workflows.signature_commitment import send_signature_request as step

        return step(get_current_context(), approval)

    @task.branch
    def route_signature(outcome: dict) -> str:
        from execution_plane.workflows.signature_commitment import route_signature as step

        return step(outcome)

    @task(**FORWARD_ONLY)
    def signed(outcome: dict, sent: dict) -> dict:
        from execution_plane.workflows.signature_commitment import record_signature

        return record_signature(get_current_context(), outcome, sent)

    @task(**FORWARD_ONLY)
    def record_in_crm(approval: dict, signature: dict) -> dict:
        from execution_plane.workflows.signature_commitment import record_in_crm as step

        return step(get_current_context(), approval, signature)

    @task(**FORWARD_ONLY)
    def notify_parties(approval: dict, sent: dict, signature: dict) -> dict:
        from execution_plane.workflows.signature_commitment import notify_parties as step

        return step(get_current_context(), approval, sent, signature)

    @task(**FORWARD_ONLY)
    def update_deal_status() -> dict:
        from execution_plane.workflows.signature_commitment import update_deal_status as step

        return step(get_current_context())

    @task(**FORWARD_ONLY)
    def assemble_evidence_pack(approval: dict) -> dict:
        from execution_plane.workflows.signature_commitment import assemble_evidence_pack as step

        return step(get_current_context(), approval)

    @task(**FORWARD_ONLY)
    def complete() -> dict:
        from execution_plane.saga.outcomes import complete as finish

        return finish(get_current_context())

    @task
    def signature_not_obtained(outcome: dict, sent: dict) -> dict:
        from execution_plane.workflows.signature_commitment import signature_not_obtained as step

        return step(get_current_context(), outcome, sent)

    @task
    def record_choice(choice: str) -> dict:
        from execution_plane.workflows.signature_commitment import record_choice as step

        return step(get_current_context(), choice)

    @task(trigger_rule="one_success")
    def end_unsigned() -> None:
        from execution_plane.workflows.signature_commitment import end_unsigned as step

        step(get_current_context())

    # ----------------------------------------------------------------------------- calling tasks
    approval = verify_approval_token()
    sent = send_signature_request(approval)
    wait = ExternalEventSensor(
        task_id="wait_for_signature",
        correlation_key="signature_commitment:{{ params.request_id }}",
        event_types=list(SIGNATURE_EVENTS),
        timeout_at="{{ ti.xcom_pull(task_ids='send_signature_request')['sign_by'] }}",
    )
    sent >> wait
    route = route_signature(wait.output)

    signature = signed(wait.output, sent)
    deal = update_deal_status()
    route >> Label("signed") >> signature
    record_in_crm(approval, signature) >> notify_parties(approval, sent, signature) >> deal
    deal >> assemble_evidence_pack(approval) >> complete()

    not_obtained = signature_not_obtained(wait.output, sent)
    route >> Label("declined / expired / timed out") >> not_obtained
    choice = RenegotiationChoiceOperator(
        task_id="renegotiate_choice",
        stage="renegotiate_choice",
        assignees=CHOICE_ASSIGNEES,
        approved_task_ids="renegotiate",
        rejected_task_id="close_deal",
        response_timeout=timedelta(hours=72),
        response_timeout_hours_param="renegotiation_timeout_hours",
        subject="Signature not obtained for deal {{ params.deal_id }}: re-negotiate or close the deal?",
        body="{{ ti.xcom_pull(task_ids='signature_not_obtained')['reason'] }}. The envelope is voided and "
        "the parties told. Re-negotiate (new terms, new approval) or close the deal; add a comment.",
    )
    not_obtained >> choice
    (
        choice
        >> [
            record_choice.override(task_id="renegotiate")("renegotiate"),
            record_choice.override(task_id="close_deal")("close_deal"),
        ]
        >> end_unsigned()
    )


signature_commitment()
