"""docs/compensations.md is what `make docs` generates from the code today: it cannot drift."""

from __future__ import annotations

from devtools import compensations


def test_the_table_lists_every_workflow_that_records_an_undo() -> None:
    table = compensations.rows()
    workflows = {row.workflow for row in table}
    assert {"partner_approval", "dd_room", "signature_commitment"} <= workflows
    # A few rows a reader relies on, straight from the steps' code.
    assert (
        "signature_commitment",
        "request",
        "send_signature_request",
        "signature_commitment.void_envelope",
    ) in {(r.workflow, r.module, r.step, r.action) for r in table}
    assert ("dd_room", "review", "ic_memo", "dd_room.archive_memo") in {
        (r.workflow, r.module, r.step, r.action) for r in table
    }
    assert ("partner_approval", "steps", "draft_term_sheet", "docstore.retract") in {
        (r.workflow, r.module, r.step, r.action) for r in table
    }


def test_the_committed_doc_is_the_generated_one() -> None:
    assert compensations.OUTPUT.read_text(encoding="utf-8") == compensations.render(), (
        "docs/compensations.md is out of date: run `make docs`"
    )
