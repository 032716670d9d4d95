"""Part B's services in ``make bench --only services`` (issue 12).

Message classification (budget < 2 s) and dialect detection (< 1 s) run in part A's latency loop
(``bench.services``: cold and warm, 1 and 8 callers, each request a message never seen before, so it is
classified and its row written). This module adds knowledge retrieval (< 3 s) at 10,000 and 100,000 chunks
in the knowledge store:

- the 12 labelled documents (``include/services/retrieval/data``) are ingested through
  ``POST /services/knowledge/documents`` (chunked, embedded through the sandbox's embeddings endpoint);
- distractor chunks (``include.services.retrieval.synthetic``: business text about other companies) fill the
  store up to the point. They are embedded with the sandbox's embedding function itself (the vectors its
  endpoint would return) and loaded with COPY, the HNSW index dropped and rebuilt around the load as a bulk
  load would (its build time is reported): pushing 100,000 chunks through the HTTP endpoint would measure
  the sandbox, not retrieval;
- at each point: recall@10 of the 49 labelled queries searched over the whole store (no filter) through
  ``GET /services/knowledge/search``, and the route's latency cold (first request after an API server
  restart) and warm, 1 caller and 8 at once, against the budget.
"""

from __future__ import annotations

import io
import time
import urllib.parse
from pathlib import Path
from typing import Any

import psycopg2

from bench import services
from bench.harness import Bench, log, summary
from devtools.stack import read_state
from include.sandbox.embeddings import embed
from include.services.retrieval import corpus, synthetic
from include.services.retrieval.chunking import Chunk, embedding_text
from include.services.retrieval.rerank import CANDIDATES
from include.services.text import dataset

CHUNK_POINTS = (10_000, 100_000)
BUDGET_S = 3.0
RECALL_FLOOR = (
    0.9  # the floor the tests hold on the labelled set (tests/plugins/services/test_retrieval_route.py)
)
SEED = 11
CHUNKS_PER_DOCUMENT = 6  # synthetic.distractor_chunks' default
QUERIES = corpus.load_queries()
MESSAGES = Path(__file__).resolve().parents[1] / "include/services/classification/data/messages.jsonl"
DIALECT_TEXTS = Path(__file__).resolve().parents[1] / "include/services/dialect/data/dialects.jsonl"
INDEX_DDL = (
    "CREATE INDEX knowledge_chunks_embedding ON knowledge_chunks"
    " USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
)


_MESSAGES = [row["text"] for row in dataset.load_jsonl(MESSAGES)]
_DIALECT_TEXTS = [row["text"] for row in dataset.load_jsonl(DIALECT_TEXTS)]
# Part B's routes in part A's latency loop (bench.services.BUDGETS_S names them; request_for asks here).
ROUTES = ("message_classification", "dialect_detection", "retrieval")


def request_for(route: str, key: str, i: int) -> services.Request:
    """The ``i``-th request of one of part B's routes: a message id never used before (so it is classified
    and written), the shipped sets' texts in turn."""
    if route == "message_classification":
        channel = ("email", "whatsapp", "sms")[i % 3]
        body = {"message_id": f"bench-msg-{key}", "text": _MESSAGES[i % len(_MESSAGES)], "channel": channel}
        return ("POST", "/services/message-classifications", body)
    if route == "dialect_detection":
        return (
            "POST",
            "/services/dialect-detections",
            {"text_id": f"bench-dia-{key}", "text": _DIALECT_TEXTS[i % len(_DIALECT_TEXTS)]},
        )
    return search_request(i)


def search_request(i: int) -> services.Request:
    """The ``i``-th search: the labelled queries in turn."""
    query = QUERIES[i % len(QUERIES)].query
    return (
        "GET",
        "/services/knowledge/search?" + urllib.parse.urlencode({"query": query, "top_k": 10}),
        None,
    )


def knowledge_url() -> str:
    v: dict[str, str] = read_state()["settings_values"]  # type: ignore[assignment]
    auth = v["EP_KNOWLEDGE_PG_USER"] + (
        f":{v['EP_KNOWLEDGE_PG_PASSWORD']}" if v["EP_KNOWLEDGE_PG_PASSWORD"] else ""
    )
    return (
        f"postgresql://{auth}@{v['EP_KNOWLEDGE_PG_HOST']}:{v['EP_KNOWLEDGE_PG_PORT']}/{v['EP_KNOWLEDGE_DB']}"
    )


