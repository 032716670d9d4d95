"""Term sheet drafting.

Band defaults and the bounds a counter-proposal can move them within:

    band      rev share (default / floor..cap)  term months (default / min..max)  exclusivity  max territories
    strong    25% / 20..30                        36 / 24..60                         yes          3
    moderate  18% / 15..22                        24 / 12..36                         no           2
    weak      12% / 10..15                        12 / 6..12                          no           1

A counter-proposal is granted up to those bounds: a request beyond a cap is clamped to it, exclusivity
is only ever granted to the strong band, and extra territories are added (sorted) up to the band's limit.
The partner's home country always stays in the territory. Every change is recorded in ``adjustments``.

An exclusive partner commits to a minimum annual revenue: 2% of its own revenue, rounded to USD 1,000 and
kept within USD 10,000..500,000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from include.domain.common import canonical_json, sha256_hex
from include.domain.documents import Section, Table, render_pdf
from workflows.partner_approval.domain.profile import PartnerProfile, country_code
from workflows.partner_approval.domain.scoring import Band, FitScore

VALIDITY_DAYS = 14
PAYMENT_TERMS_DAYS = 30
COMMITMENT_RATE = 0.02
COMMITMENT_MIN_USD = 10_000
COMMITMENT_MAX_USD = 500_000


@dataclass(frozen=True)
class BandTerms:
    revenue_share_pct: float
    share_floor: float
    share_cap: float
    term_months: int
    term_min: int
    term_max: int
    exclusivity: bool
    max_territories: int


BAND_TERMS: dict[str, BandTerms] = {
    "strong": BandTerms(25.0, 20.0, 30.0, 36, 24, 60, True, 3),
    "moderate": BandTerms(18.0, 15.0, 22.0, 24, 12, 36, False, 2),
    "weak": BandTerms(12.0, 10.0, 15.0, 12, 6, 12, False, 1),
}


class CounterProposal(BaseModel):
    """What the partner asked for; ``None`` fields are not contested."""

    model_config = ConfigDict(frozen=True)

    revenue_share_pct: float | None = Field(default=None, gt=0, le=100)
    term_months: int | None = Field(default=None, gt=0)
    exclusivity: bool | None = None
    territory: list[str] | None = None
    note: str = ""

    def is_empty(self) -> bool:
        return (
            self.revenue_share_pct is None
            and self.term_months is None
            and self.exclusivity is None
            and self.territory is None
        )


class TermSheet(BaseModel):
    model_config = ConfigDict(frozen=True)

    partner_id: str
    company: str
    partner_name: str
    revision: int
    issued_on: date
    valid_until: date
    band: Band
    fit_score: int
    terms: dict[str, Any]
    terms_sha256: str
    adjustments: list[str]
    sections: list[Section]


def terms_hash(terms: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``terms``: what the approval token and the signature bind to."""
    return sha256_hex(canonical_json(terms))


def _commitment(revenue_usd: float) -> int:
    raw = math.floor(revenue_usd * COMMITMENT_RATE / 1000 + 0.5) * 1000
    return int(max(COMMITMENT_MIN_USD, min(COMMITMENT_MAX_USD, raw)))


def _fmt_pct(x: float) -> str:
    return f"{x:g}%"


