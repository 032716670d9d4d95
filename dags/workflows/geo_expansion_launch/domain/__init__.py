"""Geographic Expansion Launch: the launch plan, readiness, canary guardrails, rollout and messages.

API:
    LaunchPlan(market, market_name, region, partners: tuple[LocalPartner, ...], rollout_steps_pct)
        .region_country, .canary_pct, .flag_key(request_id), .partner(partner_id)
    LocalPartner(partner_id, deal_id, name, signer_email, signer_name, terms).stage   (its child's stage)
    REGION_COUNTRY: region -> country its data stays in
    child_wait_hours(signature_timeout_hours) -> float     (the parent's wait: the child's deadline + grace)
    ReadinessChecklist(localization_complete, pricing_in_local_currency, tax_registration,
                       support_coverage_hours, payment_methods, privacy_review, data_residency_required)
    assess_readiness(plan, checklist) -> ReadinessReport(market, ready, checks).failed / .reason()
    Guardrails(max_error_rate, max_p95_latency_ms, min_conversion_ratio, min_sample_size)
    CanaryFigures(sample_size, error_rate, p95_latency_ms, conversion_rate, baseline_conversion_rate)
    evaluate_canary(figures, guardrails) -> CanaryEvaluation(verdict: pass|breach|inconclusive, checks)
        .breaches / .summary()
    next_share(steps_pct, current_pct, *, widen, last_round)
        -> NextShare(full_launch, share_pct, widened).route
    filing_summary(plan) -> str; scale_decision_request(plan, round_no, share_pct, evaluation, options) -> str
    partner_launch_cancelled(plan, partner, reason), users_rollback_notice(plan),
    launch_announcement(plan) -> Message
"""

from __future__ import annotations

from include.domain.common import Message
from workflows.geo_expansion_launch.domain.guardrails import (
    CanaryEvaluation,
    CanaryFigures,
    GuardrailCheck,
    Guardrails,
    evaluate_canary,
)
from workflows.geo_expansion_launch.domain.messages import (
    filing_summary,
    launch_announcement,
    partner_launch_cancelled,
    scale_decision_request,
    users_rollback_notice,
)
from workflows.geo_expansion_launch.domain.plan import (
    REGION_COUNTRY,
    LaunchPlan,
    LocalPartner,
    child_wait_hours,
)
from workflows.geo_expansion_launch.domain.readiness import (
    MIN_SUPPORT_HOURS,
    ReadinessCheck,
    ReadinessChecklist,
    ReadinessReport,
    assess_readiness,
)
from workflows.geo_expansion_launch.domain.rollout import FULL_SHARE, NextShare, next_share

__all__ = [
    "FULL_SHARE",
    "MIN_SUPPORT_HOURS",
    "REGION_COUNTRY",
    "CanaryEvaluation",
    "CanaryFigures",
    "GuardrailCheck",
    "Guardrails",
    "LaunchPlan",
    "LocalPartner",
    "Message",
    "NextShare",
    "ReadinessCheck",
    "ReadinessChecklist",
    "ReadinessReport",
    "assess_readiness",
    "child_wait_hours",
    "evaluate_canary",
    "filing_summary",
    "launch_announcement",
    "next_share",
    "partner_launch_cancelled",
    "scale_decision_request",
    "users_rollback_notice",
]
