"""Affiliate onboarding's business rules. Pure: no Airflow, no toolkit, no I/O.

API:
    parse_application(params) -> Application   (raises BadApplication naming the field)
    evaluate(application, screening, trust, open_elsewhere) -> Evaluation(score, decision: approve | review
        | reject, reasons, checks, parts, missing, needs_person, commission_plan)
    compliance_flags(screening) -> the trust score's compliance flags
    payout_setup(...), welcome(...), declined(...) -> Message; CLOSURE_SUBJECT, CLOSURE_BODY
"""

from __future__ import annotations

from workflows.affiliate_onboarding.domain.application import (
    PAYOUT_METHODS,
    PROMOTION_METHODS,
    Application,
    BadApplication,
    parse_application,
)
from workflows.affiliate_onboarding.domain.evaluation import (
    BLOCKED_DOMAINS,
    DISPOSABLE_EMAIL_DOMAINS,
    RULES_VERSION,
    Evaluation,
    Screening,
    Trust,
    compliance_flags,
    evaluate,
    listed_domain,
    missing_fields,
)
from workflows.affiliate_onboarding.domain.messages import (
    CLOSURE_BODY,
    CLOSURE_SUBJECT,
    Message,
    declined,
    payout_setup,
    welcome,
)

__all__ = [
    "BLOCKED_DOMAINS",
    "CLOSURE_BODY",
    "CLOSURE_SUBJECT",
    "DISPOSABLE_EMAIL_DOMAINS",
    "PAYOUT_METHODS",
    "PROMOTION_METHODS",
    "RULES_VERSION",
    "Application",
    "BadApplication",
    "Evaluation",
    "Message",
    "Screening",
    "Trust",
    "compliance_flags",
    "declined",
    "evaluate",
    "listed_domain",
    "missing_fields",
    "parse_application",
    "payout_setup",
    "welcome",
]
