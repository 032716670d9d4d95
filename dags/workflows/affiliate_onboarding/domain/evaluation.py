"""The evaluation of an application: hard checks (sanctions, blocked domains, a duplicate affiliate), then a
score out of 100 from the applicant's trust score and the application itself, then the decision.

| part | points |
|---|---|
| trust score (the service: the applicant's earlier onboardings, the screening's flags) | 0-100 |
| completeness (company, website, country, audience description, monthly visitors) | -10 (none) to +10 (all) |
| business email on the website's own domain | +5 |
| audience: monthly visitors | +5 from 10,000, +10 from 100,000 |
| free email provider (gmail.com, ...) | -5 |

Decision (version ``affiliate-eval-v1``):
- **reject** when a hard check fails (a sanctions match, a disposable or blocked email or website domain,
  an open affiliate account or application on the same email) or the score is under ``auto_reject_score``;
- **approve** when the score is at least ``auto_approve_score`` and nothing needs a person;
- **review** (a person decides) otherwise; a potential sanctions match always needs a person.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.affiliate_onboarding.domain.application import Application

RULES_VERSION = "affiliate-eval-v1"
Decision = Literal["approve", "review", "reject"]
ScreeningStatus = Literal["clear", "potential_match", "match"]

#: Throwaway mailboxes: an affiliate must be reachable for years, and payouts follow the email.
DISPOSABLE_EMAIL_DOMAINS = frozenset(
    {
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "tempmail.com",
        "temp-mail.org",
        "yopmail.com",
        "trashmail.com",
        "sharklasers.com",
        "getnada.com",
        "dispostable.com",
    }
)
#: Domains the affiliate programme has banned (fraud, cookie stuffing, brand bidding); subdomains included.
BLOCKED_DOMAINS = frozenset(
    {"coupon-stuffer.example", "cashback-farm.example", "clickfraud.example", "brand-bidders.example"}
)
FREE_EMAIL_DOMAINS = frozenset(
    {"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "proton.me"}
)
COMPLETENESS_FIELDS = ("company", "website", "country", "audience_description", "monthly_visitors")
MID_AUDIENCE, LARGE_AUDIENCE = 10_000, 100_000
LARGE_AUDIENCE_PLAN, STANDARD_PLAN = "growth", "starter"


class ScreeningMatch(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    entry_id: str
    listed_name: str
    strength: Literal["potential_match", "match"]
    screened: str


class Screening(BaseModel):
    """The sanctions provider's answer (``SanctionsHook.screen``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    screening_id: str
    status: ScreeningStatus
    matches: tuple[ScreeningMatch, ...] = ()
    list: str = ""


class Trust(BaseModel):
    """What the evaluation uses of the trust score service's answer."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    score: int = Field(ge=0, le=100)
    tier: str
    revision: int = 1


class Check(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str


class Part(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    points: int
    explanation: str


class Evaluation(BaseModel):
    model_config = ConfigDict(frozen=True)

    rules_version: str = RULES_VERSION
    score: int = Field(ge=0, le=100)
    decision: Decision
    reasons: tuple[str, ...]
    checks: tuple[Check, ...]
    parts: tuple[Part, ...]
    missing: tuple[str, ...]
    needs_person: bool
    commission_plan: str

    def summary(self) -> str:
        """What the reviewer reads in the approval request."""
        lines = [f"Score {self.score}/100 ({self.decision}): " + "; ".join(self.reasons)]
        lines += [f"- {p.name}: {p.points:+d} ({p.explanation})" for p in self.parts]
        lines += [f"- check {c.name}: {'passed' if c.passed else 'FAILED'} ({c.detail})" for c in self.checks]
        if self.missing:
            lines.append("- missing: " + ", ".join(self.missing))
        return "\n".join(lines)


def listed_domain(domain: str | None, listed: frozenset[str]) -> str | None:
    """The listed domain ``domain`` is, or is a subdomain of (``a.b.example`` under ``b.example``)."""
    if not domain:
        return None
    labels = domain.lower().split(".")
    for start in range(len(labels) - 1):
        candidate = ".".join(labels[start:])
        if candidate in listed:
            return candidate
    return None


def compliance_flags(screening: Screening) -> list[dict[str, str]]:
    """The screening as the trust score's compliance flags: a match is critical, a potential match high."""
    if screening.status == "match":
        return [{"code": "sanctions-match", "severity": "critical"}]
    if screening.status == "potential_match":
        return [{"code": "sanctions-potential-match", "severity": "high"}]
    return []


