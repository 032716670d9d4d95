"""The Workflows page in a real browser on the live stack: headless Chromium (Debian's ``chromium``, ``make
browser``), driven by Playwright, as an analyst uses it.

Three workflows of the toolkit probe are made the way the stack makes any: started by the REST API, their
outside event delivered by a signed webhook, their approval answered by ``manager`` through hitlDetails (one
rejected and compensated, one approved, one left waiting). Then the analyst signs in on Airflow's own login
page, opens "Workflows" from Airflow's navigation (the page inside Airflow's frame), filters, opens the
rejected workflow and reads what a person reads: who rejected it and why, what was undone, the audit chain
verified. A request without a session is refused; a user who may not read the probe's DAG sees none of its
workflows.

Screenshots are kept in ``.local/artifacts/workflows_page/<time>/`` (``EP_ARTIFACTS_DIR`` moves the root), one
per step, named in the order taken.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools import env as ep_env
from include.security.hmac_signing import signed_headers

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

DAG = "toolkit_probe"
ANALYST = ep_env.ANALYST_USER
CHROMIUM = os.environ.get("EP_CHROMIUM", "/usr/bin/chromium")
WAIT_S = 300  # each stage of the probes; a task took 12-15 s to run on this machine under load
UI_TIMEOUT_MS = 120_000  # Airflow's UI took over 30 s to load at a load average of 38 on 2 cores


# ----------------------------------------------------------------------------------------- the workflows
def start_probe(live: Any, request_id: str) -> str:
    run_id = f"e2e__{request_id}"
    resp = live.airflow.trigger(
        DAG, run_id, {"request_id": request_id, "recipient": f"{request_id}@example.com"}
    )
    assert resp.status_code == 200, resp.text
    return run_id


def go(live: Any, request_id: str) -> None:
    event = {
        "event_id": f"go-{request_id}",
        "type": "probe.go",
        "correlation_key": f"toolkit_probe:{request_id}",
        "payload": {},
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    # As Live.post_event, with more patience: the ingress answered after 30 s at a load average of 25.
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = signed_headers(live.stack.setup.secrets.webhook_events_secret, body, time.time())
    resp = httpx.post(f"{live.api_url}/webhooks/events/partner", content=body, headers=headers, timeout=120)
    assert resp.status_code == 202, resp.text


def made_workflows(live: Any, tag: str) -> dict[str, str]:
    """{ending: request id}: rejected (then compensated), approved (completed), waiting (on manager)."""
    af = live.airflow
    ids = {ending: f"wp-{tag}-{ending}" for ending in ("rejected", "approved", "waiting")}
    runs = {ending: start_probe(live, rid) for ending, rid in ids.items()}
    for ending, rid in ids.items():
        af.wait_task_state(DAG, runs[ending], "wait_for_go", ("deferred",), timeout=WAIT_S)
        go(live, rid)
    for ending in ids:
        af.wait_task_state(DAG, runs[ending], "review", ("awaiting_input",), timeout=WAIT_S)
    time.sleep(1.5)  # a person is never faster (AIRFLOW3_NOTES: answers within ~1 s hit apache/airflow#71580)
    rejected = af.answer(DAG, runs["rejected"], "review", "Reject", user="manager", comment="not this time")
    approved = af.answer(DAG, runs["approved"], "review", "Approve", user="manager", comment="fine by me")
    assert (rejected.status_code, approved.status_code) == (200, 200), (rejected.text, approved.text)
    assert af.wait_run(DAG, runs["approved"], timeout=WAIT_S) == "success"
    assert af.wait_run(DAG, runs["rejected"], timeout=WAIT_S) == "failed"
    comp_run = f"compensate__{DAG}:{ids['rejected']}"
    assert af.wait_run("saga_compensation", comp_run, timeout=WAIT_S) == "success"
    return ids


# ---------------------------------------------------------------------------------------------- browser
class Shots:
    def __init__(self) -> None:
        root = Path(os.environ.get("EP_ARTIFACTS_DIR") or ep_env.REPO / ".local" / "artifacts")
        self.dir = root / "workflows_page" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def __call__(self, page: Any, name: str) -> None:
        path = self.dir / f"{len(self.taken) + 1:02d}_{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make browser` installs Debian's chromium")
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@contextmanager
def signed_in(browser: Any, live: Any, user: str, password: str | None = None) -> Iterator[Any]:
    """A page of a new browser context, signed in through Airflow's own login page as ``user`` (a stack user,
    or one a test made with ``password``)."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        page.goto(f"{live.api_url}/")
        page.wait_for_url("**/login**")  # Airflow sends a visitor without a session to its login page
        page.locator("input[name=username]").fill(user)
        page.locator("input[name=password]").fill(password or live.stack.setup.secrets.password(user))
        page.locator("[type=submit]").click()
        page.wait_for_url(lambda url: "login" not in url)
        yield page
    finally:
        context.close()


