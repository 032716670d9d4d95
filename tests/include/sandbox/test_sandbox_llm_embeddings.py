"""The sandbox LLM's embeddings endpoint: the OpenAI shape, deterministic vectors, similarity that follows
shared words (English and Arabic), and clear refusals."""

from __future__ import annotations

import math
from typing import Any

from fastapi.testclient import TestClient

from include.sandbox.embeddings import DIMENSIONS, embed

URL = "/llm/v1/embeddings"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _embed(client: TestClient, texts: Any, **extra: Any) -> dict[str, Any]:
    response = client.post(URL, json={"model": "ep-hash-embed-1", "input": texts, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_openai_shape_and_order(client: TestClient) -> None:
    body = _embed(client, ["first text", "second text"])
    assert body["object"] == "list" and body["model"] == "ep-hash-embed-1"
    assert [item["index"] for item in body["data"]] == [0, 1]
    assert all(
        item["object"] == "embedding" and len(item["embedding"]) == DIMENSIONS for item in body["data"]
    )
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    assert len(_embed(client, "one text")["data"]) == 1


def test_vectors_are_deterministic_and_normalised(client: TestClient) -> None:
    first = _embed(client, "The termination fee is 2.5%")["data"][0]["embedding"]
    assert _embed(client, "The termination fee is 2.5%")["data"][0]["embedding"] == first
    assert first == embed("The termination fee is 2.5%")
    assert math.isclose(math.sqrt(sum(v * v for v in first)), 1.0, abs_tol=1e-4)


def test_dimensions_are_honoured(client: TestClient) -> None:
    assert len(_embed(client, "short", dimensions=64)["data"][0]["embedding"]) == 64


def test_similarity_follows_shared_words() -> None:
    question = embed("What is the termination fee?")
    answer = embed("Either party may terminate by paying a termination fee of 2.5% of revenue")
    unrelated = embed("Our office in Riyadh is closed on Friday")
    assert cosine(question, answer) > 0.3 > cosine(question, unrelated)
    # Inflections still meet through character trigrams; function words do not count.
    assert (
        cosine(embed("invoices"), embed("invoice")) > 0.2 > abs(cosine(embed("invoices"), embed("contract")))
    )
    assert cosine(embed("the of and"), embed("and the of")) == 1.0  # nothing but stopwords: one direction
    arabic_q = embed("ما نسبة العمولة للشريك؟")
    assert cosine(arabic_q, embed("يحصل الشريك على عمولة بنسبة عشرين بالمئة")) > cosine(
        arabic_q, embed("يتم التوقيع إلكترونياً عبر المنصة")
    )


def test_refusals(client: TestClient) -> None:
    empty = client.post(URL, json={"model": "m", "input": []})
    assert empty.status_code == 400 and empty.json()["param"] == "input"
    too_long = client.post(URL, json={"model": "m", "input": "x" * 32_001})
    assert too_long.status_code == 400
    assert client.post(URL, json={"model": "m", "input": "a", "encoding_format": "base64"}).status_code == 422
    assert client.post(URL, json={"model": "m", "input": "a", "dimensions": 0}).status_code == 422
    assert client.post(URL, json={"input": "a"}).status_code == 422


def test_embeddings_are_a_read_not_an_effect(client: TestClient, effect_count: Any) -> None:
    _embed(client, "no effect recorded")
    assert effect_count("llm", "embeddings") == 0