def missing_fields(application: Application) -> tuple[str, ...]:
    return tuple(
        name
        for name in COMPLETENESS_FIELDS
        if not (
            application.monthly_visitors > 0 if name == "monthly_visitors" else getattr(application, name)
        )
    )


def _checks(application: Application, screening: Screening, open_elsewhere: list[str]) -> list[Check]:
    if screening.status == "clear":
        sanctions = Check(name="sanctions", passed=True, detail=f"clear ({screening.screening_id})")
    else:
        hits = ", ".join(
            f"{m.screened} ~ {m.listed_name} ({m.entry_id}, {m.strength})" for m in screening.matches
        )
        sanctions = Check(
            name="sanctions",
            passed=screening.status != "match",
            detail=f"{screening.status}: {hits} ({screening.screening_id})",
        )
    checks = [sanctions]
    for field, domain in (("email", application.email_domain), ("website", application.website_domain)):
        disposable = listed_domain(domain, DISPOSABLE_EMAIL_DOMAINS) if field == "email" else None
        blocked = listed_domain(domain, BLOCKED_DOMAINS)
        if disposable:
            checks.append(Check(name=f"{field}_domain", passed=False, detail=f"{domain}: disposable email"))
        elif blocked:
            checks.append(
                Check(name=f"{field}_domain", passed=False, detail=f"{domain}: blocked ({blocked})")
            )
        elif domain:
            checks.append(Check(name=f"{field}_domain", passed=True, detail=f"{domain}: not listed"))
    checks.append(
        Check(
            name="duplicate",
            passed=not open_elsewhere,
            detail=(
                f"{application.email} is already an affiliate or applying: {', '.join(open_elsewhere)}"
                if open_elsewhere
                else f"no open affiliate or application for {application.email}"
            ),
        )
    )
    return checks


def _parts(application: Application, trust: Trust, missing: tuple[str, ...]) -> list[Part]:
    present = len(COMPLETENESS_FIELDS) - len(missing)
    parts = [
        Part(name="trust_score", points=trust.score, explanation=f"tier {trust.tier}"),
        Part(
            name="completeness",
            points=round(20 * present / len(COMPLETENESS_FIELDS)) - 10,
            explanation=f"{present} of {len(COMPLETENESS_FIELDS)} optional fields given",
        ),
    ]
    if application.website_domain and listed_domain(
        application.email_domain, frozenset({application.website_domain.removeprefix("www.")})
    ):
        parts.append(Part(name="business_email", points=5, explanation="email on the website's domain"))
    if application.email_domain in FREE_EMAIL_DOMAINS:
        parts.append(Part(name="free_email", points=-5, explanation=f"{application.email_domain} mailbox"))
    visitors = application.monthly_visitors
    if visitors >= MID_AUDIENCE:
        points = 10 if visitors >= LARGE_AUDIENCE else 5
        parts.append(Part(name="audience", points=points, explanation=f"{visitors:,} monthly visitors"))
    return parts


def evaluate(
    application: Application, screening: Screening, trust: Trust, open_elsewhere: list[str] | None = None
) -> Evaluation:
    """Evaluate ``application``. ``open_elsewhere``: the applicant's other open applications or active
    accounts (workflow ids)."""
    missing = missing_fields(application)
    checks = _checks(application, screening, list(open_elsewhere or []))
    parts = _parts(application, trust, missing)
    score = max(0, min(100, sum(p.points for p in parts)))
    failed = [f"{c.name} check failed: {c.detail}" for c in checks if not c.passed]
    needs_person = screening.status == "potential_match"
    approve_at = application.auto_approve_score
    if failed:
        decision: Decision = "reject"
        reasons = failed
    elif score < application.auto_reject_score:
        decision, reasons = "reject", [f"score {score} is under {application.auto_reject_score}"]
    elif score >= application.auto_approve_score and not needs_person:
        decision, reasons = "approve", [f"score {score} reaches {application.auto_approve_score}"]
    else:
        decision = "review"
        reasons = (
            ["a potential sanctions match needs a person"]
            if needs_person
            else [f"score {score} is between {application.auto_reject_score} and {approve_at}"]
        )
    return Evaluation(
        score=score,
        decision=decision,
        reasons=tuple(reasons),
        checks=tuple(checks),
        parts=tuple(parts),
        missing=missing,
        needs_person=needs_person,
        commission_plan=LARGE_AUDIENCE_PLAN
        if application.monthly_visitors >= LARGE_AUDIENCE
        else STANDARD_PLAN,
    )