def frame(page: Any) -> Any:
    """The Workflows page inside Airflow's UI (an external view: an iframe of /workflows/)."""
    return page.frame_locator("iframe[src*='/workflows/']")


def listed_keys(view: Any) -> list[str] | None:
    """The business keys the frame lists now; None while it is reloading (a filter just applied)."""
    from playwright.sync_api import Error

    try:
        cells = view.locator("#workflows tbody tr td:nth-child(2)").all_inner_texts()
    except Error as exc:
        if "Execution context was destroyed" in str(exc):
            return None
        raise
    return [key.strip() for key in cells]


def shows(view: Any, keys: list[str], timeout: float = 30) -> list[str]:
    """The business keys listed once the page that was asked for is there (a filter reloads the frame)."""
    deadline = time.monotonic() + timeout
    while (listed := listed_keys(view)) is None or sorted(listed) != sorted(keys):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return sorted(listed or [])


# ------------------------------------------------------------------------------------------------ tests
@pytest.fixture(scope="module")
def probes(live: Any) -> dict[str, str]:
    return made_workflows(live, uuid.uuid4().hex[:8])


def test_an_analyst_finds_a_rejected_workflow_and_reads_what_happened(
    live: Any, browser: Any, probes: dict[str, str]
) -> None:
    shots = Shots()
    tag = probes["rejected"].rsplit("-", 1)[0]
    with signed_in(browser, live, ANALYST) as page:
        shots(page, "airflow_home_signed_in")
        nav = page.get_by_role("link", name="Workflows")
        nav.first.click()
        page.wait_for_url("**/plugin/workflows")
        view = frame(page)
        view.locator("h1", has_text="Workflows").wait_for()
        shots(page, "workflows_in_airflow_nav")

        # Filter: the probe's type, this test's business keys.
        view.locator("select[name=type]").select_option(DAG)
        view.locator("input[name=q]").fill(tag)
        view.get_by_role("button", name="Apply").click()
        assert shows(view, list(probes.values())) == sorted(probes.values())
        assert view.locator("#summary").inner_text().startswith("3 workflows match")
        shots(page, "filtered_by_type_and_key")

        view.locator("select[name=status]").select_option("waiting_person")
        view.get_by_role("button", name="Apply").click()
        assert shows(view, [probes["waiting"]]) == [probes["waiting"]]
        row = view.locator("#workflows tbody tr")
        assert "Waiting on a person" in row.inner_text() and "manager" in row.inner_text()
        shots(page, "waiting_on_a_person")

        view.locator("select[name=status]").select_option("compensated")
        view.get_by_role("button", name="Apply").click()
        assert shows(view, [probes["rejected"]]) == [probes["rejected"]]
        shots(page, "compensated")

        # One workflow: who decided what, what was undone, the audit chain.
        view.get_by_role("link", name=probes["rejected"]).click()
        view.locator("#timeline").wait_for()
        heading = view.locator("h1").inner_text()
        assert probes["rejected"] in heading and "Compensated" in heading, heading
        assert "rejected at review by manager" in view.locator("#reason").inner_text()
        decision = view.locator("#timeline tr.t-decision")
        assert decision.count() == 1
        cells = decision.locator("td").all_inner_texts()
        assert (cells[1], cells[2], cells[3], cells[4]) == (
            "review: rejected",
            "manager",
            "not this time",
            "rejected",
        )
        undo = view.locator("#timeline tr.t-compensation").locator("td").all_inner_texts()
        assert undo[1] == "undo message.notify" and undo[4] == "compensated", undo
        steps = view.locator("#timeline tr.t-step").locator("td").all_inner_texts()
        assert "hello" in steps, steps
        # The partner's go (a signed webhook), and the workflow's outcome event (what a parent waits on).
        events = view.locator("#timeline tr.t-event td:nth-child(2)").all_inner_texts()
        assert "probe.go" in events, events
        verdict = view.locator("#audit-verdict").inner_text()
        assert verdict.startswith("Chain verified"), verdict
        assert view.locator("#audit tbody tr").count() >= 3
        assert set(view.locator("#audit tbody tr td:nth-child(7)").all_inner_texts()) == {"verified"}
        assert view.get_by_role("link", name="its compensation run").count() == 1
        shots(page, "rejected_workflow_page")

        # The approved one: approved by manager, nothing undone.
        page.goto(f"{live.api_url}/workflows/w/{DAG}:{probes['approved']}")
        cells = page.locator("#timeline tr.t-decision td").all_inner_texts()
        assert (cells[1], cells[2], cells[3]) == ("review: approved", "manager", "fine by me")
        assert page.locator("#timeline tr.t-compensation").count() == 0
        assert page.locator("#audit-verdict").inner_text().startswith("Chain verified")
        shots(page, "approved_workflow_page")

        # At a glance: the dashboard aggregation of the type, each figure a link to the list it counts.
        page.goto(f"{live.api_url}/workflows/?type={DAG}")
        compensated = page.locator("#glance a.s-compensated")
        label = compensated.inner_text()
        count = int(label.rsplit(" ", 1)[1].replace(",", ""))
        assert label.startswith("Compensated") and count >= 1, label
        assert "Approvals waiting:" in page.locator("#glance").inner_text()
        shots(page, "glance")
        compensated.click()
        page.wait_for_url("**status=compensated**")
        assert page.locator("#summary").inner_text().startswith(f"{count:,} workflow"), count

        # The CSV of the list as filtered, downloaded as a person downloads it.
        page.goto(f"{live.api_url}/workflows/?type={DAG}&q={tag}")
        with page.expect_download() as download:
            page.get_by_role("link", name="Export CSV").click()
        csv_text = Path(download.value.path()).read_text()
        assert csv_text.splitlines()[0].startswith("workflow_id,type,business_key,state")
        assert all(rid in csv_text for rid in probes.values()) and len(csv_text.splitlines()) == 4

        page.goto(f"{live.api_url}/workflows/charts?type={DAG}")
        assert page.locator("svg.chart").count() == 3
        shots(page, "charts")
    print(f"\nscreenshots: {shots.dir} ({len(shots.taken)})")


