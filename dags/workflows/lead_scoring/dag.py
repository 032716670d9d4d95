"""
### Lead scoring (medium-lived orchestrated)

One lead as the CRM holds it -> the LLM's reading of its notes (budget, timeline, authority, need) through
the connection `llm_default` -> a 0-100 score with its explained factors and a band -> stored (upserted by
`lead_id`: the same lead and input again changes nothing and asks the LLM nothing). An LLM that errs or
times out gives the rules-only score flagged `degraded` with the reason, never a silent zero.

The step is the toolkit's lead scoring service, the same implementation `POST /services/lead-scores`
answers with; lead qualification calls it in its own step (`score_lead_task`). Params mirror the service's
`Lead` model: a bad one is refused before any task runs.

Inventory: *Lead scoring*, Celery task, <5 s; listed short-lived, it runs as medium-lived orchestrated by
the Temporal Candidate Rule because its LLM call is external I/O (`make catalog`).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, get_current_context, task

from execution_plane.services.dag import service_dag

_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"
_COUNT = {"type": "integer", "minimum": 0}


@service_dag(
    doc_md=__doc__,
    params={
        "lead_id": Param(type="string", pattern=_KEY, description="the CRM's lead id"),
        "company_name": Param(type="string", minLength=1, maxLength=200),
        "stage": Param(
            "new", type="string", enum=["new", "contacted", "qualified", "proposal", "won", "lost"]
        ),
        "company_size": Param(
            None, type=["null", "integer"], minimum=1, maximum=10_000_000, description="employees"
        ),
        "industry": Param(None, type=["null", "string"], minLength=1, maxLength=80),
        "country": Param(
            None, type=["null", "string"], pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2"
        ),
        "source": Param(
            "other", type="string", enum=["referral", "partner", "inbound", "event", "outbound", "other"]
        ),
        "budget_usd": Param(None, type=["null", "number"], minimum=0, maximum=1e12, description="declared"),
        "engagement": Param(
            {},
            type="object",
            additionalProperties=False,
            properties={
                "emails_opened": {**_COUNT, "maximum": 100_000},
                "replies": {**_COUNT, "maximum": 100_000},
                "meetings": {**_COUNT, "maximum": 10_000},
                "website_visits": {**_COUNT, "maximum": 1_000_000},
            },
        ),
        "notes": Param("", type="string", maxLength=8000, description="call notes, the last message"),
    },
)
def lead_scoring() -> None:
    # ---------------------------------------------------------------- tasks
    @task(pool="llm")
    def score() -> dict[str, Any]:
        from workflows.lead_scoring import steps

        return steps.score(get_current_context()["params"])

    # ---------------------------------------------------------------- calling tasks
    score()


lead_scoring()