def chunk_count(url: str) -> int:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM knowledge_chunks")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def seed_to(url: str, total: int, already: int) -> dict[str, Any]:
    """Add distractor chunks until the store holds ``total`` chunks; the HNSW index is dropped before the
    load and built again after it."""
    wanted = total - chunk_count(url)
    if wanted <= 0:
        return {"added": 0}
    from execution_plane.services.retrieval import lexemes  # the toolkit: on sys.path once the bench runs

    started = time.monotonic()
    docs = io.StringIO()
    chunks = io.StringIO()
    for index, item in enumerate(synthetic.distractor_chunks(already + wanted, seed=SEED)):
        if index < already:
            continue
        # The generator's documents have CHUNKS_PER_DOCUMENT chunks each: a document begun by an earlier
        # point already has its row, and its next chunk continues its ordinals.
        ordinal = index % CHUNKS_PER_DOCUMENT
        if ordinal == 0:
            docs.write(
                "\t".join(
                    [
                        item.document_id,
                        item.kind,
                        _escape(item.title),
                        "\\N",
                        "synthetic",
                        "ep-hash-embed-1",
                        str(CHUNKS_PER_DOCUMENT),
                    ]
                )
                + "\n"
            )
        chunk = Chunk(
            ordinal=ordinal, section=item.section, text=item.text, char_start=0, char_end=len(item.text)
        )
        vector = "[" + ",".join(repr(v) for v in embed(embedding_text(item.title, chunk))) + "]"
        chunks.write(
            "\t".join(
                [
                    item.document_id,
                    str(ordinal),
                    item.kind,
                    _escape(item.section),
                    _escape(item.text),
                    "0",
                    str(len(item.text)),
                    _escape(lexemes(item.title, item.section, item.text)),
                    vector,
                ]
            )
            + "\n"
        )
    embedded_s = time.monotonic() - started
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("DROP INDEX IF EXISTS knowledge_chunks_embedding")
            docs.seek(0)
            cur.copy_expert(
                "COPY knowledge_documents (document_id, kind, title, source_uri, content_sha256,"
                " embedding_model, chunk_count) FROM STDIN",
                docs,
            )
            chunks.seek(0)
            cur.copy_expert(
                "COPY knowledge_chunks (document_id, ordinal, kind, section, text, char_start, char_end,"
                " lexemes, embedding) FROM STDIN",
                chunks,
            )
        loaded_s = time.monotonic() - started - embedded_s
        index_started = time.monotonic()
        with conn, conn.cursor() as cur:
            cur.execute("SET maintenance_work_mem = '512MB'")
            cur.execute(INDEX_DDL)
        index_s = time.monotonic() - index_started
        with conn, conn.cursor() as cur:
            cur.execute("ANALYZE knowledge_chunks")
    finally:
        conn.close()
    return {
        "added": wanted,
        "embed_s": round(embedded_s, 1),
        "copy_s": round(loaded_s, 1),
        "index_build_s": round(index_s, 1),
    }


def clear(url: str) -> None:
    """Remove the distractors and leave an index of what remains. The index is dropped first and built after
    the deleted rows are vacuumed away: an index built in the deleting transaction (or over rows deleted
    but not yet vacuumed) still holds every deleted row, 100,000 of them here (minutes of HNSW build)."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("DROP INDEX IF EXISTS knowledge_chunks_embedding")
            cur.execute("DELETE FROM knowledge_documents WHERE document_id LIKE 'synthetic-%'")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM knowledge_chunks")
            cur.execute(INDEX_DDL)
    finally:
        conn.close()


def ingest_labelled(base_url: str, token: str) -> dict[str, Any]:
    import httpx

    stored: dict[str, int] = {}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for document in corpus.load_documents():
            response = client.post("/services/knowledge/documents", json=document.model_dump(mode="json"))
            response.raise_for_status()
            status = response.json()["stored"]
            stored[status] = stored.get(status, 0) + 1
    return stored


def recall(base_url: str, token: str) -> dict[str, Any]:
    """recall@10 of the labelled queries over the whole store, through the route; the answers' latency."""
    import httpx

    from include.services.retrieval.models import Hit

    results: list[list[Hit]] = []
    seconds: list[float] = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for i in range(len(QUERIES)):
            method, path, _ = search_request(i)
            started = time.perf_counter()
            response = client.request(method, path)
            seconds.append(time.perf_counter() - started)
            response.raise_for_status()
            results.append([Hit.model_validate(h) for h in response.json()["hits"]])
    missed = [
        q.id for q, hits in zip(QUERIES, results, strict=True) if not any(q.is_answered_by(h) for h in hits)
    ]
    return {
        "recall_at_10": round(corpus.recall_at_k(QUERIES, results, 10), 4),
        "recall_at_1": round(corpus.recall_at_k(QUERIES, results, 1), 4),
        "queries": len(QUERIES),
        "missed": missed,
        "latency": summary(seconds),
    }


