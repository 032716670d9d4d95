"""execution_plane.telemetry: the toolkit's metrics go through the Stats singleton Airflow initialized (here
the Task SDK's, with Airflow's own OTel logger), reach an OTLP receiver, and never fail the caller."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from execution_plane import telemetry
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture
def otel_stats(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """The Task SDK's Stats on Airflow's OTel logger, exporting to a receiver (as in a task process)."""
    from airflow.sdk._shared.observability.metrics import stats
    from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger
    from airflow.sdk.observability.metrics import otel_logger

    try:  # a test before this one in the same process may have initialized the core Stats: not here
        from airflow._shared.observability.metrics import stats as core_stats

        monkeypatch.setattr(core_stats, "_factory", None, raising=False)
    except ImportError:
        pass
    from airflow.sdk.execution_time import task_runner

    # ... nor left a task runner's channel behind (a dag.test() runs its tasks in the test process).
    monkeypatch.delattr(task_runner, "SUPERVISOR_COMMS", raising=False)
    receiver = OtlpReceiver().start()
    for key, value in receiver.exporter_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "600000")  # only the flush exports
    stats.initialize(factory=otel_logger.get_otel_logger, export_legacy_names=False)
    try:
        yield receiver
    finally:
        stats.initialize(factory=NoStatsLogger, export_legacy_names=True)
        receiver.stop()


def test_in_a_task_process_each_metric_reaches_the_collector_as_it_is_recorded(
    otel_stats: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task process ends with os._exit (no atexit): what it records is exported at once."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", object(), raising=False)
    assert telemetry.in_task_process()
    telemetry.incr("wait.parked", kind="approval", workflow="partner_approval")
    assert otel_stats.requests >= 1
    telemetry.incr("wait.parked", kind="approval", workflow="partner_approval")
    telemetry.timing("wait.duration", timedelta(seconds=2), kind="approval", workflow="partner_approval")
    telemetry.timing("outside_call.duration", 12.5, system="crm", outcome="ok")
    name = "airflow.execution_plane."
    assert otel_stats.total(name + "wait.parked", kind="approval", workflow="partner_approval") == 2
    assert otel_stats.total(name + "wait.duration", kind="approval") == 1
    assert otel_stats.sum(name + "wait.duration", kind="approval") == 2000
    assert otel_stats.sum(name + "outside_call.duration", system="crm", outcome="ok") == 12.5


def test_elsewhere_metrics_wait_for_the_periodic_export(otel_stats: OtlpReceiver) -> None:
    """The API server, scheduler and triggerer run for good: their exporter's interval exports them."""
    assert not telemetry.in_task_process()
    telemetry.incr("webhook.accepted", route="crm", status="accepted")
    assert otel_stats.requests == 0
    telemetry.flush()
    assert otel_stats.total("airflow.execution_plane.webhook.accepted", route="crm") == 1


def test_a_metric_that_cannot_be_recorded_never_fails_the_caller(otel_stats: OtlpReceiver) -> None:
    telemetry.incr("x" * 300)  # over OpenTelemetry's name length: Airflow's logger refuses it
    telemetry.timing("wait.duration", "not a duration")  # type: ignore[arg-type]
    telemetry.flush()


def test_the_plugin_registers_no_listener() -> None:
    """Airflow 3.3.2 refuses every DAG with an end_from_trigger task while a plugin registers a listener."""
    from execution_plane.plugin import ExecutionPlanePlugin

    assert not getattr(ExecutionPlanePlugin, "listeners", [])


def test_without_metrics_configured_nothing_is_recorded_and_nothing_fails() -> None:
    telemetry.incr("wait.parked", kind="event")
    telemetry.flush()
