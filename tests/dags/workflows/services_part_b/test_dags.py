"""message_classification, dialect_detection and knowledge_retrieval through dag.test(): each DAG's one step
is the toolkit's service (the same code as its route), run in a real task with the message or query as
params, storing the same rows; a bad param is refused before any task runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from include.services.retrieval import corpus
from tests.support.workflow_runs import load_dag, paused


@pytest.fixture(scope="module")
def dags() -> Iterator[dict[str, Any]]:
    ids = ("message_classification", "dialect_detection", "knowledge_retrieval")
    loaded = {dag_id: load_dag(dag_id) for dag_id in ids}
    with paused(ids[0]), paused(ids[1]), paused(ids[2]):
        yield loaded


def only_result(run: Any, task_id: str) -> dict[str, Any]:
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    result: dict[str, Any] = run.get_task_instance(task_id).xcom_pull(task_ids=task_id)
    return result


def test_message_classification_dag(dags: dict[str, Any], sandbox: Any, business_db: Any) -> None:
    key = f"dag-{uuid.uuid4().hex[:10]}"
    try:
        run = dags["message_classification"].test(
            run_conf={"text": "Please take me off this list.", "message_id": key, "channel": "sms"}
        )
        result = only_result(run, "classify")
        assert (result["intent"], result["message_key"], result["stored"]) == ("unsubscribe", key, "created")
        with business_db.cursor() as cur:
            cur.execute("SELECT intent, channel FROM message_classifications WHERE message_key = %s", (key,))
            assert cur.fetchall() == [("unsubscribe", "sms")]
    finally:
        with business_db.cursor() as cur:
            cur.execute("DELETE FROM message_classifications WHERE message_key = %s", (key,))


def test_dialect_detection_dag(dags: dict[str, Any], sandbox: Any, business_db: Any) -> None:
    key = f"dag-{uuid.uuid4().hex[:10]}"
    try:
        run = dags["dialect_detection"].test(
            run_conf={"text": "بغيت نعرف شحال الثمن ديال الخدمة", "text_id": key}
        )
        result = only_result(run, "detect")
        assert (result["dialect"], result["stored"]) == ("maghrebi", "created")
        with business_db.cursor() as cur:
            cur.execute("SELECT dialect FROM dialect_detections WHERE text_key = %s", (key,))
            assert cur.fetchall() == [("maghrebi",)]
    finally:
        with business_db.cursor() as cur:
            cur.execute("DELETE FROM dialect_detections WHERE text_key = %s", (key,))


def test_knowledge_retrieval_dag(dags: dict[str, Any], sandbox: Any) -> None:
    from execution_plane.services import retrieval

    for document in corpus.load_documents():  # the labelled set, re-ingested unchanged on later runs
        retrieval.ingest(document)
    run = dags["knowledge_retrieval"].test(
        run_conf={"query": "escrow amount and duration in the Orbital deal", "top_k": 3, "kinds": ["memo"]}
    )
    result = only_result(run, "search")
    top = result["hits"][0]
    assert (top["document_id"], top["kind"]) == ("memo-ic-orbital", "memo")
    assert "USD 6 million held in escrow for 18 months" in top["text"]
    assert len(result["hits"]) <= 3


def test_a_bad_param_is_refused_before_any_task(dags: dict[str, Any]) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        dags["message_classification"].test(run_conf={"text": "hi", "channel": "fax"})
    with pytest.raises(ParamValidationError):
        dags["knowledge_retrieval"].test(run_conf={"query": "fees", "top_k": 0})
