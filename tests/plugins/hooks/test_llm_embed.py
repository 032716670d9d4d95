"""LlmHook.embed against the sandbox: batches, order, the connection's model and dimensions, and a provider
answer of the wrong size refused instead of stored."""

from __future__ import annotations

import json

import pytest

from execution_plane.hooks import llm
from execution_plane.hooks.http import ProviderError
from execution_plane.hooks.llm import LlmHook
from include.sandbox.embeddings import embed


def test_embed_returns_one_vector_per_text_in_order(sandbox, monkeypatch) -> None:
    monkeypatch.setattr(llm, "EMBEDDING_BATCH", 2)  # 5 texts -> 3 requests
    texts = [f"text number {i}" for i in range(5)]
    hook = LlmHook()
    assert hook.embedding_settings() == ("ep-hash-embed-1", 384)  # from the connection's extra
    vectors = hook.embed(texts)
    assert vectors == [embed(text, 384) for text in texts]


def test_defaults_without_extra(sandbox, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_EP_TEST_LLM",
        json.dumps({"conn_type": "http", "host": f"{sandbox.url}/llm/v1", "password": "t"}),
    )
    hook = LlmHook("ep_test_llm")
    assert hook.embedding_settings() == ("text-embedding-3-small", 384)
    assert len(hook.embed(["hello"])[0]) == 384


def test_a_vector_of_another_size_is_refused(sandbox, monkeypatch) -> None:
    hook = LlmHook()
    monkeypatch.setattr(hook, "embedding_settings", lambda: ("ep-hash-embed-1", 384))
    real_json = hook.json

    def shorter(method, path, **kwargs):
        kwargs["json"] = {**kwargs["json"], "dimensions": 8}  # the provider answers 8 dimensions
        return real_json(method, path, **kwargs)

    monkeypatch.setattr(hook, "json", shorter)
    with pytest.raises(ProviderError, match="8 dimensions, not 384"):
        hook.embed(["hello"])


def test_a_provider_error_is_a_provider_error(sandbox) -> None:
    sandbox.post(
        "/_sandbox/faults", {"system": "llm", "action": "embeddings", "mode": "error", "status": 503}
    )
    with pytest.raises(ProviderError) as err:
        LlmHook().embed(["hello"])
    assert err.value.status == 503 and err.value.retryable
