"""Read-only data providers: company research (firmographics) and a financial data API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query

from include.sandbox import derive
from include.sandbox.provider import provider_router

research_router = provider_router("research", "/research/v1")
financials_router = provider_router("financials", "/financials/v1")


@research_router.get("/companies/{domain}")
def get_company(domain: str) -> dict[str, Any]:
    return derive.firmographics(domain.lower())


@financials_router.get("/companies/{company_id}")
def get_financials(
    company_id: str,
    end_year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    years: Annotated[int, Query(ge=1, le=10)] = 3,
) -> dict[str, Any]:
    # Default to the last complete fiscal year; pass end_year for output that never changes.
    last_full_year = datetime.now(UTC).year - 1
    return derive.financials(company_id, end_year or last_full_year, years)
