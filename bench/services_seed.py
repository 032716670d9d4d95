"""The dashboard's bench dataset: ``python -m bench.services_seed [--workflows 100000] [--clear]``.

Writes N workflows into the profile's business database (``EP_PROFILE``; or ``--db-url``) with what the
dashboard reads around them, deterministic (a function of the row number) and marked so they can be removed:

- ``saga_workflows``: N rows, ids ``benchsvc:<i>``, partner_approval / dd_room / signature_commitment; 30 %
  running, 45 % completed, the rest ended badly (12 % compensated, 3 % being compensated or failed to be,
  10 % rejected, expired or failed) with a compensation run id set (the reconciler leaves them alone);
  updated over the last 90 days;
- ``approval_requests``: 1-3 stages per workflow, the last one pending for running workflows, assigned to
  one of six approvers, opened over the last 30 days (about 2 N rows, 0.3 N pending);
- ``lead_scores``: N leads (``benchsvc-lead-<i>``) over the CRM stages and score bands;
- ``outside_calls``: N calls (source ``bench``) to ten outside systems over the last 7 days, 3 % failed.

``--clear`` removes them (and nothing else). Both end with ANALYZE, so the planner sees the new sizes.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import psycopg2

WORKFLOW_PREFIX = "benchsvc:"
LEAD_PREFIX = "benchsvc-lead-"
CALL_SOURCE = "bench"
TABLES = ("saga_workflows", "approval_requests", "lead_scores", "outside_calls")

_SEED = """
INSERT INTO saga_workflows (workflow_id, dag_id, run_id, business_key, status, compensation_run_id,
                            created_at, updated_at)
SELECT %(prefix)s || i, w.dag_id, 'benchsvc_' || i, 'benchsvc-' || i, w.status,
       CASE WHEN w.status NOT IN ('running', 'completed') THEN 'compensate__' || %(prefix)s || i END,
       now() - make_interval(hours => (i * 7) %% 2160 + 1), now() - make_interval(hours => (i * 11) %% 2160)
FROM generate_series(1, %(n)s) AS i,
LATERAL (SELECT (ARRAY['partner_approval', 'dd_room', 'signature_commitment'])[1 + i %% 3] AS dag_id,
                CASE WHEN (i * 37) %% 100 < 30 THEN 'running'
                     WHEN (i * 37) %% 100 < 75 THEN 'completed'
                     WHEN (i * 37) %% 100 < 87 THEN 'compensated'
                     WHEN (i * 37) %% 100 < 91 THEN 'rejected'
                     WHEN (i * 37) %% 100 < 94 THEN 'expired'
                     WHEN (i * 37) %% 100 < 97 THEN 'failed'
                     WHEN (i * 37) %% 100 < 99 THEN 'compensating'
                     ELSE 'compensation_failed' END AS status) AS w;

INSERT INTO approval_requests (request_id, workflow_id, stage, dag_id, run_id, task_id, assignees, subject,
                               status, decision, decided_by, decided_at, created_at)
SELECT w.workflow_id || ':' || s.stage, w.workflow_id, s.stage, w.dag_id, w.run_id, s.stage,
       ARRAY[(ARRAY['manager', 'legal', 'executive', 'dd_lead', 'ic_member', 'deal_desk'])[1 + (k + i) %% 6]],
       'bench approval', s.status,
       CASE WHEN s.status = 'approved' THEN 'Approve' END,
       CASE WHEN s.status = 'approved' THEN 'manager' END,
       CASE WHEN s.status = 'approved' THEN now() - make_interval(hours => (i * 13 + k) %% 720) END,
       now() - make_interval(mins => (i * 13 + k * 7) %% 43200)
FROM (SELECT workflow_id, dag_id, run_id, status, substr(workflow_id, length(%(prefix)s) + 1)::int AS i
      FROM saga_workflows WHERE workflow_id LIKE %(prefix)s || '%%') AS w,
LATERAL generate_series(1, 1 + w.i %% 3) AS k,
LATERAL (SELECT (ARRAY['manager_approval', 'legal_review', 'executive_approval'])[k] AS stage,
                CASE WHEN w.status = 'running' AND k = 1 + w.i %% 3 THEN 'pending' ELSE 'approved' END
                    AS status) AS s;

