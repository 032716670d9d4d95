"""What the launch tells people: partners, the market's users, the regulator and the launch lead."""

from __future__ import annotations

from include.domain.common import Message
from workflows.geo_expansion_launch.domain.plan import LaunchPlan, LocalPartner


def filing_summary(plan: LaunchPlan) -> str:
    """The market-entry filing's summary, as the regulator's portal shows it."""
    partners = ", ".join(f"{p.name} ({p.partner_id})" for p in plan.partners)
    return (
        f"Market entry: launch of the service in {plan.market_name} ({plan.market}), hosted in "
        f"{plan.region} ({plan.region_country}), with local partners {partners}. Rollout to users in steps "
        f"of {', '.join(f'{pct}%' for pct in plan.rollout_steps_pct)}, then 100%."
    )


def partner_launch_cancelled(plan: LaunchPlan, partner: LocalPartner, reason: str) -> Message:
    """To a partner whose contract was signed: the launch it was signed for will not go ahead."""
    body = "\n".join(
        [
            f"Dear {partner.signer_name},",
            f"We have stopped the launch of our service in {plan.market_name}, for which {partner.name} "
            f"signed the local partnership agreement (deal {partner.deal_id}).",
            f"Reason: {reason}",
            "Our partnerships team will contact you about the agreement's terms for a launch that does not "
            "proceed. Thank you for your work with us.",
        ]
    )
    return Message(subject=f"Launch in {plan.market_name} stopped", body=body)


def users_rollback_notice(plan: LaunchPlan) -> Message:
    """To each user who saw the market's early access: it is switched off (sent once per user)."""
    return Message(
        subject=f"Early access in {plan.market_name} has ended",
        body=(
            f"Thank you for trying our service in {plan.market_name}. The early access you were part of has "
            "been switched off while we improve it. Nothing was charged for the early access, and your "
            "account stays as it was. We will tell you when the service is available again."
        ),
    )


def launch_announcement(plan: LaunchPlan) -> Message:
    """To every user of the market, once the full launch is live."""
    return Message(
        subject=f"We are live in {plan.market_name}",
        body=(
            f"Our service is now available to everyone in {plan.market_name}, with local prices, local "
            "payment methods and local support. Thank you for being with us from the start."
        ),
    )


def scale_decision_request(
    plan: LaunchPlan, round_no: int, share_pct: int, evaluation: str, options: list[str]
) -> str:
    """What the launch lead reads in the scale decision after round ``round_no`` (``evaluation``: the
    canary's evaluation summary)."""
    return (
        f"Launch in {plan.market_name} ({plan.market}), round {round_no}: {share_pct}% of users. "
        f"Canary {evaluation}. Choose {', '.join(options)}; add a comment."
    )
