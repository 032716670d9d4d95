"""SendMessageOperator and DbUpsertOperator, tested the way Airflow's providers test operators: build the
operator, call ``execute(context)``, check what happened (real sandbox, real test business database)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from execution_plane.operators.side_effects import DbUpsertOperator, SendMessageOperator
from execution_plane.saga.errors import IdempotencyConflict
from execution_plane.saga.keys import message_id

DAG_ID = "operators_test"


def make_context(request_id: str | None = None) -> dict[str, Any]:
    return {
        "dag": SimpleNamespace(dag_id=DAG_ID),
        "params": {"request_id": request_id or uuid.uuid4().hex},
        "run_id": "manual__operators",
    }


def fetch(db, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return list(cur.fetchall())


# ---------------------------------------------------------------------------------------------- messages
class TestSendMessageOperator:
    def test_template_fields(self):
        assert set(SendMessageOperator.template_fields) == {"to", "subject", "body", "template"}

    def test_execute_sends_once(self, sandbox, business_db):
        context = make_context()
        op = SendMessageOperator(
            task_id="welcome_partner",
            channel="email",
            to="p@example.com",
            template="welcome",
            subject="Welcome",
            body="Hello partner",
        )
        first = op.execute(context)
        second = op.execute(context)  # a retry of the task
        workflow = f"{DAG_ID}:{context['params']['request_id']}"
        assert first == second
        assert first["message_id"] == message_id(workflow, "welcome_partner", "p@example.com", "welcome")
        assert first["channel"] == "email"
        [effect] = sandbox.effects(system="email", action="send")
        assert effect["payload"] == {
            "to": "p@example.com",
            "body": "Hello partner",
            "subject": "Welcome",
            "message_id": first["message_id"],
        }
        assert fetch(
            business_db,
            "SELECT step, status, provider_message_id FROM outbound_messages WHERE message_id = %s",
            first["message_id"],
        ) == [("welcome_partner", "sent", effect["resource_id"])]
        assert fetch(
            business_db,
            "SELECT step, side_effect, compensation_action FROM saga_steps WHERE workflow_id = %s",
            workflow,
        ) == [("welcome_partner", "email.send", None)]

    def test_step_and_compensation(self, sandbox, business_db):
        context = make_context()
        compensation = {
            "action": "message.notify",
            "args": {"channel": "sms", "to": "+15550001", "body": "Cancelled: {reason}"},
        }
        op = SendMessageOperator(
            task_id="t",
            step="sms_nudge",
            channel="sms",
            to="+15550001",
            template="nudge",
            body="Reminder",
            compensation=compensation,
        )
        op.execute(context)
        workflow = f"{DAG_ID}:{context['params']['request_id']}"
        assert fetch(
            business_db,
            "SELECT step, compensation_action, compensation_args FROM saga_steps WHERE workflow_id = %s",
            workflow,
        ) == [("sms_nudge", "message.notify", compensation["args"])]

    def test_provider_failure_raises_and_retry_sends_once(self, sandbox):
        from execution_plane.hooks.http import ProviderError

        sandbox.post("/_sandbox/faults", {"system": "whatsapp", "status": 503})
        context = make_context()
        op = SendMessageOperator(task_id="wa", channel="whatsapp", to="+15550001", template="hi", body="Hi")
        with pytest.raises(ProviderError):
            op.execute(context)
        op.execute(context)
        assert len(sandbox.effects(system="whatsapp", action="send")) == 1


# ---------------------------------------------------------------------------------------------- upsert
@pytest.fixture
def table(business_db):
    name = f"ep_test_upsert_{uuid.uuid4().hex[:12]}"
    with business_db.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {name} (tenant text NOT NULL, item_id text NOT NULL, qty integer,"
            f" meta jsonb, PRIMARY KEY (tenant, item_id))"
        )
    yield name
    with business_db.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")


class TestDbUpsertOperator:
    def test_template_fields(self):
        assert tuple(DbUpsertOperator.template_fields) == ("values",)

    def test_execute_upserts_once(self, table, business_db):
        context = make_context()
        values = {"tenant": "acme", "item_id": "i1", "qty": 3, "meta": {"source": "crm", "tags": ["a"]}}
        op = DbUpsertOperator(
            task_id="save_item", table=table, key_columns=["tenant", "item_id"], values=values
        )
        result = op.execute(context)
        assert result == {"table": table, "key": {"tenant": "acme", "item_id": "i1"}}
        assert op.execute(context) == result  # the retry replays
        assert fetch(business_db, f"SELECT tenant, item_id, qty, meta FROM {table}") == [
            ("acme", "i1", 3, {"source": "crm", "tags": ["a"]})
        ]
        workflow = f"{DAG_ID}:{context['params']['request_id']}"
        assert fetch(
            business_db,
            "SELECT scope, status, attempts FROM idempotency_keys WHERE workflow_id = %s",
            workflow,
        ) == [("db", "done", 1)]  # the retry replayed from one read: it claimed nothing, wrote nothing
        assert fetch(
            business_db, "SELECT step, side_effect FROM saga_steps WHERE workflow_id = %s", workflow
        ) == [("save_item", "db.write")]

    def test_updates_an_existing_row(self, table, business_db):
        with business_db.cursor() as cur:
            cur.execute(f"INSERT INTO {table} VALUES ('acme', 'i1', 1, NULL)")
        op = DbUpsertOperator(
            task_id="save",
            table=table,
            key_columns=["tenant", "item_id"],
            values={"tenant": "acme", "item_id": "i1", "qty": 7},
        )
        op.execute(make_context())
        assert fetch(business_db, f"SELECT qty FROM {table}") == [(7,)]

    def test_key_columns_only_do_nothing_on_conflict(self, table, business_db):
        with business_db.cursor() as cur:
            cur.execute(f"INSERT INTO {table} VALUES ('acme', 'i1', 1, NULL)")
        op = DbUpsertOperator(
            task_id="save",
            table=table,
            key_columns=["tenant", "item_id"],
            values={"tenant": "acme", "item_id": "i1"},
        )
        op.execute(make_context())
        assert fetch(business_db, f"SELECT qty FROM {table}") == [(1,)]

    def test_changed_values_under_the_same_step_conflict(self, table, business_db):
        context = make_context()
        DbUpsertOperator(
            task_id="save",
            table=table,
            key_columns=["tenant", "item_id"],
            values={"tenant": "acme", "item_id": "i1", "qty": 1},
        ).execute(context)
        with pytest.raises(IdempotencyConflict):
            DbUpsertOperator(
                task_id="save",
                table=table,
                key_columns=["tenant", "item_id"],
                values={"tenant": "acme", "item_id": "i1", "qty": 2},
            ).execute(context)
        assert fetch(business_db, f"SELECT qty FROM {table}") == [(1,)]

    def test_compensation_recorded(self, table, business_db):
        context = make_context()
        DbUpsertOperator(
            task_id="save",
            table=table,
            key_columns=["tenant", "item_id"],
            values={"tenant": "acme", "item_id": "i9"},
            compensation={"action": "crm.set_deal_status", "args": {"deal_id": "i9", "status": "lost"}},
        ).execute(context)
        workflow = f"{DAG_ID}:{context['params']['request_id']}"
        assert fetch(
            business_db,
            "SELECT compensation_action, compensation_args FROM saga_steps WHERE workflow_id = %s",
            workflow,
        ) == [("crm.set_deal_status", {"deal_id": "i9", "status": "lost"})]

    def test_failed_write_leaves_nothing(self, table, business_db):
        context = make_context()
        op = DbUpsertOperator(
            task_id="save",
            table=table,
            key_columns=["tenant", "item_id"],
            values={"tenant": "acme", "item_id": "i1", "qty": "not a number"},
        )
        with pytest.raises(Exception, match="integer"):
            op.execute(context)
        workflow = f"{DAG_ID}:{context['params']['request_id']}"
        assert fetch(
            business_db, "SELECT count(*) FROM idempotency_keys WHERE workflow_id = %s", workflow
        ) == [(0,)]
        assert fetch(business_db, f"SELECT count(*) FROM {table}") == [(0,)]

    @pytest.mark.parametrize(
        ("table_name", "keys", "values"),
        [
            ("deals; DROP TABLE deals", ["id"], {"id": 1}),
            ("Deals", ["id"], {"id": 1}),
            ('deals"', ["id"], {"id": 1}),
            ("", ["id"], {"id": 1}),
            ("deals", ["id) DO NOTHING; --"], {"id) DO NOTHING; --": 1}),
            ("deals", ["id"], {"id": 1, "name = 'x'": 2}),
            ("deals", ["id"], {"id": 1, "Name": 2}),
        ],
    )
    def test_unsafe_identifiers_rejected_at_construction(self, table_name, keys, values):
        with pytest.raises(ValueError, match="unsafe identifier"):
            DbUpsertOperator(task_id="t", table=table_name, key_columns=keys, values=values)

    def test_key_column_without_value(self):
        with pytest.raises(ValueError, match="have no value"):
            DbUpsertOperator(task_id="t", table="deals", key_columns=["id"], values={"name": "x"})
