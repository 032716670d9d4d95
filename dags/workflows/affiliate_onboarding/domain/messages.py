"""The emails an applicant receives: where to set up payouts (once provisioned), the welcome (once active),
the decline (not approved), and the closure notice (an account provisioned and then taken back)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.affiliate_onboarding.domain.application import Application

PROGRAMME = "the Execution Plane affiliate programme"


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def payout_setup(application: Application, *, account_id: str, onboarding_url: str) -> Message:
    return Message(
        subject="Your affiliate application is approved: set up your payouts",
        body=(
            f"Hello {application.applicant_name},\n\n"
            f"Your application to {PROGRAMME} is approved and your affiliate account {account_id} is ready.\n"
            f"One step is left: give our payout provider your {application.payout_method.replace('_', ' ')} "
            f"details ({application.payout_currency}) at\n{onboarding_url}\n\n"
            "Once the provider has verified them, we activate your account and send your tracking links."
        ),
    )


def welcome(
    application: Application, *, account_id: str, commission_plan: str, links: list[dict[str, str]]
) -> Message:
    listed = "\n".join(f"- {link['destination']}: {link['url']}" for link in links)
    return Message(
        subject=f"Welcome to {PROGRAMME}",
        body=(
            f"Hello {application.applicant_name},\n\n"
            f"Your affiliate account {account_id} is active on the {commission_plan} commission plan, and "
            f"your payouts are set up.\nYour tracking links:\n{listed}\n\n"
            "Every sale through them is credited to you. Welcome aboard."
        ),
    )


def declined(application: Application) -> Message:
    """Deliberately without the reason: sanctions and fraud checks are not disclosed to applicants."""
    return Message(
        subject="Your affiliate application",
        body=(
            f"Hello {application.applicant_name},\n\n"
            f"Thank you for applying to {PROGRAMME}. After review we are not able to accept your application "
            "at this time. You are welcome to apply again in six months."
        ),
    )


CLOSURE_SUBJECT = "Your affiliate account is closed"
CLOSURE_BODY = (
    "We could not complete your onboarding to the Execution Plane affiliate programme, so your affiliate "
    "account is closed, its tracking links no longer work and your payout profile is removed. Nothing was "
    "charged. Reply to this email if you think this is a mistake."
)