def run(b: Bench, n: int, cold_rounds: int) -> dict[str, Any]:
    url = knowledge_url()
    token = b.stack.token(services.SERVICE_USER)
    out: dict[str, Any] = {"budget_s": BUDGET_S, "candidates": CANDIDATES, "points": {}}
    try:
        clear(url)  # distractors a stopped run may have left behind
        out["labelled_ingest"] = ingest_labelled(b.stack.api_url, token)
        labelled = chunk_count(url)
        out["labelled_chunks"] = labelled
        added = 0
        for point in CHUNK_POINTS:
            log(f"services: knowledge store to {point:,} chunks")
            seeded = seed_to(url, point, added)
            added += seeded["added"]
            log(f"services: seeded {seeded}")
            figures: dict[str, Any] = {"budget_s": BUDGET_S, "chunks": chunk_count(url), "seeded": seeded}
            figures["quality"] = recall(b.stack.api_url, token)
            figures["cold_1"] = services.cold(b, token, "retrieval", f"k{point}", 1, cold_rounds)
            figures["cold_8"] = services.cold(
                b, token, "retrieval", f"k{point}", services.CONCURRENCY, cold_rounds
            )
            services.measure(b.stack.api_url, token, "retrieval", "warmup", callers=1, per_caller=3)
            figures["warm_1"] = services.measure(
                b.stack.api_url, token, "retrieval", "w1", callers=1, per_caller=n
            )
            figures["warm_8"] = services.measure(
                b.stack.api_url, token, "retrieval", "w8", callers=services.CONCURRENCY, per_caller=n
            )
            out["points"][str(point)] = figures
            log(
                f"services: retrieval at {point:,} chunks: recall@10 {figures['quality']['recall_at_10']}; "
                f"{services._line(figures)}"
            )
    finally:
        clear(url)
    return out


def recall_met(figures: dict[str, Any]) -> bool | None:
    value = (figures.get("quality") or {}).get("recall_at_10")
    return None if not isinstance(value, int | float) else value >= RECALL_FLOOR


def markdown_lines(kr: dict[str, Any] | None) -> list[str]:
    if not kr:
        return []
    from bench.report import _met, _pp

    lines = [
        "",
        "## Services (issue 12, part B): knowledge retrieval at 10k and 100k chunks",
        "",
        f"GET /services/knowledge/search through the live API server: the 12 labelled documents "
        f"({kr.get('labelled_chunks', 'n/a')} chunks, ingested through the route) among synthetic distractor "
        f"chunks (embedded with the sandbox's model, COPY, HNSW index rebuilt); {kr['candidates']} HNSW "
        "candidates re-ranked, top 10. Recall@10: share of the 49 labelled queries with a chunk holding "
        f"their answer in the top 10 (met: >= {RECALL_FLOOR}, the tests' floor). Latency met: p95 within "
        f"{kr['budget_s']:g} s and no failed request.",
        "",
        "| chunks | recall@10 | recall@1 | "
        + " | ".join(label for _, label in services.CELLS)
        + " | index build | met |",
        "|---|---|---|" + "---|" * len(services.CELLS) + "---|---|",
    ]
    for point, f in kr["points"].items():
        quality = f.get("quality") or {}
        cells = []
        for cell, _ in services.CELLS:
            s = f.get(cell) or {}
            errors = s.get("errors")
            cells.append(
                f"{_pp(s)}{f', errors {errors}' if errors else ''} ({_met(services.cell_met(f, cell))})"
            )
        verdicts = [services.route_met(f), recall_met(f)]
        met = None if any(v is None for v in verdicts) else all(verdicts)
        lines.append(
            f"| {f.get('chunks', point)} | {quality.get('recall_at_10', 'n/a')} ({_met(recall_met(f))}) | "
            f"{quality.get('recall_at_1', 'n/a')} | "
            + " | ".join(cells)
            + f" | {(f.get('seeded') or {}).get('index_build_s', 'n/a')} s | {_met(met)} |"
        )
    return lines


def clear_rows(business_url: str, run_id: str) -> None:
    """The rows part A's loop wrote through part B's routes."""
    conn = psycopg2.connect(business_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM message_classifications WHERE message_key LIKE %s", (f"bench-msg-{run_id}%",)
            )
            cur.execute("DELETE FROM dialect_detections WHERE text_key LIKE %s", (f"bench-dia-{run_id}%",))
    finally:
        conn.close()


