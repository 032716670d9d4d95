"""The scheduler re-examines every parked run on every pass: runs with nothing new are left alone here.

Airflow 3.3.2's scheduler picks the running DAG runs to examine (``DagRun.get_running_dag_runs_to_examine``)
by the time of their last scheduling decision, ``max_dagruns_per_loop_to_schedule`` (20) per loop, and
examines each with ``DagRun.update_state``: every task instance of the run is fetched and the dependencies
of every unfinished one evaluated (50-70 ms for a parked partner_approval here). A run parked for days at
an approval, an outside event or a date has nothing new to decide, yet it takes its turn on every pass:
with 300 runs parked, a run whose approval was just answered waited 15 turns of 20 (13-23 s) before the
scheduler looked at it, and the idle scheduler used 62 % of a core. Upstream context: apache/airflow#31185
(poor scheduling throughput when few tasks are schedulable; open). Airflow already asks this very question
for paused DAGs (``SchedulerJobRunner._update_dag_run_state_for_paused_dags``: a run is examined only when
``last_scheduling_decision <= max(task_instance.updated_at)``); this applies it to running runs.

``install()`` replaces ``DagRun.get_running_dag_runs_to_examine`` with a query that returns, for the DAGs
carrying one of ``[execution_plane] quiet_parking_tags`` (the durable workflows: they set no
``dagrun_timeout`` and no ``depends_on_past``, the run-level rules that need time rather than a change):

- runs never examined (new runs);
- runs with news: a task instance updated since the run's last decision (less ``parked_run_change_margin``
  seconds, for a change committed while the decision was being made), or one in ``up_for_retry`` /
  ``up_for_reschedule`` (their time passing is news too);
- runs not examined for ``parked_run_recheck_interval`` seconds (a safety net, not the mechanism).

Everything that ends a wait changes a task instance: an approval answered (the HITL PATCH sets the task
``scheduled``), an approval timed out (the scheduler's ``awaiting_input`` sweep), a trigger's event or
timeout (the triggerer, the scheduler's trigger-timeout check), a task finishing, failing, being cleared or
marked. Runs of other DAGs are returned as before. All runs are ordered: runs with news first (the oldest
decision first, so a run parked for days that was just answered goes before runs busy a second ago), then
new runs, then the rest: a burst of new workflows does not delay the next step of one already under way.

Installed when the plugin is imported by the ``airflow scheduler`` command
(``execution_plane.compat.scheduler``) and ``[execution_plane] skip_unchanged_parked_runs`` is true
(config/airflow.cfg). PostgreSQL only (the project's metadata database).

Canary: ``tests/plugins/compat/test_parked_runs.py`` parks a run on plain Airflow and sees the scheduler's
query return it again and again with nothing new; the day it no longer does, delete this module and its
options.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

UPSTREAM_REPORT = "apache/airflow#31185"
SECTION = "execution_plane"
DEFAULT_TAGS = ("class:long-lived-durable",)
DEFAULT_MARGIN_S = 5.0
DEFAULT_RECHECK_S = 3600.0

_original: Any = None


def settings() -> dict[str, Any]:
    from airflow.configuration import conf

    tags = conf.get(SECTION, "quiet_parking_tags", fallback=",".join(DEFAULT_TAGS))
    return {
        "enabled": conf.getboolean(SECTION, "skip_unchanged_parked_runs", fallback=False),
        "tags": tuple(tag.strip() for tag in tags.split(",") if tag.strip()),
        "margin_s": conf.getfloat(SECTION, "parked_run_change_margin", fallback=DEFAULT_MARGIN_S),
        "recheck_s": conf.getfloat(SECTION, "parked_run_recheck_interval", fallback=DEFAULT_RECHECK_S),
    }


def runs_to_examine_query(
    *, tags: tuple[str, ...], margin_s: float, recheck_s: float, limit: int, now: Any = None
) -> Any:
    """The select of the running runs to examine (see the module docstring); rows are DagRun objects."""
    from airflow._shared.timezones import timezone
    from airflow.models.backfill import BackfillDagRun
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import Interval, case, exists, false, func, literal, or_, select

    now = now or timezone.utcnow()
    decision = DagRun.last_scheduling_decision
    has_news = exists().where(
        TI.dag_id == DagRun.dag_id,
        TI.run_id == DagRun.run_id,
        or_(
            TI.updated_at >= decision - literal(timedelta(seconds=margin_s), Interval()),
            TI.state.in_([TaskInstanceState.UP_FOR_RETRY, TaskInstanceState.UP_FOR_RESCHEDULE]),
        ),
    )
    quiet_dags = select(DagTag.dag_id).where(DagTag.name.in_(tags))
    due = or_(decision.is_(None), decision < now - timedelta(seconds=recheck_s), has_news)
    return (
        select(DagRun)
        .where(DagRun.state == DagRunState.RUNNING)
        .join(DagModel, DagModel.dag_id == DagRun.dag_id)
        .join(BackfillDagRun, BackfillDagRun.dag_run_id == DagRun.id, isouter=True)
        .where(DagModel.is_paused == false(), DagModel.is_stale == false())
        .where(DagRun.run_after <= func.now())
        .where(or_(DagRun.dag_id.not_in(quiet_dags), due))
        .order_by(
            BackfillDagRun.sort_ordinal.asc().nulls_first(),
            case((has_news, 0), (decision.is_(None), 1), else_=2),
            decision.asc().nulls_first(),
            DagRun.run_after,
        )
        .limit(limit)
    )


def get_running_dag_runs_to_examine(cls: Any, session: Session) -> Any:
    """Drop-in for ``DagRun.get_running_dag_runs_to_examine`` (same locking: FOR UPDATE SKIP LOCKED)."""
    from airflow.utils.sqlalchemy import with_row_locks

    options = settings()
    query = runs_to_examine_query(
        tags=options["tags"],
        margin_s=options["margin_s"],
        recheck_s=options["recheck_s"],
        limit=cls.DEFAULT_DAGRUNS_TO_EXAMINE,
    )
    return session.scalars(with_row_locks(query, of=cls, session=session, skip_locked=True)).unique()


def install() -> bool:
    """Replace the scheduler's choice of runs to examine; idempotent. False when the option is off."""
    global _original
    if not settings()["enabled"]:
        return False
    from airflow.models.dagrun import DagRun
    from airflow.utils.retries import retry_db_transaction

    if _original is None:
        _original = DagRun.__dict__["get_running_dag_runs_to_examine"]
        DagRun.get_running_dag_runs_to_examine = classmethod(  # type: ignore[method-assign,assignment]
            retry_db_transaction(get_running_dag_runs_to_examine)
        )
    return True


def uninstall() -> None:
    """Put Airflow's own method back (tests)."""
    global _original
    if _original is not None:
        from airflow.models.dagrun import DagRun

        DagRun.get_running_dag_runs_to_examine = _original  # type: ignore[method-assign]
        _original = None


def installed() -> bool:
    return _original is not None
