"""What an evidence pack is about (a workflow or a deal) and the names derived from it.

- ``Subject(type, id)``: a workflow id (``<dag_id>:<request_id>``) or a deal id (the CRM's), checked.
- ``Subject.pack_id(as_of)``: the pack's key: the same subject taken as of the same moment is the same pack,
  so building it again lands on the stored one and is compared with it.
- ``build_request_id(run_id)``: the request id of one run of the workflow (each run is a build, a rebuild
  included: its own record in the ledger).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

# The toolkit's id patterns (execution_plane.saga.keys), restated: domain code imports no toolkit.
ID_PATTERN = re.compile(r"^(?!.*\.\.)[A-Za-z0-9._-]{1,64}$")
WORKFLOW_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}:(?!.*\.\.)[A-Za-z0-9._-]{1,64}$")
SUBJECT_TYPES = ("workflow", "deal")


class Subject(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["workflow", "deal"]
    id: str

    @model_validator(mode="after")
    def _id_fits_type(self) -> Subject:
        if self.type == "workflow" and not WORKFLOW_ID_PATTERN.match(self.id):
            raise ValueError(
                f"subject_id {self.id!r}: a workflow subject is a workflow id, <dag_id>:<request_id> "
                "(e.g. signature_commitment:sig-1001)"
            )
        if self.type == "deal" and not ID_PATTERN.match(self.id):
            raise ValueError(
                f"subject_id {self.id!r}: a deal subject is a CRM deal id (letters, digits, ._-)"
            )
        return self

    @property
    def key(self) -> str:
        """What the pack's manifest names as its subject."""
        return f"{self.type}:{self.id}"

    def pack_id(self, as_of: datetime) -> str:
        return f"{self.key}@{utc(as_of).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


def utc(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def parse_as_of(value: str | None, *, default: datetime, now: datetime) -> datetime:
    """``as_of`` as given (ISO 8601), or ``default`` (when the run was asked for); refused when it is later
    than ``now``: records that do not exist yet cannot be sealed."""
    if value in (None, ""):
        return utc(default)
    try:
        moment = utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"as_of {value!r}: not an ISO 8601 date-time (e.g. 2026-12-01T09:00:00Z)") from None
    if moment > utc(now):
        raise ValueError(f"as_of {value!r} is in the future: a pack is taken of what is already recorded")
    return moment


def build_request_id(run_id: str) -> str:
    """One run, one build: ``pk-<16 hex of the run id>`` (a valid request id whatever the run id holds)."""
    return "pk-" + hashlib.sha256(run_id.encode()).hexdigest()[:16]


__all__ = ["SUBJECT_TYPES", "Subject", "build_request_id", "parse_as_of", "utc"]
