"""DAGs the webhook tests start through ``POST /webhooks/crm/events`` (serialized by the test fixture).

EmptyOperator only: should a scheduler run on the test database meanwhile, it finishes these runs without
a worker and without needing this file.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param

STARTABLE_DAG_ID = "ep_webhook_test_startable"
PAUSED_DAG_ID = "ep_webhook_test_paused"

with DAG(
    dag_id=STARTABLE_DAG_ID,
    schedule=None,
    catchup=False,
    tags=["test"],
    # Declared like a real startable DAG declares its webhook params (execution_plane.webhooks.workflows).
    params={"request_id": Param(type="string"), "amount": Param(type="integer", minimum=1)},
):
    EmptyOperator(task_id="noop")

with DAG(dag_id=PAUSED_DAG_ID, schedule=None, catchup=False, tags=["test"]):
    EmptyOperator(task_id="noop")
