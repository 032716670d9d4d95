"""The Workflows page (issue 16) with 100,000 workflows: the indexes its reads need
(``execution_plane.ui.queries`` and ``saga.records``; measured by ``bench/ui_page.py``).

- ``saga_workflows (created_at DESC, workflow_id DESC)`` and ``(updated_at DESC, workflow_id DESC)``: a page
  of the list in its order reads its 50 rows from the index instead of sorting every workflow;
- ``saga_workflows (run_id text_pattern_ops)``: a workflow's parent and children are found by the child's
  run id (``run_id LIKE 'child__<parent>__%'``), a prefix the default collation's index cannot serve;
- ``approval_requests (workflow_id) INCLUDE (created_at, assignees) WHERE status = 'pending'``: whether a
  listed workflow waits on a person, since when and on whom (status, "waiting on", "overdue") from the
  pending approvals alone, a small part of the table, without reading it;
- ``audit_log (workflow_id, id)``: one workflow's audit entries (its page checks each link), which read the
  whole append-only log without it (the log grows with every workflow);
- ``documents (workflow_id)``: one workflow's documents;
- ``external_events (correlation_key text_pattern_ops)``: one workflow's outside events, whose correlation
  keys are its id or start with it (``LIKE '<workflow_id>:%'``; 0001's index serves equality only).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE INDEX saga_workflows_created ON saga_workflows (created_at DESC, workflow_id DESC);
        CREATE INDEX saga_workflows_updated ON saga_workflows (updated_at DESC, workflow_id DESC);
        CREATE INDEX saga_workflows_run_id ON saga_workflows (run_id text_pattern_ops);
        CREATE INDEX approval_requests_pending_workflow ON approval_requests (workflow_id)
            INCLUDE (created_at, assignees) WHERE status = 'pending';
        CREATE INDEX audit_log_workflow ON audit_log (workflow_id, id);
        CREATE INDEX documents_workflow ON documents (workflow_id);
        CREATE INDEX external_events_correlation_prefix ON external_events (correlation_key text_pattern_ops);
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP INDEX external_events_correlation_prefix, documents_workflow, audit_log_workflow,"
        " approval_requests_pending_workflow, saga_workflows_run_id, saga_workflows_updated,"
        " saga_workflows_created"
    )
