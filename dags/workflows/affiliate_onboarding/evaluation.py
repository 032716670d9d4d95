"""The evaluation: the applicant screened against the sanctions list (once: the screening is the compliance
record), scored by the trust score service, checked for blocked domains, duplicates and completeness, and
decided (``domain.evaluate``); the bad endings of the decision."""

from __future__ import annotations

import logging
from typing import Any

from execution_plane.durable import Run, routed_step, step
from workflows.affiliate_onboarding.common import RULE, application_of, set_status

log = logging.getLogger(__name__)

#: The statuses of an application that still holds, or may soon hold, an affiliate account.
OPEN_STATUSES = ("received", "evaluated", "approved", "provisioned", "active")


@routed_step
def evaluate(run: Run, received: dict[str, Any]) -> dict[str, Any]:
    """``next``: ``approve`` (by rule), ``review`` (a person decides) or ``reject``; ``summary`` is what the
    reviewer reads."""
    from execution_plane.hooks.sanctions import SanctionsHook
    from execution_plane.services.trust_score import trust_score_task
    from workflows.affiliate_onboarding.domain import RULES_VERSION, Screening, Trust, compliance_flags
    from workflows.affiliate_onboarding.domain import evaluate as decide

    application = application_of(run)
    with run.saga as saga:
        with SanctionsHook() as hook:
            screened = saga.call(
                "sanctions_screening",
                side_effect="sanctions.screen",
                request={"person": application.applicant_name, "organization": application.company},
                call=lambda key: hook.screen(
                    reference=saga.workflow_id,
                    person_name=application.applicant_name,
                    organization=application.company or None,
                    country=application.country or None,
                    idempotency_key=key,
                ),
            )
        screening = Screening.model_validate(screened)
        # The trust score service, the same computation as POST /services/trust-scores: the applicant's
        # earlier onboardings (by affiliate id) and the screening's flags; stored by subject (an upsert).
        trust = trust_score_task(
            {
                "subject_type": "affiliate",
                "subject_id": application.affiliate_id,
                "compliance_flags": compliance_flags(screening),
            }
        )
        with saga.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT workflow_id FROM affiliate_applications WHERE lower(email) = %s AND workflow_id <> %s"
                " AND status = ANY(%s) ORDER BY created_at",
                (application.email, saga.workflow_id, list(OPEN_STATUSES)),
            )
            open_elsewhere = [row[0] for row in cur.fetchall()]
        evaluation = decide(application, screening, Trust.model_validate(trust), open_elsewhere)

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE affiliate_applications SET evaluation = %s::jsonb, score = %s, decision = %s,"
                " status = 'evaluated', updated_at = now() WHERE workflow_id = %s",
                (evaluation.model_dump_json(), evaluation.score, evaluation.decision, saga.workflow_id),
            )
            return {
                "decision": evaluation.decision,
                "score": evaluation.score,
                "reasons": list(evaluation.reasons),
                "commission_plan": evaluation.commission_plan,
                "summary": evaluation.summary(),
            }

        # Recorded once: a retry follows the decision taken, even if the trust score moved meanwhile.
        recorded = saga.db_write(
            "evaluation",
            write,
            request={"rules": RULES_VERSION, "screening_id": screening.screening_id},
        )
    log.info("evaluation of %s: %s", saga.workflow_id, recorded["summary"])
    return {"next": recorded["decision"], **recorded}


@step
def auto_rejected(run: Run, evaluation: dict[str, Any]) -> None:
    """Rejected by rule: the applicant is told (without the reason), the run ends rejected."""
    reason = "rejected by rule: " + "; ".join(evaluation["reasons"])
    decline(run, "rejected", reason, decided_by=RULE)
    run.end_badly("rejected", reason)


def record_not_approved(run: Run, decision: dict[str, Any]) -> None:
    """The reviewer rejected the application, or nobody answered in time (the gate then ends the run)."""
    from execution_plane.durable.gates import decision_reason

    status = "expired" if decision.get("status") == "expired" else "rejected"
    decline(run, status, decision_reason(decision, "not approved"), decided_by=decision.get("decided_by"))


def decline(run: Run, status: str, reason: str, *, decided_by: str | None) -> None:
    """Tell the applicant (once) and record the bad ending, before compensation starts."""
    from workflows.affiliate_onboarding.domain import declined

    application = application_of(run)
    message = declined(application)
    with run.saga as saga:
        saga.send_message(
            "declined.email",
            channel="email",
            to=application.email,
            template="affiliate_declined",
            subject=message.subject,
            body=message.body,
        )
        with saga.conn() as conn, conn.cursor() as cur:
            set_status(cur, saga.workflow_id, status, reason, decided_by=decided_by)
