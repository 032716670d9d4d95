"""The regulator portal hook against the sandbox: what reaches the portal, what comes back."""

from __future__ import annotations

import pytest

from execution_plane.hooks.http import ProviderError
from execution_plane.hooks.regulator import FILING_EVENT_TYPES, RegulatorHook


def submit(hook: RegulatorHook, key: str, **overrides: str) -> dict:
    fields = {
        "kind": "merger_control",
        "subject": "D-1",
        "jurisdiction": "EU",
        "applicant": "Execution Plane Holdings",
        "summary": "Acquisition of D-1's target",
        "correlation_key": "wf:D-1:filing",
        **overrides,
    }
    return hook.submit_filing(**fields, details={"price_usd": 10}, idempotency_key=key)  # type: ignore[arg-type]


def test_event_types_are_the_portals() -> None:
    assert FILING_EVENT_TYPES == (
        "filing.acknowledged",
        "filing.cleared",
        "filing.cleared_with_conditions",
        "filing.refused",
    )


def test_submit_get_and_find(sandbox) -> None:
    hook = RegulatorHook()
    created = submit(hook, "file-1")
    assert created["status"] == "submitted"
    assert created["reference"].startswith("MERGER_CONTROL-EU-")
    got = hook.get_filing(created["filing_id"])
    assert (got["status"], got["subject"], got["details"]) == ("submitted", "D-1", {"price_usd": 10})
    assert [f["filing_id"] for f in hook.find_filings(correlation_key="wf:D-1:filing")] == [
        created["filing_id"]
    ]
    assert hook.find_filings(subject="D-2") == []
    [effect] = sandbox.effects(system="regulator", action="submit_filing")
    assert effect["idempotency_key"] == "file-1"


def test_submit_with_the_same_key_replays(sandbox) -> None:
    hook = RegulatorHook()
    assert submit(hook, "file-1") == submit(hook, "file-1")
    assert len(sandbox.effects(system="regulator", action="submit_filing")) == 1


def test_a_lost_answer_is_replayed_by_the_retry(sandbox) -> None:
    hook = RegulatorHook()
    sandbox.post("/_sandbox/faults", json={"system": "regulator", "action": "submit_filing", "mode": "drop"})
    with pytest.raises(ProviderError) as err:
        submit(hook, "file-1")
    assert (err.value.status, err.value.retryable) == (504, True)
    assert submit(hook, "file-1")["status"] == "submitted"
    assert len(sandbox.effects(system="regulator", action="submit_filing")) == 1


def test_withdraw_is_idempotent(sandbox) -> None:
    hook = RegulatorHook()
    filing_id = submit(hook, "file-1")["filing_id"]
    assert hook.withdraw_filing(filing_id, reason="offer withdrawn", idempotency_key="w-1")["status"] == (
        "withdrawn"
    )
    assert hook.withdraw_filing(filing_id, reason="offer withdrawn", idempotency_key="w-1")["status"] == (
        "withdrawn"
    )
    again = hook.withdraw_filing(filing_id, reason="offer withdrawn", idempotency_key="w-2")
    assert again["error"] == "already_withdrawn"
    [effect] = sandbox.effects(system="regulator", action="withdraw_filing")
    assert (effect["idempotency_key"], effect["payload"]) == ("w-1", {"reason": "offer withdrawn"})


def test_a_refused_filing_needs_no_withdrawal(sandbox) -> None:
    hook = RegulatorHook()
    filing_id = submit(hook, "file-1")["filing_id"]
    sandbox.post(f"/_sandbox/regulator/filings/{filing_id}/acknowledge?deliver=false")
    sandbox.post(f"/_sandbox/regulator/filings/{filing_id}/refuse?deliver=false")
    closed = hook.withdraw_filing(filing_id, reason="r", idempotency_key="w-1")
    assert (closed["error"], closed["status"]) == ("filing_not_withdrawable", "refused")
    assert sandbox.effects(system="regulator", action="withdraw_filing") == []


def test_withdraw_unknown_filing(sandbox) -> None:
    with pytest.raises(ProviderError) as err:
        RegulatorHook().withdraw_filing("fil_nope", reason="r", idempotency_key="w-x")
    assert (err.value.status, err.value.retryable) == (404, False)
