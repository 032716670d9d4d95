"""Enrichment below the DAG, against the sandbox's research and financial APIs and the business database:
cached per company, rate limits waited out as told, partial data with the reason of each gap."""

from __future__ import annotations

import uuid
from typing import Any

from execution_plane.hooks.research import FinancialsHook, ResearchHook
from workflows.lead_qualification.enrichment import company_enrichment


def hooks(budget_s: float = 30) -> tuple[ResearchHook, FinancialsHook]:
    return ResearchHook(max_wait_s=budget_s), FinancialsHook(max_wait_s=budget_s)


def enrich(
    db: Any, domain: str | None, *, budget_s: float = 30, cache_hours: float = 24
) -> tuple[Any, str, Any]:
    research, financials = hooks(budget_s)
    with db.cursor() as cur:
        enrichment, source = company_enrichment(
            cur, domain, cache_hours=cache_hours, research=research, financials=financials
        )
    return enrichment, source, research


def cached(db: Any, domain: str) -> tuple[Any, ...]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT company_id, missing, round(extract(epoch FROM expires_at - fetched_at))"
            " FROM company_enrichments"
            " WHERE domain = %s",
            (domain,),
        )
        row: tuple[Any, ...] = cur.fetchone()
    return row


def test_a_company_is_asked_about_once_then_read_from_the_cache(sandbox: Any, business_db: Any) -> None:
    domain = f"acme-{uuid.uuid4().hex[:8]}.example"
    first, source, _ = enrich(business_db, domain)
    assert source == "providers" and not first.partial
    assert first.company_id and first.employees and first.fiscal_year and first.revenue_usd
    assert cached(business_db, domain) == (first.company_id, [], 24 * 3600)

    # The providers are down now: the cache answers, the same enrichment.
    sandbox.post("/_sandbox/faults", {"system": "research", "mode": "error", "status": 503, "count": 5})
    again, source, _ = enrich(business_db, domain)
    assert (again, source) == (first, "cache")


def test_rate_limits_are_waited_out_as_told(sandbox: Any, business_db: Any) -> None:
    sandbox.post("/_sandbox/rate-limits", {"system": "research", "limit": 1, "window_s": 1})
    enrich(business_db, f"one-{uuid.uuid4().hex[:8]}.example")
    enrichment, source, research = enrich(business_db, f"two-{uuid.uuid4().hex[:8]}.example")
    assert (source, enrichment.partial, research.waits) == ("providers", False, 1)


def test_a_limit_beyond_the_budget_leaves_a_transient_gap_cached_briefly(
    sandbox: Any, business_db: Any
) -> None:
    sandbox.post("/_sandbox/rate-limits", {"system": "financials", "limit": 1, "window_s": 60})
    enrich(business_db, f"first-{uuid.uuid4().hex[:8]}.example")
    domain = f"late-{uuid.uuid4().hex[:8]}.example"
    enrichment, _, _ = enrich(business_db, domain, budget_s=5)
    assert enrichment.employees and enrichment.revenue_usd is None
    assert enrichment.missing() == ["financials: rate limited beyond the 5 s waiting budget (transient)"]
    _, missing, seconds = cached(business_db, domain)
    assert missing == enrichment.missing() and seconds == 15 * 60


def test_an_unknown_company_and_a_free_mail_lead_are_definitive_gaps(sandbox: Any, business_db: Any) -> None:
    domain = f"ghost-{uuid.uuid4().hex[:8]}.invalid"
    unknown, source, _ = enrich(business_db, domain)
    assert source == "providers" and unknown.employees is None
    assert unknown.missing() == [
        "research: company not known to the provider",
        "financials: no company id from research",
    ]
    assert cached(business_db, domain)[2] == 24 * 3600
    nobody, source, _ = enrich(business_db, None)
    assert source == "none" and nobody.missing() == ["research: no company domain (free-mail contact)"]
