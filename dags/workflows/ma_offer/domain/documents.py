"""The offer letter (what the target, counsel, advisors and the regulator read) and the messages around it."""

from __future__ import annotations

from datetime import datetime

from include.domain.common import Message
from include.domain.documents import Section, Table, render_pdf
from workflows.ma_offer.domain.pricing import OfferTerms


def _usd(value: float) -> str:
    return f"USD {value:,.0f}"


def offer_sections(terms: OfferTerms) -> list[Section]:
    rows = [
        ["Price", _usd(terms.price_usd)],
        ["Consideration", terms.consideration],
        ["Cash at close", _usd(terms.cash_at_close_usd)],
        ["Escrow", f"{_usd(terms.escrow_usd)} ({terms.escrow_pct:g}%, {terms.escrow_months} months)"],
        ["Earn-out", _usd(terms.earn_out_usd) if terms.earn_out_usd else "none"],
    ]
    sections = [
        Section(
            heading="Parties",
            paragraphs=[
                f"Acquirer: {terms.acquirer}",
                f"Target: {terms.target_company}",
                f"Deal: {terms.deal_id}",
            ],
        ),
        Section(heading="Price and structure", tables=[Table(header=["Term", "Value"], rows=rows)]),
        Section(heading="Conditions", paragraphs=[f"- {c}" for c in terms.conditions]),
        Section(heading="Basis", paragraphs=[terms.basis]),
    ]
    if terms.changes:
        sections.append(
            Section(heading="Changes in this version", paragraphs=[f"- {c}" for c in terms.changes])
        )
    sections.append(
        Section(
            heading="Fingerprint",
            paragraphs=[f"Terms fingerprint (SHA-256 of the canonical terms JSON): {terms.terms_sha256}"],
        )
    )
    return sections


def offer_letter_pdf(terms: OfferTerms) -> bytes:
    """Deterministic (dated by ``issued_on``): a retry renders the same bytes, stored once."""
    return render_pdf(
        f"Offer to acquire {terms.target_company} (version {terms.version})",
        offer_sections(terms),
        metadata={
            "created_at": terms.issued_on.isoformat(),
            "author": terms.acquirer,
            "subject": f"Offer for deal {terms.deal_id}, version {terms.version}",
            "keywords": f"terms_sha256:{terms.terms_sha256}",
        },
    )


def offer_message(
    terms: OfferTerms, contact_name: str, *, respond_hint: str, reference: str, revised: bool = False
) -> Message:
    lines = [
        f"Dear {contact_name},",
        "",
        f"{terms.acquirer} offers to acquire {terms.target_company} on these terms"
        f" (version {terms.version}):",
        f"- Price: {_usd(terms.price_usd)} in cash",
        f"- Cash at close: {_usd(terms.cash_at_close_usd)}",
        f"- Escrow: {_usd(terms.escrow_usd)} for {terms.escrow_months} months",
    ]
    if terms.earn_out_usd:
        lines.append(f"- Earn-out: up to {_usd(terms.earn_out_usd)} on agreed milestones")
    lines += [
        "",
        "Conditions:",
        *[f"- {c}" for c in terms.conditions],
        "",
        respond_hint,
        f"Reference: {reference}",
    ]
    kind = "Revised offer" if revised else "Offer"
    return Message(subject=f"{kind} to acquire {terms.target_company}", body="\n".join(lines))


def withdrawal_notice(target_company: str, contact_name: str, acquirer: str) -> Message:
    """The target is told once that the offer is off; ``{reason}`` is filled in when it is sent."""
    return Message(
        subject=f"Withdrawal of our offer for {target_company}",
        body="\n".join(
            [
                f"Dear {contact_name},",
                "",
                f"{acquirer} withdraws its offer to acquire {target_company}, with immediate effect. "
                "Any version of the offer you received is no longer open for acceptance.",
                "Reason: {reason}",
            ]
        ),
    )


def response_request(
    terms: OfferTerms, contact_name: str, *, respond_by: datetime, reference: str
) -> Message:
    return Message(
        subject=f"Our offer for {terms.target_company}: regulatory clearance obtained",
        body="\n".join(
            [
                f"Dear {contact_name},",
                "",
                f"The transaction has regulatory clearance. Our offer (version {terms.version}, "
                f"{_usd(terms.price_usd)}) is open for your answer until {respond_by:%Y-%m-%d %H:%M} UTC: "
                "accept, counter with your price, or reject.",
                f"Reference: {reference}",
            ]
        ),
    )


def closing_notice(terms: OfferTerms, contact_name: str) -> Message:
    return Message(
        subject=f"Acquisition of {terms.target_company}: signed",
        body="\n".join(
            [
                f"Dear {contact_name},",
                "",
                f"The definitive agreement for the acquisition of {terms.target_company} by {terms.acquirer} "
                f"is signed at {_usd(terms.price_usd)} (version {terms.version}). Closing follows.",
            ]
        ),
    )
