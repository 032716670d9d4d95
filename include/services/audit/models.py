"""An audit event and what writing it returns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator

from include.domain.common import canonical_json, jsonb_problem
from include.services.common import BusinessKey

MAX_DETAILS_BYTES = 16 * 1024
MAX_DETAILS_DEPTH = 16


class AuditEvent(BaseModel):
    """One event of any component. ``event_id`` is the sender's id of the event: the same id again is the
    same event (a redelivery), stored once."""

    model_config = ConfigDict(extra="forbid")

    event_id: BusinessKey
    component: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$", description="who reports: a service, a DAG")
    actor: str = Field(min_length=1, max_length=200, description="who did it: a user, a system")
    action: str = Field(pattern=r"^[a-z][a-z0-9_.:-]{0,99}$")
    workflow_id: str | None = Field(default=None, min_length=1, max_length=300)
    occurred_at: AwareDatetime | None = None
    details: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("actor", "workflow_id")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        problem = jsonb_problem(value, MAX_DETAILS_DEPTH)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("details")
    @classmethod
    def _storable(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        problem = jsonb_problem(value, MAX_DETAILS_DEPTH)
        if problem:
            raise ValueError(problem)
        try:
            size = len(canonical_json(value))
        except ValueError as exc:  # NaN / Infinity: no JSON form
            raise ValueError(str(exc)) from None
        if size > MAX_DETAILS_BYTES:
            raise ValueError(f"details are {size} bytes, more than {MAX_DETAILS_BYTES}")
        return value


def chained_details(event: AuditEvent) -> dict[str, Any]:
    """What the audit log row holds (and its hash covers): the event's id and reporter with its details."""
    return {
        "event_id": event.event_id,
        "component": event.component,
        "occurred_at": event.occurred_at.isoformat() if event.occurred_at else None,
        "details": event.details,
    }


class AuditWrite(BaseModel):
    event_id: str
    audit_id: int = Field(description="the audit_log row")
    hash: str = Field(description="its link in the chain")
    stored: Literal["created", "duplicate"]