def test_without_a_session_the_page_is_refused(live: Any, browser: Any) -> None:
    shots = Shots()
    for path in ("/workflows/", "/workflows/api/workflows", "/workflows/export.csv", "/workflows/w/a:b"):
        assert httpx.get(f"{live.api_url}{path}", timeout=30).status_code == 401, path
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        response = page.goto(f"{live.api_url}/workflows/")
        assert response is not None and response.status == 401
        assert page.get_by_role("link", name="Sign in to Airflow").count() == 1
        assert page.locator("#workflows").count() == 0
        shots(page, "refused_without_session")
    finally:
        context.close()


@contextmanager
def bundle_owned_by_a_team(live: Any, bundle: str, team: str) -> Iterator[None]:
    """What a bundle's ``team_name`` makes the dag-processor record (``sync_bundles_to_db``): the bundle
    belongs to ``team``, and Airflow's auth manager lets only that team's members (and admins) read its DAGs.
    Recorded here for the test's duration, then removed."""
    with live.meta_db_cursor() as cur:
        cur.execute("INSERT INTO team (name) VALUES (%s) ON CONFLICT DO NOTHING", (team,))
        cur.execute(
            "INSERT INTO dag_bundle_team (dag_bundle_name, team_name) VALUES (%s, %s)", (bundle, team)
        )
    try:
        yield
    finally:
        with live.meta_db_cursor() as cur:
            cur.execute("DELETE FROM dag_bundle_team WHERE dag_bundle_name = %s", (bundle,))
            cur.execute("DELETE FROM team WHERE name = %s", (team,))


@contextmanager
def a_reader_of_another_dag(live: Any, tag: str, other_dag: str) -> Iterator[tuple[str, str]]:
    """(username, password) of a person who may read the Workflows page and ``other_dag``, not the probe's
    DAG: under the FAB auth manager (the shipped one) a role of its own, made as an admin makes one, through
    the FAB API: the analyst's permissions with read access to ``other_dag`` (``DAG:<dag_id>``, the per-DAG
    resource ``airflow sync-perm --include-dags`` creates) instead of every DAG. Removed afterwards."""
    import subprocess
    import sys

    from execution_plane.compat.fab_auth_manager import ANALYST as ANALYST_ROLE
    from execution_plane.compat.fab_auth_manager import ROLES

    synced = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "sync-perm", "--include-dags"],
        env=live.stack.setup.process_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert synced.returncode == 0, synced.stderr[-2000:]
    role, user, password = f"reader-{tag}", f"reader-{tag}", uuid.uuid4().hex
    perms = [*sorted(ROLES[ANALYST_ROLE] - {("can_read", "DAGs")}), ("can_read", f"DAG:{other_dag}")]
    fab = "/auth/fab/v1"
    headers = {"Authorization": f"Bearer {live.airflow.token(ep_env.ADMIN_USER)}"}
    made = live.airflow.http.post(
        f"{fab}/roles",
        headers=headers,
        json={"name": role, "actions": [{"action": {"name": a}, "resource": {"name": r}} for a, r in perms]},
    )
    assert made.status_code == 200, made.text
    try:
        made = live.airflow.http.post(
            f"{fab}/users",
            headers=headers,
            json={
                "username": user,
                "password": password,
                "email": f"{user}@execution-plane.invalid",
                "first_name": "reader",
                "last_name": tag,
                "roles": [{"name": role}],
            },
        )
        assert made.status_code == 200, made.text
        live.airflow.passwords[user] = password
        try:
            yield user, password
        finally:
            live.airflow.http.delete(f"{fab}/users/{user}", headers=headers).raise_for_status()
    finally:
        live.airflow.http.delete(f"{fab}/roles/{role}", headers=headers).raise_for_status()


