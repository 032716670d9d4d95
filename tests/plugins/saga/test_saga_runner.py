"""The compensation runner: undo newest first, each exactly once, durable across failures and reruns.

Real test business database, real sandbox over HTTP, the registered compensation actions.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from execution_plane.hooks.esign import EsignHook
from execution_plane.hooks.http import ProviderError
from execution_plane.saga import compensations, runner
from execution_plane.saga.compensations import Compensation
from execution_plane.saga.errors import UnknownCompensation
from execution_plane.saga.steps import Saga

DAG_ID = "saga_runner_test"
REASON = "rejected at legal by ann"


def fetch(db, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return list(cur.fetchall())


def forward_steps(saga: Saga) -> dict[str, Any]:
    """Three compensatable steps and one without an undo, in this order."""
    request = {
        "document_sha256": "b" * 64,
        "document_uri": "docstore://objects/" + "b" * 64,
        "subject": "Agreement",
        "signers": [{"email": "signer@example.com", "name": "Signer"}],
        "correlation_key": saga.workflow_id,
    }

    def create(key: str) -> dict[str, Any]:
        hook = EsignHook()
        try:
            return hook.create_envelope(**request, idempotency_key=key)
        finally:
            hook.close()

    envelope = saga.call(
        "send_for_signature",
        side_effect="esign.create_envelope",
        request=request,
        call=create,
        compensation=lambda r: Compensation("esign.void_envelope", {"envelope_id": r["envelope_id"]}),
    )
    message = saga.send_message(
        "tell_partner",
        channel="email",
        to="partner@example.com",
        template="kickoff",
        body="We start",
        subject="Kickoff",
        compensation=Compensation(
            "message.notify",
            {
                "channel": "email",
                "to": "partner@example.com",
                "subject": "Cancelled",
                "body": "Off: {reason}",
            },
        ),
    )
    saga.db_write("note_progress", lambda cur: {"noted": True}, request={})
    document = saga.store_document("store_pack", kind="pack", data=f"pack {saga.workflow_id}".encode())
    return {"envelope": envelope, "message": message, "document": document}


@pytest.fixture
def workflow(sandbox):
    request_id = uuid.uuid4().hex
    context = {
        "dag": SimpleNamespace(dag_id=DAG_ID),
        "params": {"request_id": request_id},
        "run_id": "manual__runner",
    }
    with Saga.from_context(context) as saga:
        saga.register()
        done = forward_steps(saga)
    sandbox_seq = max(e["seq"] for e in sandbox.effects())
    return SimpleNamespace(workflow_id=saga.workflow_id, done=done, forward_seq=sandbox_seq)


def undo_effects(sandbox, after_seq: int) -> list[tuple[str, str]]:
    return [(e["system"], e["action"]) for e in sandbox.effects() if e["seq"] > after_seq]


EXPECTED_UNDOS = [("docstore", "retract_object"), ("email", "send"), ("esign", "void_envelope")]


def compensate(workflow_id: str, bad_ending: str = "rejected") -> runner.CompensationReport:
    with Saga.for_workflow(workflow_id, actor="saga:compensation") as saga:
        reason = runner.begin(saga, reason=REASON, bad_ending=bad_ending)
        return runner.compensate(saga, reason=reason)


class TestCompensate:
    def test_undoes_newest_first_each_once(self, workflow, sandbox, business_db):
        report = compensate(workflow.workflow_id)
        assert report.compensated == ["store_pack", "tell_partner", "send_for_signature"]
        assert report.already_compensated == []
        assert report.final_status == "compensated"
        assert undo_effects(sandbox, workflow.forward_seq) == EXPECTED_UNDOS

        steps = fetch(
            business_db,
            "SELECT step, status, compensated_at, compensation_reason FROM saga_steps"
            " WHERE workflow_id = %s ORDER BY seq",
            workflow.workflow_id,
        )
        by_name = {step: (status, at, reason) for step, status, at, reason in steps}
        assert by_name["note_progress"] == ("done", None, None)
        for name in ("send_for_signature", "tell_partner", "store_pack"):
            assert by_name[name][0] == "compensated"
            assert by_name[name][2] == REASON
        assert by_name["store_pack"][1] < by_name["tell_partner"][1] < by_name["send_for_signature"][1]

        # What each undo did, at the provider.
        envelope = EsignHook().get_envelope(workflow.done["envelope"]["envelope_id"])
        assert envelope["status"] == "voided"
        assert envelope["void_reason"] == REASON
        notice = sandbox.effects(system="email", action="send")[-1]
        assert notice["payload"]["body"] == f"Off: {REASON}"
        assert notice["payload"]["to"] == "partner@example.com"
        retract = sandbox.effects(system="docstore", action="retract_object")
        assert [e["resource_id"] for e in retract] == [workflow.done["document"]["sha256"]]

        audit = fetch(
            business_db,
            "SELECT action, actor, details->>'step' FROM audit_log WHERE workflow_id = %s ORDER BY id",
            workflow.workflow_id,
        )
        assert [a for a in audit if a[0] != "workflow.started"] == [
            ("workflow.rejected", "saga", None),
            ("workflow.compensating", "saga", None),
            ("step.compensated", "saga:compensation", "store_pack"),
            ("step.compensated", "saga:compensation", "tell_partner"),
            ("step.compensated", "saga:compensation", "send_for_signature"),
            ("workflow.compensated", "saga", None),
        ]
        assert fetch(
            business_db,
            "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s",
            workflow.workflow_id,
        ) == [("compensated", REASON)]

    def test_rerun_changes_nothing(self, workflow, sandbox, business_db):
        compensate(workflow.workflow_id)
        effects = len(sandbox.effects())
        audit = fetch(
            business_db, "SELECT count(*) FROM audit_log WHERE workflow_id = %s", workflow.workflow_id
        )
        report = compensate(workflow.workflow_id)
        assert report.compensated == []
        assert report.already_compensated == ["store_pack", "tell_partner", "send_for_signature"]
        assert report.final_status == "compensated"
        assert len(sandbox.effects()) == effects
        assert (
            fetch(business_db, "SELECT count(*) FROM audit_log WHERE workflow_id = %s", workflow.workflow_id)
            == audit
        )

    def test_failed_undo_stops_and_a_rerun_finishes(self, workflow, sandbox, business_db):
        sandbox.post("/_sandbox/faults", {"system": "email", "action": "send", "status": 503, "count": 1})
        with pytest.raises(ProviderError) as err:
            compensate(workflow.workflow_id)
        assert err.value.retryable
        assert undo_effects(sandbox, workflow.forward_seq) == [("docstore", "retract_object")]
        statuses = dict(
            fetch(
                business_db,
                "SELECT step, status FROM saga_steps WHERE workflow_id = %s",
                workflow.workflow_id,
            )
        )
        assert statuses == {
            "send_for_signature": "done",
            "tell_partner": "done",
            "note_progress": "done",
            "store_pack": "compensated",
        }
        assert fetch(
            business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", workflow.workflow_id
        ) == [("compensating",)]

        report = compensate(workflow.workflow_id)
        assert report.already_compensated == ["store_pack"]
        assert report.compensated == ["tell_partner", "send_for_signature"]
        assert report.final_status == "compensated"
        assert undo_effects(sandbox, workflow.forward_seq) == EXPECTED_UNDOS
        assert fetch(
            business_db,
            "SELECT count(*) FROM audit_log WHERE workflow_id = %s AND action = 'step.compensated'",
            workflow.workflow_id,
        ) == [(3,)]

    def test_lost_undo_response_is_replayed(self, workflow, sandbox):
        """The void succeeded at the provider but its answer was lost: the rerun replays, one void."""
        sandbox.post("/_sandbox/faults", {"system": "esign", "action": "void_envelope", "mode": "drop"})
        with pytest.raises(ProviderError):
            compensate(workflow.workflow_id)
        report = compensate(workflow.workflow_id)
        assert report.final_status == "compensated"
        assert len(sandbox.effects(system="esign", action="void_envelope")) == 1

    def test_envelope_voided_elsewhere_still_compensates(self, workflow, sandbox):
        hook = EsignHook()
        hook.void_envelope(
            workflow.done["envelope"]["envelope_id"], reason="by hand", idempotency_key="manual"
        )
        report = compensate(workflow.workflow_id)
        assert report.final_status == "compensated"
        assert len(sandbox.effects(system="esign", action="void_envelope")) == 1

    def test_shared_document_compensated_by_two_workflows(self, sandbox, business_db):
        """Two workflows stored the same bytes; both undo it: the second retract must not fail."""
        data = f"shared {uuid.uuid4()}".encode()
        ids = []
        for _ in range(2):
            context = {
                "dag": SimpleNamespace(dag_id=DAG_ID),
                "params": {"request_id": uuid.uuid4().hex},
                "run_id": "manual__shared",
            }
            with Saga.from_context(context) as saga:
                saga.store_document("store_pack", kind="pack", data=data)
                ids.append(saga.workflow_id)
        for workflow_id in ids:
            assert compensate(workflow_id).final_status == "compensated"
        assert len(sandbox.effects(system="docstore", action="retract_object")) == 1


class TestBegin:
    def test_running_workflow_gets_its_bad_ending_first(self, workflow, business_db):
        with Saga.for_workflow(workflow.workflow_id, actor="saga:compensation") as saga:
            assert (
                runner.begin(saga, reason="expired after 7 days", bad_ending="expired")
                == "expired after 7 days"
            )
        assert fetch(
            business_db,
            "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s",
            workflow.workflow_id,
        ) == [("compensating", "expired after 7 days")]

    def test_keeps_the_recorded_reason(self, workflow):
        with Saga.for_workflow(workflow.workflow_id, actor="x") as saga:
            saga.end("rejected", "rejected at finance by bob")
            assert runner.begin(saga, reason="failure callback") == "rejected at finance by bob"

    def test_completed_workflow_is_refused(self, workflow, business_db):
        with Saga.for_workflow(workflow.workflow_id, actor="x") as saga:
            saga.end("completed")
            with pytest.raises(RuntimeError, match="nothing to compensate"):
                runner.begin(saga, reason="late failure")
        assert fetch(
            business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", workflow.workflow_id
        ) == [("completed",)]

    def test_unknown_workflow_has_nothing_to_compensate(self):
        """A run that failed before its first step registered nothing and did nothing."""
        with Saga.for_workflow(f"{DAG_ID}:{uuid.uuid4().hex}", actor="x") as saga:
            assert runner.begin(saga, reason="r") is None

    def test_callback_of_a_run_that_does_not_own_the_workflow_compensates_nothing(self, business_db):
        context = {
            "dag": SimpleNamespace(dag_id=DAG_ID),
            "params": {"request_id": uuid.uuid4().hex},
            "run_id": "owner_run",
        }
        with Saga.from_context(context) as saga:
            saga.register()
            assert runner.begin(saga, reason="r", source="on_failure_callback:intruder_run") is None
            assert runner.begin(saga, reason="r", source="on_failure_callback:owner_run") == "r"
        with business_db.cursor() as cur:
            cur.execute("SELECT status FROM saga_workflows WHERE workflow_id = %s", (saga.workflow_id,))
            assert cur.fetchone() == ("compensating",)


class TestRegistry:
    def test_unknown_action(self):
        with pytest.raises(UnknownCompensation):
            compensations.get("nobody.registered_this")

    def test_builtin_actions_are_registered(self):
        for name in (
            "esign.void_envelope",
            "docstore.retract",
            "docstore.archive_room",
            "crm.set_partner_status",
            "crm.set_deal_status",
            "message.notify",
        ):
            assert callable(compensations.get(name))

    def test_double_registration_refused(self):
        with pytest.raises(ValueError, match="registered twice"):
            compensations.compensation("esign.void_envelope")(lambda saga, args, reason, key: {})

    def test_crm_undo(self, sandbox):
        with Saga.for_workflow(f"{DAG_ID}:{uuid.uuid4().hex}", actor="x") as saga:
            result = compensations.get("crm.set_deal_status")(
                saga, {"deal_id": "D-9", "status": "lost"}, "rejected", "undo-key-1"
            )
        assert result["status"] == "lost"
        [effect] = sandbox.effects(system="crm", action="update_deal")
        assert effect["idempotency_key"] == "undo-key-1"
        assert effect["payload"] == {"status": "lost", "status_reason": "rejected"}
