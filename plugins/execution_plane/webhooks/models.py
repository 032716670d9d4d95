"""Request bodies of the ingress routes. Unknown fields are refused everywhere (``extra="forbid"``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from execution_plane.webhooks.workflows import Identifier

CorrelationKey = Annotated[str, Field(pattern=r"^[!-~]{1,256}$")]
"""Printable ASCII without spaces: it becomes a NOTIFY payload and a log field."""

EventType = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier
    """The sender's id of the event; a redelivery carries the same one."""
    occurred_at: AwareDatetime


class CrmEvent(_Body):
    workflow: str = Field(min_length=1, max_length=250)
    """dag_id of the workflow to start; it must be in ``STARTABLE_WORKFLOWS``."""
    payload: dict[str, Any]
    """The run params, validated by the workflow's model in a second step."""


class EsignEvent(_Body):
    type: Literal[
        "envelope.sent", "envelope.signed", "envelope.declined", "envelope.expired", "envelope.voided"
    ]
    envelope_id: Identifier
    correlation_key: CorrelationKey


class OutsideEvent(_Body):
    type: EventType
    correlation_key: CorrelationKey
    payload: dict[str, Any] = Field(default_factory=dict)
