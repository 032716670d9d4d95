"""execution_plane.pgpool: the pool the webhook ingress, the services and the knowledge store share, on the
test profile's business database (a real Postgres)."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pytest

from execution_plane.pgpool import RetryingPool, connect_kwargs


class Busy(Exception):
    pass


class Unavailable(Exception):
    pass


def kwargs_of(url: str, **overrides: Any) -> dict[str, Any]:
    parts = urlsplit(url)

    class Conn:
        host = parts.hostname
        port = parts.port
        schema = parts.path.lstrip("/")
        login = parts.username
        password = parts.password

    return {**connect_kwargs(Conn, "ep-pgpool-test"), **overrides}


def pool_for(url: str, **options: Any) -> RetryingPool:
    kwargs = options.pop("kwargs", None) or kwargs_of(url)
    return RetryingPool(
        "test database",
        lambda: kwargs,
        busy=Busy,
        unavailable=lambda error: Unavailable(str(error)),
        **options,
    )


def backend_pid(cur: Any) -> int:
    cur.execute("SELECT pg_backend_pid()")
    return int(cur.fetchone()[0])


def test_connect_kwargs_leave_out_an_empty_password() -> None:
    class Conn:
        host, port, schema, login, password = "db.example", None, "biz", "app", ""

    kwargs = connect_kwargs(Conn, "ep-x")
    assert kwargs == {
        "host": "db.example",
        "port": 5432,
        "dbname": "biz",
        "user": "app",
        "connect_timeout": 5,
        "application_name": "ep-x",
    }


def test_nothing_connects_before_the_first_transaction(business_db_url: str) -> None:
    pool = pool_for(business_db_url)
    assert not pool.opened and pool.where == ""
    assert pool.transaction(lambda cur: cur.execute("SELECT 1") or cur.fetchone()) == (1,)
    assert pool.opened and pool.where.endswith("/" + urlsplit(business_db_url).path.lstrip("/"))
    pool.close()
    assert not pool.opened


def test_a_dead_pooled_connection_is_replaced_and_the_work_runs_once_more(business_db_url: str) -> None:
    """A restarted Postgres leaves dead connections in the pool: the first try fails on one, the retry runs
    the work on a fresh connection and commits."""
    pool = pool_for(business_db_url)
    first = pool.transaction(backend_pid)
    with psycopg2.connect(business_db_url) as admin, admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (first,))
        assert cur.fetchone() == (True,)
    runs: list[int] = []

    def work(cur: Any) -> int:
        runs.append(1)
        return backend_pid(cur)

    second = pool.transaction(work)
    assert second != first and len(runs) == 2  # the work ran on the dead one, then again on a fresh one
    assert pool.transaction(backend_pid) == second  # the dead connection was not handed out again
    pool.close()


def test_a_database_that_stays_away_is_the_callers_unavailable_error(business_db_url: str) -> None:
    pool = pool_for(business_db_url, kwargs=kwargs_of(business_db_url, port=9, connect_timeout=1))
    with pytest.raises(Unavailable):
        pool.transaction(backend_pid)


def test_an_error_in_the_work_rolls_back_and_the_connection_serves_again(business_db_url: str) -> None:
    pool = pool_for(business_db_url)
    pool.transaction(lambda cur: cur.execute("CREATE TEMP TABLE IF NOT EXISTS pgpool_t (x int)"))

    def fails(cur: Any) -> None:
        cur.execute("INSERT INTO pgpool_t VALUES (1)")
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        pool.transaction(fails)
    assert pool.transaction(lambda cur: cur.execute("SELECT count(*) FROM pgpool_t") or cur.fetchone()) == (
        0,
    )
    pool.close()


def test_callers_beyond_the_pool_wait_then_get_the_busy_error(business_db_url: str) -> None:
    pool = pool_for(business_db_url, max_connections=1, checkout_timeout_s=0.2)
    inside, release = threading.Event(), threading.Event()

    def hold(cur: Any) -> None:
        inside.set()
        release.wait(10)

    holder = threading.Thread(target=pool.transaction, args=(hold,))
    holder.start()
    assert inside.wait(10)
    with pytest.raises(Busy):
        pool.transaction(backend_pid)
    release.set()
    holder.join(10)
    assert pool.transaction(lambda cur: 7) == 7  # the slot came back
    pool.close()


def test_the_checkout_hook_runs_in_each_transaction_and_close_resets(business_db_url: str) -> None:
    seen: list[str] = []
    pool = pool_for(
        business_db_url,
        on_checkout=lambda cur: seen.append("check"),
        on_close=lambda: seen.append("closed"),
    )
    pool.transaction(lambda cur: None)
    pool.transaction(lambda cur: None)
    pool.close()
    assert seen == ["check", "check", "closed"]


def test_a_connection_is_kept_for_the_next_call_up_to_the_callers_let_in(business_db_url: str) -> None:
    """psycopg2's ThreadedConnectionPool(0, n) closes every connection handed back (none above minconn is
    kept): every call paid a new Postgres backend. This pool reuses them."""
    pool = pool_for(business_db_url, max_connections=3)
    first = pool.transaction(backend_pid)
    assert pool.transaction(backend_pid) == first and pool.idle() == 1
    inside, release = threading.Barrier(4), threading.Event()
    pids: list[int] = []

    def hold(cur: Any) -> None:
        pids.append(backend_pid(cur))
        inside.wait(10)
        release.wait(10)

    holders = [threading.Thread(target=pool.transaction, args=(hold,)) for _ in range(3)]
    for t in holders:
        t.start()
    inside.wait(10)
    release.set()
    for t in holders:
        t.join(10)
    assert len(set(pids)) == 3 and first in pids and pool.idle() == 3
    pool.close()
    assert pool.idle() == 0
