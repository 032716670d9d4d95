"""A workflow with a record of every kind, made through the toolkit as a real one makes them: registered, a
database write, a document stored, an approval requested and decided, a message sent, an outside event
received (and, for a deal, the business row that ties it to the deal). What evidence packs and compliance
checks read, without running a whole durable DAG for it. Needs the sandbox (document store, email)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Seeded:
    workflow_id: str
    deal_id: str | None
    approval_request_id: str
    message_id: str
    document_sha256: str
    event_id: str


def seed_workflow(
    dag_id: str,
    request_id: str,
    *,
    deal_id: str | None = None,
    stage: str = "manager_approval",
    assignees: tuple[str, ...] = ("manager", "admin"),
    decided_by: str | None = "manager",
    decision: str = "approved",
    compensation_action: str | None = None,
    end: str | None = "completed",
) -> Seeded:
    from execution_plane import inbox
    from execution_plane.saga import keys
    from execution_plane.saga.ledger import Compensation
    from execution_plane.saga.steps import Saga

    workflow_id = keys.workflow_id(dag_id, request_id)
    with Saga(
        workflow_id=workflow_id, dag_id=dag_id, run_id=f"seed__{request_id}", business_key=request_id
    ) as saga:
        saga.register()

        def write(cur: Any) -> dict[str, Any]:
            if deal_id is not None:
                cur.execute(
                    "INSERT INTO deals (deal_id, status, workflow_id) VALUES (%s, 'open', %s)"
                    " ON CONFLICT (deal_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id",
                    (deal_id, workflow_id),
                )
            return {"deal_id": deal_id, "recorded": True}

        undo = Compensation(compensation_action, {"deal_id": deal_id}) if compensation_action else None
        saga.db_write("record", write, request={"deal_id": deal_id}, compensation=undo)
        document = saga.store_document(
            "terms.pdf", kind="terms", data=f"terms of {workflow_id}".encode(), compensation=False
        )
        approval = saga.record_approval_request(
            stage=stage, task_id=stage, assignees=list(assignees), subject=f"approve {workflow_id}"
        )
        if decision != "pending":
            saga.record_decision(approval, status=decision, decided_by=decided_by, comment="seeded")
        message = saga.send_message(
            "notice",
            channel="email",
            to="party@partner.example",
            template="notice",
            subject=f"Notice about {workflow_id}",
            body=f"Notice about {workflow_id}",
        )
        event_id = f"seed-{request_id}-signed"
        with saga.conn() as conn, conn.cursor() as cur:
            inbox.insert_event(cur, event_id, "esign", "envelope.signed", workflow_id, {"envelope_id": "E-1"})
        if end is not None:
            saga.end(end, None if end == "completed" else f"seeded {end}")
    return Seeded(workflow_id, deal_id, approval, message["message_id"], document["sha256"], event_id)
