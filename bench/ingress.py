"""The ingress under a CRM burst (issue 17, target 6): N distinct CRM start events, each delivered twice,
by S concurrent senders, against the live API server.

Each delivery is a signed ``POST /webhooks/crm/events`` asking for a ``partner_approval`` run, as the CRM
sends it; the copies of all events are shuffled together, so a redelivery may arrive before, during or after
its first copy. Measured: deliveries per second over the burst, each delivery's latency (request sent ->
answer), the answers by status, then the time until every run exists (the starter starts them from the
stored requests after the answers) and the count: exactly one run per event, none lost.

The runs are failed afterwards (they would keep the scheduler busy for the sections after this one).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.harness import Bench, log, summary
from include.security.hmac_signing import signed_headers

DAG = "partner_approval"


def _event(tag: str, i: int) -> dict[str, Any]:
    return {
        "event_id": f"burst-{tag}-{i:05d}",
        "workflow": DAG,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {
            "request_id": f"burst-{tag}-{i:05d}",
            "partner_id": f"ptn_{i % 50}",
            "requested_by": "crm",
        },
    }


def run(
    b: Bench, events: int, copies: int = 2, senders: int = 20, start_timeout: float = 600
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    bodies = [json.dumps(_event(tag, i), separators=(",", ":")).encode() for i in range(events)]
    deliveries = [body for body in bodies for _ in range(copies)]
    random.Random(17).shuffle(deliveries)
    secret = b.setup.secrets.webhook_crm_secret
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    queue = iter(deliveries)

    def sender(_: int) -> None:
        with httpx.Client(base_url=b.stack.api_url, timeout=30) as client:
            while True:
                with lock:
                    body = next(queue, None)
                if body is None:
                    return
                sent = time.monotonic()
                try:
                    headers = signed_headers(secret, body, time.time())
                    status = str(
                        client.post("/webhooks/crm/events", content=body, headers=headers).status_code
                    )
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                took = time.monotonic() - sent
                with lock:
                    latencies.append(took)
                    statuses[status] += 1

    log(f"ingress burst: {events} CRM events x{copies} from {senders} senders")
    started = time.monotonic()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(sender, range(senders)))
    burst_s = time.monotonic() - started
    run_ids = [f"crm__burst-{tag}-{i:05d}" for i in range(events)]

    def started_runs() -> int:
        rows = b.q("SELECT count(*) FROM dag_run WHERE dag_id = %s AND run_id = ANY(%s)", (DAG, run_ids))
        return int(rows[0][0])

    count = started_runs()
    deadline = time.monotonic() + start_timeout
    while count < events and time.monotonic() < deadline:
        time.sleep(0.5)
        count = started_runs()
    all_started_s = time.monotonic() - started if count >= events else None
    outcomes = dict(
        b.q(
            "SELECT coalesce(outcome, 'pending'), count(*) FROM run_starts WHERE event_id LIKE %s GROUP BY 1",
            (f"crm:burst-{tag}-%",),
            db="biz",
        )
    )
    b.q(
        "UPDATE dag_run SET state = 'failed' WHERE dag_id = %s AND run_id = ANY(%s)"
        " AND state IN ('queued', 'running')",
        (DAG, run_ids),
    )
    out = {
        "events": events,
        "copies": copies,
        "senders": senders,
        "deliveries": len(deliveries),
        "burst_s": round(burst_s, 2),
        "deliveries_per_s": round(len(deliveries) / burst_s, 1),
        "latency_s": summary(latencies),
        "statuses": dict(statuses),
        "runs_started": count,
        "runs_expected": events,
        "all_runs_started_after_s": round(all_started_s, 1) if all_started_s is not None else None,
        "start_requests": outcomes,
    }
    log(
        f"ingress burst: {out['deliveries_per_s']}/s, p50 {out['latency_s'].get('p50')} s,"
        f" p95 {out['latency_s'].get('p95')} s, statuses {out['statuses']}, runs {count}/{events}"
        f" (all started after {out['all_runs_started_after_s']} s)"
    )
    return out
