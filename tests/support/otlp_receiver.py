"""An OTLP/HTTP metrics receiver in the test process: what a collector would be, for the live tests.

Airflow's OTel integration (``[metrics] otel_on``) exports with the OpenTelemetry SDK's OTLP/HTTP exporter
(protobuf ``ExportMetricsServiceRequest`` POSTed to ``/v1/metrics``). This server answers those posts and
keeps every data point it was sent, decoded with the OpenTelemetry protobuf classes the SDK ships.

Counters and histograms are cumulative per exporting process (a series starts at the process's
``start_time_unix_nano``); many processes export the same metric (API server, triggerer, each task's own
process). ``total`` is the sum, over the series, of each series' latest value: what a collector with a
Prometheus backend would show as the metric's value.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Point:
    name: str
    attributes: tuple[tuple[str, str], ...]
    series: tuple[Any, ...]  # resource, scope, start time: one cumulative series
    time_unix_nano: int
    value: float  # a counter's value, or a histogram's count
    total: float  # a histogram's sum (a counter's value again)


def _value(any_value: Any) -> str:
    kind = any_value.WhichOneof("value")
    return str(getattr(any_value, kind)) if kind else ""


def _attributes(attributes: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((kv.key, _value(kv.value)) for kv in attributes))


def decode(body: bytes) -> list[Point]:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    request = ExportMetricsServiceRequest()
    request.ParseFromString(body)
    points: list[Point] = []
    for resource_metrics in request.resource_metrics:
        resource = _attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                for dp in getattr(metric, kind).data_points:
                    if kind in ("sum", "gauge"):
                        number = dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double
                        value, total = float(number), float(number)
                    else:  # histogram, exponential_histogram
                        value, total = float(dp.count), float(dp.sum)
                    points.append(
                        Point(
                            name=metric.name,
                            attributes=_attributes(dp.attributes),
                            series=(resource, scope, dp.start_time_unix_nano),
                            time_unix_nano=dp.time_unix_nano,
                            value=value,
                            total=total,
                        )
                    )
    return points


class OtlpReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[tuple[Any, ...], Point] = {}
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
                    ExportMetricsServiceResponse,
                )

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.rstrip("/") == "/v1/metrics":
                    receiver._keep(decode(body))
                answer = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def exporter_env(self) -> dict[str, str]:
        """What every Airflow process needs to export its metrics here, every second."""
        return {
            "AIRFLOW__METRICS__OTEL_ON": "True",
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"{self.endpoint}/v1/metrics",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_SERVICE_NAME": "execution-plane",
        }

    def _keep(self, points: list[Point]) -> None:
        with self._lock:
            self.requests += 1
            for point in points:
                key = (point.name, point.attributes, point.series)
                kept = self._latest.get(key)
                if kept is None or kept.time_unix_nano <= point.time_unix_nano:
                    self._latest[key] = point

    def total(self, name: str, **attributes: str) -> float:
        """The metric's value (counters) or count (histograms), over every series whose attributes include
        ``attributes``."""
        return sum(p.value for p in self._matching(name, attributes))

    def sum(self, name: str, **attributes: str) -> float:
        """A histogram's sum of recorded values (ms for timings) over the matching series."""
        return sum(p.total for p in self._matching(name, attributes))

    def names(self) -> set[str]:
        with self._lock:
            return {name for name, _, _ in self._latest}

    def _matching(self, name: str, attributes: Mapping[str, str]) -> list[Point]:
        with self._lock:
            return [
                point
                for (metric, _, _), point in self._latest.items()
                if metric == name and attributes.items() <= dict(point.attributes).items()
            ]
