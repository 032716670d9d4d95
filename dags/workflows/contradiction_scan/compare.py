"""Comparing each pair of the deal's documents: the deterministic checks and the LLM, the result cached in
``contradiction_comparisons`` under the pair's content hashes, the model and the rules' version.

A pair compared before (by this deal's earlier scan, a retry of this task, or any scan holding the same two
texts) is read from the cache: the LLM is not asked again. Each comparison is cached as soon as it is made,
so a retry after a failure asks the LLM only for the pairs still missing. An LLM that keeps failing (or
keeps answering something that is not the comparison) ends the run failed, naming the pair and the cause;
nothing is reported and nobody is told, the pairs already compared stay cached."""

from __future__ import annotations

import json
import logging
from typing import Any

from workflows.contradiction_scan.documents import DAG_ID, fail

log = logging.getLogger(__name__)


def compare_pairs(scan: dict[str, Any], *, last_try: bool) -> dict[str, Any]:
    """Each pair's findings (rules and model), in the pair's content-hash order, and how many pairs were
    compared now and reused from the cache."""
    from execution_plane.hooks.http import ProviderError
    from execution_plane.hooks.llm import LlmHook
    from execution_plane.saga.db import connect
    from workflows.contradiction_scan.domain import Document, ModelAnswerError, comparison_key, pairs

    documents = [Document.model_validate(d) for d in scan["documents"]]
    compared: list[dict[str, Any]] = []
    asked = reused = 0
    conn = connect(application_name=DAG_ID)
    hook = LlmHook()
    try:
        all_pairs = pairs(documents)
        for a, b in all_pairs:
            key = comparison_key(a.sha256, b.sha256, scan["model"], scan["rules_version"])
            result = _cached(conn, key)
            if result is not None:
                reused += 1
            else:
                try:
                    result = _compare(hook, scan["deal_id"], a, b)
                except (ProviderError, ModelAnswerError) as exc:
                    retryable = not isinstance(exc, ProviderError) or exc.retryable
                    done = len(compared)
                    reason = (
                        f"the LLM could not compare {a.doc_id} with {b.doc_id}: {exc}"[:600]
                        + f"; {done} of {len(all_pairs)} pairs compared (kept in the cache for the next try);"
                        " nothing reported, nobody told"
                    )
                    if retryable and not last_try:
                        log.warning("%s: will try again", reason)
                        raise
                    raise fail(reason) from None
                asked += 1
                _cache(conn, key, a.sha256, b.sha256, scan["model"], scan["rules_version"], result)
            compared.append({"a": a.doc_id, "b": b.doc_id, "cache_key": key, "result": result})
    finally:
        hook.close()
        conn.close()
    log.info(
        "scan %s: %s pairs, %s compared (LLM asked), %s reused from the cache",
        scan["scan_id"],
        len(compared),
        asked,
        reused,
    )
    return {"pairs": compared, "compared": asked, "reused": reused}


def _compare(hook: Any, deal_id: str, a: Any, b: Any) -> dict[str, Any]:
    from workflows.contradiction_scan.domain import (
        SYSTEM_PROMPT,
        PairResult,
        compare_facts,
        comparison_prompt,
        document_facts,
        read_answer,
    )

    rules = compare_facts(document_facts(a.text), document_facts(b.text))
    answer = hook.complete(comparison_prompt(deal_id, a, b), system_prompt=SYSTEM_PROMPT, json_object=True)
    model, ungrounded = read_answer(answer, a, b)
    if ungrounded:
        log.warning(
            "%s / %s: %s conflict(s) the model did not ground in the texts, dropped",
            a.doc_id,
            b.doc_id,
            ungrounded,
        )
    return PairResult(tuple(rules), tuple(model), ungrounded).as_json()


def _cached(conn: Any, key: str) -> dict[str, Any] | None:
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE contradiction_comparisons SET reused = reused + 1, last_used_at = now()"
            " WHERE cache_key = %s RETURNING result",
            (key,),
        )
        row = cur.fetchone()
    return dict(row[0]) if row else None


def _cache(
    conn: Any, key: str, sha_a: str, sha_b: str, model: str, rules: str, result: dict[str, Any]
) -> None:
    """Two scans comparing the same pair at once store one row: the first one's (the same texts, model
    and rules give the same comparison)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO contradiction_comparisons (cache_key, document_a_sha256, document_b_sha256, model,"
            " rules_version, result) VALUES (%s, %s, %s, %s, %s, %s::jsonb)"
            " ON CONFLICT (cache_key) DO NOTHING",
            (key, sha_a, sha_b, model, rules, json.dumps(result, ensure_ascii=False)),
        )
