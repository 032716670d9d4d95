"""The Workflows page's routes over rows this test writes (two workflow types of its own), through Airflow's
auth manager: what each filter selects, what one workflow's page holds, the CSV, the charts, who sees what,
and every refusal."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from execution_plane.ui.app import URL_PREFIX
from tests.plugins.ui.conftest import Dataset, bearer

ROUTES = ["/", "/w/x:y", "/charts", "/export.csv", "/api/workflows", "/api/workflows/x:y", "/api/charts"]


def get(client: TestClient, token: str, path: str, **params: Any) -> Any:
    return client.get(URL_PREFIX + path, params=params, headers=bearer(token))


def listed(client: TestClient, token: str, ds: Dataset, **params: Any) -> dict[str, str]:
    """{workflow name in the dataset: state} of the list with ``params``, over this test's types."""
    params.setdefault("type", [ds.a, ds.b])
    response = get(client, token, "/api/workflows", **params)
    assert response.status_code == 200, response.text
    names = {wf: name for name, wf in ds.ids.items()}
    return {names[item["workflow_id"]]: item["state"] for item in response.json()["items"]}


# ------------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("path", ROUTES)
def test_an_anonymous_request_is_refused(client: TestClient, path: str) -> None:
    response = client.get(URL_PREFIX + path)
    assert (response.status_code, response.json()["error"]) == (401, "unauthenticated")
    page = client.get(URL_PREFIX + path, headers={"Accept": "text/html"})
    assert page.status_code == 401 and "Sign in to Airflow" in page.text
    forged = client.get(URL_PREFIX + path, headers=bearer("not-a-jwt"))
    assert forged.status_code == 403


@pytest.mark.parametrize("path", ["/", "/api/workflows", "/export.csv", "/api/charts"])
def test_a_user_who_may_read_no_dag_run_is_refused(
    client: TestClient, tokens: dict[str, str], path: str
) -> None:
    assert get(client, tokens["no_role"], path).status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 201}, "page_size"),
        ({"page": "x"}, "page"),
        ({"status": "sleeping"}, "status"),
        ({"overdue": "maybe"}, "overdue"),
        ({"started_from": "2026-02-30"}, "started_from"),
        ({"started_from": "2026-03-02", "started_to": "2026-03-01"}, "started_to"),
        ({"type": "Not A Dag"}, "type"),
        ({"type": "no_such_type_here"}, "type"),
        ({"waiting_on": "a b"}, "waiting_on"),
        ({"q": "x" * 101}, "q"),
        ({"overdue_after_hours": -1}, "overdue_after_hours"),
    ],
)
def test_bad_filters_are_a_422_naming_the_field(
    client: TestClient, tokens: dict[str, str], params: dict[str, Any], field: str
) -> None:
    for path in ("/api/workflows", "/export.csv", "/api/charts" if field in ("type", "started_to") else None):
        if path is None:
            continue
        response = get(client, tokens["viewer"], path, **params)
        assert response.status_code == 422, (path, response.text)
        assert (response.json()["error"], response.json()["field"]) == ("invalid_request", field)
    page = client.get(
        URL_PREFIX + "/", params=params, headers={**bearer(tokens["viewer"]), "Accept": "text/html"}
    )
    assert page.status_code == 422 and f"<code>{field}</code>" in page.text


def test_one_workflow_that_is_not_a_workflow_id_or_not_there(
    client: TestClient, tokens: dict[str, str]
) -> None:
    bad = get(client, tokens["admin"], "/api/workflows/no-colon")
    assert (bad.status_code, bad.json()["field"]) == (422, "workflow_id")
    missing = get(client, tokens["admin"], "/api/workflows/partner_approval:never-started")
    assert missing.status_code == 404


