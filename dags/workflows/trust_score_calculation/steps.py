"""The one step: the trust score service's task function, the same implementation as
``POST /services/trust-scores``. What the params' schema cannot say (more invoices paid than issued, a key
nobody declared) is refused by the service's own model, naming the field, without a retry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def calculate(params: Mapping[str, Any]) -> dict[str, Any]:
    """The subject in ``params`` -> its history read -> the stored score (upserted by subject, with the rules
    version and a revision that grows only when the input changed)."""
    from airflow.sdk.exceptions import AirflowFailException
    from pydantic import ValidationError

    from execution_plane.services.trust_score import trust_score_task

    try:
        return trust_score_task(dict(params))
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors())
        raise AirflowFailException(f"bad trust score request: {fields}") from None
