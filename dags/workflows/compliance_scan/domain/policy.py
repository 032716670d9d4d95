"""The compliance policy: configuration (the Airflow Variable ``compliance_policy``, set in
airflow_settings.yaml locally, from the environment or a secrets backend in production), checked here.

    {"retention": [{"table": "external_events", "clock": "received_at", "max_days": 365, "why": "..."}, ...],
     "quiet_hours": {"send_window_start": "08:00", "send_window_end": "21:00", "grace_minutes": 5},
     "owners": {"retention_respected": "dpo@..."}}

- ``retention``: how long rows of a table may be kept, counted on one of its time columns; at least one rule.
- ``quiet_hours``: the local hours messages to people outside the company may go out (on their country's
  working days, ``include.domain.quiet_hours``); ``grace_minutes`` covers the moments between deciding to
  send inside the window and the send being recorded.
- ``owners``: who is told when a control fails, where the catalog's owner is not the one.

A bad policy is refused with the field it is wrong in (``PolicyError``), before anything is checked.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from include.domain.quiet_hours import SendWindow
from workflows.compliance_scan.catalog import BY_ID

_NAME = r"^[a-z_][a-z0-9_]{0,62}$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class PolicyError(ValueError):
    """The policy is missing or wrong; the message names the field."""


class RetentionRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str = Field(pattern=_NAME)
    clock: str = Field(pattern=_NAME, description="the time column the age is counted on")
    max_days: int = Field(ge=1, le=36_500)
    why: str = Field(min_length=1, max_length=500)


class QuietHours(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    send_window_start: str = "08:00"
    send_window_end: str = "21:00"
    grace_minutes: int = Field(default=5, ge=0, le=60)

    @model_validator(mode="after")
    def _window(self) -> QuietHours:
        self.window()
        return self

    def window(self) -> SendWindow:
        return SendWindow(self.send_window_start, self.send_window_end)


class CompliancePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    retention: tuple[RetentionRule, ...] = Field(min_length=1)
    quiet_hours: QuietHours = QuietHours()
    owners: dict[str, str] = Field(default_factory=dict)

    @field_validator("retention")
    @classmethod
    def _one_rule_per_table(cls, rules: tuple[RetentionRule, ...]) -> tuple[RetentionRule, ...]:
        tables = [rule.table for rule in rules]
        twice = sorted({t for t in tables if tables.count(t) > 1})
        if twice:
            raise ValueError(f"one rule per table: {twice} named twice")
        return rules

    @field_validator("owners")
    @classmethod
    def _owners(cls, owners: dict[str, str]) -> dict[str, str]:
        import re

        for control_id, owner in owners.items():
            if control_id not in BY_ID:
                raise ValueError(f"{control_id!r} is no control (one of {sorted(BY_ID)})")
            if not re.match(_EMAIL, owner):
                raise ValueError(f"{control_id}: {owner!r} is not an email address")
        return owners

    def owner_of(self, control_id: str) -> str:
        return self.owners.get(control_id) or BY_ID[control_id].owner


def parse_policy(raw: Any) -> CompliancePolicy:
    """The policy from the Variable's value (JSON text or already parsed); PolicyError names the field."""
    if raw in (None, ""):
        raise PolicyError("compliance_policy: not configured (set the Airflow Variable compliance_policy)")
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise PolicyError(f"compliance_policy: not JSON ({exc.msg} at character {exc.pos})") from None
    try:
        return CompliancePolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in ("compliance_policy", *first["loc"]))
        raise PolicyError(f"{where}: {str(first['msg']).removeprefix('Value error, ')}") from None
