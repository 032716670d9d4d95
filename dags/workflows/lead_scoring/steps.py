"""The one step: the lead scoring service's task function, the same implementation as
``POST /services/lead-scores``. What the params' schema cannot say (text Postgres cannot store, a key
nobody declared) is refused by the service's own model, naming the field, without a retry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def score(params: Mapping[str, Any]) -> dict[str, Any]:
    """The lead in ``params`` -> its stored score (upserted by lead id; a degraded rules-only score, flagged,
    when the LLM cannot answer)."""
    from airflow.sdk.exceptions import AirflowFailException
    from pydantic import ValidationError

    from execution_plane.services.lead_scoring import score_lead_task

    try:
        return score_lead_task(dict(params))
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'lead'}: {e['msg']}" for e in exc.errors())
        raise AirflowFailException(f"bad lead: {fields}") from None
