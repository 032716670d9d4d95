"""The workflow inventory as data, and the Temporal Candidate Rule that classifies it.

Pure Python with no Airflow import: DAG files import it at parse time to tag themselves with their class.
"""

from __future__ import annotations

from execution_plane.catalog.inventory import INVENTORY, SUPPORTING, by_dag_id, by_key, disagreements
from execution_plane.catalog.model import Duration, PausePoint, WaitsOn, WorkflowClass
from execution_plane.catalog.record import WorkflowRecord
from execution_plane.catalog.rule import Classification, Criterion, WorkflowFacts, classify

__all__ = [
    "INVENTORY",
    "SUPPORTING",
    "Classification",
    "Criterion",
    "Duration",
    "PausePoint",
    "WaitsOn",
    "WorkflowClass",
    "WorkflowFacts",
    "WorkflowRecord",
    "by_dag_id",
    "by_key",
    "classify",
    "disagreements",
]
