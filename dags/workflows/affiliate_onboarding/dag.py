"""
### Affiliate onboarding (long-lived durable: 10-30 minutes of work, a review or a payout check may take days)

Application (signup form through the CRM webhook, the trigger form or `POST /dagRuns`) -> checked (bad input
refused naming the field, nothing recorded) -> recorded -> **evaluation**: sanctions screening (once), the
trust score service (the applicant's earlier onboardings and the screening's flags), blocked and disposable
domains, an open affiliate on the same email, completeness -> a score out of 100 -> **approved by rule** at
`auto_approve_score` or more, **rejected by rule** under `auto_reject_score` or on a failed check, otherwise
**a person decides** (`manager`, Required Actions; expires after `approval_timeout_hours`) -> **provisioned**:
affiliate account, tracking links, payout profile (each once) and the payout set-up email -> **payout
verification** by the provider (signed webhook `POST /webhooks/events/payouts`, waited for holding nothing;
a lost webhook is caught by asking the provider when the wait runs out) -> account activated -> **welcome
email** with the tracking links.

Rejected (by rule or by the reviewer) or expired: the applicant is told once, the run ends failed with the
reason in its note. A provisioned affiliate rejected later (the payout provider refuses the payout details,
or never verifies them in time), or a provisioning step that fails after its retries: `saga_compensation`
deprovisions it newest first, each undo logged: the applicant told the account is closed, payout profile
removed, tracking links deactivated, account closed, application record `deprovisioned`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param

from execution_plane.durable import (
    approval,
    complete,
    durable_workflow,
    routes,
    timeout_hours_param,
    wait_for_event,
)
from workflows.affiliate_onboarding import application, evaluation, provisioning
from workflows.affiliate_onboarding.common import CHECK_TASK, PAYOUT_EVENTS, PROMOTION_METHODS, REVIEWER

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


@durable_workflow(
    doc_md=__doc__,
    tags=["sales", "affiliates"],
    crm_start=True,
    request_id_description="Unique id of this application (e.g. the signup form's submission id)",
    fails_before_effects=[CHECK_TASK],
    params={
        "applicant_name": Param(type="string", minLength=1, maxLength=200, description="Who applies"),
        "email": Param(type="string", pattern=EMAIL, maxLength=254, description="Gets every email"),
        "company": Param("", type="string", maxLength=200),
        "website": Param("", type="string", maxLength=300, description="https://... where they promote"),
        "country": Param("", type="string", pattern=r"^$|^[A-Z]{2}$", description="ISO code, e.g. DE"),
        "promotion_methods": Param(
            ["content"],
            type="array",
            items={"type": "string", "enum": PROMOTION_METHODS},
            minItems=1,
            maxItems=len(PROMOTION_METHODS),
            uniqueItems=True,
        ),
        "monthly_visitors": Param(0, type="integer", minimum=0, maximum=1_000_000_000),
        "audience_description": Param("", type="string", maxLength=2000),
        "payout_method": Param("bank_transfer", type="string", enum=["bank_transfer", "paypal"]),
        "payout_currency": Param("USD", type="string", pattern=r"^[A-Z]{3}$"),
        "auto_approve_score": Param(
            70, type="integer", minimum=1, maximum=100, description="Approved by rule from this score"
        ),
        "auto_reject_score": Param(
            35, type="integer", minimum=0, maximum=99, description="Rejected by rule under this score"
        ),
        "approval_timeout_hours": timeout_hours_param(
            48, description="The review expires (rejected path) after this"
        ),
        "payout_verification_timeout_hours": timeout_hours_param(
            168, description="Payout details not verified by then: deprovisioned"
        ),
    },
)
def affiliate_onboarding() -> None:
    checked = application.check_application()
    received = application.receive_application()
    checked >> received
    evaluated = evaluation.evaluate(received)
    approved_by_rule = EmptyOperator(task_id="approved_by_rule")
    review = approval(
        "affiliate_review",
        assignee=REVIEWER,
        subject="Approve affiliate {{ params.applicant_name }} ({{ params.email }})?",
        body=evaluated["summary"],
        on_not_approved=evaluation.record_not_approved,
    )
    routes(evaluated, approve=approved_by_rule, review=review, reject=evaluation.auto_rejected(evaluated))

    provisioned = provisioning.provision()
    approved_by_rule >> provisioned
    review.then(provisioned)
    verification = wait_for_event(
        "payout_verification",
        correlation_key=provisioned["correlation_key"],
        event_types=PAYOUT_EVENTS,
        timeout_at=provisioned["verify_by"],
    )
    verdict = provisioning.payout_outcome(verification.output, provisioned)
    activated = provisioning.activate(provisioned)
    routes(verdict, activate=activated, not_verified=provisioning.payout_not_verified(verdict))
    provisioning.welcome(activated) >> complete()


affiliate_onboarding()
