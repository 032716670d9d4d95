"""Runs keep the code they started with (issue 15, part 1), and what happens without a versioned bundle.

One scenario, run on two stacks of their own (databases of their own, `devtools.stack.attach_isolated`, so
nothing is shared with the e2e stack), one after the other:

1. version 1 of a durable workflow is deployed: ``open_request -> sign_off (approval) -> deliver -> notify
   -> complete``;
2. a run starts and parks on the approval;
3. version 2 is deployed: a new step ``screen`` before the gate, ``deliver``'s body changed, ``notify``
   renamed ``announce`` (in the DAG file and in the workflow's steps module beside it);
4. the manager answers the parked run; a second run starts on version 2 and is answered too.

- **git**: the shipped bundle configuration of config/airflow.cfg, unchanged (GitDagBundle, connection
  ``dags_git``, branch and subdir as shipped), on a bare repository that each version is committed to (as
  `make run` does, `devtools.bundle.publish`). The parked run finishes on version 1's graph and code; the
  new run uses version 2.
- **local**: Airflow's LocalDagBundle on a folder that version 2 overwrites. The parked run (started on
  version 1) wakes up on version 2: its ``notify`` task is ``removed``, ``screen`` (a step meant to run
  before the approval was asked) runs after the approver answered a request it should have preceded,
  ``deliver`` runs version 2's body, and ``announce`` runs. This is the reason the production config
  uses the versioned bundle (README, Operations).

The workflow is built from the toolkit (``@step``, ``approval``, ``complete``: a saga registered in the
business database, an approval request recorded and answered through Airflow's HITL API) as a plain DAG:
``durable_workflow`` accepts only catalogued workflows.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devtools import bundle
from devtools import env as ep_env
from devtools.env import free_port
from devtools.stack import Stack, attach_isolated
from tests.support.airflow_client import AirflowClient

pytestmark = [pytest.mark.live, pytest.mark.timeout(1200)]

DAG_ID = "bundle_probe"
LOCAL_BUNDLE = "unversioned-probe"

DAG_V1 = '''"""Bundle probe, version 1 (tests/e2e/test_versioned_bundle_live.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag

from execution_plane.defaults import default_args
from execution_plane.durable import approval, complete
from workflows.bundle_probe import steps


@dag(
    dag_id="bundle_probe",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=default_args(retry_delay=timedelta(seconds=2)),
    max_active_runs=50,
    tags=["e2e"],
    params={
        "request_id": Param(type="string"),
        "approval_timeout_hours": Param(1, type="number", exclusiveMinimum=0),
    },
)
def bundle_probe() -> None:
    opened = steps.open_request()
    gate = approval("sign_off", assignee="manager", subject="Sign off", body="v1", notify=False)
    opened >> gate
    gate.then(steps.deliver(opened)) >> steps.notify(opened) >> complete()


bundle_probe()
'''

DAG_V2 = DAG_V1.replace("version 1", "version 2").replace(
    """    opened = steps.open_request()
    gate = approval("sign_off", assignee="manager", subject="Sign off", body="v1", notify=False)
    opened >> gate
    gate.then(steps.deliver(opened)) >> steps.notify(opened) >> complete()""",
    """    opened = steps.open_request()
    gate = approval("sign_off", assignee="manager", subject="Sign off", body="v2", notify=False)
    opened >> steps.screen(opened) >> gate
    gate.then(steps.deliver(opened)) >> steps.announce(opened) >> complete()""",
)

STEPS_V1 = '''"""Bundle probe steps, version 1."""

from __future__ import annotations

from typing import Any

from execution_plane.durable import Run, step

CODE = "v1"


@step
def open_request(run: Run) -> dict[str, Any]:
    with run.saga as saga:
        saga.register()
    return {"code": CODE}


@step
def deliver(run: Run, opened: dict[str, Any]) -> dict[str, Any]:
    return {"code": CODE, "opened_on": opened["code"], "body": "delivered the version 1 way"}


@step
def notify(run: Run, opened: dict[str, Any]) -> dict[str, Any]:
    return {"code": CODE}
'''

STEPS_V2 = '''"""Bundle probe steps, version 2."""

from __future__ import annotations

from typing import Any

from execution_plane.durable import Run, step

CODE = "v2"


@step
def open_request(run: Run) -> dict[str, Any]:
    with run.saga as saga:
        saga.register()
    return {"code": CODE}


@step
def screen(run: Run, opened: dict[str, Any]) -> dict[str, Any]:
    return {"code": CODE}


@step
def deliver(run: Run, opened: dict[str, Any]) -> dict[str, Any]:
    return {"code": CODE, "opened_on": opened["code"], "body": "delivered the version 2 way"}


@step
def announce(run: Run, opened: dict[str, Any]) -> dict[str, Any]:
    return {"code": CODE}
'''

V1_TASKS = {"open_request", "sign_off", "sign_off_not_approved", "deliver", "notify", "complete"}
V2_TASKS = {"open_request", "screen", "sign_off", "sign_off_not_approved", "deliver", "announce", "complete"}


def write_version(root: Path, dag_source: str, steps_source: str) -> None:
    """The workflow's package in a DAG folder laid out as the project's (``dags/workflows/<name>/``)."""
    package = root / "dags" / "workflows" / DAG_ID
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy(ep_env.REPO / "dags" / ".airflowignore", root / "dags" / ".airflowignore")
    (root / "dags" / "workflows" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "dag.py").write_text(dag_source)
    (package / "steps.py").write_text(steps_source)


def deploy(root: Path, repo: Path | None, dag_source: str, steps_source: str, label: str) -> str | None:
    """Write a version; with git, commit it as `make run` does. Returns the commit (git) or None."""
    write_version(root, dag_source, steps_source)
    if repo is None:
        return None
    return bundle.publish(repo, source_root=root, message=label).commit


class Probe:
    def __init__(self, mode: str, root: Path, stack: Stack, repo: Path | None, v1: str | None) -> None:
        self.mode = mode
        self.root = root
        self.stack = stack
        self.repo = repo
        self.v1 = v1
        self.airflow = AirflowClient(stack.api_url, stack.setup.secrets.user_passwords)

    def deploy(self, dag_source: str, steps_source: str, label: str) -> str | None:
        return deploy(self.root, self.repo, dag_source, steps_source, label)

    def tasks_of_latest_version(self) -> set[str]:
        resp = self.airflow.request("GET", f"/dags/{DAG_ID}/tasks")
        return {t["task_id"] for t in resp.json().get("tasks", [])} if resp.status_code == 200 else set()

    def wait_latest_version(self, tasks: set[str], commit: str | None, timeout: float = 240) -> None:
        def parsed() -> bool:
            if self.tasks_of_latest_version() != tasks:
                return False
            if commit is None:
                return True
            resp = self.airflow.request("GET", f"/dags/{DAG_ID}/dagVersions", params={"limit": 100})
            return any(v.get("bundle_version") == commit for v in resp.json().get("dag_versions", []))

        self.airflow.wait(f"{DAG_ID} parsed with tasks {sorted(tasks)}", parsed, timeout, interval=1)

    def start(self, label: str) -> str:
        request_id = f"{self.mode}-{label}-{uuid.uuid4().hex[:8]}"
        run_id = f"bundle__{request_id}"
        resp = self.airflow.trigger(DAG_ID, run_id, {"request_id": request_id})
        assert resp.status_code == 200, resp.text
        return run_id

    def park(self, run_id: str) -> float:
        """Wait for the approval to be asked; returns when it was seen waiting (epoch seconds)."""
        self.airflow.wait_task_state(DAG_ID, run_id, "sign_off", ("awaiting_input",), timeout=240)
        return time.time()

    def approve(self, run_id: str) -> None:
        resp = self.airflow.answer(DAG_ID, run_id, "sign_off", "Approve", user="manager", comment="ok")
        assert resp.status_code == 200, resp.text

    def result(self, run_id: str, task_id: str) -> Any:
        resp = self.airflow.request(
            "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        )
        assert resp.status_code == 200, resp.text
        value = resp.json()["value"]
        return json.loads(value) if isinstance(value, str) else value

    def started_at(self, run_id: str, task_id: str) -> float:
        ti = self.airflow.task_instance(DAG_ID, run_id, task_id)
        return datetime.fromisoformat(ti["start_date"].replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module", params=["git", "local"])
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    """A stack of its own per bundle kind, version 1 deployed and parsed."""
    mode: str = request.param
    work = tmp_path_factory.mktemp(f"bundle-{mode}")
    root = work / "source"
    extra = {"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(work / "bundle-storage")}
    repo: Path | None = None
    if mode == "git":
        # The shipped bundle list (config/airflow.cfg) as is: only the connection to the repository is ours.
        repo = work / "dags.git"
        extra["AIRFLOW_CONN_DAGS_GIT"] = json.dumps({"conn_type": "git", "host": str(repo)})
    else:
        local_bundle = {
            "name": LOCAL_BUNDLE,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(root / "dags")},
        }
        extra["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps([local_bundle])
    ports = ep_env.Ports(api=free_port(), sandbox=free_port())
    stack: Stack | None = None
    try:
        v1 = deploy(root, repo, DAG_V1, STEPS_V1, "bundle probe version 1")
        setup = attach_isolated(ports, f"bundle_{mode}", extra)
        stack = Stack(setup, log_dir=ep_env.airflow_home() / f"bundle-{mode}-logs")
        stack.start_airflow()
        stack.wait_healthy(timeout=240)
        stack.wait_dags_and_unpause([DAG_ID], timeout=240)
        result = Probe(mode, root, stack, repo, v1)
        result.wait_latest_version(V1_TASKS, v1)
        yield result
    finally:
        if stack is not None:
            stack.stop()


def test_a_parked_run_keeps_its_code_only_with_the_versioned_bundle(probe: Probe) -> None:
    af = probe.airflow
    parked = probe.start("parked")
    asked_at = probe.park(parked)
    v1 = probe.v1

    v2 = probe.deploy(DAG_V2, STEPS_V2, "bundle probe version 2")
    probe.wait_latest_version(V2_TASKS, v2)
    assert af.task_states(DAG_ID, parked)["sign_off"] == "awaiting_input"

    probe.approve(parked)
    assert af.wait_run(DAG_ID, parked, timeout=300) == "success"
    fresh = probe.start("fresh")
    probe.park(fresh)
    probe.approve(fresh)
    assert af.wait_run(DAG_ID, fresh, timeout=300) == "success"

    parked_states = af.task_states(DAG_ID, parked)
    fresh_states = af.task_states(DAG_ID, fresh)
    parked_run, fresh_run = af.run(DAG_ID, parked), af.run(DAG_ID, fresh)
    # The run started after version 2 is version 2 on either bundle.
    assert set(fresh_states) == V2_TASKS
    assert probe.result(fresh, "deliver")["code"] == "v2"
    assert probe.result(fresh, "announce") == {"code": "v2"}
    assert probe.result(fresh, "screen") == {"code": "v2"}

    if probe.mode == "git":
        assert v1 and v2 and v1 != v2
        assert parked_run["bundle_version"] == v1
        assert fresh_run["bundle_version"] == v2
        # The parked run finished on version 1: its graph (no screen, notify not renamed) and its code.
        assert parked_states == {
            "open_request": "success",
            "sign_off": "success",
            "sign_off_not_approved": "skipped",
            "deliver": "success",
            "notify": "success",
            "complete": "success",
        }
        assert probe.result(parked, "deliver") == {
            "code": "v1",
            "opened_on": "v1",
            "body": "delivered the version 1 way",
        }
        assert probe.result(parked, "notify") == {"code": "v1"}
        return

    # LocalDagBundle: no version to keep. The run started on version 1 finished on version 2.
    assert parked_run["bundle_version"] is None
    assert probe.result(parked, "open_request") == {"code": "v1"}  # what ran before the deploy
    assert parked_states["notify"] == "removed"  # version 1's last step never ran
    assert parked_states["announce"] == "success"  # version 2's did
    assert parked_states["screen"] == "success"
    # ... a step of version 2 meant to come BEFORE the approval ran after the approval had been asked
    assert probe.started_at(parked, "screen") > asked_at
    assert probe.result(parked, "deliver") == {
        "code": "v2",
        "opened_on": "v1",
        "body": "delivered the version 2 way",
    }
