"""Idempotent side-effect operators: thin, templated wrappers over `Saga` for classic-operator DAGs.

Each keys its effect by the workflow (``params.request_id``) and its ``step`` (default: the task id), so
a retry, a cleared task or a re-run of the same request replays instead of repeating.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from execution_plane.saga.compensations import Compensation
from execution_plane.saga.steps import Saga

_SAFE_TABLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class SendMessageOperator(BaseOperator):
    """Send one email / WhatsApp / SMS message, once (outbound governance table)."""

    template_fields: Sequence[str] = ("to", "subject", "body", "template")
    ui_color = "#e8f4ff"

    def __init__(
        self,
        *,
        channel: str,
        to: str,
        template: str,
        body: str,
        subject: str | None = None,
        step: str | None = None,
        compensation: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
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
            return saga.send_message(
                self.step or self.task_id,
                channel=self.channel,
                to=self.to,
                template=self.template,
                body=self.body,
                subject=self.subject,
                compensation=comp,
            )


class DbUpsertOperator(BaseOperator):
    """Upsert one row of a business table, in the same transaction as the step's ledger rows."""

    template_fields: Sequence[str] = ("values",)

    def __init__(
        self,
        *,
        table: str,
        key_columns: list[str],
        values: dict[str, Any],
        step: str | None = None,
        compensation: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
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
        # Plain SQL text, not psycopg2.sql: the cursor comes from PostgresHook, which hands out psycopg 3
        # connections when psycopg 3 is installed. Quoting is safe: every name passed _SAFE_TABLE_CHARS.
        def quoted(names: list[str]) -> str:
            return ", ".join(f'"{name}"' for name in names)

        columns = list(self.values)
        updates = [c for c in columns if c not in self.key_columns]
        action = "NOTHING"
        if updates:
            action = "UPDATE SET " + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in updates)
        query = (
            f'INSERT INTO "{self.table}" ({quoted(columns)}) VALUES ({", ".join(["%s"] * len(columns))})'
            f" ON CONFLICT ({quoted(self.key_columns)}) DO {action}"
        )
        # JSON text: both drivers send it untyped, so Postgres reads it as the json/jsonb column it fills.
        params = [json.dumps(v) if isinstance(v, dict | list) else v for v in self.values.values()]

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(query, params)
            return {"table": self.table, "key": {k: self.values[k] for k in self.key_columns}}

        comp = Compensation(**self.compensation) if self.compensation else None
        with Saga.from_context(context) as saga:
            return saga.db_write(self.step or self.task_id, write, request=self.values, compensation=comp)