# ------------------------------------------------------------------------------------------------ the list
def test_the_list_shows_each_workflow_with_what_it_waits_on(
    client: TestClient, tokens: dict[str, str], data: Dataset
) -> None:
    assert listed(client, tokens["viewer"], data) == {
        "approval": "waiting_person",
        "partner": "waiting_system",
        "dated": "waiting_date",
        "working": "running",
        "done": "completed",
        "undone": "compensated",
        "b_waiting": "waiting_person",
        "b_rejected": "rejected",
    }
    body = get(client, tokens["viewer"], "/api/workflows", type=data.a, status="waiting").json()
    items = {i["workflow_id"]: i for i in body["items"]}
    person = items[data.wf("approval")]
    assert person["stage"] == "manager_approval" and person["waits"][0]["who"] == [f"alice_{data.tag}"]
    assert person["waiting_since"].startswith((data.now - _hours(72)).isoformat()[:16])
    assert person["expires_at"].startswith((data.now + _hours(24)).isoformat()[:16])  # Airflow's expiry
    assert person["overdue"] is True  # waiting 72 h > the 48 h rule
    partner = items[data.wf("partner")]
    assert (partner["stage"], partner["waits"][0]["who"], partner["overdue"]) == (
        "partner_response",
        ["partner"],
        True,
    )
    assert items[data.wf("dated")]["overdue"] is False
    assert person["run_url"] == f"/dags/{data.a}/runs/run_approval_{data.tag}"
    working = get(client, tokens["viewer"], "/api/workflows", type=data.a, status="running").json()["items"]
    assert [(w["workflow_id"], w["stage"]) for w in working] == [(data.wf("working"), "draft_terms")]
    assert {t["dag_id"] for t in body["types"]} >= {data.a, data.b}
    # What the "waiting on" menu offers: who and what the workflows of the selected types wait on.
    assert {f"alice_{data.tag}", "partner", "date"} <= set(body["waiting_on"])
    assert f"bob_{data.tag}" not in body["waiting_on"]


def _hours(n: float) -> Any:
    from datetime import timedelta

    return timedelta(hours=n)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "waiting_person"}, {"approval", "b_waiting"}),
        ({"status": "waiting"}, {"approval", "partner", "dated", "b_waiting"}),
        ({"status": ["completed", "compensated"]}, {"done", "undone"}),
        ({"status": "rejected"}, {"b_rejected"}),
        ({"status": "running"}, {"working"}),
        ({"waiting_on": "partner"}, {"partner"}),
        ({"overdue": "true"}, {"approval", "partner"}),
        ({"overdue": "true", "overdue_after_hours": 100}, {"partner"}),
        ({"q": "acme"}, {"approval", "partner"}),
        ({"q": "%"}, set()),
        ({"type": "B"}, {"b_waiting", "b_rejected"}),
    ],
)
def test_each_filter_selects_its_workflows(
    client: TestClient, tokens: dict[str, str], data: Dataset, params: dict[str, Any], expected: set[str]
) -> None:
    if params.get("type") == "B":
        params["type"] = data.b
    assert set(listed(client, tokens["viewer"], data, **params)) == expected


def test_waiting_on_a_person_and_the_started_range(
    client: TestClient, tokens: dict[str, str], data: Dataset
) -> None:
    assert set(listed(client, tokens["viewer"], data, waiting_on=f"bob_{data.tag}")) == {"b_waiting"}
    day = (data.now - _hours(80)).date()
    on_that_day = set(listed(client, tokens["viewer"], data, started_from=day, started_to=day))
    assert "approval" in on_that_day and "b_rejected" not in on_that_day


def test_pages_in_order(client: TestClient, tokens: dict[str, str], data: Dataset) -> None:
    seen = []
    for page in (1, 2, 3):
        body = get(
            client, tokens["viewer"], "/api/workflows", type=[data.a, data.b], page_size=3, page=page
        ).json()
        assert (body["total"], body["pages"]) == (8, 3)
        seen += [i["workflow_id"] for i in body["items"]]
    newest_first = ["b_rejected", "b_waiting", "undone", "done", "working", "dated", "partner", "approval"]
    assert seen == [data.wf(n) for n in newest_first]
    oldest = get(client, tokens["viewer"], "/api/workflows", type=data.a, order="oldest", page_size=1).json()
    assert oldest["items"][0]["workflow_id"] == data.wf("approval")


