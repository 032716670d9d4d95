"""Start the runs the CRM asked for, from the stored requests, in a thread of the API server.

The CRM's start webhook is answered once the request is durable (``run_starts`` and the inbox, one
transaction): storing takes a millisecond, starting an Airflow run tens (the serialized DAG is loaded, the run
and its task instances written), and a burst of deliveries must not wait for one another's starts. This
thread starts them, oldest first, as soon as a delivery wakes it, and on its own every few seconds.

Once, whatever happens:
- the run id comes from the event id and Airflow's (dag_id, run_id) is unique: a redelivery, a second API
  server's starter or a start repeated after a crash finds the run and records ``duplicate``;
- a starter claims a row by moving its ``next_attempt_at`` forward (``FOR UPDATE SKIP LOCKED``): another
  starter skips it, and if this one dies mid-start the row is picked up again when the claim passes;
- nothing accepted is lost: a row stays pending until its run exists. A workflow paused or not deployed
  when its turn comes is retried with a backoff (at most a minute apart) and the reason kept in
  ``last_error``; only a start Airflow itself refuses for good (its params, a run id another workflow holds)
  ends ``refused``, logged as an error.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from execution_plane.webhooks import db, runs
from execution_plane.webhooks.errors import WebhookError

log = logging.getLogger(__name__)

POLL_S = 5.0
"""How often the thread looks for due rows without being woken (retries, rows of a starter that died)."""
CLAIM_S = 60
"""How long a claimed row is left to its starter before another one takes it."""
BATCH = 20
MAX_BACKOFF_S = 60
# Refusals a later attempt can get past (the workflow is deployed, unpaused, the database is back).
TRANSIENT = frozenset({"workflow_unavailable", "workflow_paused", "unavailable", "busy"})


@dataclass(frozen=True)
class PendingStart:
    event_id: str
    dag_id: str
    run_id: str
    conf: dict[str, Any]
    attempts: int


def _claim(cur: Any, limit: int) -> list[PendingStart]:
    cur.execute(
        "UPDATE run_starts SET attempts = attempts + 1,"
        " next_attempt_at = now() + make_interval(secs => %s)"
        " WHERE event_id IN (SELECT event_id FROM run_starts"
        "  WHERE outcome IS NULL AND next_attempt_at <= now()"
        "  ORDER BY received_at LIMIT %s FOR UPDATE SKIP LOCKED)"
        " RETURNING event_id, dag_id, run_id, conf, attempts",
        (CLAIM_S, limit),
    )
    rows = sorted(cur.fetchall(), key=lambda r: r[0])
    return [PendingStart(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def _ended(event_id: str, outcome: str, error: str | None) -> None:
    db.run_in_transaction(
        lambda cur: cur.execute(
            "UPDATE run_starts SET outcome = %s, last_error = %s, ended_at = now() WHERE event_id = %s",
            (outcome, error, event_id),
        )
    )


def _retry_later(start: PendingStart, error: str) -> None:
    delay = min(MAX_BACKOFF_S, 2 ** min(start.attempts, 6))
    db.run_in_transaction(
        lambda cur: cur.execute(
            "UPDATE run_starts SET last_error = %s, next_attempt_at = now() + make_interval(secs => %s)"
            " WHERE event_id = %s AND outcome IS NULL",
            (error, delay, start.event_id),
        )
    )


def start_one(start: PendingStart, startable_dag_ids: Any) -> str:
    """Start one claimed request; returns its outcome (``started``, ``duplicate``, ``refused``, ``retry``)."""
    try:
        result = runs.start_run(start.dag_id, start.run_id, start.conf, startable_dag_ids=startable_dag_ids)
    except WebhookError as exc:
        if exc.error in TRANSIENT:
            log.warning("start of %s/%s postponed: %s", start.dag_id, start.run_id, exc.message)
            _retry_later(start, f"{exc.error}: {exc.message}")
            return "retry"
        log.error("start of %s/%s refused by Airflow: %s", start.dag_id, start.run_id, exc.message)
        _ended(start.event_id, "refused", f"{exc.error}: {exc.message}")
        return "refused"
    _ended(start.event_id, result.status, None)
    log.info("run %s of %s %s (event %s)", start.run_id, start.dag_id, result.status, start.event_id)
    return result.status


def drain_once(startable_dag_ids: Any, limit: int = BATCH) -> int:
    """Claim and start the due requests, at most ``limit``; how many were claimed."""
    claimed = db.run_in_transaction(lambda cur: _claim(cur, limit))
    for start in claimed:
        try:
            start_one(start, startable_dag_ids)
        except Exception:
            # Left claimed: picked up again when the claim passes.
            log.exception("start of %s/%s failed; retried in %s s", start.dag_id, start.run_id, CLAIM_S)
    return len(claimed)


class Starter:
    """The thread of one API server process; ``wake`` after a request is stored."""

    def __init__(self, startable_dag_ids: Any) -> None:
        self._startable = startable_dag_ids
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="ep-run-starter", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self.start()
        self._wake.set()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        log.info("run starter running (polls every %s s, woken by each start request)", POLL_S)
        while not self._stop.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            try:
                while not self._stop.is_set() and drain_once(self._startable):
                    pass
            except WebhookError as exc:  # the business database is unavailable: the next poll retries
                log.warning("run starter: %s", exc.message)
            except Exception:
                log.exception("run starter: unexpected error; retrying in %s s", POLL_S)
                time.sleep(1)
        log.info("run starter stopped")
