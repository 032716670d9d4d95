"""The step ledger and the `Saga` facade: the five idempotency methods, against the real test business
database and the real sandbox over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from execution_plane.hooks.esign import EsignHook
from execution_plane.hooks.http import ProviderError
from execution_plane.saga.compensations import Compensation
from execution_plane.saga.errors import IdempotencyConflict, WorkflowAlreadyEnded, WorkflowNotRunning
from execution_plane.saga.keys import message_id
from execution_plane.saga.steps import Saga

REPO = Path(__file__).resolve().parents[3]
DAG_ID = "saga_ledger_test"


def context(request_id: str, run_id: str = "manual__ledger") -> dict[str, Any]:
    return {"dag": SimpleNamespace(dag_id=DAG_ID), "params": {"request_id": request_id}, "run_id": run_id}


@pytest.fixture
def request_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def saga(request_id):
    with Saga.from_context(context(request_id)) as s:
        yield s


@pytest.fixture
def scratch_table(business_db):
    """A business table of our own, dropped afterwards."""
    name = f"ep_test_ledger_{uuid.uuid4().hex[:12]}"
    with business_db.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (id text PRIMARY KEY, amount integer NOT NULL)")
    yield name
    with business_db.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")


def fetch(db, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return list(cur.fetchall())


def envelope_request(workflow_id: str) -> dict[str, Any]:
    return {
        "document_sha256": "a" * 64,
        "document_uri": "docstore://objects/" + "a" * 64,
        "subject": "Partner agreement",
        "signers": [{"email": "signer@example.com", "name": "Signer"}],
        "correlation_key": workflow_id,
    }


def create_envelope(request: dict[str, Any]):
    def call(key: str) -> dict[str, Any]:
        hook = EsignHook()
        try:
            return hook.create_envelope(**request, idempotency_key=key)
        finally:
            hook.close()

    return call


def void_of(result: dict[str, Any]) -> Compensation:
    return Compensation("esign.void_envelope", {"envelope_id": result["envelope_id"]})


# ---------------------------------------------------------------------------------------------- workflow
class TestWorkflowRegistration:
    def test_register_creates_running_workflow_and_audit(self, saga, business_db):
        assert saga.register() == "running"
        assert saga.register() == "running"
        rows = fetch(
            business_db,
            "SELECT dag_id, run_id, business_key, status FROM saga_workflows WHERE workflow_id = %s",
            saga.workflow_id,
        )
        assert rows == [(DAG_ID, "manual__ledger", saga.business_key, "running")]
        started = fetch(
            business_db,
            "SELECT count(*) FROM audit_log WHERE workflow_id = %s AND action = 'workflow.started'",
            saga.workflow_id,
        )
        assert started == [(2,)]  # one per registering task: both logged, neither duplicates the row

    def test_rerun_takes_the_workflow_over(self, request_id, business_db):
        with Saga.from_context(context(request_id, "run_a")) as first:
            first.register()
        with Saga.from_context(context(request_id, "run_b")) as second:
            second.register()
        assert fetch(
            business_db, "SELECT run_id FROM saga_workflows WHERE workflow_id = %s", second.workflow_id
        ) == [("run_b",)]

    def test_ended_workflow_refuses_a_new_run(self, request_id):
        with Saga.from_context(context(request_id, "run_a")) as first:
            first.register()
            assert first.end("completed")
            assert not first.end("completed")  # only from running
        with Saga.from_context(context(request_id, "run_b")) as second, pytest.raises(WorkflowAlreadyEnded):
            second.db_write("anything", lambda cur: {}, request={})

    def test_end_rejects_unknown_status(self, saga):
        with pytest.raises(ValueError, match="status must be one of"):
            saga.end("compensated")


# ---------------------------------------------------------------------------------------------- DB write
class TestDbWrite:
    def test_runs_once_then_replays(self, saga, scratch_table, business_db):
        calls = []

        def write(cur):
            calls.append(1)
            cur.execute(f"INSERT INTO {scratch_table} (id, amount) VALUES (%s, %s)", ("row-1", 100))
            return {"id": "row-1"}

        first = saga.db_write("insert_row", write, request={"id": "row-1", "amount": 100})
        second = saga.db_write("insert_row", write, request={"id": "row-1", "amount": 100})
        assert first == second == {"id": "row-1"}
        assert len(calls) == 1
        assert fetch(business_db, f"SELECT id, amount FROM {scratch_table}") == [("row-1", 100)]
        key = saga.key("insert_row")
        # The replay read the done key and wrote nothing: `attempts` counts claims to run, not replays.
        assert fetch(
            business_db, "SELECT scope, status, result, attempts FROM idempotency_keys WHERE key = %s", key
        ) == [("db", "done", {"id": "row-1"}, 1)]
        assert fetch(
            business_db,
            "SELECT idempotency_key, side_effect, status, compensation_action"
            " FROM saga_steps WHERE workflow_id = %s",
            saga.workflow_id,
        ) == [(key, "db.write", "done", None)]

    def test_different_request_under_same_key_conflicts(self, saga, scratch_table, business_db):
        def write(cur):
            cur.execute(f"INSERT INTO {scratch_table} (id, amount) VALUES ('x', 1)")
            return {}

        saga.db_write("insert_row", write, request={"amount": 1})
        with pytest.raises(IdempotencyConflict):
            saga.db_write("insert_row", write, request={"amount": 2})
        assert fetch(business_db, f"SELECT amount FROM {scratch_table}") == [(1,)]

    def test_business_row_key_and_step_commit_atomically(self, saga, scratch_table, business_db):
        def write(cur):
            cur.execute(f"INSERT INTO {scratch_table} (id, amount) VALUES ('doomed', 1)")
            raise RuntimeError("after the SQL, before the commit")

        with pytest.raises(RuntimeError, match="after the SQL"):
            saga.db_write("insert_row", write, request={}, compensation=Compensation("x.y", {}))
        assert fetch(business_db, f"SELECT count(*) FROM {scratch_table}") == [(0,)]
        assert fetch(
            business_db, "SELECT count(*) FROM idempotency_keys WHERE key = %s", saga.key("insert_row")
        ) == [(0,)]
        assert fetch(
            business_db, "SELECT count(*) FROM saga_steps WHERE workflow_id = %s", saga.workflow_id
        ) == [(0,)]

        # The step is free again: a retry runs it for real.
        def retry(cur):
            cur.execute(f"INSERT INTO {scratch_table} (id, amount) VALUES ('ok', 1)")
            return {"id": "ok"}

        assert saga.db_write("insert_row", retry, request={}) == {"id": "ok"}
        assert fetch(business_db, f"SELECT id FROM {scratch_table}") == [("ok",)]

    def test_compensation_from_result(self, saga, business_db):
        saga.db_write(
            "make",
            lambda cur: {"deal_id": "D-1"},
            request={},
            compensation=lambda r: Compensation(
                "crm.set_deal_status", {"deal_id": r["deal_id"], "status": "lost"}
            ),
        )
        assert fetch(
            business_db,
            "SELECT compensation_action, compensation_args FROM saga_steps WHERE workflow_id = %s",
            saga.workflow_id,
        ) == [("crm.set_deal_status", {"deal_id": "D-1", "status": "lost"})]


# ---------------------------------------------------------------------------------------------- API call
CRASH_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from types import SimpleNamespace

    from execution_plane.hooks.esign import EsignHook
    from execution_plane.saga.steps import Saga

    spec = json.loads(sys.argv[1])
    context = {"dag": SimpleNamespace(dag_id=spec["dag_id"]), "params": {"request_id": spec["request_id"]},
               "run_id": spec["run_id"]}

    def call(key):
        hook = EsignHook()
        result = hook.create_envelope(**spec["request"], idempotency_key=key)
        print(json.dumps(result), flush=True)
        os._exit(1)  # the provider acted, the ledger transaction never commits

    Saga.from_context(context).call("send_for_signature", side_effect="esign.create_envelope",
                                    request=spec["request"], call=call)
    print("unreachable", flush=True)
    """
)