def test_the_list_page_and_its_links(client: TestClient, tokens: dict[str, str], data: Dataset) -> None:
    page = get(client, tokens["viewer"], "/", type=data.a, status="waiting_person", page_size=25)
    assert page.status_code == 200
    html = page.text
    assert f"ACME-{data.tag}-1" in html and "Waiting on a person" in html and f"alice_{data.tag}" in html
    assert f"GLOBEX-{data.tag}-4" not in html
    assert f'href="{URL_PREFIX}/w/{data.a}:ACME-{data.tag}-1"' in html
    assert f'href="/dags/{data.a}/runs/run_approval_{data.tag}" target="_top"' in html
    assert "<strong>1</strong> workflow match" in html
    # The export link keeps the filters.
    assert f"export.csv?type={data.a}&amp;status=waiting_person&amp;page_size=25" in html


# ------------------------------------------------------------------------------------------- one workflow
def test_one_workflow_holds_its_timeline_documents_evidence_and_audit(
    client: TestClient, tokens: dict[str, str], data: Dataset
) -> None:
    body = get(client, tokens["viewer"], f"/api/workflows/{data.wf('done')}").json()
    timeline = [(e["kind"], e["title"], e["who"], e["detail"]) for e in body["timeline"]]
    assert timeline[0][:2] == ("started", "workflow started")
    assert ("decision", "manager_approval: approved", f"alice_{data.tag}", "fine by me") in timeline
    events = [t[:2] for t in timeline if t[0] == "event"]
    assert events == [("event", "partner.accepted"), ("event", "envelope.signed")]
    assert ("step", "activate", None, "crm.update") in timeline
    assert timeline[-1][:2] == ("ended", "workflow completed")
    assert [d["sha256"] for d in body["documents"]] == [data.tag * 8]
    assert [p["manifest_sha256"] for p in body["evidence_packs"]] == ["m" * 64]
    assert [a["action"] for a in body["audit"]] == [
        "workflow.started",
        "approval.approved",
        "workflow.completed",
    ]
    assert body["audit_intact"] is True
    assert [c["workflow_id"] for c in body["children"]] == [data.wf("b_waiting")]
    child = get(client, tokens["viewer"], f"/api/workflows/{data.wf('b_waiting')}").json()
    assert child["parent"]["workflow_id"] == data.wf("done")
    assert child["workflow"]["state"] == "waiting_person"

    undone = get(client, tokens["viewer"], f"/api/workflows/{data.wf('undone')}").json()
    entries = [(e["kind"], e["title"], e["who"], e["detail"]) for e in undone["timeline"]]
    assert ("decision", "legal_review: rejected", f"bob_{data.tag}", "terms unacceptable") in entries
    assert ("compensation", "undo docstore.retract", None, "rejected at legal_review") in entries
    assert undone["compensation_run_url"] == f"/dags/saga_compensation/runs/compensate__{data.wf('undone')}"

    html = get(client, tokens["viewer"], f"/w/{data.wf('done')}").text
    assert "Chain verified" in html and "fine by me" in html and data.tag * 8 in html


def test_a_broken_audit_link_is_shown_as_broken(business_db: Any, data: Dataset) -> None:
    """A row whose hash does not cover its content, inside a transaction that is rolled back (the chain is
    append-only: nothing of it stays)."""
    from execution_plane.saga import records

    with business_db.cursor() as cur:
        cur.execute("BEGIN")
        try:
            cur.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
            (last,) = cur.fetchone()
            cur.execute(
                "INSERT INTO audit_log (actor, workflow_id, action, details, prev_hash, hash)"
                " VALUES ('forger', %s, 'approval.approved', '{}', %s, %s)",
                (data.wf("done"), last, "f" * 64),
            )
            trail = records.workflow_audit(cur, data.wf("done"))
        finally:
            cur.execute("ROLLBACK")
    assert [a.intact for a in trail] == [True, True, True, False]
    assert trail[-1].problems == ("its content does not match its hash",)