@contextmanager
def may_not_read_the_dag(live: Any, tag: str) -> Iterator[tuple[str, str | None]]:
    """(username, password or None for a stack user) of someone who may not read the probe's DAG and may read
    ``partner_approval``: a role of their own under FAB; under Simple auth manager (no per-DAG permissions)
    the analyst, with the probe's bundle given to a team the analyst is not in."""
    if ep_env.uses_fab():
        with a_reader_of_another_dag(live, tag, "partner_approval") as (user, password):
            yield user, password
        return
    resp = live.airflow.request("GET", f"/dags/{DAG}")
    resp.raise_for_status()
    with bundle_owned_by_a_team(live, resp.json()["bundle_name"], f"wp-{tag}"):
        yield ANALYST, None


def a_workflow_of(live: Any, business_db: Any, dag_id: str, conf: dict[str, Any]) -> None:
    """At least one workflow of ``dag_id`` in the business database (the page lists a type only when it has
    workflows): started through the REST API when this stack has none yet (this module run alone), and left
    parked at its first wait."""

    def present() -> bool:
        with business_db.cursor() as cur:
            cur.execute("SELECT EXISTS (SELECT 1 FROM saga_workflows WHERE dag_id = %s)", (dag_id,))
            return bool(cur.fetchone()[0])

    if present():
        return
    resp = live.airflow.trigger(dag_id, f"e2e__{conf['request_id']}", conf)
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + WAIT_S
    while not present():
        assert time.monotonic() < deadline, f"no {dag_id} workflow registered within {WAIT_S} s"
        time.sleep(0.5)


def test_a_user_who_may_not_read_the_dag_sees_none_of_its_workflows(
    live: Any, browser: Any, probes: dict[str, str], business_db: Any
) -> None:
    shots = Shots()
    tag = probes["rejected"].rsplit("-", 1)[0]
    if ep_env.uses_fab():  # the reader below may read partner_approval: the page must have one to offer
        request_id = f"pa-{uuid.uuid4().hex[:10]}"  # not the probes' tag, which the listing searches
        conf = {"request_id": request_id, "partner_id": f"P-{request_id}", "requested_by": "e2e"}
        a_workflow_of(live, business_db, "partner_approval", conf)
    listing = f"{live.api_url}/workflows/?q={tag}"
    one = f"{live.api_url}/workflows/w/{DAG}:{probes['approved']}"
    with signed_in(browser, live, ANALYST) as page:
        page.goto(listing)
        assert shows(page, list(probes.values())) == sorted(probes.values())
    with (
        may_not_read_the_dag(live, tag) as (reader, password),
        signed_in(browser, live, reader, password) as page,
    ):
        page.goto(listing)
        assert listed_keys(page) == [] and "No workflow matches" in page.locator("#workflows").inner_text()
        options = page.locator("select[name=type] option").evaluate_all("os => os.map(o => o.value)")
        types = {value for value in options if value}
        assert DAG not in types
        if ep_env.uses_fab():
            assert types == {"partner_approval"}  # exactly what the role grants: the page is not just empty
        shots(page, "list_without_the_dag")
        response = page.goto(one)
        assert response is not None and response.status == 404
        shots(page, "workflow_of_an_unreadable_dag")
        # The same decision as Airflow's own DAG list (get_authorized_dag_ids): the reader's list has no
        # probe DAG; an admin still sees everything.
        dags = live.airflow.request("GET", "/dags", user=reader, params={"dag_id_pattern": DAG})
        assert DAG not in {d["dag_id"] for d in dags.json()["dags"]}, dags.text
        with signed_in(browser, live, ep_env.ADMIN_USER) as admin:
            admin.goto(listing)
            assert shows(admin, list(probes.values())) == sorted(probes.values())
    with signed_in(browser, live, ANALYST) as page:
        page.goto(listing)
        assert shows(page, list(probes.values())) == sorted(probes.values())
