"""The trust score rules (version ``trust-v1``).

Everyone starts at 50 (no history: neither trusted nor suspect); each factor moves the score:

| factor | points |
|---|---|
| workflow history | +20 x (completed - compensated - ended badly) / all ended, scaled by volume (full at 5) |
| payment record | +15 x on-time share - 10 x late share - 15 per default (at most -30); -5 if overdue |
| compliance flags | unresolved: critical -40, high -15, medium -6, low -2; resolved: a quarter; at most -50 |
| signatures | +15 x signed share - 15 x unsigned (declined, expired, voided) share, x volume (full at 3) |

Tier: an unresolved critical compliance flag is ``restricted`` whatever the score; otherwise trusted
>= 75, standard >= 55, watch >= 35, restricted below.
"""

from __future__ import annotations

from include.services.common import Factor, clamp_score
from include.services.trust_score.models import (
    History,
    PaymentRecord,
    Tier,
    TrustScore,
    TrustScoreRequest,
)

RULES_VERSION = "trust-v1"
BASE = 50.0
FULL_WORKFLOW_VOLUME = 5
FULL_SIGNATURE_VOLUME = 3
FLAG_POINTS = {"critical": 40.0, "high": 15.0, "medium": 6.0, "low": 2.0}
RESOLVED_SHARE = 0.25
MAX_COMPLIANCE_PENALTY = 50.0
TRUSTED, STANDARD, WATCH = 75, 55, 35


def workflow_factor(history: History) -> Factor:
    ended = history.completed + history.compensated + history.ended_badly
    if ended == 0:
        return Factor(
            name="workflow_history",
            points=0,
            max_points=20,
            explanation=f"no ended workflows ({history.running} running)",
        )
    balance = (history.completed - history.compensated - history.ended_badly) / ended
    volume = min(1.0, ended / FULL_WORKFLOW_VOLUME)
    points = round(20 * balance * volume, 1)
    return Factor(
        name="workflow_history",
        points=points,
        max_points=20,
        explanation=(
            f"{history.completed} completed, {history.compensated} compensated, {history.ended_badly} ended "
            f"badly of {ended} ended ({history.running} running); volume weight {volume:.1f}"
        ),
    )


def payment_factor(payments: PaymentRecord | None) -> Factor:
    if payments is None or payments.invoices == 0:
        return Factor(name="payment_record", points=0, max_points=15, explanation="no invoices on record")
    n = payments.invoices
    points = 15 * payments.paid_on_time / n - 10 * payments.paid_late / n - min(30, 15 * payments.defaulted)
    overdue = ""
    if payments.overdue_usd > 0:
        points -= 5
        overdue = f"; {payments.overdue_usd:,.0f} USD overdue (-5)"
    return Factor(
        name="payment_record",
        points=round(points, 1),
        max_points=15,
        explanation=(
            f"{payments.paid_on_time} of {n} invoices paid on time, {payments.paid_late} late, "
            f"{payments.defaulted} defaulted{overdue}"
        ),
    )


def compliance_factor(request: TrustScoreRequest) -> Factor:
    if not request.compliance_flags:
        return Factor(name="compliance", points=0, max_points=0, explanation="no compliance flags")
    penalty = sum(
        FLAG_POINTS[f.severity] * (RESOLVED_SHARE if f.resolved else 1) for f in request.compliance_flags
    )
    listed = ", ".join(
        f"{f.code} ({f.severity}{', resolved' if f.resolved else ''})" for f in request.compliance_flags
    )
    capped = min(penalty, MAX_COMPLIANCE_PENALTY)
    return Factor(
        name="compliance",
        points=-round(capped, 1),
        max_points=0,
        explanation=f"{listed}" + (f" (capped at -{MAX_COMPLIANCE_PENALTY:g})" if penalty > capped else ""),
    )


def signature_factor(history: History) -> Factor:
    s = history.signatures
    unsigned = s.declined + s.expired + s.voided
    decided = s.signed + unsigned
    if decided == 0:
        return Factor(
            name="signature_behaviour",
            points=0,
            max_points=15,
            explanation=f"no decided signature requests ({s.pending} pending)",
        )
    volume = min(1.0, decided / FULL_SIGNATURE_VOLUME)
    points = round((15 * s.signed / decided - 15 * unsigned / decided) * volume, 1)
    return Factor(
        name="signature_behaviour",
        points=points,
        max_points=15,
        explanation=(
            f"{s.signed} signed, {s.declined} declined, {s.expired} expired, {s.voided} voided "
            f"({s.pending} pending); "
            f"volume weight {volume:.1f}"
        ),
    )


def tier_for(score: int, *, unresolved_critical: bool) -> Tier:
    if unresolved_critical:
        return "restricted"
    if score >= TRUSTED:
        return "trusted"
    if score >= STANDARD:
        return "standard"
    return "watch" if score >= WATCH else "restricted"


def score_trust(request: TrustScoreRequest, history: History) -> TrustScore:
    factors = [
        Factor(name="base", points=BASE, max_points=BASE, explanation="everyone starts neutral"),
        workflow_factor(history),
        payment_factor(request.payments),
        compliance_factor(request),
        signature_factor(history),
    ]
    score = clamp_score(sum(f.points for f in factors))
    critical = any(f.severity == "critical" and not f.resolved for f in request.compliance_flags)
    return TrustScore(
        subject_type=request.subject_type,
        subject_id=request.subject_id,
        score=score,
        tier=tier_for(score, unresolved_critical=critical),
        factors=factors,
        rules_version=RULES_VERSION,
        history=history,
    )