# ------------------------------------------------------------------------------------------ who sees what
def test_a_user_sees_only_the_workflows_of_dags_they_may_read(
    client: TestClient, tokens: dict[str, str], data: Dataset
) -> None:
    """Type B's DAG belongs to a team the outsider is not in: Airflow's auth manager says they may not read
    it, so none of its workflows, approvers or children reach them, on any route."""
    assert {
        i["dag_id"] for i in get(client, tokens["viewer"], "/api/workflows", q=data.tag).json()["items"]
    } == {
        data.a,
        data.b,
    }
    body = get(client, tokens["outsider"], "/api/workflows", q=data.tag, page_size=200).json()
    assert {i["dag_id"] for i in body["items"]} == {data.a}
    assert data.b not in {t["dag_id"] for t in body["types"]}
    assert get(client, tokens["outsider"], "/api/workflows", type=data.b).json()["field"] == "type"
    assert get(client, tokens["outsider"], f"/api/workflows/{data.wf('b_waiting')}").status_code == 404
    parent = get(client, tokens["outsider"], f"/api/workflows/{data.wf('done')}").json()
    assert (parent["children"], parent["hidden_relatives"]) == ([], 1)
    exported = get(client, tokens["outsider"], "/export.csv", q=data.tag).text
    assert data.b not in exported and data.a in exported
    waiting = get(client, tokens["outsider"], "/api/charts").json()["approvals_waiting"]
    assert f"bob_{data.tag}" not in {a["approver"] for a in waiting}


# ---------------------------------------------------------------------------------------------- CSV, charts
def test_the_csv_is_the_whole_filtered_list(
    client: TestClient, tokens: dict[str, str], data: Dataset
) -> None:
    response = get(client, tokens["viewer"], "/export.csv", type=data.a, page_size=2)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 6 == int(response.headers["x-workflow-count"])  # every page, not the first two
    by_id = {r["workflow_id"]: r for r in rows}
    assert by_id[data.wf("approval")]["waits_on"] == f"person: alice_{data.tag} (manager_approval)"
    assert by_id[data.wf("approval")]["overdue"] == "yes"
    assert by_id[data.wf("undone")]["business_key"] == f"'=HYPERLINK-{data.tag}-6"  # not a formula


def test_the_charts(client: TestClient, tokens: dict[str, str], data: Dataset) -> None:
    body = get(client, tokens["viewer"], "/api/charts", type=[data.a, data.b]).json()
    stages = {(s["dag_id"], s["kind"], s["stage"]): s for s in body["stage_durations"]}
    manager = stages[(data.a, "approval", "manager_approval")]
    assert manager["n"] == 2 and manager["min"] == pytest.approx(2 * 3600, abs=1)
    assert manager["max"] == pytest.approx(3 * 3600, abs=1)
    assert stages[(data.a, "step", "activate")]["median"] == pytest.approx(4.5 * 3600, abs=1)
    weeks = body["weeks"]
    assert sum(w["started"] for w in weeks) == 8
    assert (sum(w["completed"] for w in weeks), sum(w["compensated"] for w in weeks)) == (1, 1)
    waiting = {a["approver"]: a["by_age"] for a in body["approvals_waiting"]}
    assert waiting[f"alice_{data.tag}"]["2-7 days"] == 1 and waiting[f"bob_{data.tag}"]["under 1 day"] == 1
    html = get(client, tokens["viewer"], "/charts", type=data.a).text
    assert html.count("<svg") == 3 and "manager_approval (2)" in html


