"""The metrics facade: core code says `metrics.count(...)`; on Lambda the values go out as
CloudWatch embedded metric format documents (Powertools), elsewhere to prometheus-client."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from core.config import running_on_lambda

NAMESPACE = "imgpipe"


@dataclass(frozen=True, slots=True)
class Metric:
    unit: str  # a CloudWatch unit
    kind: Literal["counter", "histogram", "gauge"]  # how Prometheus keeps it
    dimensions: tuple[str, ...]
    help: str
    # Further EMF dimension sets: alarms need one that names no reason code, since an alarm
    # names every dimension of the metric it watches.
    rollups: tuple[tuple[str, ...], ...] = ()


# Every metric imgpipe emits: the template's alarms and dashboard may name only these.
METRICS: dict[str, Metric] = {
    "ImagesProcessed": Metric("Count", "counter", ("source",), "Images stored for the first time"),
    "ImagesDuplicate": Metric("Count", "counter", ("source",), "Images found already stored"),
    "ImagesRejected": Metric(
        "Count", "counter", ("source", "code"), "Images refused, by reason", (("source",),)
    ),
    "ProcessingMs": Metric("Milliseconds", "histogram", ("source",), "Time to ingest one image"),
    "BytesIn": Metric("Bytes", "counter", ("source",), "Bytes of images received"),
    "BytesOut": Metric("Bytes", "counter", ("source",), "Bytes of renditions written"),
    "DeadLetters": Metric(
        "Count", "counter", ("source", "code"), "Records dead-lettered", (("source",),)
    ),
    "RowsLoaded": Metric("Count", "counter", (), "Warehouse rows written by the loader"),
    "FactsLoaded": Metric("Count", "counter", (), "Fact objects loaded into the warehouse"),
    "LoaderLagSeconds": Metric("Seconds", "gauge", (), "Age of the oldest fact not loaded"),
}
# Milliseconds: an image takes from a few to a few thousand.
PROCESSING_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)

_lock = threading.Lock()
# On Lambda, values wait here for `flush` (one EMF document per set of dimension values).
_Labels = tuple[tuple[str, str], ...]
_pending: dict[tuple[_Labels, tuple[tuple[str, ...], ...]], list[tuple[str, float]]] = defaultdict(
    list
)
_collectors: dict[str, Any] = {}


def count(name: str, value: float = 1, **dimensions: object) -> None:
    """Add `value` to a counter (or set a gauge, observe a histogram: as METRICS says)."""
    metric = METRICS[name]  # a KeyError here is a name missing from the table: a bug
    if set(dimensions) != set(metric.dimensions):
        raise ValueError(f"{name} takes dimensions {metric.dimensions}, not {sorted(dimensions)}")
    labels = tuple((key, str(getattr(v, "value", v))) for key, v in sorted(dimensions.items()))
    if running_on_lambda():
        with _lock:
            _pending[labels, metric.rollups].append((name, float(value)))
    else:
        _prometheus(name, metric, dict(labels), value)


observe = count  # reads better for a duration or a size


def flush() -> None:
    """Print the values waiting since the last flush as EMF documents on stdout, where Lambda
    hands them to CloudWatch; the end of each invocation calls it."""
    with _lock:
        groups = dict(_pending)
        _pending.clear()
    if not groups:
        return
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    for (labels, rollups), values in groups.items():
        # service="": no `service` dimension that the alarms would then have to name.
        provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service="")
        for key, label in labels:
            provider.add_dimension(key, label)
        for rollup in rollups:
            provider.add_dimensions(**{key: label for key, label in labels if key in rollup})
        for name, value in values:
            provider.add_metric(name, METRICS[name].unit, value)
        provider.flush_metrics()


def prometheus_name(name: str) -> str:
    """ImagesProcessed -> imgpipe_images_processed (a counter's samples add `_total`)."""
    return f"{NAMESPACE}_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _prometheus(name: str, metric: Metric, labels: dict[str, str], value: float) -> None:
    collector = _collectors.get(name) or _collector(name, metric)
    if collector is None:
        return  # prometheus-client not installed (plain `pip install imgpipe`): nothing kept
    target = collector.labels(**labels) if labels else collector
    if metric.kind == "counter":
        target.inc(value)
    elif metric.kind == "gauge":
        target.set(value)
    else:
        target.observe(value)


def _collector(name: str, metric: Metric) -> Any:
    try:
        import prometheus_client
    except ModuleNotFoundError:
        return None
    with _lock:
        if name not in _collectors:
            kinds = {
                "counter": prometheus_client.Counter,
                "gauge": prometheus_client.Gauge,
                "histogram": prometheus_client.Histogram,
            }
            extra = {"buckets": PROCESSING_BUCKETS} if metric.kind == "histogram" else {}
            _collectors[name] = kinds[metric.kind](
                prometheus_name(name), metric.help, labelnames=metric.dimensions, **extra
            )
        return _collectors[name]


def exposition() -> tuple[bytes, str]:
    """The process's metrics in Prometheus text format, and its content type."""
    import prometheus_client

    for name, metric in METRICS.items():  # every metric shown from the start, even at zero
        _collectors.get(name) or _collector(name, metric)
    return prometheus_client.generate_latest(), prometheus_client.CONTENT_TYPE_LATEST


def record_results(results: Any) -> None:
    """The metrics of ingest results: one count by status, time and bytes per image."""
    names = {"processed": "ImagesProcessed", "duplicate": "ImagesDuplicate"}
    for result in results:
        if result.status == "rejected":
            count("ImagesRejected", source=result.source, code=result.error_code or "unknown")
        else:
            count(names[result.status], source=result.source)
        observe("ProcessingMs", result.processing_ms, source=result.source)
        if result.bytes_in:
            count("BytesIn", result.bytes_in, source=result.source)
        if result.bytes_out:
            count("BytesOut", result.bytes_out, source=result.source)
