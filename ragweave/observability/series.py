"""Counters and histograms updated on every operation, kept as plain numbers and turned into metric families
when the registry is scraped (a custom collector: prometheus_client's documented way to export such values).

prometheus_client's `Counter` and `Histogram` take a lock on every update, and `labels()` checks the label
values each time; a `retrieve` makes 14 such updates, and dropping them saved 1.5% of its instructions. Only
the event loop's thread updates or scrapes these, so they need no lock.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import accumulate

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString


class CounterSeries:
    """A counter family: `inc(("a", "b"))` adds to the series with those label values (exported as `name_total`)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self.values: defaultdict[tuple[str, ...], float] = defaultdict(float)
        registry.register(self)

    def inc(self, labels: tuple[str, ...], amount: float = 1.0) -> None:
        self.values[labels] += amount

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, value in self.values.items():
            family.add_metric(labels, value)
        yield family


class HistogramSeries:
    """A histogram family with fixed bucket bounds (a value lands in the first bucket whose bound is >= it)."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self.upper_labels = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        self.series: dict[tuple[str, ...], list[float]] = {}  # per bucket counts, then the sum
        registry.register(self)

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        counts = self.series.get(labels)
        if counts is None:
            counts = self.series[labels] = [0] * (len(self.bounds) + 1) + [0.0]
        counts[bisect_left(self.bounds, value)] += 1
        counts[-1] += value

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, counts in self.series.items():
            cumulative = accumulate(counts[:-1])
            family.add_metric(labels, list(zip(self.upper_labels, cumulative, strict=True)), counts[-1])
        yield family
