"""When an open approval's approver is reminded, and when it is overdue and escalated (pure: no Airflow,
no database).

An approval is open from its request (``created_at``) until its expiry (``expires_at``), when Airflow applies
the gate's default answer (the expiry path). The policy places, inside that window:

- **reminders** to the approver, each at a fraction of the window (``at_fraction``: 0.5 is half-time) or a
  number of hours before the expiry (``hours_before_expiry``: 24 is the day before). A reminder whose moment
  falls at or before the request (a 24 h reminder on a 12 h window) is not sent: the request itself said it.
  When several are due at once (the scan was down), only the latest is sent: a reminder that was missed is
  superseded by the later one, never sent late after it.
- **escalation** once the approval is **overdue**: past ``escalation.at_fraction`` of its window (default
  0.75, "an answer was expected by now", leaving a quarter of the window to get one before the default
  answer applies), or past its expiry still unanswered. It goes to the approver's manager
  (``escalation.managers``: approver -> manager) or, for an approver with none, to the fallback group.

Each (approval, kind) is sent once: that is the ledger's outbound message dedup (execution_plane.approvals.
reminders), not this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

#: Where the approvers' mailboxes are: ``<user>@<domain>`` (a name with an ``@`` is an address already).
APPROVER_EMAIL_DOMAIN = "execution-plane.example"
#: Answers every approval beside its assignee; never the one reminded or escalated about.
ADMIN = "admin"
ESCALATION = "escalation"
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


class Reminder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern=KIND_PATTERN)
    at_fraction: float | None = Field(default=None, gt=0, lt=1)
    hours_before_expiry: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_moment(self) -> Reminder:
        if (self.at_fraction is None) == (self.hours_before_expiry is None):
            raise ValueError("give exactly one of at_fraction and hours_before_expiry")
        if self.kind == ESCALATION:
            raise ValueError(f"kind {ESCALATION!r} is the escalation's own")
        return self

    def moment(self, opened: datetime, expires: datetime) -> datetime:
        if self.at_fraction is not None:
            return opened + (expires - opened) * self.at_fraction
        return expires - timedelta(hours=float(self.hours_before_expiry or 0))


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at_fraction: float = Field(default=0.75, gt=0, le=1)
    managers: dict[str, str] = Field(default_factory=dict)
    fallback: str = Field(default="approvals-oversight", min_length=1)

    def to(self, approver: str | None) -> str:
        """The approver's manager, else the fallback group."""
        return self.managers.get(approver or "", self.fallback)


class ReminderPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reminders: tuple[Reminder, ...] = (
        Reminder(kind="half_time", at_fraction=0.5),
        Reminder(kind="day_before", hours_before_expiry=24),
    )
    escalation: Escalation = Escalation()

    @model_validator(mode="after")
    def _unique_kinds(self) -> ReminderPolicy:
        kinds = [r.kind for r in self.reminders]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"reminder kinds must be unique, got {kinds}")
        return self


class PolicyError(ValueError):
    """The policy is malformed; the message names the field."""


def parse_policy(value: Any) -> ReminderPolicy:
    """The policy from its JSON form (a dict, a JSON string, or None for the defaults)."""
    if value is None or value == "":
        return ReminderPolicy()
    try:
        if isinstance(value, str | bytes):
            return ReminderPolicy.model_validate_json(value)
        return ReminderPolicy.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "policy"
        raise PolicyError(f"approval reminder policy: {where}: {first['msg']}") from exc


def address(user: str) -> str:
    return user if "@" in user else f"{user}@{APPROVER_EMAIL_DOMAIN}"


def approver(assignees: list[str] | tuple[str, ...]) -> str | None:
    """The person an approval waits on: its first assignee other than the admin."""
    return next((user for user in assignees if user != ADMIN), None)


@dataclass(frozen=True)
class Due:
    """One message due for one approval: a reminder (``kind`` its name) or the escalation."""

    kind: str
    at: datetime
    to: str

    @property
    def escalation(self) -> bool:
        return self.kind == ESCALATION


def due(
    policy: ReminderPolicy,
    *,
    opened: datetime,
    expires: datetime,
    assignees: list[str] | tuple[str, ...],
    remind_to: str | None,
    now: datetime,
) -> list[Due]:
    """What is due for an approval still open at ``now`` (sent or not: the caller skips what was sent)."""
    if expires <= opened:
        return []
    found: list[Due] = []
    person = approver(assignees)
    reminder_to = remind_to or (address(person) if person else None)
    if now < expires and reminder_to:
        moments = [
            (reminder.moment(opened, expires), reminder.kind)
            for reminder in policy.reminders
            if opened < reminder.moment(opened, expires) < expires
        ]
        passed = [(at, kind) for at, kind in moments if at <= now]
        if passed:
            at, kind = max(passed)
            found.append(Due(kind=kind, at=at, to=reminder_to))
    overdue_at = opened + (expires - opened) * policy.escalation.at_fraction
    if now >= overdue_at:
        found.append(Due(kind=ESCALATION, at=overdue_at, to=address(policy.escalation.to(person))))
    return found
