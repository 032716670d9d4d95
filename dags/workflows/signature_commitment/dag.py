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

from airflow.sdk import Param

from execution_plane.durable import (
    choice,
    complete,
    durable_workflow,
    id_param,
    routes,
    timeout_hours_param,
    wait_for_event,
)
from workflows.signature_commitment import request, signed, token, unsigned
from workflows.signature_commitment.common import (
    CLOSE_DEAL,
    DEAL_DESK,
    RENEGOTIATE,
    SIGNATURE_EVENTS,
    TOKEN_TASK,
)


@durable_workflow(
    doc_md=__doc__,
    tags=["priority", "signature"],
    crm_start=True,
    request_id_description="Unique id of this signature request (e.g. the CRM request id)",
    # A refused token registered nothing and sent nothing: its failure has nothing to compensate.
    fails_before_effects=[TOKEN_TASK],
    params={
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
    approval = token.verify_approval_token()
    sent = request.send_signature_request(approval)
    wait = wait_for_event(
        "wait_for_signature",
        correlation_key=sent["correlation_key"],
        event_types=SIGNATURE_EVENTS,
        timeout_at=sent["sign_by"],
    )
    sent >> wait
    routed = signed.route_signature(wait.output)

    # Signed: the contract binds; every step from here only moves forward.
    signature = signed.signed(wait.output, sent)
    crm = signed.record_in_crm(approval, signature)
    notified = signed.notify_parties(approval, sent, signature)
    deal = signed.update_deal_status()
    crm >> notified >> deal >> signed.assemble_evidence_pack(approval) >> complete(**signed.FORWARD_ONLY)

    # Declined, expired or not signed in time: compensation now, then the deal desk's choice.
    not_obtained = unsigned.signature_not_obtained(wait.output, sent)
    routes(routed, signed=signature, signature_not_obtained=not_obtained)
    renegotiate = unsigned.record_choice.override(task_id="renegotiate")("renegotiate")
    close_deal = unsigned.record_choice.override(task_id="close_deal")("close_deal")
    decide = choice(
        "renegotiate_choice",
        assignee=DEAL_DESK,
        timeout_param="renegotiation_timeout_hours",
        subject="Signature not obtained for deal {{ params.deal_id }}: re-negotiate or close the deal?",
        body=not_obtained["choice_request"],
        first=(RENEGOTIATE, renegotiate),
        second=(CLOSE_DEAL, close_deal),
    )
    not_obtained >> decide
    [renegotiate, close_deal] >> unsigned.end_unsigned()


signature_commitment()
