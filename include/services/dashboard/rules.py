"""The dashboard's rules: windows, overdue, error rates, the lead funnel."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from include.services.dashboard.models import ErrorRate, FunnelStep, LeadFunnel

COMPENSATION_WINDOWS_DAYS = (7, 30)
ERROR_RATE_WINDOW_HOURS = 24
DEFAULT_OVERDUE_AFTER_HOURS = 48.0
# The CRM lifecycle a lead goes through; "lost" leaves it at any point.
FUNNEL_STAGES = ("new", "contacted", "qualified", "proposal", "won")


@dataclass(frozen=True)
class Window:
    """Every cut-off of one dashboard answer, from one ``now`` (the queries see the same instant)."""

    now: datetime
    overdue_after_hours: float
    overdue_before: datetime
    compensations_since: dict[str, datetime]
    errors_since: datetime


def windows(now: datetime, *, overdue_after_hours: float = DEFAULT_OVERDUE_AFTER_HOURS) -> Window:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if overdue_after_hours <= 0:
        raise ValueError("overdue_after_hours must be positive")
    return Window(
        now=now,
        overdue_after_hours=overdue_after_hours,
        overdue_before=now - timedelta(hours=overdue_after_hours),
        compensations_since={f"{d}d": now - timedelta(days=d) for d in COMPENSATION_WINDOWS_DAYS},
        errors_since=now - timedelta(hours=ERROR_RATE_WINDOW_HOURS),
    )


def error_rates(rows: Iterable[tuple[str, int, int]]) -> list[ErrorRate]:
    """(system, calls, errors) -> rates, worst first; a system with no calls has no rate to show."""
    rates = [
        ErrorRate(system=system, calls=calls, errors=errors, error_rate=round(errors / calls, 4))
        for system, calls, errors in rows
        if calls > 0
    ]
    return sorted(rates, key=lambda r: (-r.error_rate, r.system))


def lead_funnel(by_stage_band: Mapping[tuple[str, str], int]) -> LeadFunnel:
    """Counts by (CRM stage, score band) -> the funnel: how many reached each stage (a lead at "proposal"
    went through "qualified"), the conversion from the stage before, the lost ones beside it."""
    at_stage = {stage: 0 for stage in FUNNEL_STAGES}
    by_band: dict[str, int] = {}
    lost = 0
    for (stage, band), n in by_stage_band.items():
        by_band[band] = by_band.get(band, 0) + n
        if stage == "lost":
            lost += n
        elif stage in at_stage:
            at_stage[stage] += n
        else:
            raise ValueError(f"unknown lead stage {stage!r}")
    steps: list[FunnelStep] = []
    previous: int | None = None
    for i, stage in enumerate(FUNNEL_STAGES):
        reached = sum(at_stage[s] for s in FUNNEL_STAGES[i:])
        conversion = None if previous is None else (round(reached / previous, 4) if previous else None)
        steps.append(
            FunnelStep(
                stage=stage, at_stage=at_stage[stage], reached=reached, conversion_from_previous=conversion
            )
        )
        previous = reached
    return LeadFunnel(
        steps=steps, lost=lost, by_band=dict(sorted(by_band.items())), scored=sum(by_band.values())
    )
