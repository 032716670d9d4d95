"""Enriched: each lead's company from the company research and financial data APIs.

- **Cached per company** (``company_enrichments``, by domain) for ``enrichment_cache_hours``: a company seen
  by any run in that time is not asked about again. A transaction-scoped advisory lock on the domain makes
  runs enriching the same company at once ask the providers once; the others read the cache.
- **Rate limits honoured**: the hooks wait out ``429 Retry-After`` up to ``rate_limit_wait_s`` per request.
- **Partial data allowed**: a source that cannot answer (unknown company, rate limit beyond the budget,
  outage) leaves a gap with its reason and the lead goes on. A transient gap is cached for
  ``RETRY_GAPS_AFTER_HOURS`` only, so a later lead of the same company asks again soon.

Each lead's enrichment is one ledger step (``enrich.<lead_id>``): a retry replays it, the cache is not read
twice for the same lead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, step
from workflows.lead_qualification.common import RETRY_GAPS_AFTER_HOURS

if TYPE_CHECKING:
    from execution_plane.hooks.research import FinancialsHook, ResearchHook
    from workflows.lead_qualification.domain import Enrichment, SourceGap


def _gap(source: str, exc: Exception, budget_s: float) -> SourceGap:
    from execution_plane.hooks.http import ProviderError
    from workflows.lead_qualification.domain import SourceGap

    if isinstance(exc, ProviderError):
        if exc.status == 404:
            return SourceGap(source=source, reason="company not known to the provider", transient=False)  # type: ignore[arg-type]
        if exc.status == 429:
            reason = f"rate limited beyond the {budget_s:g} s waiting budget"
        elif exc.status == 0:
            reason = "provider unreachable"
        else:
            reason = f"provider answered HTTP {exc.status}"
        return SourceGap(source=source, reason=reason, transient=exc.retryable)  # type: ignore[arg-type]
    raise exc


def fetch_company(
    domain: str, research: ResearchHook, financials: FinancialsHook
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[SourceGap]]:
    """Firmographics by domain, then financials by the company id research gave (a gap for what failed)."""
    from execution_plane.hooks.http import ProviderError
    from workflows.lead_qualification.domain import SourceGap

    gaps: list[SourceGap] = []
    firmographics = financial = None
    try:
        firmographics = research.company(domain)
    except ProviderError as exc:
        gaps.append(_gap("research", exc, research.max_wait_s))
    company_id = (firmographics or {}).get("company_id")
    if company_id:
        try:
            financial = financials.company(str(company_id))
        except ProviderError as exc:
            gaps.append(_gap("financials", exc, financials.max_wait_s))
    else:
        transient = any(gap.transient for gap in gaps)
        gaps.append(SourceGap(source="financials", reason="no company id from research", transient=transient))
    return firmographics, financial, gaps


def company_enrichment(
    cur: Any,
    domain: str | None,
    *,
    cache_hours: float,
    research: ResearchHook,
    financials: FinancialsHook,
) -> tuple[Enrichment, str]:
    """(enrichment, where it came from: ``cache`` / ``providers`` / ``none``) of the company at ``domain``."""
    from workflows.lead_qualification.domain import SourceGap, enrichment_from

    if domain is None:
        gap = SourceGap(source="research", reason="no company domain (free-mail contact)", transient=False)
        return enrichment_from(None, None, None, [gap]), "none"
    # Runs enriching the same company queue here; the first asks the providers, the others read its row.
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"company_enrichment:{domain}",))
    cur.execute(
        "SELECT firmographics, financials, missing FROM company_enrichments"
        " WHERE domain = %s AND expires_at > now()",
        (domain,),
    )
    row = cur.fetchone()
    if row is not None:
        firmographics, financial, missing = row
        return enrichment_from(
            domain, firmographics, financial, [SourceGap.from_text(m) for m in missing]
        ), "cache"
    firmographics, financial, gaps = fetch_company(domain, research, financials)
    enrichment = enrichment_from(domain, firmographics, financial, gaps)
    hours = min(cache_hours, RETRY_GAPS_AFTER_HOURS) if enrichment.transient_gaps else cache_hours
    cur.execute(
        "INSERT INTO company_enrichments (domain, company_id, firmographics, financials, missing, fetched_at,"
        " expires_at) VALUES (%s, %s, %s::jsonb, %s::jsonb, %s, now(), now() + make_interval(secs => %s))"
        " ON CONFLICT (domain) DO UPDATE SET company_id = EXCLUDED.company_id,"
        " firmographics = EXCLUDED.firmographics, financials = EXCLUDED.financials,"
        " missing = EXCLUDED.missing, fetched_at = EXCLUDED.fetched_at, expires_at = EXCLUDED.expires_at",
        (
            domain,
            enrichment.company_id,
            json.dumps(firmographics) if firmographics is not None else None,
            json.dumps(financial) if financial is not None else None,
            enrichment.missing(),
            hours * 3600,
        ),
    )
    return enrichment, "providers"


@step
def enrich(run: Run, captured: dict[str, Any]) -> dict[str, Any]:
    """Enrich every lead of the run (see the module docstring); returns per lead where its data came from."""
    from execution_plane.hooks.research import FinancialsHook, ResearchHook
    from workflows.lead_qualification.common import lead_rows
    from workflows.lead_qualification.domain import CrmLead, company_domain

    budget_s = float(run.params["rate_limit_wait_s"])
    cache_hours = float(run.params["enrichment_cache_hours"])
    enriched: dict[str, dict[str, Any]] = {}
    with (
        ResearchHook(max_wait_s=budget_s) as research,
        FinancialsHook(max_wait_s=budget_s) as financials,
        run.saga as saga,
    ):
        with saga.conn() as conn, conn.cursor() as cur:
            rows = {row["lead_id"]: row for row in lead_rows(cur, saga.workflow_id)}
        for lead_id in captured["lead_ids"]:
            lead = CrmLead.model_validate(rows[lead_id]["lead"])
            domain = company_domain(lead)

            def write(cur: Any, lead_id: str = lead_id, domain: str | None = domain) -> dict[str, Any]:
                waits = research.waits + financials.waits
                enrichment, source = company_enrichment(
                    cur, domain, cache_hours=cache_hours, research=research, financials=financials
                )
                cur.execute(
                    "UPDATE lead_qualifications SET status = 'enriched', enrichment = %s::jsonb,"
                    " enrichment_missing = %s, updated_at = now()"
                    " WHERE lead_id = %s AND workflow_id = %s",
                    (enrichment.model_dump_json(), enrichment.missing(), lead_id, saga.workflow_id),
                )
                return {
                    "domain": domain,
                    "source": source,
                    "missing": enrichment.missing(),
                    "rate_limit_waits": research.waits + financials.waits - waits,
                }

            enriched[lead_id] = saga.db_write(f"enrich.{lead_id}", write, request={"domain": domain})
    return {"lead_ids": list(captured["lead_ids"]), "enriched": enriched}