# ------------------------------------------------------------------------------------------- at a glance
def test_the_glance_is_the_dashboard_aggregation_of_the_readable_types_and_agrees_with_the_list(
    client: TestClient, tokens: dict[str, str], data: Dataset
) -> None:
    """The figures above the list come from the dashboard aggregation service (its workflow figures, narrowed
    to the selected types the reader may read); every count is the list's total behind its link."""
    body = get(client, tokens["viewer"], "/api/workflows", type=[data.a, data.b]).json()
    overview = body["overview"]
    by_status: dict[str, int] = {}
    for row in overview["workflows"]:
        assert row["dag_id"] in (data.a, data.b)
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["count"]
    assert by_status == {"running": 5, "completed": 1, "compensated": 1, "rejected": 1}
    assert {w["assignee"]: w["pending"] for w in overview["waiting_on"]} == {
        f"alice_{data.tag}": 1,
        f"bob_{data.tag}": 1,
    }
    assert overview["overdue"]["total"] == 1  # alice's, open 72 h; bob's is 2 h old
    assert overview["overdue"]["oldest"][0]["workflow_id"] == data.wf("approval")
    assert overview["compensations"]["totals"] == {"7d": 1, "30d": 1}
    assert {k for k in body["query_ms"] if k.startswith("overview_")} == {
        f"overview_{q}_ms"
        for q in ("workflows", "waiting_by_stage", "waiting_on", "overdue", "compensations")
    }

    # The page's glance links to the list of what each figure counts: following each gives that count.
    import re
    from html import unescape
    from urllib.parse import parse_qsl, urlsplit

    html = get(client, tokens["viewer"], "/", type=[data.a, data.b]).text
    glance = html[html.index('<section id="glance"') : html.index("</section>")]
    links = re.findall(r'<a (?:id="[^"]*" )?class="[^"]*" href="([^"]+)">([^<]+)</a>', glance)
    links += re.findall(r'<a href="([^"]+)">([^<]+)</a> (\d+)', glance)
    followed = {}
    for href, label, *count in links:
        query = parse_qsl(urlsplit(unescape(href)).query)
        response = client.get(URL_PREFIX + "/api/workflows", params=query, headers=bearer(tokens["viewer"]))
        assert response.status_code == 200, (href, response.text)
        followed[label.strip()] = (response.json()["total"], count[0] if count else None)
    assert followed == {
        "Running 5": (5, None),
        "Completed 1": (1, None),
        "Compensated 1": (1, None),
        "Rejected 1": (1, None),
        f"alice_{data.tag}": (1, "1"),
        f"bob_{data.tag}": (1, "1"),
        "1 overdue": (2, None),  # the list's overdue also holds the partner wait past its expiry
    }
    assert "Approvals waiting: <strong>2</strong> (oldest 3 d), on" in glance
    assert "Compensated in the last 7 days: 1, 30 days: 1." in glance


def test_the_glance_counts_only_what_the_reader_may_read(
    client: TestClient, tokens: dict[str, str], data: Dataset
) -> None:
    overview = get(client, tokens["outsider"], "/api/workflows", q=data.tag).json()["overview"]
    assert data.b not in {row["dag_id"] for row in overview["workflows"]}
    assert f"bob_{data.tag}" not in {w["assignee"] for w in overview["waiting_on"]}
    assert {
        r["count"] for r in overview["workflows"] if r["dag_id"] == data.a and r["status"] == "running"
    } == {4}
    only_b = get(client, tokens["viewer"], "/api/workflows", type=data.b).json()["overview"]
    assert {(r["dag_id"], r["status"], r["count"]) for r in only_b["workflows"]} == {
        (data.b, "running", 1),
        (data.b, "rejected", 1),
    }
    assert [w["assignee"] for w in only_b["waiting_on"]] == [f"bob_{data.tag}"]
    assert only_b["overdue"]["total"] == 0 and only_b["compensations"]["totals"] == {"7d": 0, "30d": 0}
