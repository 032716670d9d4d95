"""The run params of the startable DAGs, as the UI trigger form and ``POST /api/v2/dags/{id}/dagRuns`` enforce
them: each DAG is loaded with DagBag, serialized like the dag-processor does, and its params checked the way
``SerializedDAG.create_dagrun`` does (``params.deep_merge(conf).validate()``).

Bad values are derived from each param's JSON schema (a param added to a DAG is covered automatically);
the last tests hold the contract of ``execution_plane.webhooks.workflows``: the ingress model of a
workflow and its DAG's params accept and refuse the same values.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from execution_plane.webhooks import workflows
from tests.security.security_support import bad_values, edge_values, valid_payload

STARTABLE = sorted(workflows.STARTABLE_WORKFLOWS)


@pytest.fixture(scope="module")
def dag_bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    from devtools.env import REPO

    bag = DagBag(dag_folder=str(REPO / "dags"), safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag


def serialized(dag_bag: Any, dag_id: str) -> Any:
    from airflow.serialization.serialized_objects import DagSerialization

    if dag_id not in dag_bag.dags:
        pytest.skip(f"{dag_id} is startable by webhook but has no DAG in dags/ yet (the ingress answers 503)")
    return DagSerialization.from_dict(DagSerialization.to_dict(dag_bag.dags[dag_id]))


def validate(dag: Any, conf: dict[str, Any]) -> dict[str, Any]:
    """What Airflow checks before creating a run with ``conf`` (trigger form, REST API, trigger_dag)."""
    return dict(dag.params.deep_merge(conf).validate())


def param_schemas(dag: Any) -> dict[str, dict[str, Any]]:
    return {name: dict(dag.params.get_param(name).schema) for name in dag.params}


def short(value: Any) -> str:
    text = repr(value)
    return (
        text
        if len(text) <= 24
        else f"{text[:12]}...({len(value) if hasattr(value, '__len__') else ''} chars)"
    )


def good_conf(dag_id: str) -> dict[str, Any]:
    return valid_payload(workflows.STARTABLE_WORKFLOWS[dag_id])


@pytest.mark.parametrize("dag_id", STARTABLE)
def test_dag_accepts_a_good_conf(dag_bag: Any, dag_id: str) -> None:
    dag = serialized(dag_bag, dag_id)

    resolved = validate(dag, good_conf(dag_id))

    assert {k: resolved[k] for k in good_conf(dag_id)} == good_conf(dag_id)


@pytest.mark.parametrize("dag_id", STARTABLE)
def test_dag_refuses_each_bad_param_value(dag_bag: Any, dag_id: str) -> None:
    from airflow.exceptions import ParamValidationError

    dag = serialized(dag_bag, dag_id)
    schemas = param_schemas(dag)
    checked = 0
    for name, schema in schemas.items():
        for _label, value in bad_values(schema):
            with pytest.raises(ParamValidationError, match=f"param {name}:"):
                validate(dag, {**good_conf(dag_id), name: value})
            checked += 1
    assert checked >= len(schemas), f"every param of {dag_id} should have at least one bad value"


@pytest.mark.parametrize("dag_id", STARTABLE)
def test_dag_refuses_a_missing_required_param(dag_bag: Any, dag_id: str) -> None:
    from airflow.exceptions import ParamValidationError

    dag = serialized(dag_bag, dag_id)
    required = [
        name
        for name in dag.params
        if dag.params.get_param(name).value is None or repr(dag.params.get_param(name).value) == "NOTSET"
    ]
    assert "request_id" in required, "every startable DAG needs a request_id without default"
    for name in required:
        conf = {k: v for k, v in good_conf(dag_id).items() if k != name}
        with pytest.raises(ParamValidationError, match=f"param {name}:"):
            validate(dag, conf)


# --------------------------------------------------------------------------- ingress model <-> DAG params
@pytest.mark.parametrize("dag_id", STARTABLE)
def test_ingress_model_and_dag_declare_the_same_params(dag_bag: Any, dag_id: str) -> None:
    """workflows.py: "a field added here must be added there (and the other way round)"."""
    dag = serialized(dag_bag, dag_id)
    model_fields = set(workflows.STARTABLE_WORKFLOWS[dag_id].model_fields)
    dag_params = set(dag.params)

    only_model, only_dag = sorted(model_fields - dag_params), sorted(dag_params - model_fields)
    assert not (only_model or only_dag), (
        f"only in the ingress model: {only_model}; only in the DAG: {only_dag}"
    )


@pytest.mark.parametrize("dag_id", STARTABLE)
def test_what_the_ingress_accepts_the_dag_accepts(dag_bag: Any, dag_id: str) -> None:
    """Edge values the ingress model accepts (longest ids, every allowed character) must not be refused
    later by the DAG (a CRM event would then get 422 invalid_params for a payload the docs allow)."""
    from airflow.exceptions import ParamValidationError

    dag = serialized(dag_bag, dag_id)
    model = workflows.STARTABLE_WORKFLOWS[dag_id]
    refused = []
    for name, prop in model.model_json_schema()["properties"].items():
        for label, value in edge_values(prop):
            conf = {**good_conf(dag_id), name: value}
            model.model_validate(conf)
            try:
                validate(dag, conf)
            except ParamValidationError:
                refused.append(f"{name}={short(value)} ({label})")
    assert not refused, "accepted by the ingress, refused by the DAG: " + "; ".join(refused)


@pytest.mark.parametrize("dag_id", STARTABLE)
def test_what_the_dag_refuses_the_ingress_refuses(dag_bag: Any, dag_id: str) -> None:
    """Every bad value of a DAG param is refused by the ingress model already (422 invalid_body naming the
    field, before a run is attempted) rather than by Airflow."""
    dag = serialized(dag_bag, dag_id)
    model = workflows.STARTABLE_WORKFLOWS[dag_id]
    accepted = []
    for name, schema in param_schemas(dag).items():
        if name not in model.model_fields:
            continue
        for label, value in bad_values(schema):
            try:
                model.model_validate({**good_conf(dag_id), name: value})
            except ValidationError:
                continue
            accepted.append(f"{name}={short(value)} ({label})")
    assert not accepted, "refused by the DAG, accepted by the ingress: " + "; ".join(accepted)
