"""The DAGs a CRM webhook may start, and the run params (``conf``) each one receives.

This is the param contract between the CRM and the DAGs: ``POST /webhooks/crm/events`` validates the
event's ``payload`` with the DAG's model below and starts the run with
``conf = model.model_dump(mode="json")``.
Each DAG declares the same fields as its ``params``; a field added here must be added there (and the
other way round), or the ingress refuses events the DAG would accept.

Pure pydantic (no Airflow import): DAG files may import these models to build their ``params``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


def _no_double_dot(value: str) -> str:
    # Ids end up in Airflow run ids, which refuse ".." (path traversal guard in create_dagrun).
    if ".." in value:
        raise ValueError("must not contain '..'")
    return value


Identifier = Annotated[str, Field(pattern=_ID_PATTERN), AfterValidator(_no_double_dot)]
"""1-128 of ``[A-Za-z0-9._:-]``, no ``..``: safe inside run ids, correlation keys and log lines."""

DAG_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
DagId = Annotated[str, Field(pattern=DAG_ID_PATTERN), AfterValidator(_no_double_dot)]
"""The durable DAGs' id params (``execution_plane.dag_parts.ID_PATTERN``, kept equal by a test): 1-64 of
``[A-Za-z0-9._-]``, no ``:`` (the request id becomes ``<dag_id>:<id>``, which saga_compensation accepts)."""

Name = Annotated[str, Field(min_length=1, max_length=200)]


class StartParams(BaseModel):
    """What every startable DAG receives; subclasses add the DAG's own fields."""

    # Unknown fields are refused: a typo in a CRM mapping must fail loudly, not start a run without it.
    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: Identifier
    """The CRM's id of the request; with the workflow it forms the inbox correlation key."""


class PartnerApprovalParams(StartParams):
    """``partner_approval``: score a partner, negotiate terms, get them approved and activated.

    Field for field the params of dags/partner_approval.py.
    """

    request_id: DagId
    partner_id: DagId
    requested_by: str = Field(default="crm", max_length=120)
    """Who asked for the approval in the CRM (user name or email)."""
    max_negotiation_rounds: int = Field(default=3, ge=1, le=3)
    approval_timeout_hours: float = Field(default=72, gt=0, le=24 * 30)
    """Each approval expires (rejected path) after this."""
    partner_response_timeout_hours: float = Field(default=168, gt=0, le=24 * 60)


class DdRoomParams(StartParams):
    """``dd_room``: open a due-diligence room, analyse it, value the target, brief the IC.

    Field for field the params of dags/dd_room.py.
    """

    request_id: DagId
    """The DAG's (and saga_compensation's workflow id's) narrower id: no ':', at most 64 characters."""
    deal_id: DagId
    target_company: Name
    target_contact_email: EmailStr = Field(max_length=320)
    """The target's DD contact: told when the DD starts and, if it is terminated, that it ended."""
    base_valuation_usd: float = Field(gt=0)
    approval_timeout_hours: float = Field(default=168, gt=0, le=24 * 30)
    """The IC review expires (rejected path) after this."""
    signoff_timeout_hours: float = Field(default=336, gt=0, le=24 * 60)
    """Each workstream lead's sign-off expires after this."""


class SignatureCommitmentParams(StartParams):
    """``signature_commitment``: send approved terms for e-signature and commit them once signed."""

    request_id: DagId
    deal_id: DagId
    partner_id: DagId
    terms: dict[str, Any] = Field(min_length=1)
    """The approved terms, exactly as approved: the approval token is bound to their hash."""
    approval_token: str = Field(min_length=1, max_length=4096)
    signer_email: EmailStr
    signer_name: Name
    signature_timeout_hours: float = Field(default=168, gt=0, le=24 * 30)
    """Not signed by then: the envelope is voided and the re-negotiate choice offered."""
    renegotiation_timeout_hours: float = Field(default=72, gt=0, le=24 * 30)
    """No answer to the re-negotiate choice by then: the deal is closed."""


STARTABLE_WORKFLOWS: dict[str, type[StartParams]] = {
    "partner_approval": PartnerApprovalParams,
    "dd_room": DdRoomParams,
    "signature_commitment": SignatureCommitmentParams,
}
"""dag_id -> model of that DAG's run params. Only these DAGs can be started from outside."""
