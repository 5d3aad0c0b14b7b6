"""The lock-free metric series export exactly what prometheus_client's own Counter and Histogram would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from ragweave.observability.metrics import BATCH_BUCKETS, DURATION_BUCKETS
from ragweave.observability.series import CounterSeries, HistogramSeries

OBSERVED = [0.0, 0.004, 0.005, 0.0051, 0.3, 1, 2.5, 7, 59.9, 60, 61, 1e6]


def _without_created(registry: CollectorRegistry) -> list[str]:
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


def test_histograms_and_counters_match_prometheus_client():
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    duration = HistogramSeries("t_duration_seconds", "Latency.", ["operation", "type"], DURATION_BUCKETS, ours)
    batch = HistogramSeries("t_batch_size", "Keys.", ["loader"], BATCH_BUCKETS, ours)
    calls = CounterSeries("t_calls", "Calls.", ["backend", "method"], ours)
    reference_duration = Histogram("t_duration_seconds", "Latency.", ["operation", "type"], buckets=DURATION_BUCKETS,
                                   registry=theirs)
    reference_batch = Histogram("t_batch_size", "Keys.", ["loader"], buckets=BATCH_BUCKETS, registry=theirs)
    reference_calls = Counter("t_calls", "Calls.", ["backend", "method"], registry=theirs)
    for n, value in enumerate(OBSERVED):
        labels = ("Op" if n % 3 else "Other", "query")
        duration.observe(labels, value)
        reference_duration.labels(*labels).observe(value)
        batch.observe(("entity",), int(value * 10))
        reference_batch.labels("entity").observe(int(value * 10))
        calls.inc(("graph", "reach"), n)
        reference_calls.labels("graph", "reach").inc(n)
    calls.inc(("llm", "embed"))
    reference_calls.labels("llm", "embed").inc()
    assert _without_created(ours) == _without_created(theirs)
    assert ours.get_sample_value("t_duration_seconds_bucket", {"operation": "Op", "type": "query", "le": "0.005"}) == 2
    assert ours.get_sample_value("t_calls_total", {"backend": "graph", "method": "reach"}) == sum(range(len(OBSERVED)))


def test_an_empty_series_exports_its_family_without_samples():
    registry = CollectorRegistry()
    CounterSeries("t_calls", "Calls.", ["backend"], registry)
    HistogramSeries("t_size", "Keys.", ["loader"], BATCH_BUCKETS, registry)
    assert [(f.name, f.samples) for f in registry.collect()] == [("t_calls", []), ("t_size", [])]
