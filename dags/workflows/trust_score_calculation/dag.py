"""
### Trust score calculation (short-lived local)

Factor aggregation -> score -> DB. A partner's or affiliate's history from the business database (its
partner approvals or affiliate onboardings and the signature workflows of its deals, by how they ended; the
signature requests of its deals) plus what finance and compliance hold (payment record, compliance flags,
given as params) -> a 0-100 score with its explained factors and a tier -> stored by (subject_type,
subject_id) with the rules version and a revision that grows only when the input changed.

The step is the toolkit's trust score service, the same implementation `POST /services/trust-scores`
answers with; affiliate onboarding calls it in its own step (`trust_score_task`). Params mirror the
service's `TrustScoreRequest` model: a bad one is refused before any task runs.

Inventory: *Trust score calculation*, Celery task, <5 s.
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
        "subject_type": Param(type="string", enum=["partner", "affiliate"]),
        "subject_id": Param(type="string", pattern=_KEY, description="the partner or affiliate id"),
        "payments": Param(
            None,
            type=["null", "object"],
            description="invoices issued to the subject and how they were paid",
            additionalProperties=False,
            required=["invoices"],
            properties={
                "invoices": {**_COUNT, "maximum": 1_000_000},
                "paid_on_time": _COUNT,
                "paid_late": _COUNT,
                "defaulted": _COUNT,
                "overdue_usd": {"type": "number", "minimum": 0, "maximum": 1e12},
            },
        ),
        "compliance_flags": Param(
            [],
            type="array",
            maxItems=100,
            items={
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "severity"],
                "properties": {
                    "code": {"type": "string", "pattern": _KEY},
                    "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
                    "resolved": {"type": "boolean"},
                },
            },
        ),
        "deal_ids": Param(
            [],
            type="array",
            maxItems=200,
            items={"type": "string", "pattern": _KEY},
            description="the subject's deals: their signature requests count",
        ),
    },
)
def trust_score_calculation() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def calculate() -> dict[str, Any]:
        from workflows.trust_score_calculation import steps

        return steps.calculate(get_current_context()["params"])

    # ---------------------------------------------------------------- calling tasks
    calculate()


trust_score_calculation()
