"""Distractor chunks for the retrieval benchmark: deterministic, business-like text in the vocabulary of the
labelled documents (fees, exclusivity, escrow, payouts, vulnerabilities, VAT...) about other companies and
other figures, so they compete with the real answers instead of being trivially far away."""

from __future__ import annotations

import random
from collections.abc import Iterator

from pydantic import BaseModel

_STEMS = (
    "Cedar",
    "Harbor",
    "Quanta",
    "Solace",
    "Vertex",
    "Nimbus",
    "Atlas",
    "Falcon",
    "Meridian",
    "Oasis",
    "Pioneer",
    "Summit",
    "Zenith",
    "Aurora",
    "Beacon",
    "Crescent",
    "Delta",
    "Emerald",
    "Frontier",
    "Granite",
    "Horizon",
)
_SECTORS = ("Logistics", "Health", "Fintech", "Robotics", "Retail", "Energy", "Telecom", "Analytics", "Foods")
_SUFFIXES = ("GmbH", "Ltd", "FZ-LLC", "Inc", "SAS", "B.V.", "LLC", "AB")
_KINDS = ("term_sheet", "dd_finding", "memo", "playbook")
_SECTIONS = {
    "term_sheet": (
        "Commercial terms",
        "Exclusivity",
        "Term and renewal",
        "Payouts",
        "Liability",
        "Governing law",
    ),
    "dd_finding": (
        "Revenue",
        "Customer concentration",
        "Security controls",
        "Litigation",
        "Employees",
        "Tax",
    ),
    "memo": ("Recommendation", "Valuation", "Risks", "Integration", "Pricing", "Timeline"),
    "playbook": ("Preparation", "Follow-up", "Escalation", "Training", "Access", "Reporting"),
}
_REGIONS = ("the Nordics", "Benelux", "Iberia", "the GCC", "Egypt", "the UK", "France", "Poland", "Turkey")
_TEMPLATES = (
    "{company} receives a commission of {pct}% of net revenue, paid {period} in {currency}.",
    "The minimum commitment is {n} orders per {unit}; below it the rate falls to {pct2}%.",
    "Exclusivity in {region} lasts {months} months if targets are met in {k} of {k2} quarters.",
    "Either party may terminate after month {months} with {days} days notice and a fee of {pct2}% of fees.",
    "The agreement renews for {months2} months unless notice is given {days} days before renewal.",
    "Liability is capped at {x} times the fees of the previous {months2} months.",
    "Disputes go to arbitration in {city} under the rules of the {forum}.",
    "Revenue of {currency} {money} million was recognised early and moves to deferred revenue.",
    "The top {k} customers make up {pct}% of recurring revenue; the largest renews in {month}.",
    "The penetration test found {n} high findings open for more than {days} days.",
    "Administrator accounts of {k} former staff were still active during the review.",
    "{company} is in a dispute with {other} over a supply contract worth {currency} {money} million.",
    "The option pool is {pct}% of diluted shares and vests over {k} years with a one-year cliff.",
    "The deal team proposes {currency} {money} million with {pct2}% held back for {months} months.",
    "Quotes in {region} carry VAT at {pct2}% and use local currency where the customer asks.",
    "Sales managers may discount up to {pct2}%; larger discounts need the approval of the {role}.",
    "Follow up within {days} days and log the next step in the CRM before the weekly review.",
    "Escalate to the {role} when a deadline is missed by more than {k} business days.",
    "Training lasts {n} minutes and access to the portal follows the training.",
    "Documents are archived for {k} years and access is removed within {k2} days of the end of the project.",
)
_ROLES = ("deal desk", "CFO", "regional director", "DD lead", "general counsel", "partner manager")
_CITIES = ("Paris", "Singapore", "Stockholm", "Geneva", "Riyadh", "Cairo", "Amsterdam", "Vienna")
_FORUMS = ("ICC", "SIAC", "SCC", "SCCA", "CRCICA", "NAI", "VIAC")
_MONTHS = ("January", "April", "June", "October", "November", "December")


class SyntheticChunk(BaseModel):
    document_id: str
    kind: str
    title: str
    section: str
    text: str


def _company(rng: random.Random) -> str:
    return f"{rng.choice(_STEMS)} {rng.choice(_SECTORS)} {rng.choice(_SUFFIXES)}"


def distractor_chunks(count: int, seed: int = 7, chunks_per_document: int = 6) -> Iterator[SyntheticChunk]:
    rng = random.Random(seed)
    for i in range(count):
        doc = i // chunks_per_document
        doc_rng = random.Random(seed * 1_000_003 + doc)
        kind = _KINDS[doc % len(_KINDS)]
        company = _company(doc_rng)
        sentences = []
        for template in rng.sample(_TEMPLATES, rng.randint(3, 5)):
            sentences.append(
                template.format(
                    company=company,
                    other=_company(rng),
                    pct=rng.randint(5, 45),
                    pct2=rng.randint(1, 30),
                    period=rng.choice(("monthly", "quarterly", "yearly")),
                    currency=rng.choice(("USD", "EUR", "GBP", "SAR", "AED", "EGP")),
                    n=rng.randint(20, 5000),
                    unit=rng.choice(("month", "quarter", "year")),
                    region=rng.choice(_REGIONS),
                    months=rng.choice((6, 9, 12, 18, 30, 48)),
                    months2=rng.choice((6, 12, 24)),
                    k=rng.randint(2, 9),
                    k2=rng.randint(3, 12),
                    days=rng.choice((7, 14, 21, 45, 60, 120)),
                    x=rng.choice(("one", "two", "three")),
                    city=rng.choice(_CITIES),
                    forum=rng.choice(_FORUMS),
                    money=round(rng.uniform(0.2, 90.0), 1),
                    month=rng.choice(_MONTHS),
                    role=rng.choice(_ROLES),
                )
            )
        yield SyntheticChunk(
            document_id=f"synthetic-{seed}-{doc:06d}",
            kind=kind,
            title=f"{company} - {kind.replace('_', ' ')}",
            section=rng.choice(_SECTIONS[kind]),
            text=" ".join(sentences),
        )
