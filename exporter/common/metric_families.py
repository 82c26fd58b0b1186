"""How a metric family is declared: one table per room that owns the metrics, a row per family.

A row (`gauge`, `counter`, `histogram`) says the family's name, help and labels once; a collector
built on a table (`Collector`) answers describe() from it, so a registry refuses a second collector
declaring a name already taken, and collect() hands the same families, empty, to the collector's
fill(). Instruments that count events as they happen (the relay's) are built from their rows too
(`Family.instrument`). client_python keeps the same split: the model (metrics_core) apart from the
writer (exposition; ours for the per-series families is exporter/exposition/text_format.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

Type = Literal["gauge", "counter", "histogram"]
_EMPTY = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily, "histogram": HistogramMetricFamily}
_INSTRUMENTS = {"gauge": Gauge, "counter": Counter, "histogram": Histogram}


@dataclass(frozen=True)
class Family:
    """One metric family: a counter's name without `_total` (prometheus_client adds it)."""

    name: str
    type: Type
    help: str
    labels: tuple[str, ...] = ()

    @property
    def text_name(self) -> str:
        """The name in the text format's HELP and TYPE lines: a counter's with `_total`."""
        return self.name + "_total" if self.type == "counter" else self.name

    def empty(self) -> Metric:
        """The family without samples, for a collector to fill."""
        return _EMPTY[self.type](self.name, self.help, labels=list(self.labels))

    def instrument(self, registry, **options):
        """The prometheus_client instrument (Counter, Gauge, Histogram) for this row, on registry."""
        return _INSTRUMENTS[self.type](self.name, self.help, self.labels, registry=registry, **options)


def gauge(name: str, help_text: str, labels: tuple[str, ...] = ()) -> Family:
    return Family(name, "gauge", help_text, labels)


def counter(name: str, help_text: str, labels: tuple[str, ...] = ()) -> Family:
    return Family(name, "counter", help_text, labels)


def histogram(name: str, help_text: str, labels: tuple[str, ...] = ()) -> Family:
    return Family(name, "histogram", help_text, labels)


class Table(Mapping[str, Family]):
    """Families by name, in order. `base` labels come first on every row (the series labels of the
    per-series families); a row's own labels follow them."""

    def __init__(self, *families: Family, base: tuple[str, ...] = ()):
        self.base = base
        self._families = {f.name: replace(f, labels=base + f.labels) for f in families}
        if len(self._families) != len(families):
            raise ValueError(f"a family declared twice in one table: {[f.name for f in families]}")

    def __getitem__(self, name: str) -> Family:
        return self._families[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._families)

    def __len__(self) -> int:
        return len(self._families)

    def __or__(self, other: "Table") -> "Table":
        """Both tables' families (each with its full labels), for a collector exporting both."""
        return Table(*self.values(), *other.values())

    def own_labels(self, name: str) -> tuple[str, ...]:
        """A row's labels beyond the table's base labels."""
        return self[name].labels[len(self.base):]

    def empty(self) -> dict[str, Metric]:
        """Every family of the table without samples, by name."""
        return {name: family.empty() for name, family in self.items()}


class Collector:
    """A custom collector whose families are one Table: describe() declares them all (so registering
    a second collector with one of these names fails), collect() yields them filled by fill()."""

    families: Table

    def describe(self) -> list[Metric]:
        return list(self.families.empty().values())

    def collect(self) -> Iterator[Metric]:
        f = self.families.empty()
        self.fill(f)
        yield from f.values()

    def fill(self, f: dict[str, Metric]) -> None:
        raise NotImplementedError
