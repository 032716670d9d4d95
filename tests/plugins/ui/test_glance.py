"""The list's "at a glance" line made from the dashboard's workflow figures (no database: the figures are
given): what each count links to, and how the oldest wait reads."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from execution_plane.ui.filters import ListFilters
from execution_plane.ui.pages import glance
from include.services.dashboard import (
    Compensations,
    Overdue,
    StageWait,
    WaitingOn,
    WorkflowCount,
    WorkflowFigures,
)


def figures(oldest_hours: float) -> WorkflowFigures:
    return WorkflowFigures(
        workflows=[
            WorkflowCount(dag_id="a", status="completed", count=3),
            WorkflowCount(dag_id="a", status="running", count=2),
            WorkflowCount(dag_id="b", status="running", count=5),
            WorkflowCount(dag_id="b", status="archived", count=1),  # a status the list has no filter for
        ],
        waiting_by_stage=[
            StageWait(dag_id="a", stage="review", pending=2, oldest_hours=oldest_hours, median_hours=0),
            StageWait(dag_id="b", stage="board", pending=1, oldest_hours=0.5, median_hours=0.5),
        ],
        waiting_on=[
            WaitingOn(assignee="alice", pending=2, oldest_hours=oldest_hours, median_hours=0),
            WaitingOn(assignee="unassigned", pending=1, oldest_hours=0.5, median_hours=0.5),
        ],
        overdue=Overdue(after_hours=12, total=1, oldest=[]),
        compensations=Compensations(by_window={"7d": {}, "30d": {}}, totals={"7d": 0, "30d": 4}),
    )


def query(href: str | None) -> list[tuple[str, str]]:
    assert href is not None
    return parse_qsl(urlsplit(href).query)


def test_each_count_links_to_the_list_it_counts_keeping_the_types() -> None:
    filters = ListFilters(type=("a", "b"), q="acme", page=3, page_size=25, overdue_after_hours=12)
    g = glance(figures(30), filters, "/workflows")
    assert [(s.label, s.count) for s in g.statuses] == [("Running", 7), ("Completed", 3), ("archived", 1)]
    running, completed, archived = g.statuses
    # Running in the saga's words is working or waiting in the list's; the search and the page are not kept.
    assert query(running.href) == [
        ("type", "a"),
        ("type", "b"),
        ("status", "running"),
        ("status", "waiting"),
        ("overdue_after_hours", "12.0"),
        ("page_size", "25"),
    ]
    assert ("status", "completed") in query(completed.href) and archived.href is None
    assert [(a.label, a.count) for a in g.approvers] == [("alice", 2), ("unassigned", 1)]
    assert ("waiting_on", "alice") in query(g.approvers[0].href) and g.approvers[1].href is None
    assert ("overdue", "true") in query(g.overdue.href) and g.overdue.count == 1
    assert (g.approvals_pending, g.compensated_7d, g.compensated_30d) == (3, 0, 4)


def test_the_oldest_wait_reads_in_its_unit() -> None:
    assert glance(figures(36), ListFilters(), "/w").oldest == "1.5 d"
    assert glance(figures(0.01), ListFilters(), "/w").oldest == "30 min"  # b's half hour is the oldest
    only_new = figures(0.0)
    only_new.waiting_by_stage.pop()
    assert glance(only_new, ListFilters(), "/w").oldest == "under a minute"
    only_new.waiting_by_stage.clear()
    assert glance(only_new, ListFilters(), "/w").oldest is None
