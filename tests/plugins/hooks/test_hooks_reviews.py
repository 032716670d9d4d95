"""The legal counsel and financial advisor hooks against the sandbox."""

from __future__ import annotations

import pytest

from execution_plane.hooks.advisor import AdvisorHook
from execution_plane.hooks.counsel import CounselHook
from execution_plane.hooks.http import ProviderError
from execution_plane.hooks.reviews import REVIEW_EVENT_TYPES, ReviewHook

HOOKS = [CounselHook, AdvisorHook]


def ask(hook: ReviewHook, key: str) -> dict:
    return hook.request_review(
        matter="ma_offer:D-1",
        subject="Offer v1",
        document_sha256="c" * 64,
        document_uri="docstore://objects/" + "c" * 64,
        correlation_key="wf:review:1",
        instructions="opinion please",
        details={"price_usd": 5},
        idempotency_key=key,
    )


def test_event_types() -> None:
    assert REVIEW_EVENT_TYPES == ("review.opinion_issued", "review.changes_requested")


@pytest.mark.parametrize("hook_class", HOOKS)
def test_request_once_and_read(sandbox, hook_class: type[ReviewHook]) -> None:
    hook = hook_class()
    created = ask(hook, "ask-1")
    assert ask(hook, "ask-1") == created
    review = hook.get_review(created["review_id"])
    assert (review["status"], review["correlation_key"], review["details"]) == (
        "in_review",
        "wf:review:1",
        {"price_usd": 5},
    )
    [effect] = sandbox.effects(system=hook.system, action="request_review")
    assert effect["idempotency_key"] == "ask-1"


@pytest.mark.parametrize("hook_class", HOOKS)
def test_cancel_is_idempotent(sandbox, hook_class: type[ReviewHook]) -> None:
    hook = hook_class()
    review_id = ask(hook, "ask-1")["review_id"]
    assert hook.cancel_review(review_id, reason="deal off", idempotency_key="c-1")["status"] == "cancelled"
    assert hook.cancel_review(review_id, reason="deal off", idempotency_key="c-1")["status"] == "cancelled"
    assert hook.cancel_review(review_id, reason="deal off", idempotency_key="c-2")["error"] == (
        "already_cancelled"
    )
    assert len(sandbox.effects(system=hook.system, action="cancel_review")) == 1


@pytest.mark.parametrize("hook_class", HOOKS)
def test_an_answered_review_needs_no_cancel(sandbox, hook_class: type[ReviewHook]) -> None:
    hook = hook_class()
    review_id = ask(hook, "ask-1")["review_id"]
    sandbox.post(f"/_sandbox/{hook.system}/reviews/{review_id}/opinion?deliver=false")
    assert hook.cancel_review(review_id, reason="r", idempotency_key="c-1")["error"] == "review_closed"
    assert sandbox.effects(system=hook.system, action="cancel_review") == []


@pytest.mark.parametrize("hook_class", HOOKS)
def test_cancel_unknown_review_is_404(sandbox, hook_class: type[ReviewHook]) -> None:
    with pytest.raises(ProviderError) as err:
        hook_class().cancel_review("rv_nope", reason="r", idempotency_key="c-x")
    assert (err.value.status, err.value.retryable) == (404, False)
