"""Idempotent side-effect operators: thin, templated wrappers over `Saga` for classic-operator DAGs.

Each keys its effect by the workflow (``params.request_id``) and its ``step`` (default: the task id), so
a retry, a cleared task or a re-run of the same request replays instead of repeating.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from execution_plane.saga.ledger import Compensation
from execution_plane.saga.steps import Saga

_SAFE_TABLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class SendMessageOperator(BaseOperator):
    """Send one email / WhatsApp / SMS message, once (outbound governance table)."""

    template_fields: Sequence[str] = ("to", "subject", "body", "template")
    ui_color = "#e8f4ff"

    def __init__(self, *, channel: str, to: str, template: str, body: str, subject: str | None = None,
                 step: str | None = None, compensation: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channel = channel
        self.to = to
        self.template = template
        self.body = body
        self.subject = subject
        self.step = step
        self.compensation = compensation

    def execute(self, context: Any) -> dict[str, Any]:
        comp = Compensation(**self.compensation) if self.compensation else None
        with Saga.from_context(context) as saga:
            return saga.send_message(self.step or self.task_id, channel=self.channel, to=self.to,
                                     template=self.template, body=self.body, subject=self.subject,
                                     compensation=comp)


class DbUpsertOperator(BaseOperator):
    """Upsert one row of a business table, in the same transaction as the step's ledger rows."""

    template_fields: Sequence[str] = ("values",)

    def __init__(self, *, table: str, key_columns: list[str], values: dict[str, Any], step: str | None = None,
                 compensation: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in [table, *key_columns, *values]:
            if not name or set(name) - _SAFE_TABLE_CHARS:
                raise ValueError(f"unsafe identifier {name!r}: lowercase letters, digits and _ only")
        missing = set(key_columns) - set(values)
        if missing:
            raise ValueError(f"key columns {sorted(missing)} have no value")
        self.table = table
        self.key_columns = key_columns
        self.values = values
        self.step = step
        self.compensation = compensation

    def execute(self, context: Any) -> dict[str, Any]:
        from psycopg2 import sql
        from psycopg2.extras import Json

        columns = list(self.values)
        updates = [c for c in columns if c not in self.key_columns]
        query = sql.SQL("INSERT INTO {t} ({cols}) VALUES ({vals}) ON CONFLICT ({keys}) DO {action}").format(
            t=sql.Identifier(self.table),
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            keys=sql.SQL(", ").join(map(sql.Identifier, self.key_columns)),
            action=sql.SQL("UPDATE SET {}").format(sql.SQL(", ").join(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updates
            )) if updates else sql.SQL("NOTHING"),
        )
        params = [Json(v) if isinstance(v, dict | list) else v for v in self.values.values()]

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(query, params)
            return {"table": self.table, "key": {k: self.values[k] for k in self.key_columns}}

        comp = Compensation(**self.compensation) if self.compensation else None
        with Saga.from_context(context) as saga:
            return saga.db_write(self.step or self.task_id, write, request=self.values, compensation=comp)
