"""The closing report: what each function did, each phase review, what the line organisation takes over."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from include.domain.documents import Section, Table, render_pdf
from workflows.pmi_program.domain.phases import PHASE_TITLES
from workflows.pmi_program.domain.plan import FUNCTION_TITLES, FUNCTIONS, IntegrationPlan


def open_items(functions: Mapping[str, Mapping[str, Any]], last_checklist: Mapping[str, Any]) -> list[str]:
    """What the line organisation takes over: the last checklist's open items and skipped functions."""
    items = [
        f"{i['function']}: {i['title']} ({i['detail']})"
        for i in last_checklist.get("items", [])
        if not i["done"]
    ]
    items += [
        f"{f}: skipped on Day 1 after: {functions[f].get('last_error')}"
        for f in FUNCTIONS
        if functions.get(f, {}).get("status") == "skipped"
    ]
    return items


def closing_report_pdf(
    plan: IntegrationPlan,
    *,
    functions: Mapping[str, Mapping[str, Any]],
    reviews: Sequence[Mapping[str, Any]],
    leftovers: Sequence[str],
    day1_on: date,
    closed_on: date,
) -> bytes:
    """The report PDF (deterministic: dated by the program's own dates)."""
    summary = Section(
        heading="Program",
        paragraphs=[
            f"Integration of {plan.target_company} ({plan.target_company_id}) into "
            f"{plan.acquirer_company_id}, deal {plan.deal_id} ({plan.deal_name}).",
            f"Day 1: {day1_on.isoformat()}. Closed: {closed_on.isoformat()}.",
        ],
    )
    function_rows = [
        [
            FUNCTION_TITLES[f],
            str(functions.get(f, {}).get("status", "")),
            str(functions.get(f, {}).get("attempts", "")),
            plan.scope(f),
        ]
        for f in FUNCTIONS
    ]
    review_rows = [
        [
            PHASE_TITLES[str(r["phase"])],
            str(r["round"]),
            str(r.get("decision") or ""),
            str(r.get("extend_days") or ""),
            str(r.get("decided_by") or ""),
            f"{r.get('done', '')}/{r.get('items', '')}",
        ]
        for r in reviews
    ]
    sections = [
        summary,
        Section(
            heading="Day 1 by function",
            tables=[Table(header=["function", "status", "attempts", "scope"], rows=function_rows)],
        ),
        Section(
            heading="Phase reviews",
            tables=[
                Table(
                    header=["phase", "round", "decision", "extended by", "decided by", "done"],
                    rows=review_rows,
                )
            ],
        ),
        Section(
            heading="Handed over", paragraphs=list(leftovers) or ["Nothing: every checklist item is done."]
        ),
    ]
    return render_pdf(
        f"Integration closing report: {plan.target_company}",
        sections,
        metadata={"created_at": closed_on.isoformat(), "subject": f"PMI {plan.deal_id}"},
    )
