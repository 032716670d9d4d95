"""Lead scoring, the one implementation behind ``POST /services/lead-scores`` and the workflow step
(``score_lead_task``).

1. The stored score of the lead is returned as it is when it was computed from the same input by the same
   rules and is not degraded (a repeated request changes nothing and asks the LLM nothing).
2. Otherwise the LLM (connection ``llm_default``, OpenAI-compatible, JSON answer) reads the lead's notes,
   with ``LLM_TIMEOUT_S`` for the whole call; the rules of ``include.services.lead_scoring`` score the lead.
   Any failure of that call (error status, timeout, unreachable, an answer without the asked shape, a
   missing connection) gives the rules-only score, ``degraded`` with the reason: never a silent zero.
3. One transaction upserts the score by ``lead_key`` and records the LLM call in ``outside_calls``. A
   stored full score is not replaced by a degraded one of the same input; a degraded one is replaced by
   the full score as soon as the LLM answers again.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from execution_plane.services import connections, db
from include.services.common import input_digest
from include.services.lead_scoring import (
    LLM_SYSTEM_PROMPT,
    RULES_VERSION,
    Lead,
    LeadScore,
    LlmJudgement,
    judgement_from_answer,
    llm_prompt,
    score_lead,
)

if TYPE_CHECKING:
    from execution_plane.hooks.llm import LlmHook

log = logging.getLogger(__name__)

LLM_CONN_ID = "llm_default"
LLM_TIMEOUT_S = 3.0  # inside the service's 5 s budget, with room for the database


class LeadScoreResult(LeadScore):
    stored: Literal["created", "updated", "unchanged"]


class _Call(BaseModel):
    ok: bool
    latency_ms: float
    detail: str


def _new_llm_hook() -> LlmHook:
    from execution_plane.hooks.llm import LlmHook

    return LlmHook(LLM_CONN_ID, timeout_s=LLM_TIMEOUT_S)


_llm = connections.WarmHook(_new_llm_hook)  # the LLM client, warm between calls


def ask_llm(lead: Lead, digest: str) -> tuple[LlmJudgement | None, str | None, _Call | None]:
    """(judgement, why it is missing, the call made). Notes with nothing to read need no call."""
    prompt = llm_prompt(lead)
    if not prompt:
        return LlmJudgement(), None, None
    started = time.perf_counter()
    try:
        hook = _llm.get()
        model = connections.get(LLM_CONN_ID).extra_dejson.get("model", "gpt-4o-mini")
        body = hook.json(
            "POST",
            "/chat/completions",
            json={
                "model": model,
                "temperature": 0,
                "response_format": {"type": "json_object"},
                "messages": [
                    {"role": "system", "content": LLM_SYSTEM_PROMPT},
                    {"role": "user", "content": prompt},
                ],
            },
            # The same lead and input is the same question: a provider that replays by key answers alike.
            idempotency_key=f"lead_scoring:{lead.lead_id}:{digest[:16]}",
        )
        answer = json.loads(body["choices"][0]["message"]["content"])
        judgement = judgement_from_answer(answer)
    except Exception as exc:  # every way the LLM can fail is a degraded score, with the reason
        latency = (time.perf_counter() - started) * 1000
        reason = f"LLM unavailable: {type(exc).__name__}: {exc}"[:300]
        log.warning("lead %s scored without the LLM: %s", lead.lead_id, reason)
        return None, reason, _Call(ok=False, latency_ms=latency, detail=reason)
    latency = (time.perf_counter() - started) * 1000
    return judgement, None, _Call(ok=True, latency_ms=latency, detail=f"answer {judgement.reference}")


_COLUMNS = (
    "lead_key, stage, score, band, factors, degraded, degraded_reason, llm_reference, rules_version,"
    " input_sha256"
)


def _stored(cur: Any, lead_id: str) -> tuple[LeadScore, str] | None:
    cur.execute(f"SELECT {_COLUMNS} FROM lead_scores WHERE lead_key = %s", (lead_id,))
    row = cur.fetchone()
    if row is None:
        return None
    key, stage, score, band, factors, degraded, reason, reference, version, digest = row
    return (
        LeadScore(
            lead_id=key,
            stage=stage,
            score=score,
            band=band,
            factors=factors,
            degraded=degraded,
            degraded_reason=reason,
            llm_reference=reference,
            rules_version=version,
        ),
        digest,
    )


def _upsert(cur: Any, result: LeadScore, digest: str) -> Literal["created", "updated", "unchanged"]:
    cur.execute(
        f"INSERT INTO lead_scores ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s)"
        " ON CONFLICT (lead_key) DO UPDATE SET stage = EXCLUDED.stage, score = EXCLUDED.score,"
        " band = EXCLUDED.band, factors = EXCLUDED.factors, degraded = EXCLUDED.degraded,"
        " degraded_reason = EXCLUDED.degraded_reason, llm_reference = EXCLUDED.llm_reference,"
        " rules_version = EXCLUDED.rules_version, input_sha256 = EXCLUDED.input_sha256, scored_at = now()"
        # A full score of this very input stays; a degraded one gives way to the next computation.
        " WHERE lead_scores.input_sha256 <> EXCLUDED.input_sha256 OR lead_scores.degraded"
        " RETURNING (xmax = 0)",
        (
            result.lead_id,
            result.stage,
            result.score,
            result.band,
            json.dumps([f.model_dump(mode="json") for f in result.factors]),
            result.degraded,
            result.degraded_reason,
            result.llm_reference,
            result.rules_version,
            digest,
        ),
    )
    row = cur.fetchone()
    return "unchanged" if row is None else "created" if row[0] else "updated"


def score(lead: Lead) -> LeadScoreResult:
    """Score ``lead`` and store the score (upsert by lead id); see the module docstring."""
    digest = input_digest(RULES_VERSION, lead)
    found = db.transaction(lambda cur: _stored(cur, lead.lead_id))
    if found is not None and found[1] == digest and not found[0].degraded:
        return LeadScoreResult(**found[0].model_dump(), stored="unchanged")
    judgement, reason, call = ask_llm(lead, digest)
    result = score_lead(lead, judgement, degraded_reason=reason)

    def write(cur: Any) -> LeadScoreResult:
        stored = _upsert(cur, result, digest)
        if call is not None:
            db.record_outside_call(cur, system=LLM_CONN_ID, source="lead_scoring", **call.model_dump())
        if stored == "unchanged":
            # A concurrent identical request stored its full score first: that one is the answer.
            current = _stored(cur, lead.lead_id)
            assert current is not None
            return LeadScoreResult(**current[0].model_dump(), stored=stored)
        return LeadScoreResult(**result.model_dump(), stored=stored)

    return db.transaction(write)


def score_lead_task(lead: dict[str, Any]) -> dict[str, Any]:
    """The workflow step: ``lead`` as the CRM gives it -> the stored score (JSON, for XCom)."""
    return score(Lead.model_validate(lead)).model_dump(mode="json")
