"""The PDF, stored once by its hash, and the deal's owner told.

The PDF is rendered from what the proposal recorded (deal, draft, quote, context) and dated by the
workflow's first day, so a retry renders the same bytes and the document store keeps one copy (the
``documents`` table and the store are both addressed by sha256). Nothing is undone if the run fails after
it: the document is kept as the record of what was priced.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from execution_plane.durable import Run, step
from workflows.proposal_generation.common import GATE, proposal_row


@step
def render_pdf(run: Run, checked: dict[str, Any]) -> dict[str, Any]:
    from workflows.proposal_generation.domain import LANGUAGES, Context, Deal, Quote, proposal_pdf

    deal = Deal.model_validate(checked["deal"])
    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            row = proposal_row(cur, saga.workflow_id)
        decision = run.decision(GATE)
        approved_by = decision["decided_by"] if decision and decision["status"] == "approved" else None
        issued_on = saga.started_on()
        pdf = proposal_pdf(
            deal=deal,
            languages=LANGUAGES[row["language"]],
            summaries=row["draft"],
            quote=Quote.model_validate(row["quote"]),
            context=Context.model_validate(row["context"]),
            issued_on=issued_on,
            valid_until=issued_on + timedelta(days=int(run.params["valid_days"])),
            approved_by=approved_by,
        )
        doc = saga.store_document("proposal.pdf", kind="proposal", data=pdf, compensation=False)

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE proposals SET document_sha256 = %s, approved_by = %s,"
                " approval_status = CASE WHEN %s IS NULL THEN approval_status ELSE 'approved' END,"
                " status = 'rendered', updated_at = now() WHERE workflow_id = %s",
                (doc["sha256"], approved_by, approved_by, saga.workflow_id),
            )
            return {"sha256": doc["sha256"], "uri": doc["uri"], "size_bytes": doc["size_bytes"]}

        return saga.db_write("rendered", write, request={"sha256": doc["sha256"]})


@step
def notify_owner(run: Run, checked: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
    """The deal's owner told once that the proposal is ready, with its link and totals."""
    from workflows.proposal_generation.domain import Context, Deal, Quote, proposal_ready

    deal = Deal.model_validate(checked["deal"])
    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            row = proposal_row(cur, saga.workflow_id)
        message = proposal_ready(
            deal,
            Quote.model_validate(row["quote"]),
            uri=rendered["uri"],
            context=Context.model_validate(row["context"]),
            approved_by=row["approved_by"],
            languages=row["language"],
        )
        sent = saga.send_message(
            "owner_notice",
            channel="email",
            to=deal.owner_email,
            template="proposal_ready",
            subject=message.subject,
            body=message.body,
        )
        with saga.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE proposals SET status = 'sent', updated_at = now() WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
    return {"message_id": sent["message_id"], "sha256": rendered["sha256"]}
