"""The chaos suite's own instruments, checked on their own (fast, no Airflow stack): a kill is counted only
when it killed the live process it meant to, and the eSign probe tells an in-flight call from any other."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from devtools.env import free_port
from include.sandbox.app import create_app
from include.sandbox.state import SandboxConfig, SandboxState
from tests.chaos.support import (
    Supervisor,
    esign_call_in_flight,
    is_component,
    kill_component,
    kill_task_process,
    process_title,
)


def titled(title: str) -> subprocess.Popen[bytes]:
    """A process that names itself as an Airflow process does (setproctitle), in its own process group."""
    code = f"import setproctitle, time; setproctitle.setproctitle({title!r}); time.sleep(120)"
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 10
    while process_title(proc.pid) != title:
        assert time.monotonic() < deadline, process_title(proc.pid)
        time.sleep(0.02)
    return proc


@dataclass
class FakeStack:
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_component_titles() -> None:
    assert is_component("/venv/bin/python /venv/bin/airflow scheduler", "scheduler")
    assert is_component("airflow api_server -- host:127.0.0.1 port:8080", "api-server")
    assert not is_component("/venv/bin/python /venv/bin/airflow triggerer", "scheduler")
    assert not is_component("python -c pass", "scheduler")
    assert not is_component(None, "scheduler")
    worker = (
        "[celeryd: airflow_test-celery-worker-1@host:MainProcess] -active- (celery worker --celery-hostname"
    )
    assert is_component(worker, "celery-worker-1")
    assert is_component(
        "airflow celery worker --celery-hostname airflow_test-celery-worker-2@%h", "celery-worker-2"
    )
    assert not is_component(worker, "celery-worker-2") and not is_component(worker, "scheduler")


def test_supervisor_counts_a_kill_of_live_components_only(spawned: list[subprocess.Popen[bytes]]) -> None:
    stack = FakeStack({"scheduler": titled("airflow scheduler"), "triggerer": titled("airflow triggerer")})
    spawned.extend(stack.procs.values())
    supervisor = Supervisor(stack)  # type: ignore[arg-type]

    assert supervisor.kill("scheduler", "triggerer")
    assert {c: p.returncode for c, p in stack.procs.items()} == {
        "scheduler": -signal.SIGKILL,
        "triggerer": -signal.SIGKILL,
    }
    assert dict(supervisor.kills) == {"scheduler": 1, "triggerer": 1}
    assert [(k.target, k.pid) for k in supervisor.kill_log] == [
        ("scheduler", stack.procs["scheduler"].pid),
        ("triggerer", stack.procs["triggerer"].pid),
    ]
    # Both dead now (as after a crash, before the restart): nothing to kill, nothing counted.
    assert not supervisor.kill("scheduler")
    assert dict(supervisor.kills) == {"scheduler": 1, "triggerer": 1}


def test_supervisor_kills_none_when_one_is_not_the_component(spawned: list[subprocess.Popen[bytes]]) -> None:
    stack = FakeStack({"scheduler": titled("airflow scheduler"), "triggerer": titled("something else")})
    spawned.extend(stack.procs.values())
    supervisor = Supervisor(stack)  # type: ignore[arg-type]

    assert not supervisor.kill("scheduler", "triggerer")
    assert all(p.poll() is None for p in stack.procs.values())
    assert not supervisor.kills and not supervisor.kill_log


def test_kill_component_checks_the_process(spawned: list[subprocess.Popen[bytes]]) -> None:
    stack = FakeStack({"dag-processor": titled("airflow dag-processor")})
    spawned.extend(stack.procs.values())

    kill = kill_component(stack, "dag-processor")  # type: ignore[arg-type]

    assert (kill.target, kill.pid) == ("dag-processor", stack.procs["dag-processor"].pid)
    assert stack.procs["dag-processor"].returncode == -signal.SIGKILL
    with pytest.raises(AssertionError):
        kill_component(stack, "dag-processor")  # type: ignore[arg-type]


def test_kill_task_process_kills_only_that_task(spawned: list[subprocess.Popen[bytes]]) -> None:
    task = titled("airflow worker -- 0199-ti-a")
    spawned.append(task)

    assert kill_task_process(task.pid, "0199-ti-b", "x.other") is None
    assert task.poll() is None
    kill = kill_task_process(task.pid, "0199-ti-a", "x.task")
    assert kill is not None and (kill.target, kill.pid) == ("x.task", task.pid)
    # Dead (a zombie until its parent reaps it, as a LocalExecutor supervisor would).
    assert process_title(task.pid) is None
    assert task.wait(timeout=5) == -signal.SIGKILL
    assert kill_task_process(task.pid, "0199-ti-a", "x.task") is None


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state=SandboxState(SandboxConfig())), host="127.0.0.1", port=port)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def envelope(key: str) -> dict[str, Any]:
    return {
        "document_sha256": "a" * 64,
        "document_uri": "docstore://objects/" + "a" * 64,
        "subject": "Please sign",
        "signers": [{"email": "signer@partner.example", "name": "Dana Signer"}],
        "correlation_key": key,
    }


def test_esign_probe_sees_only_a_call_in_flight(sandbox_url: str) -> None:
    sandbox = httpx.Client(base_url=sandbox_url, timeout=30)
    fault = {"system": "esign", "action": "create_envelope", "mode": "slow", "delay_s": 2.0, "count": 1}
    sandbox.post("/_sandbox/faults", json=fault).raise_for_status()
    answers: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            sandbox.post(
                "/esign/v1/envelopes",
                json=envelope("wf:1"),
                headers={"Authorization": "Bearer t", "Idempotency-Key": "wf:1:envelope"},
            )
        )
    )
    slow.start()
    deadline = time.monotonic() + 5
    while sandbox.get("/_sandbox/faults").json()["faults"]:  # the slow call took the fault: it is working
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # past the start of the call (see esign_call_in_flight), well inside its 2 s of work

    assert esign_call_in_flight(sandbox, "wf:1:envelope")
    assert not esign_call_in_flight(sandbox, "wf:2:envelope")  # never called: refused, nothing created
    slow.join()
    assert answers[0].status_code == 201, answers[0].text
    assert not esign_call_in_flight(sandbox, "wf:1:envelope")  # done: its key now holds a stored answer
    effects = sandbox.get("/_sandbox/effects", params={"system": "esign"}).json()["effects"]
    assert [(e["action"], e["idempotency_key"]) for e in effects] == [("create_envelope", "wf:1:envelope")]


def test_ten_runs_of_each_priority_workflow_reach_every_ending() -> None:
    """The chaos suite's default of ten runs per priority workflow plans every ending of each."""
    from tests.chaos.test_durable_workflows_chaos import WORKSTREAMS, dd_plan, partner_plan, signature_plan

    partner = [partner_plan(i) for i in range(10)]
    endings = {"happy", "legal_reject", "partner_declined", "exec_reject"}
    # The partner's answer before and after the run waits for it, for each ending that has one.
    assert {(p.kind, p.partner_early) for p in partner if p.partner_event} == {
        (kind, early) for kind in endings - {"legal_reject"} for early in (True, False)
    }
    assert {p.kind for p in partner} == endings
    dd = [dd_plan(i) for i in range(10)]
    rejected_at = {task for p in dd for task, (option, _) in p.answers.items() if option == "Reject"}
    assert rejected_at == {f"{ws}.lead_signoff" for ws in WORKSTREAMS} | {"ic_review"}
    assert {p.kind for p in dd} == {"happy", "ic_reject", "lead_reject"}
    assert all(sum(o == "Reject" for o, _ in p.answers.values()) == (p.kind != "happy") for p in dd)
    signature = [signature_plan(i, "secret") for i in range(10)]
    choices = {p.answers["renegotiate_choice"][0] for p in signature if p.kind == "declined"}
    assert choices == {"Re-negotiate", "Close deal"}
    assert {p.kind for p in signature} == {"signed", "declined"}
