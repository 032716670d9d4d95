"""The one step: the audit service's task function, the same implementation as ``POST /services/audit-events``
and every component's audit events. Refused without a retry, naming the field: what the params' schema
cannot say (details too large or not storable, a key nobody declared) and an event id that already names
another event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def write(params: Mapping[str, Any]) -> dict[str, Any]:
    """The event in ``params`` -> its link in the chain (chained once per event id: a redelivery gets the
    first delivery's link, ``duplicate``)."""
    from airflow.sdk.exceptions import AirflowFailException
    from pydantic import ValidationError

    from execution_plane.services.audit import write_audit_event_task
    from execution_plane.services.errors import ServiceError

    try:
        return write_audit_event_task(dict(params))
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
        raise AirflowFailException(f"bad audit event: {fields}") from None
    except ServiceError as exc:
        if exc.status_code >= 500:  # the database busy or unreachable: the retry may succeed
            raise
        raise AirflowFailException(f"{exc.field}: {exc.message}") from None
