"""Part B's benchmark section: every "met" cell computed from the figures (budget, recall floor), "n/a" when
a figure is missing; requests of part B's routes are distinct and well-formed; distractor seeding reaches the
point it is asked for and leaves the store as it found it."""

from __future__ import annotations

from typing import Any

import psycopg2

from bench import services, services_text
from include.services.classification.models import ClassifyRequest
from include.services.dialect.models import DetectRequest
from include.services.retrieval.models import SearchIn


def cell(p95: float, n: int = 10, errors: dict[str, int] | None = None) -> dict[str, Any]:
    return {"n": n, "p50": p95 / 2, "p95": p95, "errors": errors or {}}


def point(p95: float, recall: float | None) -> dict[str, Any]:
    quality = {} if recall is None else {"recall_at_10": recall, "recall_at_1": recall}
    return {
        "budget_s": 3.0,
        "chunks": 10_000,
        "seeded": {"index_build_s": 12.0},
        "quality": quality,
        **{name: cell(p95) for name, _ in services.CELLS},
    }


def table(points: dict[str, Any]) -> list[str]:
    lines = services_text.markdown_lines(
        {"budget_s": 3.0, "candidates": 50, "labelled_chunks": 51, "points": points}
    )
    return [line for line in lines if line.startswith("| 10000")]


def test_met_is_computed_from_latency_and_recall() -> None:
    [good] = table({"10000": point(0.2, 0.96)})
    assert good.endswith("| yes |") and "0.96 (yes)" in good
    [slow] = table({"10000": point(3.5, 0.96)})
    assert slow.endswith("| **no** |") and "(**no**)" in slow
    [poor] = table({"10000": point(0.2, 0.5)})
    assert poor.endswith("| **no** |") and "0.5 (**no**)" in poor
    [unmeasured] = table({"10000": point(0.2, None)})
    assert unmeasured.endswith("| n/a |")


def test_a_failed_request_fails_its_cell() -> None:
    figures = point(0.2, 0.96)
    figures["warm_8"] = cell(0.2, errors={"503": 1})
    [line] = table({"10000": figures})
    assert "errors {'503': 1}" in line and line.endswith("| **no** |")


def test_requests_of_part_b_are_valid_and_distinct() -> None:
    for route in ("message_classification", "dialect_detection"):
        assert route in services.BUDGETS_S
    first = services.request_for("message_classification", "r", 0)
    second = services.request_for("message_classification", "r", 1)
    assert first[2] != second[2]
    ClassifyRequest.model_validate(first[2])
    DetectRequest.model_validate(services.request_for("dialect_detection", "r", 5)[2])
    method, path, body = services.request_for("retrieval", "r", 3)
    assert (method, body) == ("GET", None) and path.startswith("/services/knowledge/search?query=")
    from urllib.parse import parse_qs, urlsplit

    SearchIn.model_validate({k: v[0] for k, v in parse_qs(urlsplit(path).query).items()})


def test_seeding_reaches_the_point_and_clear_restores_the_store() -> None:
    url = services_text.knowledge_url()
    before = services_text.chunk_count(url)
    try:
        seeded = services_text.seed_to(url, before + 30, 0)
        assert seeded["added"] == 30 and services_text.chunk_count(url) == before + 30
        assert services_text.seed_to(url, before + 30, 30)["added"] == 0
        # The next distractors, not the same again; 31 ends inside the sixth document, which 32 continues.
        seeded = services_text.seed_to(url, before + 31, 30)
        assert seeded["added"] == 1
        seeded = services_text.seed_to(url, before + 45, 31)
        assert seeded["added"] == 14 and services_text.chunk_count(url) == before + 45
    finally:
        services_text.clear(url)
    assert services_text.chunk_count(url) == before
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'knowledge_chunks_embedding'")
            assert "hnsw" in cur.fetchone()[0]
    finally:
        conn.close()
