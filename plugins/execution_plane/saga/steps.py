"""`Saga`: what a task uses to perform side effects durably (the five idempotency methods).

    saga = Saga.from_context()
    envelope = saga.call("send_for_signature", side_effect="esign.create_envelope", request={...},
                         call=lambda key: EsignHook().create_envelope(..., idempotency_key=key),
                         compensation=lambda r: Compensation("esign.void_envelope",
                                                             {"envelope_id": r["envelope_id"]}))

Every method derives its key from the workflow id and the step (saga.keys), logs it, and records the
step's compensation in the same transaction as the step's idempotency row.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from execution_plane.saga import audit, ledger
from execution_plane.saga.db import BUSINESS_DB_CONN_ID
from execution_plane.saga.keys import REQUEST_ID_PARAM, approval_request_id, message_id, step_key
from execution_plane.saga.keys import workflow_id as make_workflow_id
from execution_plane.saga.ledger import Compensation, CompensationSpec

log = logging.getLogger(__name__)


class Saga:
    def __init__(
        self,
        *,
        workflow_id: str,
        dag_id: str,
        run_id: str,
        business_key: str,
        conn_id: str = BUSINESS_DB_CONN_ID,
        register: bool = True,
        actor: str = "workflow",
    ) -> None:
        self.workflow_id = workflow_id
        self.dag_id = dag_id
        self.run_id = run_id
        self.business_key = business_key
        self.conn_id = conn_id
        self.actor = actor
        self._register = register
        self._conn: Any = None

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None = None, **kwargs: Any) -> Saga:
        if context is None:
            from airflow.sdk import get_current_context

            context = get_current_context()
        dag_id = context["dag"].dag_id
        request_id = str(context["params"][REQUEST_ID_PARAM])
        return cls(
            workflow_id=make_workflow_id(dag_id, request_id),
            dag_id=dag_id,
            run_id=context["run_id"],
            business_key=request_id,
            **kwargs,
        )

    @classmethod
    def for_workflow(cls, workflow_id: str, *, actor: str, conn_id: str = BUSINESS_DB_CONN_ID) -> Saga:
        """Act on an existing workflow from elsewhere (compensation, reconciler): never registers it."""
        dag_id, _, business_key = workflow_id.partition(":")
        return cls(
            workflow_id=workflow_id,
            dag_id=dag_id,
            run_id="",
            business_key=business_key,
            conn_id=conn_id,
            register=False,
            actor=actor,
        )

    # ------------------------------------------------------------------ plumbing
    def conn(self) -> Any:
        if self._conn is None or self._conn.closed:
            from execution_plane.saga.db import connect

            self._conn = connect(self.conn_id)
        return self._conn

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None

    def __enter__(self) -> Saga:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def key(self, step: str, *parts: str) -> str:
        return step_key(self.workflow_id, step, *parts)

    def _registrar(self) -> Callable[[Any], str] | None:
        if not self._register:
            return None
        return lambda cur: ledger.ensure_workflow(
            cur,
            workflow_id=self.workflow_id,
            dag_id=self.dag_id,
            run_id=self.run_id,
            business_key=self.business_key,
        )

    def register(self) -> str:
        """Register the workflow now (the first task of a durable DAG); returns its status."""
        with self.conn() as conn, conn.cursor() as cur:
            status = ledger.ensure_workflow(
                cur,
                workflow_id=self.workflow_id,
                dag_id=self.dag_id,
                run_id=self.run_id,
                business_key=self.business_key,
            )
            if status == "running":
                audit.append(
                    cur,
                    actor=self.actor,
                    workflow_id=self.workflow_id,
                    action="workflow.started",
                    details={"dag_id": self.dag_id, "run_id": self.run_id},
                )
        return status

    def _run(
        self,
        step: str,
        *,
        key: str,
        side_effect: str,
        request: Mapping[str, Any],
        action: ledger.Action,
        compensation: CompensationSpec,
        scope: str,
        on_done: Callable[[Any, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        log.info("step %s of %s: idempotency key %s", step, self.workflow_id, key)
        outcome = ledger.run_step(
            self.conn(),
            workflow_id=self.workflow_id,
            step=step,
            key=key,
            side_effect=side_effect,
            request=request,
            action=action,
            compensation=compensation,
            scope=scope,
            register=self._registrar(),
            run_id=self.run_id,
            on_done=on_done,
        )
        return outcome.result

    def started_on(self) -> date:
        """The workflow's first day (its registration): what documents are dated by, so that every retry
        and re-run renders them byte-identical."""
        with self.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT created_at::date FROM saga_workflows WHERE workflow_id = %s", (self.workflow_id,)
            )
            row = cur.fetchone()
        return row[0] if row else date.today()

    def workflow(self) -> dict[str, Any] | None:
        """The workflow's ledger row (status, reason, run, compensation run), or None if never registered."""
        with self.conn() as conn, conn.cursor() as cur:
            return ledger.workflow_row(cur, self.workflow_id)

    def stored_result(self, step: str, request: Mapping[str, Any]) -> dict[str, Any] | None:
        """The result a step of this workflow recorded for ``request``, or None (never done, or done for
        another request)."""
        with self.conn() as conn, conn.cursor() as cur:
            return ledger.stored_result(cur, self.key(step), request)

    def live_holders(self, action: str, *, sha256: str) -> list[str]:
        """Other live workflows holding the same content under the undo ``action`` (see ledger)."""
        with self.conn() as conn, conn.cursor() as cur:
            return ledger.live_holders(cur, action, sha256=sha256, other_than=self.workflow_id)

    # ------------------------------------------------------------------ the five methods
    def db_write(
        self,
        step: str,
        write: Callable[[Any], dict[str, Any]],
        *,
        request: Mapping[str, Any],
        compensation: CompensationSpec = None,
    ) -> dict[str, Any]:
        """DB write: ``write(cursor)`` runs in the same transaction as the ledger rows."""
        return self._run(
            step,
            key=self.key(step),
            side_effect="db.write",
            request=request,
            action=write,
            compensation=compensation,
            scope="db",
        )

    def call(
        self,
        step: str,
        *,
        side_effect: str,
        request: Mapping[str, Any],
        call: Callable[[str], dict[str, Any]],
        compensation: CompensationSpec = None,
    ) -> dict[str, Any]:
        """External API call: ``call(key)`` must send ``key`` as the provider's Idempotency-Key."""
        key = self.key(step)
        return self._run(
            step,
            key=key,
            side_effect=side_effect,
            request=request,
            action=lambda _cur: call(key),
            compensation=compensation,
            scope="api",
        )

    def send_message(
        self,
        step: str,
        *,
        channel: str,
        to: str,
        template: str,
        body: str,
        subject: str | None = None,
        compensation: CompensationSpec = None,
        on_done: Callable[[Any, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Message send: one message id per (workflow, step, recipient, template), refused twice.

        ``on_done(cursor, result)`` runs in the send's own transaction once it is recorded (e.g. its audit
        row), so it happens exactly when the send does, never on a replay."""
        from execution_plane.hooks.messaging import MessagingHook

        mid = message_id(self.workflow_id, step, to, template)
        body_sha = hashlib.sha256(body.encode()).hexdigest()

        def send(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO outbound_messages (message_id, workflow_id, step, channel, recipient, template,"
                " subject, body_sha256, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'sending')"
                " ON CONFLICT (message_id) DO NOTHING",
                (mid, self.workflow_id, step, channel, to, template, subject, body_sha),
            )
            cur.execute(
                "SELECT status, provider_message_id FROM outbound_messages WHERE message_id = %s", (mid,)
            )
            status, provider_id = cur.fetchone()
            if status == "sent":
                log.info("message %s already sent (provider id %s): not sending again", mid, provider_id)
                return {"message_id": mid, "provider_message_id": provider_id, "channel": channel}
            with MessagingHook(channel) as hook:
                sent = hook.send(to=to, body=body, message_id=mid, subject=subject, template=template)
            cur.execute(
                "UPDATE outbound_messages SET status = 'sent', provider_message_id = %s, sent_at = now()"
                " WHERE message_id = %s",
                (sent.get("provider_message_id"), mid),
            )
            return {
                "message_id": mid,
                "provider_message_id": sent.get("provider_message_id"),
                "channel": channel,
            }

        log.info("message %s: %s to %s (template %s)", mid, channel, to, template)
        return self._run(
            step,
            key=mid,
            side_effect=f"{channel}.send",
            # The recipient as message_id normalises it: the same person is the same request.
            request={
                "channel": channel,
                "to": to.strip().lower(),
                "template": template,
                "body_sha256": body_sha,
            },
            action=send,
            compensation=compensation,
            scope="message",
            on_done=on_done,
        )

    def store_document(
        self, step: str, *, kind: str, data: bytes, compensation: CompensationSpec | bool = True
    ) -> dict[str, Any]:
        """File/document: addressed by its sha256; the same bytes are stored once, wherever they come from.

        The default compensation retracts the document from storage.
        """
        from execution_plane.hooks.docstore import DocstoreHook

        sha = hashlib.sha256(data).hexdigest()

        def store(cur: Any) -> dict[str, Any]:
            with DocstoreHook() as hook:
                stored = hook.put_object(sha, data)
                uri = hook.object_uri(sha)
            cur.execute(
                "INSERT INTO documents (sha256, kind, uri, size_bytes, workflow_id)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
                (sha, kind, uri, len(data), self.workflow_id),
            )
            return {
                "sha256": sha,
                "uri": uri,
                "size_bytes": len(data),
                "kind": kind,
                "created": bool(stored.get("created", True)),
            }

        comp: CompensationSpec
        if compensation is True:
            comp = Compensation("docstore.retract", {"sha256": sha})
        elif compensation is False:
            comp = None
        else:
            comp = compensation
        return self._run(
            step,
            key=self.key(step, sha[:16]),
            side_effect="docstore.put",
            request={"sha256": sha},
            action=store,
            compensation=comp,
            scope="document",
        )

    def record_approval_request(
        self,
        *,
        stage: str,
        task_id: str,
        assignees: list[str],
        subject: str,
        expires_at: datetime | None = None,
        remind_to: str | None = None,
        link: str | None = None,
    ) -> str:
        """Approval request: one request id per (workflow, stage); returns it.

        ``expires_at`` (when the waiting try's default answer applies), ``remind_to`` and ``link`` (its
        Required Actions entry) are what the reminder scan reads; a later try of the gate moves the expiry
        with its own timeout."""
        request_id = approval_request_id(self.workflow_id, stage)
        with self.conn() as conn, conn.cursor() as cur:
            if self._register:
                ledger.ensure_workflow(
                    cur,
                    workflow_id=self.workflow_id,
                    dag_id=self.dag_id,
                    run_id=self.run_id,
                    business_key=self.business_key,
                )
            cur.execute(
                "INSERT INTO approval_requests (request_id, workflow_id, stage, dag_id, run_id, task_id,"
                " assignees, subject, status, expires_at, remind_to, link)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s, %s)"
                " ON CONFLICT (request_id) DO UPDATE SET run_id = EXCLUDED.run_id,"
                " expires_at = COALESCE(EXCLUDED.expires_at, approval_requests.expires_at),"
                " remind_to = COALESCE(EXCLUDED.remind_to, approval_requests.remind_to),"
                " link = COALESCE(EXCLUDED.link, approval_requests.link)"
                " RETURNING (xmax = 0)",
                (
                    request_id,
                    self.workflow_id,
                    stage,
                    self.dag_id,
                    self.run_id,
                    task_id,
                    assignees,
                    subject,
                    expires_at,
                    remind_to,
                    link,
                ),
            )
            if cur.fetchone()[0]:
                audit.append(
                    cur,
                    actor=self.actor,
                    workflow_id=self.workflow_id,
                    action="approval.requested",
                    details={"request_id": request_id, "stage": stage, "assignees": assignees},
                )
        return request_id

    def approval_opened_at(self, request_id: str) -> datetime:
        with self.conn() as conn, conn.cursor() as cur:
            cur.execute("SELECT created_at FROM approval_requests WHERE request_id = %s", (request_id,))
            opened: datetime = cur.fetchone()[0]
        return opened

    def approval_decision(self, request_id: str) -> dict[str, Any] | None:
        with self.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT status, decision, decided_by, comment FROM approval_requests"
                " WHERE request_id = %s AND status <> 'pending'",
                (request_id,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return {"status": row[0], "decision": row[1], "decided_by": row[2], "comment": row[3]}

    def record_decision(
        self,
        request_id: str,
        *,
        status: str,
        decided_by: str | None,
        comment: str | None,
        notified_message_id: str | None = None,
    ) -> bool:
        """First decision wins: a second answer for the same request changes nothing."""
        with self.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE approval_requests SET status = %s, decision = %s, decided_by = %s,"
                " decided_at = now(), comment = %s, notified_message_id = COALESCE(%s, notified_message_id)"
                " WHERE request_id = %s AND status = 'pending'",
                (status, status, decided_by, comment, notified_message_id, request_id),
            )
            recorded = bool(cur.rowcount)
            if recorded:
                audit.append(
                    cur,
                    actor=decided_by or "system:timeout",
                    workflow_id=self.workflow_id,
                    action=f"approval.{status}",
                    details={"request_id": request_id, "comment": comment},
                )
        return recorded

    def approval_notified(self, request_id: str) -> str | None:
        """The message that announced the request, once one did."""
        with self.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT notified_message_id FROM approval_requests WHERE request_id = %s", (request_id,)
            )
            row = cur.fetchone()
        return row[0] if row else None

    def set_notified(self, request_id: str, message: str) -> None:
        with self.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE approval_requests SET notified_message_id = %s WHERE request_id = %s",
                (message, request_id),
            )

    # ------------------------------------------------------------------ outcomes
    def end(self, status: str, reason: str | None = None) -> bool:
        """Record how the workflow ended: completed, or a bad ending (rejected/expired/failed)."""
        allowed = ("completed", *ledger.BAD_ENDINGS)
        if status not in allowed:
            raise ValueError(f"status must be one of {allowed}")
        with self.conn() as conn, conn.cursor() as cur:
            return ledger.set_status(cur, self.workflow_id, status, reason, only_from=("running",))

    def audit(self, action: str, details: dict[str, Any], actor: str | None = None) -> None:
        with self.conn() as conn, conn.cursor() as cur:
            audit.append(
                cur,
                actor=actor or self.actor,
                workflow_id=self.workflow_id,
                action=action,
                details=json.loads(json.dumps(details, default=str)),
            )
