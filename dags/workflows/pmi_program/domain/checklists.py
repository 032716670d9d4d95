"""Each phase's checklist, computed from what the systems say at review time.

- Day 30: Day 1's work is in place in every function (employees transferred and told, ledgers consolidated,
  bank mandates requested, accounts and access, the entity filed, assignable contracts assigned, customers
  merged and told).
- Day 60: also what outside parties had to confirm: every bank mandate active, the registry has registered
  the entity under its new parent.
- Day 90: also nothing left aside: no contract still waiting for a counterparty's consent.

A function skipped on Day 1 shows as open on every checklist: its work is followed outside the program. The
reviewer decides with the checklist in front of them; an open item does not decide for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from workflows.pmi_program.domain.phases import PHASE_TITLES, PHASES


class ChecklistItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    function: str
    code: str
    title: str
    done: bool
    detail: str = ""


class Checklist(BaseModel):
    model_config = ConfigDict(frozen=True)

    phase: str
    round: int
    items: tuple[ChecklistItem, ...]

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.done)

    @property
    def open_items(self) -> tuple[ChecklistItem, ...]:
        return tuple(item for item in self.items if not item.done)

    @property
    def complete(self) -> bool:
        return not self.open_items

    def summary(self) -> str:
        head = f"{PHASE_TITLES[self.phase]} checklist: {self.done}/{len(self.items)} done"
        if self.complete:
            return head + ", nothing open"
        return head + ". Open: " + "; ".join(f"{i.function}: {i.title} ({i.detail})" for i in self.open_items)


def _item(function: str, code: str, title: str, done: bool, detail: str) -> ChecklistItem:
    return ChecklistItem(function=function, code=f"{function}.{code}", title=title, done=done, detail=detail)


def _day1_items(facts: Mapping[str, Mapping[str, Any]]) -> list[ChecklistItem]:
    hr, fin, it, legal, crm = (facts[f] for f in ("hr", "finance", "it", "legal", "crm"))
    mandates: Mapping[str, str] = fin.get("mandates") or {}
    requested = [a for a, status in mandates.items() if status in ("pending", "active")]
    return [
        _item(
            "hr",
            "transferred",
            "employees transferred",
            hr.get("transfer") == "completed",
            str(hr.get("transfer") or "not done"),
        ),
        _item(
            "hr",
            "notified",
            "employees told",
            hr.get("notified", 0) >= hr.get("employees", 1) > 0,
            f"{hr.get('notified', 0)}/{hr.get('employees', 0)} told",
        ),
        _item(
            "finance",
            "ledgers",
            "ledgers consolidated",
            fin.get("consolidation") == "linked",
            str(fin.get("consolidation") or "not done"),
        ),
        _item(
            "finance",
            "mandates_requested",
            "bank mandates requested",
            bool(mandates) and len(requested) == len(mandates) == fin.get("accounts", len(mandates)),
            f"{len(requested)}/{fin.get('accounts', len(mandates))} requested or active",
        ),
        _item(
            "it",
            "accounts",
            "accounts active",
            it.get("provisioning") == "active",
            str(it.get("provisioning") or "not done"),
        ),
        _item(
            "it",
            "access",
            "group access granted",
            it.get("grant") == "granted",
            str(it.get("grant") or "not done"),
        ),
        _item(
            "legal",
            "entity_filed",
            "entity filed under the acquirer",
            legal.get("parent_change") in ("filed", "registered"),
            str(legal.get("parent_change") or "not done"),
        ),
        _item(
            "legal",
            "contracts_assigned",
            "assignable contracts assigned",
            legal.get("assignment") == "assigned" or legal.get("assignable", 1) == 0,
            str(legal.get("assignment") or "not done"),
        ),
        _item(
            "crm",
            "merged",
            "customer records merged",
            crm.get("merge") == "merged",
            str(crm.get("merge") or "not done"),
        ),
        _item(
            "crm",
            "notified",
            "customers told",
            crm.get("notified", 0) >= crm.get("customers", 1) > 0,
            f"{crm.get('notified', 0)}/{crm.get('customers', 0)} told",
        ),
    ]


def _confirmation_items(facts: Mapping[str, Mapping[str, Any]]) -> list[ChecklistItem]:
    fin, legal = facts["finance"], facts["legal"]
    mandates: Mapping[str, str] = fin.get("mandates") or {}
    active = [a for a, status in mandates.items() if status == "active"]
    waiting = ", ".join(f"{a} {s}" for a, s in sorted(mandates.items()) if s != "active")
    return [
        _item(
            "finance",
            "mandates_active",
            "bank mandates active (confirmed by the banks)",
            bool(mandates) and len(active) == fin.get("accounts", len(mandates)),
            f"{len(active)}/{fin.get('accounts', len(mandates))} active"
            + (f": {waiting}" if waiting else ""),
        ),
        _item(
            "legal",
            "entity_registered",
            "entity registered under the acquirer (registry)",
            legal.get("parent_change") == "registered",
            str(legal.get("parent_change") or "not filed"),
        ),
    ]


def _closing_items(facts: Mapping[str, Mapping[str, Any]]) -> list[ChecklistItem]:
    consent = list(facts["legal"].get("consent_contracts") or [])
    return [
        _item(
            "legal",
            "consents",
            "no contract waiting for a counterparty's consent",
            not consent,
            ", ".join(consent) + " need consent" if consent else "none",
        ),
    ]


def phase_checklist(phase: str, round_no: int, facts: Mapping[str, Mapping[str, Any]]) -> Checklist:
    """The checklist of ``phase`` from the functions' facts (their Day-1 status and the systems' state)."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")
    items = _day1_items(facts)
    if phase in ("day60", "day90"):
        items += _confirmation_items(facts)
    if phase == "day90":
        items += _closing_items(facts)
    skipped = {f for f, fact in facts.items() if fact.get("status") == "skipped"}
    items = [
        item.model_copy(update={"done": False, "detail": f"function skipped on Day 1 ({item.detail})"})
        if item.function in skipped
        else item
        for item in items
    ]
    return Checklist(phase=phase, round=round_no, items=tuple(items))
