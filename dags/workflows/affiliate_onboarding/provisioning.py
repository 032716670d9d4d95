"""Provisioned: the affiliate account (pending), its tracking links and its payout profile, each an idempotent
provider call recorded with the undo that removes it, then the email that sends the applicant to the payout
provider; the provider's verification (a signed webhook, waited for holding nothing); activation and the
welcome. Compensation deprovisions exactly what was provisioned, newest first: the applicant told the account
is closed, the payout profile removed, the links deactivated, the account closed, the record closed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import compensation
from workflows.affiliate_onboarding.common import (
    CAMPAIGN,
    LANDING_PAGES,
    RULE,
    application_of,
    deadline,
    record_bad_ending,
    set_status,
)

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)

REVIEW_STAGE = "affiliate_review"


@step(trigger_rule="one_success")
def provision(run: Run) -> dict[str, Any]:
    """Approved (by rule or by the reviewer): account, tracking links, payout profile, each once, then the
    payout set-up email. Returns the payout profile's correlation key and the verification deadline (fixed
    once) for the wait that follows.

    The evaluation is read from the record, not taken as an input: an input from the evaluation would make it
    an upstream task, and with this step's ``one_success`` it would start before the reviewer answered."""
    from execution_plane.hooks.affiliates import AffiliatePlatformHook, PayoutsHook
    from execution_plane.saga.compensations import Compensation
    from workflows.affiliate_onboarding.domain import CLOSURE_BODY, CLOSURE_SUBJECT, payout_setup

    application = application_of(run)
    correlation_key = run.correlation_key("payout_profile")
    with run.saga as saga:
        evaluation = _evaluation(saga)
        decided_by = RULE if evaluation["decision"] == "approve" else _reviewer(run)
        _record(saga, decided_by=decided_by)
        with AffiliatePlatformHook() as platform, PayoutsHook() as payouts:
            account = saga.call(
                "affiliate_account",
                side_effect="affiliates.create_account",
                request={"email": application.email, "plan": evaluation["commission_plan"]},
                call=lambda key: platform.create_account(
                    reference=saga.workflow_id,
                    name=application.applicant_name,
                    email=application.email,
                    company=application.company or None,
                    website=application.website or None,
                    commission_plan=evaluation["commission_plan"],
                    idempotency_key=key,
                ),
                compensation=lambda r: Compensation(
                    "affiliate_onboarding.close_account", {"account_id": r["account_id"]}
                ),
            )
            _record(saga, account_id=account["account_id"])
            links = saga.call(
                "tracking_links",
                side_effect="affiliates.create_links",
                request={"account_id": account["account_id"], "destinations": LANDING_PAGES},
                call=lambda key: platform.create_links(
                    account["account_id"], campaign=CAMPAIGN, destinations=LANDING_PAGES, idempotency_key=key
                ),
                compensation=lambda r: Compensation(
                    "affiliate_onboarding.deactivate_links", {"link_set_id": r["link_set_id"]}
                ),
            )
            _record(saga, link_set_id=links["link_set_id"])
            profile = saga.call(
                "payout_profile",
                side_effect="payouts.create_profile",
                request={"account_id": account["account_id"], "method": application.payout_method},
                call=lambda key: payouts.create_profile(
                    account_ref=account["account_id"],
                    holder_name=application.company or application.applicant_name,
                    email=application.email,
                    method=application.payout_method,
                    currency=application.payout_currency,
                    correlation_key=correlation_key,
                    idempotency_key=key,
                ),
                compensation=lambda r: Compensation(
                    "affiliate_onboarding.remove_payout_profile", {"profile_id": r["profile_id"]}
                ),
            )
            _record(saga, payout_profile_id=profile["profile_id"])
        message = payout_setup(
            application, account_id=account["account_id"], onboarding_url=profile["onboarding_url"]
        )
        saga.send_message(
            "payout_setup.email",
            channel="email",
            to=application.email,
            template="affiliate_payout_setup",
            subject=message.subject,
            body=message.body,
            # The applicant heard they are in: if it is taken back, they hear that once too.
            compensation=Compensation(
                "message.notify",
                {
                    "channel": "email",
                    "to": application.email,
                    "subject": CLOSURE_SUBJECT,
                    "body": CLOSURE_BODY,
                    "template": "affiliate_closed",
                },
            ),
        )

        def write(cur: Any) -> dict[str, Any]:
            set_status(cur, saga.workflow_id, "provisioned")
            return {"verify_by": deadline(cur, run.params["payout_verification_timeout_hours"]).isoformat()}

        due = saga.db_write("provisioned_record", write, request={"profile_id": profile["profile_id"]})
    return {
        "account_id": account["account_id"],
        "link_set_id": links["link_set_id"],
        "profile_id": profile["profile_id"],
        "correlation_key": correlation_key,
        "verify_by": due["verify_by"],
        "commission_plan": evaluation["commission_plan"],
    }


def _evaluation(saga: Saga) -> dict[str, Any]:
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT decision, evaluation->>'commission_plan' FROM affiliate_applications"
            " WHERE workflow_id = %s",
            (saga.workflow_id,),
        )
        row = cur.fetchone()
    if row is None or row[0] is None:
        raise RuntimeError(f"{saga.workflow_id}: provisioning an application that was never evaluated")
    return {"decision": row[0], "commission_plan": row[1]}


