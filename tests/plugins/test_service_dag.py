"""``service_dag``: what every service's DAG gets from the factory, and that the seven service DAGs use it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, task

from execution_plane.defaults import CLASS_TAGS, START_DATE
from execution_plane.services.dag import RETRIES, service_dag

REPO = Path(__file__).resolve().parents[2]
SERVICE_DAGS = (
    "audit_log_write",
    "dashboard_aggregation",
    "dialect_detection",
    "knowledge_retrieval",
    "lead_scoring",
    "message_classification",
    "trust_score_calculation",
)


def test_a_service_dag_runs_on_demand_with_two_retries_its_class_tag_and_params() -> None:
    @service_dag(doc_md="### A service", params={"text": Param(type="string", minLength=1)})
    def dialect_detection() -> None:
        @task
        def detect() -> dict[str, Any]:
            return {}

        detect()

    dag = dialect_detection()

    assert dag.dag_id == "dialect_detection"
    assert dag.schedule is None and dag.catchup is False
    assert dag.start_date is not None and dag.start_date.replace(tzinfo=None) == START_DATE
    assert dag.doc_md == "### A service"
    assert dag.tags == {CLASS_TAGS["dialect_detection"], "services"}
    assert dag.params.get_param("text").schema == {"type": "string", "minLength": 1}
    (op,) = dag.tasks
    assert op.retries == RETRIES == 2
    assert op.retry_exponential_backoff and op.max_retry_delay == timedelta(minutes=10)


def test_every_service_dag_file_is_built_by_the_factory() -> None:
    for name in SERVICE_DAGS:
        text = (REPO / "dags" / "workflows" / name / "dag.py").read_text()
        assert "@service_dag(" in text and "@dag(" not in text, name
