"""affiliate_onboarding's steps below the DAG: bad input refused naming the field, before anything is
recorded; the payout verdict when the provider's webhook never came (its own word is asked); the names the
DAG file must repeat kept equal."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from execution_plane.durable import body_of
from tests.support.workflow_runs import ParamsRun
from workflows.affiliate_onboarding import application, common, provisioning

GOOD = {
    "request_id": "aff-steps-1",
    "applicant_name": "Lena Fischer",
    "email": "lena@fischerreviews.de",
    "promotion_methods": ["content"],
    "website": "",
    "auto_approve_score": 70,
    "auto_reject_score": 35,
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"website": "fischer reviews"}, "website: not a web address"),
        ({"email": "lena@intranet"}, "email: not an email address with a valid domain"),
        ({"auto_reject_score": 80}, r"auto_reject_score: must be below auto_approve_score \(70\)"),
    ],
)
def test_bad_input_is_refused_naming_the_field_without_a_retry(changes: dict[str, Any], message: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    check = body_of(application.check_application)
    with pytest.raises(AirflowFailException, match=f"bad application: {message}"):
        check(ParamsRun({**GOOD, **changes}))
    assert check(ParamsRun(GOOD)) is None


def _profile(sandbox: Any) -> str:
    from execution_plane.hooks.affiliates import PayoutsHook

    hook = PayoutsHook()
    try:
        created = hook.create_profile(
            account_ref="aff_test",
            holder_name="Lena Fischer",
            email="lena@fischerreviews.de",
            method="paypal",
            currency="EUR",
            correlation_key=f"test:{uuid.uuid4().hex}",
            idempotency_key=uuid.uuid4().hex,
        )
    finally:
        hook.close()
    return str(created["profile_id"])


def test_a_lost_verification_webhook_does_not_take_back_a_verified_affiliate(sandbox: Any) -> None:
    outcome = body_of(provisioning.payout_outcome)
    expired = {"status": "expired", "timeout_at": "2026-12-01T00:00:00+00:00"}
    verified, waiting = _profile(sandbox), _profile(sandbox)
    sandbox.post(f"/_sandbox/payouts/profiles/{verified}/verify?deliver=false")

    assert outcome(ParamsRun({}), expired, {"profile_id": verified}) == {
        "next": "activate",
        "status": "verified",
        "profile_id": verified,
    }
    still = outcome(ParamsRun({}), expired, {"profile_id": waiting})
    assert still["next"] == "not_verified" and still["status"] == "expired"
    assert (
        still["reason"]
        == f"payout profile {waiting} was not verified by 2026-12-01T00:00:00+00:00 (verifying)"
    )


def test_a_rejection_names_the_provider_reason() -> None:
    outcome = body_of(provisioning.payout_outcome)
    event = {
        "event_type": "payout_profile.rejected",
        "payload": {"payload": {"profile_id": "pyp_1", "status": "rejected", "reason": "IBAN closed"}},
    }
    verdict = outcome(ParamsRun({}), {"status": "received", "event": event}, {"profile_id": "pyp_1"})
    assert verdict == {
        "next": "not_verified",
        "status": "rejected",
        "reason": "payout provider rejected profile pyp_1: IBAN closed",
    }


def test_the_event_types_the_dag_file_repeats_are_the_hooks() -> None:
    from execution_plane.hooks.affiliates import PAYOUT_EVENT_TYPES

    assert common.PAYOUT_EVENTS == PAYOUT_EVENT_TYPES


def test_the_promotion_methods_the_dag_file_lists_are_the_domains() -> None:
    from execution_plane.webhooks.workflows import AffiliateOnboardingParams
    from workflows.affiliate_onboarding.domain import PROMOTION_METHODS

    schema = AffiliateOnboardingParams.model_json_schema()["properties"]["promotion_methods"]
    assert tuple(common.PROMOTION_METHODS) == PROMOTION_METHODS == tuple(schema["items"]["enum"])
