"""A control's result: pass, fail, not applicable (nothing to check: said so, never a pass) or error (the
control could not run), with what it looked at and every violation found."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["pass", "fail", "not_applicable", "error"]
FAILING: tuple[Status, ...] = ("fail", "error")
MAX_LISTED = 50  # violations listed per control in the report (all are counted)


class Violation(BaseModel):
    model_config = ConfigDict(frozen=True)

    ref: str
    detail: str


class ControlResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    control_id: str
    status: Status
    checked: int = Field(ge=0)
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    violation_count: int = Field(default=0, ge=0)
    violations: list[Violation] = Field(default_factory=list)

    @property
    def failing(self) -> bool:
        return self.status in FAILING


def judged(
    control_id: str,
    *,
    checked: int,
    what: str,
    violations: list[Violation],
    evidence: dict[str, Any],
    nothing: str,
) -> ControlResult:
    """Fail on any violation; with nothing checked, not applicable with the reason (never a pass)."""
    if violations:
        status: Status = "fail"
        summary = f"{len(violations)} violation(s) in {checked} {what}"
    elif checked == 0:
        status, summary = "not_applicable", f"not applicable: {nothing}"
    else:
        status, summary = "pass", f"{checked} {what} checked, no violation"
    return ControlResult(
        control_id=control_id,
        status=status,
        checked=checked,
        summary=summary,
        evidence=evidence,
        violation_count=len(violations),
        violations=violations[:MAX_LISTED],
    )


def errored(control_id: str, reason: str) -> ControlResult:
    return ControlResult(control_id=control_id, status="error", checked=0, summary=f"could not run: {reason}")