INSERT INTO lead_scores (lead_key, stage, score, band, factors, degraded, rules_version, input_sha256,
                         scored_at)
SELECT %(lead_prefix)s || i,
       (ARRAY['new', 'new', 'new', 'contacted', 'contacted', 'qualified', 'proposal', 'won', 'lost', 'lost'])
           [1 + (i * 7) %% 10],
       (i * 29) %% 101,
       CASE WHEN (i * 29) %% 101 >= 70 THEN 'hot' WHEN (i * 29) %% 101 >= 40 THEN 'warm' ELSE 'cold' END,
       '[]'::jsonb, false, 'lead-v1', 'bench', now() - make_interval(hours => i %% 2160)
FROM generate_series(1, %(n)s) AS i;

INSERT INTO outside_calls (system, source, ok, latency_ms, detail, at)
SELECT (ARRAY['crm_default', 'esign_default', 'email_default', 'whatsapp_default', 'sms_default',
              'docstore_default', 'calcom_default', 'llm_default', 'research_default', 'financials_default'])
           [1 + i %% 10],
       %(source)s, (i * 17) %% 100 >= 3, 20 + (i * 31) %% 400, 'bench',
       now() - make_interval(mins => i %% 10080)
FROM generate_series(1, %(n)s) AS i;
"""

_CLEAR = """
DELETE FROM approval_requests WHERE workflow_id LIKE %(prefix)s || '%%';
DELETE FROM saga_workflows WHERE workflow_id LIKE %(prefix)s || '%%';
DELETE FROM lead_scores WHERE lead_key LIKE %(lead_prefix)s || '%%';
DELETE FROM outside_calls WHERE source = %(source)s;
"""


def _params(n: int = 0) -> dict[str, Any]:
    return {"prefix": WORKFLOW_PREFIX, "lead_prefix": LEAD_PREFIX, "source": CALL_SOURCE, "n": n}


def _analyze(conn: Any) -> None:
    conn.autocommit = True
    with conn.cursor() as cur:
        for table in TABLES:
            cur.execute(f"ANALYZE {table}")  # the module's own table names


def clear(url: str) -> None:
    conn = psycopg2.connect(url, application_name="ep-bench-seed")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(_CLEAR, _params())
        _analyze(conn)
    finally:
        conn.close()


def seed(url: str, workflows: int) -> dict[str, Any]:
    """Replace the bench dataset by one of ``workflows`` workflows; returns the row counts it wrote."""
    started = time.monotonic()
    conn = psycopg2.connect(url, application_name="ep-bench-seed")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(_CLEAR, _params())
            cur.execute(_SEED, _params(workflows))
            counts = {}
            for table, where in (
                ("saga_workflows", "workflow_id LIKE %(prefix)s || '%%'"),
                ("approval_requests", "workflow_id LIKE %(prefix)s || '%%'"),
                ("lead_scores", "lead_key LIKE %(lead_prefix)s || '%%'"),
                ("outside_calls", "source = %(source)s"),
            ):
                cur.execute(f"SELECT count(*) FROM {table} WHERE {where}", _params())
                counts[table] = int(cur.fetchone()[0])
            cur.execute(
                "SELECT count(*) FROM approval_requests WHERE status = 'pending'"
                " AND workflow_id LIKE %(prefix)s || '%%'",
                _params(),
            )
            counts["pending_approvals"] = int(cur.fetchone()[0])
        _analyze(conn)
    finally:
        conn.close()
    return {"rows": counts, "seconds": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.services_seed", description=__doc__)
    parser.add_argument("--workflows", type=int, default=100_000)
    parser.add_argument("--clear", action="store_true", help="remove the bench dataset instead")
    parser.add_argument("--db-url", help="business database (default: the EP_PROFILE's)")
    args = parser.parse_args(argv)
    if args.db_url:
        url = args.db_url
    else:
        from devtools.stack import read_state

        url = str(read_state()["business_db_url"])
    if args.clear:
        clear(url)
        print("bench dataset removed")
    else:
        print(seed(url, args.workflows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