def _record(saga: Saga, **columns: str | None) -> None:
    """Approved, and what the platform or the provider now holds, on the record at once (a step that fails
    half-way leaves it true for the compensation and for anyone reading it). The status only moves forward:
    a re-run of the step does not take a provisioned application back to approved."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE affiliate_applications SET status = CASE WHEN status IN ('received', 'evaluated')"
            " THEN 'approved' ELSE status END, decided_by = coalesce(%s, decided_by),"
            " account_id = coalesce(%s, account_id), link_set_id = coalesce(%s, link_set_id),"
            " payout_profile_id = coalesce(%s, payout_profile_id), updated_at = now() WHERE workflow_id = %s",
            (
                columns.get("decided_by"),
                columns.get("account_id"),
                columns.get("link_set_id"),
                columns.get("payout_profile_id"),
                saga.workflow_id,
            ),
        )


def _reviewer(run: Run) -> str | None:
    decision = run.decision(REVIEW_STAGE) or {}
    return decision.get("decided_by")


@compensation("affiliate_onboarding.close_account")
def close_account(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Close the affiliate account (final at the platform; already closed counts as done)."""
    from execution_plane.hooks.affiliates import AffiliatePlatformHook

    with AffiliatePlatformHook() as hook:
        return hook.close_account(args["account_id"], reason=reason, idempotency_key=key)


@compensation("affiliate_onboarding.deactivate_links")
def deactivate_links(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Deactivate the tracking links: a click no longer credits anyone."""
    from execution_plane.hooks.affiliates import AffiliatePlatformHook

    with AffiliatePlatformHook() as hook:
        return hook.deactivate_links(args["link_set_id"], reason=reason, idempotency_key=key)


@compensation("affiliate_onboarding.remove_payout_profile")
def remove_payout_profile(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Remove the payout profile at the provider: nothing can be paid out to it any more."""
    from execution_plane.hooks.affiliates import PayoutsHook

    with PayoutsHook() as hook:
        return hook.remove_profile(args["profile_id"], reason=reason, idempotency_key=key)


# ----------------------------------------------------------------------------- payout verification
@routed_step
def payout_outcome(run: Run, outcome: dict[str, Any], provisioned: dict[str, Any]) -> dict[str, Any]:
    """``next``: ``activate`` once the provider verified the payout details, else ``not_verified`` (rejected
    by the provider, or still unverified when the wait ran out: the provider's own word is asked first, so a
    lost webhook does not take back a verified affiliate)."""
    from execution_plane.hooks.affiliates import PayoutsHook

    profile_id = provisioned["profile_id"]
    if outcome.get("status") == "received":
        event = outcome["event"]
        body = event.get("payload") or {}
        payload = dict(body.get("payload") or {}) if isinstance(body, dict) else {}
        status = str(event["event_type"]).removeprefix("payout_profile.")
        detail = payload.get("reason")
    else:
        with PayoutsHook() as hook:
            found = hook.get_profile(profile_id)
        status, detail = str(found.get("status")), found.get("reason")
        if status == "verified":
            log.warning("payout profile %s is verified but its webhook never came", profile_id)
    if status == "verified":
        return {"next": "activate", "status": "verified", "profile_id": profile_id}
    if status == "rejected":
        reason = f"payout provider rejected profile {profile_id}: {detail or 'no reason given'}"
        return {"next": "not_verified", "status": "rejected", "reason": reason}
    reason = f"payout profile {profile_id} was not verified by {outcome.get('timeout_at')} ({status})"
    return {"next": "not_verified", "status": "expired", "reason": reason}


@step
def payout_not_verified(run: Run, verdict: dict[str, Any]) -> None:
    """The provisioned affiliate cannot be paid: rejected (or expired), and compensation deprovisions it."""
    record_bad_ending(run.saga, verdict["status"], verdict["reason"])
    run.end_badly(verdict["status"], verdict["reason"])


# ----------------------------------------------------------------------------- activation
@step
def activate(run: Run, provisioned: dict[str, Any]) -> dict[str, Any]:
    """The account goes live at the platform (once); closing it stays the undo recorded when it was made."""
    from execution_plane.hooks.affiliates import AffiliatePlatformHook

    account_id = provisioned["account_id"]
    with run.saga as saga:
        with AffiliatePlatformHook() as hook:
            saga.call(
                "account_activation",
                side_effect="affiliates.activate_account",
                request={"account_id": account_id},
                call=lambda key: hook.activate_account(account_id, idempotency_key=key),
            )
            links = hook.get_links(provisioned["link_set_id"])["links"]

        def write(cur: Any) -> dict[str, Any]:
            set_status(cur, saga.workflow_id, "active")
            return {"active": True}

        saga.db_write("active_record", write, request={"account_id": account_id})
    return {
        "account_id": account_id,
        "commission_plan": provisioned["commission_plan"],
        "links": [{"destination": link["destination"], "url": link["url"]} for link in links],
    }


@step
def welcome(run: Run, activated: dict[str, Any]) -> dict[str, Any]:
    """The welcome email with the tracking links, once."""
    from workflows.affiliate_onboarding.domain import welcome as welcome_message

    application = application_of(run)
    message = welcome_message(
        application,
        account_id=activated["account_id"],
        commission_plan=activated["commission_plan"],
        links=activated["links"],
    )
    with run.saga as saga:
        sent = saga.send_message(
            "welcome.email",
            channel="email",
            to=application.email,
            template="affiliate_welcome",
            subject=message.subject,
            body=message.body,
        )
    return {"message_id": sent["message_id"]}
