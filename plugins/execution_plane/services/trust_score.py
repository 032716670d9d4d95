"""Trust score, the one implementation behind ``POST /services/trust-scores`` and the workflow step
(``trust_score_task``).

In ONE transaction: read the subject's history from the business database (its workflows: partner
approvals by partner id, affiliate onboardings by affiliate id and the signature workflows of its deals, by
their saga status; the signature requests of its deals), score it with ``include.services.trust_score`` and
upsert the row by (subject_type, subject_id). The row carries the rules version and a revision that grows
only when the input (request + history + rules version) changed: the same request twice is one row,
unchanged.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from execution_plane.services import db
from include.services.common import input_digest
from include.services.trust_score import (
    RULES_VERSION,
    History,
    SignatureRecord,
    TrustScore,
    TrustScoreRequest,
    score_trust,
)

_WORKFLOW_BUCKETS = {
    "completed": "completed",
    "compensated": "compensated",
    "compensating": "compensated",
    "compensation_failed": "compensated",
    "rejected": "ended_badly",
    "expired": "ended_badly",
    "failed": "ended_badly",
    "running": "running",
}
_SIGNATURE_BUCKETS = {
    "signed": "signed",
    "declined": "declined",
    "expired": "expired",
    "voided": "voided",
    "approved": "pending",
    "sent": "pending",
}


class TrustScoreResult(TrustScore):
    revision: int
    stored: Literal["created", "updated", "unchanged"]


def read_history(cur: Any, request: TrustScoreRequest) -> History:
    cur.execute(
        "WITH subject_workflows AS ("
        " SELECT workflow_id FROM partner_approvals WHERE partner_id = %s AND %s"
        " UNION SELECT workflow_id FROM affiliate_applications WHERE affiliate_id = %s AND %s"
        " UNION SELECT workflow_id FROM signature_requests WHERE deal_id = ANY(%s))"
        " SELECT w.status, count(*) FROM saga_workflows w JOIN subject_workflows USING (workflow_id)"
        " GROUP BY w.status",
        (
            request.subject_id,
            request.subject_type == "partner",
            request.subject_id,
            request.subject_type == "affiliate",
            list(request.deal_ids),
        ),
    )
    workflows: dict[str, int] = {}
    for status, n in cur.fetchall():
        bucket = _WORKFLOW_BUCKETS[status]
        workflows[bucket] = workflows.get(bucket, 0) + int(n)
    signatures: dict[str, int] = {}
    if request.deal_ids:
        cur.execute(
            "SELECT status, count(*) FROM signature_requests WHERE deal_id = ANY(%s) GROUP BY status",
            (list(request.deal_ids),),
        )
        for status, n in cur.fetchall():
            bucket = _SIGNATURE_BUCKETS[status]
            signatures[bucket] = signatures.get(bucket, 0) + int(n)
    return History(**workflows, signatures=SignatureRecord(**signatures))


def _upsert(
    cur: Any, result: TrustScore, digest: str
) -> tuple[int, Literal["created", "updated", "unchanged"]]:
    cur.execute(
        "INSERT INTO trust_scores (subject_type, subject_id, score, tier, factors, rules_version,"
        " input_sha256) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s)"
        " ON CONFLICT (subject_type, subject_id) DO UPDATE SET score = EXCLUDED.score, tier = EXCLUDED.tier,"
        " factors = EXCLUDED.factors, rules_version = EXCLUDED.rules_version,"
        " input_sha256 = EXCLUDED.input_sha256, revision = trust_scores.revision + 1, computed_at = now()"
        " WHERE trust_scores.input_sha256 <> EXCLUDED.input_sha256"
        " RETURNING revision, (xmax = 0)",
        (
            result.subject_type,
            result.subject_id,
            result.score,
            result.tier,
            json.dumps([f.model_dump(mode="json") for f in result.factors]),
            result.rules_version,
            digest,
        ),
    )
    row = cur.fetchone()
    if row is not None:
        return int(row[0]), "created" if row[1] else "updated"
    cur.execute(
        "SELECT revision FROM trust_scores WHERE subject_type = %s AND subject_id = %s",
        (result.subject_type, result.subject_id),
    )
    return int(cur.fetchone()[0]), "unchanged"


def compute(request: TrustScoreRequest) -> TrustScoreResult:
    """Score the subject from its history and store the score; see the module docstring."""

    def work(cur: Any) -> TrustScoreResult:
        history = read_history(cur, request)
        result = score_trust(request, history)
        digest = input_digest(RULES_VERSION, {"request": request.model_dump(mode="json"), "history": history})
        revision, stored = _upsert(cur, result, digest)
        return TrustScoreResult(**result.model_dump(), revision=revision, stored=stored)

    return db.transaction(work)


def trust_score_task(request: dict[str, Any]) -> dict[str, Any]:
    """The workflow step: the subject and its records -> the stored trust score (JSON, for XCom)."""
    return compute(TrustScoreRequest.model_validate(request)).model_dump(mode="json")
