"""Messages to the partner (channel-neutral: the caller sends them by email and/or WhatsApp)."""

from __future__ import annotations

from datetime import date

from include.domain.common import Message
from workflows.partner_approval.domain.profile import PartnerProfile
from workflows.partner_approval.domain.term_sheet import TermSheet

STAGE_LABELS: dict[str, str] = {
    "fit_screening": "initial fit screening",
    "manager_approval": "partnership manager review",
    "legal_review": "legal review",
    "negotiation": "term negotiation",
    "executive_approval": "executive approval",
    "activation": "activation",
}
# Stages reached after terms were sent: the rejection must also withdraw the outstanding term sheet.
TERMS_SENT_STAGES = frozenset({"negotiation", "executive_approval", "activation"})


def terms_message(profile: PartnerProfile, term_sheet: TermSheet) -> Message:
    t = term_sheet.terms
    lines = [
        f"Dear {profile.name},",
        "",
        f"Please find the partnership terms for {profile.company} (revision {term_sheet.revision}):",
        f"- Revenue share: {t['revenue_share_pct']:g}%",
        f"- Term: {t['term_months']} months",
        f"- Exclusivity: {'exclusive' if t['exclusivity'] else 'non-exclusive'}",
        f"- Territory: {', '.join(t['territory'])}",
        f"- Payment terms: {t['payment_terms_days']} days",
    ]
    if t["minimum_annual_commitment_usd"]:
        lines.append(f"- Minimum annual commitment: USD {t['minimum_annual_commitment_usd']:,}")
    lines += [
        "",
        f"These terms are valid until {term_sheet.valid_until.isoformat()}. "
        "Please reply to accept, decline, or propose changes.",
        f"Reference: {term_sheet.terms_sha256[:16]}",
    ]
    return Message(
        subject=f"Partnership terms for {profile.company} (revision {term_sheet.revision})",
        body="\n".join(lines),
    )


def rejection_message(profile: PartnerProfile, stage: str, reason: str) -> Message:
    label = STAGE_LABELS.get(stage, stage.replace("_", " "))
    lines = [
        f"Dear {profile.name},",
        "",
        f"Thank you for your interest in partnering with us. After {label}, we are not able to proceed "
        f"with the partnership with {profile.company} at this time.",
    ]
    if reason.strip():
        lines.append(f"Reason: {reason.strip()}")
    if stage in TERMS_SENT_STAGES:
        lines.append("The term sheet previously sent to you is withdrawn and is no longer valid.")
    lines += ["", "We appreciate the time you invested and hope to work together in the future."]
    return Message(
        subject=f"Update on your partnership application ({profile.company})", body="\n".join(lines)
    )


def activation_message(profile: PartnerProfile, term_sheet: TermSheet, *, activated_on: date) -> Message:
    t = term_sheet.terms
    body = "\n".join(
        [
            f"Dear {profile.name},",
            "",
            f"Welcome aboard: {profile.company} is an active partner as of {activated_on.isoformat()}.",
            f"Your agreement (revision {term_sheet.revision}) runs for {t['term_months']} months "
            f"in {', '.join(t['territory'])} with a {t['revenue_share_pct']:g}% revenue share.",
            f"Partner id: {profile.partner_id}. Your partner manager will contact you about onboarding.",
        ]
    )
    return Message(subject=f"Partnership activated: {profile.company}", body=body)