class TestExternalCall:
    def test_second_call_replays_from_the_ledger(self, saga, sandbox, business_db):
        request = envelope_request(saga.workflow_id)
        first = saga.call(
            "send_for_signature",
            side_effect="esign.create_envelope",
            request=request,
            call=create_envelope(request),
            compensation=void_of,
        )
        second = saga.call(
            "send_for_signature",
            side_effect="esign.create_envelope",
            request=request,
            call=create_envelope(request),
            compensation=void_of,
        )
        assert first == second
        effects = sandbox.effects(system="esign", action="create_envelope")
        assert len(effects) == 1
        assert effects[0]["idempotency_key"] == saga.key("send_for_signature")
        assert fetch(
            business_db,
            "SELECT side_effect, compensation_action, compensation_args FROM saga_steps"
            " WHERE workflow_id = %s",
            saga.workflow_id,
        ) == [("esign.create_envelope", "esign.void_envelope", {"envelope_id": first["envelope_id"]})]

    def test_crash_after_provider_call_before_commit(self, request_id, sandbox, business_db, tmp_path):
        workflow = f"{DAG_ID}:{request_id}"
        request = envelope_request(workflow)
        spec = {"dag_id": DAG_ID, "request_id": request_id, "run_id": "manual__crash", "request": request}
        script = tmp_path / "crash.py"
        script.write_text(CRASH_SCRIPT)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "plugins"), env.get("PYTHONPATH", "")])
        proc = subprocess.run(
            [sys.executable, str(script), json.dumps(spec)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, proc.stderr
        assert "unreachable" not in proc.stdout
        crashed_answer = json.loads(proc.stdout.strip().splitlines()[-1])
        # The provider acted, our ledger knows nothing of it.
        assert len(sandbox.effects(system="esign", action="create_envelope")) == 1
        assert fetch(
            business_db, "SELECT count(*) FROM idempotency_keys WHERE workflow_id = %s", workflow
        ) == [(0,)]
        assert fetch(business_db, "SELECT count(*) FROM saga_steps WHERE workflow_id = %s", workflow) == [
            (0,)
        ]

        with Saga.from_context(context(request_id, "manual__crash")) as saga:
            result = saga.call(
                "send_for_signature",
                side_effect="esign.create_envelope",
                request=request,
                call=create_envelope(request),
                compensation=void_of,
            )
        assert result == crashed_answer  # the provider replayed its first answer
        assert len(sandbox.effects(system="esign", action="create_envelope")) == 1
        assert fetch(
            business_db,
            "SELECT status, result FROM idempotency_keys WHERE key = %s",
            saga.key("send_for_signature"),
        ) == [("done", crashed_answer)]
        assert fetch(business_db, "SELECT status FROM saga_steps WHERE workflow_id = %s", workflow) == [
            ("done",)
        ]

    def test_lost_response_is_replayed_by_the_provider(self, saga, sandbox, business_db):
        sandbox.post("/_sandbox/faults", {"system": "esign", "action": "create_envelope", "mode": "drop"})
        request = envelope_request(saga.workflow_id)
        with pytest.raises(ProviderError) as err:
            saga.call(
                "send_for_signature",
                side_effect="esign.create_envelope",
                request=request,
                call=create_envelope(request),
            )
        assert err.value.status == 504
        assert err.value.retryable
        assert fetch(
            business_db,
            "SELECT count(*) FROM idempotency_keys WHERE key = %s",
            saga.key("send_for_signature"),
        ) == [(0,)]
        result = saga.call(
            "send_for_signature",
            side_effect="esign.create_envelope",
            request=request,
            call=create_envelope(request),
        )
        effects = sandbox.effects(system="esign", action="create_envelope")
        assert len(effects) == 1
        assert result["envelope_id"] == effects[0]["resource_id"]

    def test_provider_error_leaves_no_trace(self, saga, sandbox, business_db):
        sandbox.post("/_sandbox/faults", {"system": "esign", "action": "create_envelope", "status": 503})
        request = envelope_request(saga.workflow_id)
        with pytest.raises(ProviderError) as err:
            saga.call(
                "send_for_signature",
                side_effect="esign.create_envelope",
                request=request,
                call=create_envelope(request),
            )
        assert err.value.retryable
        assert sandbox.effects(system="esign") == []
        assert fetch(
            business_db, "SELECT count(*) FROM saga_workflows WHERE workflow_id = %s", saga.workflow_id
        ) == [(0,)]


# ---------------------------------------------------------------------------------------------- messages
class TestSendMessage:
    def send(self, saga, to="bob@example.com", **kwargs):
        args = {
            "channel": "email",
            "to": to,
            "template": "welcome_v1",
            "body": "Hello Bob",
            "subject": "Welcome",
        }
        return saga.send_message("welcome", **{**args, **kwargs})

    def test_same_message_is_sent_once(self, saga, sandbox, business_db):
        first = self.send(saga)
        second = self.send(saga)
        assert first == second
        mid = message_id(saga.workflow_id, "welcome", "bob@example.com", "welcome_v1")
        assert first["message_id"] == mid
        effects = sandbox.effects(system="email", action="send")
        assert len(effects) == 1
        assert effects[0]["idempotency_key"] == mid
        assert effects[0]["payload"]["message_id"] == mid
        rows = fetch(
            business_db,
            "SELECT message_id, status, provider_message_id, recipient, sent_at IS NOT NULL"
            " FROM outbound_messages WHERE workflow_id = %s",
            saga.workflow_id,
        )
        assert rows == [(mid, "sent", effects[0]["resource_id"], "bob@example.com", True)]
        assert first["provider_message_id"] == effects[0]["resource_id"]

    def test_recipient_case_is_the_same_message(self, saga, sandbox):
        first = self.send(saga, to="bob@example.com")
        second = self.send(saga, to=" Bob@Example.COM")
        assert first == second
        assert len(sandbox.effects(system="email", action="send")) == 1

    def test_different_recipient_is_a_different_message(self, saga, sandbox, business_db):
        first = self.send(saga, to="bob@example.com")
        other = saga.send_message(
            "welcome_alice",
            channel="email",
            to="alice@example.com",
            template="welcome_v1",
            body="Hello Alice",
            subject="Welcome",
        )
        assert first["message_id"] != other["message_id"]
        assert first["provider_message_id"] != other["provider_message_id"]
        effects = sandbox.effects(system="email", action="send")
        assert sorted(e["payload"]["to"] for e in effects) == ["alice@example.com", "bob@example.com"]
        assert sorted(
            fetch(
                business_db,
                "SELECT recipient, status FROM outbound_messages WHERE workflow_id = %s",
                saga.workflow_id,
            )
        ) == [("alice@example.com", "sent"), ("bob@example.com", "sent")]

    def test_second_effect_under_one_step_is_refused_before_sending(self, saga, sandbox, business_db):
        """One step = one effect: a second one would have no undo in the ledger, so it is never sent."""
        self.send(saga, to="bob@example.com")
        with pytest.raises(IdempotencyConflict, match="its own step name"):
            self.send(saga, to="alice@example.com")
        assert [e["payload"]["to"] for e in sandbox.effects(system="email", action="send")] == [
            "bob@example.com"
        ]
        assert fetch(
            business_db, "SELECT recipient FROM outbound_messages WHERE workflow_id = %s", saga.workflow_id
        ) == [("bob@example.com",)]

    def test_whatsapp_and_sms(self, saga, sandbox):
        saga.send_message("nudge_wa", channel="whatsapp", to="+15550001", template="nudge", body="Hi")
        saga.send_message("nudge_sms", channel="sms", to="+15550001", template="nudge", body="Hi")
        assert [e["payload"]["template"] for e in sandbox.effects(system="whatsapp")] == ["nudge"]
        assert len(sandbox.effects(system="sms", action="send")) == 1

    def test_failed_send_can_be_retried(self, saga, sandbox, business_db):
        sandbox.post("/_sandbox/faults", {"system": "email", "action": "send", "status": 500})
        with pytest.raises(ProviderError):
            self.send(saga)
        assert fetch(
            business_db, "SELECT count(*) FROM outbound_messages WHERE workflow_id = %s", saga.workflow_id
        ) == [(0,)]
        self.send(saga)
        assert len(sandbox.effects(system="email", action="send")) == 1


# ---------------------------------------------------------------------------------------------- approvals
class TestApprovalRequest:
    def test_one_request_per_stage(self, saga, business_db):
        first = saga.record_approval_request(
            stage="legal", task_id="legal_review", assignees=["ann"], subject="Approve NDA"
        )
        second = saga.record_approval_request(
            stage="legal", task_id="legal_review", assignees=["ann"], subject="Approve NDA"
        )
        assert first == second == f"{saga.workflow_id}:legal"
        assert fetch(
            business_db,
            "SELECT stage, status, assignees FROM approval_requests WHERE workflow_id = %s",
            saga.workflow_id,
        ) == [("legal", "pending", ["ann"])]
        assert fetch(
            business_db,
            "SELECT count(*) FROM audit_log WHERE workflow_id = %s AND action = 'approval.requested'",
            saga.workflow_id,
        ) == [(1,)]
        assert saga.approval_decision(first) is None

    def test_first_decision_wins(self, saga, business_db):
        request_id = saga.record_approval_request(
            stage="finance", task_id="fin", assignees=["bob"], subject="Budget"
        )
        assert saga.record_decision(request_id, status="approved", decided_by="bob", comment="fine")
        assert not saga.record_decision(request_id, status="rejected", decided_by="eve", comment="no")
        assert saga.approval_decision(request_id) == {
            "status": "approved",
            "decision": "approved",
            "decided_by": "bob",
            "comment": "fine",
        }
        audit = fetch(
            business_db,
            "SELECT action, actor, details FROM audit_log WHERE workflow_id = %s"
            " AND action LIKE 'approval.%%' ORDER BY id",
            saga.workflow_id,
        )
        assert [(a, actor) for a, actor, _ in audit] == [
            ("approval.requested", "workflow"),
            ("approval.approved", "bob"),
        ]
        assert audit[1][2] == {"request_id": request_id, "comment": "fine"}

    def test_timeout_decision_is_attributed_to_the_system(self, saga, business_db):
        request_id = saga.record_approval_request(stage="ops", task_id="ops", assignees=[], subject="S")
        assert saga.record_decision(request_id, status="expired", decided_by=None, comment=None)
        assert fetch(
            business_db,
            "SELECT actor FROM audit_log WHERE workflow_id = %s AND action = 'approval.expired'",
            saga.workflow_id,
        ) == [("system:timeout",)]


# ---------------------------------------------------------------------------------------------- documents
class TestStoreDocument:
    def test_same_bytes_from_two_workflows_are_stored_once(self, sandbox, business_db):
        data = f"term sheet {uuid.uuid4()}".encode()
        with (
            Saga.from_context(context(uuid.uuid4().hex)) as one,
            Saga.from_context(context(uuid.uuid4().hex)) as two,
        ):
            first = one.store_document("store_terms", kind="term_sheet", data=data)
            again = one.store_document("store_terms", kind="term_sheet", data=data)
            second = two.store_document("store_terms", kind="term_sheet", data=data)
        assert first == again
        assert first["created"] is True
        assert second["created"] is False
        assert first["sha256"] == second["sha256"]
        assert first["uri"] == f"{sandbox.url}/docstore/v1/objects/{first['sha256']}"
        assert len(sandbox.effects(system="docstore", action="put_object")) == 1
        assert fetch(
            business_db,
            "SELECT kind, size_bytes, workflow_id FROM documents WHERE sha256 = %s",
            first["sha256"],
        ) == [("term_sheet", len(data), one.workflow_id)]
        for saga in (one, two):
            assert fetch(
                business_db,
                "SELECT side_effect, compensation_action, compensation_args"
                " FROM saga_steps WHERE workflow_id = %s",
                saga.workflow_id,
            ) == [("docstore.put", "docstore.retract", {"sha256": first["sha256"]})]

    def test_without_compensation(self, saga, sandbox, business_db):
        saga.store_document("store_plain", kind="memo", data=uuid.uuid4().bytes, compensation=False)
        assert fetch(
            business_db, "SELECT compensation_action FROM saga_steps WHERE workflow_id = %s", saga.workflow_id
        ) == [(None,)]


# ---------------------------------------------------------------------------------------------- concurrency
class TestConcurrency:
    def test_eight_threads_one_action(self, request_id, sandbox, business_db):
        workers = 8
        barrier = threading.Barrier(workers)
        lock = threading.Lock()
        runs: list[str] = []
        results: list[dict[str, Any]] = []
        errors: list[BaseException] = []
        workflow = f"{DAG_ID}:{request_id}"
        request = envelope_request(workflow)

        def action(key: str) -> dict[str, Any]:
            with lock:
                runs.append(threading.current_thread().name)
            return create_envelope(request)(key)

        def worker() -> None:
            try:
                with Saga.from_context(context(request_id, "manual__race")) as saga:
                    saga.conn()  # connect before the race starts
                    barrier.wait()
                    result = saga.call(
                        "send_for_signature",
                        side_effect="esign.create_envelope",
                        request=request,
                        call=action,
                        compensation=void_of,
                    )
                with lock:
                    results.append(result)
            except BaseException as exc:
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=worker, name=f"w{i}") for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert len(runs) == 1
        assert len(results) == workers
        assert all(result == results[0] for result in results)
        assert len(sandbox.effects(system="esign", action="create_envelope")) == 1
        # Threads that came before the commit claimed the key (and waited on its row lock); later ones
        # replayed from one read of the done key, which writes nothing.
        [(attempts,)] = fetch(
            business_db, "SELECT attempts FROM idempotency_keys WHERE workflow_id = %s", workflow
        )
        assert 1 <= attempts <= workers
        assert fetch(business_db, "SELECT count(*) FROM saga_steps WHERE workflow_id = %s", workflow) == [
            (1,)
        ]


class TestEndedWorkflowActsNoMore:
    @pytest.mark.parametrize("ending", ["rejected", "expired", "failed", "completed"])
    def test_new_side_effect_refused_replay_still_answers(self, saga, sandbox, ending):
        first = saga.send_message("hello", channel="email", to="bob@example.com", template="t", body="Hi")
        saga.end(ending, "test ending")
        with pytest.raises(WorkflowNotRunning, match=ending):
            saga.send_message("late", channel="email", to="bob@example.com", template="t2", body="Late")
        # A retry of a step that already happened still gets its stored result: nothing new is done.
        again = saga.send_message("hello", channel="email", to="bob@example.com", template="t", body="Hi")
        assert again == first
        assert len(sandbox.effects(system="email", action="send")) == 1


class TestReplayOfADoneStep:
    """A step already done is answered from one read: no lock, no write, whatever the workflow's state, as
    long as the run owns the workflow. New effects keep every guard (row lock, `running` only)."""

    @staticmethod
    def write_once(saga: Saga, step: str = "write") -> dict[str, Any]:
        return saga.db_write(step, lambda cur: {"n": 1}, request={"n": 1})

    def test_replay_writes_nothing(self, saga, business_db):
        first = self.write_once(saga)
        # A new row version (xmin) or a row lock (xmax: FOR SHARE) would show here.
        rows = (
            "SELECT k.xmin::text, k.xmax::text, k.attempts, k.updated_at, w.xmin::text, w.xmax::text"
            " FROM idempotency_keys k JOIN saga_workflows w USING (workflow_id) WHERE k.key = %s"
        )
        before = fetch(business_db, rows, saga.key("write"))
        assert self.write_once(saga) == first
        assert fetch(business_db, rows, saga.key("write")) == before

    def test_replay_answers_while_the_workflow_row_is_locked_a_new_step_waits(
        self, saga, business_db_url, business_db
    ):
        """As while compensation moves the workflow to `compensating`: the replay needs no share lock on
        the workflow row, a new effect still takes it (and so waits for compensation's decision)."""
        import psycopg2
        import psycopg2.errors

        first = self.write_once(saga)
        with saga.conn() as conn, conn.cursor() as cur:
            cur.execute("SET lock_timeout = '1s'")
        holder = psycopg2.connect(business_db_url)
        try:
            with holder.cursor() as cur:
                cur.execute(
                    "SELECT 1 FROM saga_workflows WHERE workflow_id = %s FOR UPDATE", (saga.workflow_id,)
                )
            assert self.write_once(saga) == first
            with pytest.raises(psycopg2.errors.LockNotAvailable):
                self.write_once(saga, "new_step")
        finally:
            holder.rollback()
            holder.close()
        assert fetch(
            business_db, "SELECT count(*) FROM idempotency_keys WHERE key = %s", saga.key("new_step")
        ) == [(0,)]

    @pytest.mark.parametrize(
        "status", ["rejected", "expired", "failed", "completed", "compensating", "compensated"]
    )
    def test_done_step_replays_after_the_workflow_left_running(self, saga, business_db, status):
        """The run that did the step still gets its result once the workflow ended or is being compensated
        (e.g. a task retried after the run's bad ending); nothing new is allowed."""
        first = self.write_once(saga)
        with business_db.cursor() as cur:
            cur.execute(
                "UPDATE saga_workflows SET status = %s WHERE workflow_id = %s", (status, saga.workflow_id)
            )
        assert self.write_once(saga) == first
        with pytest.raises(WorkflowNotRunning, match=status):
            self.write_once(saga, "new_step")

    def test_another_run_is_refused_once_the_workflow_ended_even_for_a_done_step(self, request_id):
        with Saga.from_context(context(request_id, "run_a")) as first:
            self.write_once(first)
            assert first.end("completed")
        with Saga.from_context(context(request_id, "run_b")) as second, pytest.raises(WorkflowAlreadyEnded):
            self.write_once(second)

    def test_a_rerun_replaying_a_done_step_takes_the_workflow_over(self, request_id, business_db):
        with Saga.from_context(context(request_id, "run_a")) as first:
            done = self.write_once(first)
        with Saga.from_context(context(request_id, "run_b")) as second:
            assert self.write_once(second) == done
        assert fetch(
            business_db, "SELECT run_id FROM saga_workflows WHERE workflow_id = %s", second.workflow_id
        ) == [("run_b",)]
