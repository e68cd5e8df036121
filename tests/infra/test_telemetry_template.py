"""The template watches the metrics the code emits: alarms and the dashboard name only
imgpipe metrics of core/telemetry/metrics.py, with dimension sets the code sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from core.telemetry.metrics import METRICS, NAMESPACE
from tests.infra.template import resources

Watched = tuple[str, tuple[str, ...]]  # metric name, dimension names


def _alarm_metrics(alarm: dict[str, Any]) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(namespace, metric, dimension names) of every metric an alarm reads."""
    props = alarm["Properties"]
    if "MetricName" in props:
        names = tuple(sorted(d["Name"] for d in props.get("Dimensions", [])))
        yield props["Namespace"], props["MetricName"], names
    for query in props.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            names = tuple(sorted(d["Name"] for d in metric.get("Dimensions", [])))
            yield metric["Namespace"], metric["MetricName"], names


def _emitted(name: str) -> set[tuple[str, ...]]:
    """The dimension sets under which the code sends metric `name`."""
    metric = METRICS[name]
    return {tuple(sorted(metric.dimensions)), *(tuple(sorted(r)) for r in metric.rollups)}


def _imgpipe_alarm_metrics(template: dict[str, Any]) -> dict[str, set[Watched]]:
    watched: dict[str, set[Watched]] = {}
    for alarm_name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        for namespace, metric, dims in _alarm_metrics(alarm):
            if namespace == NAMESPACE:
                watched.setdefault(alarm_name, set()).add((metric, dims))
    return watched


def _dashboard_metrics(template: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    found = []
    for widget in json.loads(body)["widgets"]:
        for row in widget["properties"]["metrics"]:
            strings = [item for item in row if isinstance(item, str)]
            if strings:  # an expression row has only its options
                namespace, metric, *pairs = strings
                found.append((namespace, metric, tuple(sorted(pairs[0::2]))))
    return found


def test_alarms_name_only_metrics_the_code_emits_with_their_dimensions(
    template: dict[str, Any],
) -> None:
    watched = _imgpipe_alarm_metrics(template)
    for alarm_name, metrics in watched.items():
        for metric, dims in metrics:
            assert metric in METRICS, f"{alarm_name}: {metric} is not emitted"
            assert dims in _emitted(metric), f"{alarm_name}: {metric} is not sent with {dims}"
    everything = {metric for metrics in watched.values() for metric, _ in metrics}
    # The rejection rate, dead letters, loader lag and processing p95 are all watched.
    assert {"ImagesRejected", "ImagesProcessed", "ImagesDuplicate"} <= everything
    assert {"DeadLetters", "LoaderLagSeconds", "ProcessingMs"} <= everything


def test_loader_lag_alarm_fires_past_five_minutes_and_p95_alarms_use_the_percentile(
    template: dict[str, Any],
) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    lag = alarms["LoaderLagAlarm"]["Properties"]
    assert (lag["MetricName"], lag["Threshold"], lag["ComparisonOperator"]) == (
        "LoaderLagSeconds",
        300,
        "GreaterThanThreshold",
    )
    p95 = [a["Properties"] for a in alarms.values() if a["Properties"].get("ExtendedStatistic")]
    assert {a["Dimensions"][0]["Value"] for a in p95} == {"upload", "stream"}
    assert all(a["ExtendedStatistic"] == "p95" for a in p95)
    rate = alarms["RejectionRateAlarm"]["Properties"]["Metrics"]
    assert [q["Id"] for q in rate if q.get("ReturnData", True)] == ["rate"]


def test_the_dashboard_shows_every_metric_and_only_those_the_code_emits(
    template: dict[str, Any],
) -> None:
    shown = _dashboard_metrics(template)
    for namespace, metric, dims in shown:
        assert namespace == NAMESPACE
        assert metric in METRICS, metric
        assert dims in _emitted(metric), (metric, dims)
    assert {metric for _, metric, _ in shown} == set(METRICS)


def test_every_function_is_traced(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    functions = resources(template, "AWS::Serverless::Function")
    assert len(functions) >= 3
    for name, function in functions.items():
        assert function["Properties"].get("Tracing", "Active") == "Active", name