def draft_term_sheet(
    profile: PartnerProfile,
    fit: FitScore,
    *,
    revision: int,
    counter_proposal: CounterProposal | None,
    issued_on: date,
) -> TermSheet:
    """Draft revision ``revision`` of the term sheet; ``counter_proposal`` moves terms within band bounds."""
    if revision < 1:
        raise ValueError("revision starts at 1")
    bt = BAND_TERMS[fit.band]
    home = profile.country_code
    share = bt.revenue_share_pct
    months = bt.term_months
    exclusive = bt.exclusivity
    territory = [home]
    adjustments: list[str] = []

    cp = counter_proposal
    if cp is not None:
        if cp.revenue_share_pct is not None:
            granted = max(bt.share_floor, min(bt.share_cap, cp.revenue_share_pct))
            note = (
                ""
                if granted == cp.revenue_share_pct
                else f" ({fit.band} band bounds {bt.share_floor:g}-{bt.share_cap:g}%)"
            )
            adjustments.append(
                f"revenue share: requested {_fmt_pct(cp.revenue_share_pct)}, "
                f"granted {_fmt_pct(granted)}{note}"
            )
            share = granted
        if cp.term_months is not None:
            granted_m = max(bt.term_min, min(bt.term_max, cp.term_months))
            note = (
                ""
                if granted_m == cp.term_months
                else f" ({fit.band} band bounds {bt.term_min}-{bt.term_max})"
            )
            adjustments.append(f"term: requested {cp.term_months} months, granted {granted_m}{note}")
            months = granted_m
        if cp.exclusivity is not None:
            if cp.exclusivity and not bt.exclusivity:
                adjustments.append(
                    f"exclusivity: requested, refused (only strong-band partners, this is {fit.band})"
                )
            elif cp.exclusivity != exclusive:
                exclusive = cp.exclusivity
                adjustments.append(f"exclusivity: {'granted' if exclusive else 'waived at partner request'}")
        if cp.territory is not None:
            asked = sorted({country_code(c) for c in cp.territory if c.strip()} - {home})
            room = bt.max_territories - 1
            granted_t, refused_t = asked[:room], asked[room:]
            territory = [home, *granted_t]
            if granted_t:
                adjustments.append(f"territory: added {', '.join(granted_t)}")
            if refused_t:
                adjustments.append(
                    f"territory: refused {', '.join(refused_t)} "
                    f"(limit {bt.max_territories} for {fit.band} band)"
                )

    valid_until = issued_on + timedelta(days=VALIDITY_DAYS)
    terms: dict[str, Any] = {
        "partner_id": profile.partner_id,
        "company": profile.company,
        "revision": revision,
        "band": fit.band,
        "fit_score": fit.score,
        "revenue_share_pct": share,
        "term_months": months,
        "exclusivity": exclusive,
        "territory": territory,
        "payment_terms_days": PAYMENT_TERMS_DAYS,
        "minimum_annual_commitment_usd": _commitment(profile.annual_revenue_usd) if exclusive else 0,
        "issued_on": issued_on.isoformat(),
        "valid_until": valid_until.isoformat(),
    }
    digest = terms_hash(terms)
    return TermSheet(
        partner_id=profile.partner_id,
        company=profile.company,
        partner_name=profile.name,
        revision=revision,
        issued_on=issued_on,
        valid_until=valid_until,
        band=fit.band,
        fit_score=fit.score,
        terms=terms,
        terms_sha256=digest,
        adjustments=adjustments,
        sections=_sections(profile, fit, terms, adjustments, digest, cp),
    )


def _sections(
    profile: PartnerProfile,
    fit: FitScore,
    terms: dict[str, Any],
    adjustments: list[str],
    digest: str,
    cp: CounterProposal | None,
) -> list[Section]:
    commercial = Table(
        header=["Term", "Value"],
        rows=[
            ["Revenue share to partner", _fmt_pct(terms["revenue_share_pct"])],
            ["Term", f"{terms['term_months']} months"],
            ["Exclusivity", "Exclusive" if terms["exclusivity"] else "Non-exclusive"],
            ["Territory", ", ".join(terms["territory"])],
            ["Payment terms", f"{terms['payment_terms_days']} days"],
            ["Minimum annual commitment", f"USD {terms['minimum_annual_commitment_usd']:,}"],
        ],
        col_widths=[2, 3],
    )
    fit_table = Table(
        header=["Factor", "Points", "Basis"],
        rows=[[f.name, f"{f.points} / {f.weight}", f.explanation] for f in fit.factors],
        col_widths=[1.3, 0.8, 3.4],
    )
    sections = [
        Section(
            heading="Parties",
            paragraphs=[
                f"Partner: {profile.company} (partner id {profile.partner_id}), "
                f"represented by {profile.name}.",
                f"Revision {terms['revision']}, issued {terms['issued_on']}.",
            ],
        ),
        Section(heading="Commercial terms", tables=[commercial]),
        Section(
            heading="Fit assessment",
            paragraphs=[f"Fit score {fit.score}/100 ({fit.band}), scoring model {fit.version}."],
            tables=[fit_table],
        ),
    ]
    if cp is not None:
        paragraphs = [f"Partner note: {cp.note}"] if cp.note else []
        paragraphs += adjustments or ["The counter-proposal did not change any term."]
        sections.append(Section(heading="Negotiation adjustments", paragraphs=paragraphs))
    sections.append(
        Section(
            heading="Validity",
            paragraphs=[
                f"This term sheet is valid until {terms['valid_until']} and is non-binding until executed "
                "by both parties through the signature process.",
                f"Terms fingerprint (SHA-256): {digest}",
            ],
        )
    )
    return sections


def term_sheet_pdf(term_sheet: TermSheet) -> bytes:
    """PDF of ``term_sheet``; deterministic (dated by ``issued_on``)."""
    return render_pdf(
        f"Partnership Term Sheet: {term_sheet.company} (revision {term_sheet.revision})",
        term_sheet.sections,
        metadata={
            "created_at": term_sheet.issued_on.isoformat(),
            "author": "Execution Plane Partnerships",
            "subject": f"Term sheet for partner {term_sheet.partner_id}, revision {term_sheet.revision}",
            "keywords": f"terms_sha256:{term_sheet.terms_sha256}",
        },
    )
