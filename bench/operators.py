"""Operators of the benchmark-only DAGs (bench/dags)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.triggers.base import StartTriggerArgs


class NaiveWaitSensor(BaseSensorOperator):
    """Starts in the triggerer on `bench.triggers.NaiveEventTrigger` (own connection per wait)."""

    template_fields: Sequence[str] = ("correlation_key",)
    start_from_trigger = True

    def __init__(self, *, correlation_key: str, event_type: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.correlation_key = correlation_key
        self.event_type = event_type
        self.start_trigger_args = StartTriggerArgs(
            trigger_cls="bench.triggers.NaiveEventTrigger",
            trigger_kwargs={"correlation_key": correlation_key, "event_type": event_type},
            next_method="execute_complete",
            next_kwargs=None,
            timeout=None,
        )

    def execute(self, context: Any) -> None:  # pragma: no cover - never runs: starts in the triggerer
        raise RuntimeError("NaiveWaitSensor starts in the triggerer")

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        return event