# ------------------------------------------------------------------------- part B alone
def route_lines(routes: dict[str, Any]) -> list[str]:
    from bench.report import _met, _pp

    lines = [
        "| route | budget | " + " | ".join(label for _, label in services.CELLS) + " | met |",
        "|---|---|" + "---|" * len(services.CELLS) + "---|",
    ]
    for route, f in routes.items():
        cells = []
        for cell, _ in services.CELLS:
            s = f.get(cell) or {}
            errors = s.get("errors")
            cells.append(
                f"{_pp(s)}{f', errors {errors}' if errors else ''} ({_met(services.cell_met(f, cell))})"
            )
        lines.append(
            f"| {route} | < {f['budget_s']:g} s | "
            + " | ".join(cells)
            + f" | {_met(services.route_met(f))} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.services_text``: part B's services alone (what ``make bench --only services`` runs
    for them, without part A's routes), on a bench profile; results in bench/results/services-b-<time>.*"""
    import argparse
    import json
    import os
    import sys
    from datetime import UTC, datetime

    from bench import harness
    from bench.run import header
    from devtools import env as ep_env

    parser = argparse.ArgumentParser(prog="python -m bench.services_text")
    parser.add_argument("--n", type=int, default=15, help="warm requests per caller")
    parser.add_argument("--cold-rounds", type=int, default=1, help="API server restarts per cold cell")
    args = parser.parse_args(argv)
    if ep_env.profile() != "bench" and not os.environ.get("BENCH_ALLOW_PROFILE"):
        raise SystemExit("run with EP_PROFILE=bench, or BENCH_ALLOW_PROFILE=1 for a profile nobody else uses")
    state = read_state()
    sys.path.insert(0, str(ep_env.REPO / "plugins"))
    sys.path.append(str(ep_env.REPO / "dags"))
    os.environ["AIRFLOW_HOME"] = str(state["env"]["AIRFLOW_HOME"])  # type: ignore[index]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    cfg = {"svc_n": args.n, "svc_cold_rounds": args.cold_rounds, "chunk_points": list(CHUNK_POINTS)}
    results = header(stamp, "services-part-b", cfg, str(state["postgres"]["kind"]))  # type: ignore[index]
    started = time.monotonic()
    b = Bench()
    run_id = stamp.lower()
    try:
        results["stack_start_s"] = round(b.start(), 1)
        token = b.stack.token(services.SERVICE_USER)
        routes: dict[str, Any] = {}
        for route in ("message_classification", "dialect_detection"):
            figures: dict[str, Any] = {"budget_s": services.BUDGETS_S[route]}
            figures["cold_1"] = services.cold(b, token, route, run_id, 1, args.cold_rounds)
            figures["cold_8"] = services.cold(b, token, route, run_id, services.CONCURRENCY, args.cold_rounds)
            services.measure(b.stack.api_url, token, route, f"{run_id}-warmup", callers=1, per_caller=3)
            figures["warm_1"] = services.measure(
                b.stack.api_url, token, route, f"{run_id}-w1", callers=1, per_caller=args.n
            )
            figures["warm_8"] = services.measure(
                b.stack.api_url, token, route, f"{run_id}-w8", callers=services.CONCURRENCY, per_caller=args.n
            )
            routes[route] = figures
            log(f"services: {route} {services._line(figures)}")
        results["services_part_b"] = {"routes": routes, "n": args.n, "cold_rounds": args.cold_rounds}
        results["services_retrieval"] = run(b, args.n, args.cold_rounds)
    finally:
        b.stop()
        clear_rows(harness.business_url(), run_id)
    results["duration_s"] = round(time.monotonic() - started, 1)
    out = harness.RESULTS / f"services-b-{stamp}"
    out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    machine = results["machine"]
    lines = [
        f"# Services, part B ({stamp})",
        "",
        f"git {results['code']['git']}, Airflow {results['code']['airflow_version']}, "
        f"{machine['cpu_model']} x {machine['cpus']}, Postgres {machine['postgres']}, "
        f"load {machine['load_avg_start']}",
        "",
        f"Client-side through the live API server with a bearer token; cold: first request(s) after an API "
        f"server restart ({args.cold_rounds} restart(s) per cell); warm: {args.n} requests per caller after "
        "3; each request a message never seen before (classified and written). Met: p95 within the budget "
        "and no failed request.",
        "",
        *route_lines(routes),
        *markdown_lines(results["services_retrieval"]),
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines))
    log(f"results: {out}.md (+ .json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
