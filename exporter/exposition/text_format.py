"""The text exposition format for the per-series families, written straight from their tables.

At 1,000 series the per-series families are most of a scrape; prometheus_client builds a sample
object per line and formats each value on every scrape. This writer keeps each series' lines as text
until its state changes, so a scrape joins them, the same bytes prometheus_client would write
(tests/test_exposition.py). Everything else goes through prometheus_client's own encoder (Encodable).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.utils import floatToGoString

from exporter.common.metric_families import Family, Table
from exporter.common.text import encodable, utf8


class TextCache:
    """A table's per-series samples as exposition text. Each series' lines are kept until its state
    changes (its `version`, bumped after every change) or a reload gives it a new owner (the Series or
    Target object its fixed values come from); a scrape joins the kept lines under each family's header.
    A series' label text and sample-name prefixes are kept while its owner is the same, so re-rendering
    a changed series only formats its numbers."""

    def __init__(self, table: Table, fill):
        self.table, self.fill = table, fill  # fill(families, [state]) adds its samples
        self._texts: dict[tuple[str, ...], tuple] = {}  # series key -> (version, owner, labels, text by family)

    def chunks(self, states, openmetrics: bool) -> list[bytes]:
        """states: (state, series key, owner) of every series.
        Two scrapes may render at once (worker threads): each builds its own lines, and what they share
        (the _SeriesLabels memos) only ever gains the same values."""
        texts = {}
        for state, key, owner in states:
            hit = self._texts.get(key)
            if hit is None or hit[0] != state.version or hit[1] is not owner:
                version = state.version  # read first: a change meanwhile makes the next scrape redo it
                labels = hit[2] if hit is not None and hit[1] is owner else _SeriesLabels(key, self.table.base)
                f = {name: _Lines(family, self.table.own_labels(name), labels) for name, family in self.table.items()}
                self.fill(f, [state])
                hit = (version, owner, labels, {name: utf8("".join(lines.lines)) for name, lines in f.items()})
            texts[key] = hit
        self._texts = texts
        out = []
        for name, family in self.table.items():
            typed = name if openmetrics or family.type != "counter" else name + "_total"
            out.append(f"# HELP {typed} {family.help}\n# TYPE {typed} {family.type}\n".encode())
            out.extend(hit[3][name] for hit in texts.values())
        return out  # bytes, joined once by the scrape: one copy of megabytes of text at 1,000 series


class _SeriesLabels:
    """One series' label pairs as exposition text, escaped and sorted by name as prometheus_client
    writes them, and each of its samples' text before the value (`name{labels} `), memoized per family
    and extra label value: every render of the series reuses them."""

    def __init__(self, values: tuple[str, ...], names: tuple[str, ...]):
        self.pairs = sorted((name, f'{name}="{_escape(value)}"') for name, value in zip(names, values))
        self.text = ",".join(p for _, p in self.pairs)
        self.prefixes: dict[str, dict[str | None, str]] = {}  # family -> extra label value (or le) -> prefix

    def around(self, label: str) -> tuple[str, str]:
        """The pairs before `label` (each followed by a comma) and after it (each preceded by one)."""
        return ("".join(p + "," for n, p in self.pairs if n < label), "".join("," + p for n, p in self.pairs if n > label))


class _Lines:
    """One series' samples of one family written straight as text lines, labels sorted by name as
    prometheus_client writes them; takes add_metric() calls like the family it stands in for (every
    family has at most one label beyond the series labels)."""

    def __init__(self, family: Family, extra: tuple[str, ...], labels: _SeriesLabels):
        self.name, self.kind, self.labels = family.name, family.type, labels
        self.extra = extra[0] if extra else None
        self.prefixes = labels.prefixes.setdefault(family.name, {})
        self.lines: list[str] = []

    def prefix(self, key: str | None) -> str:
        """The text before the value of the sample with extra label value `key` (histograms: the bucket
        with le=`key`, or the `_count` and `_sum` samples)."""
        hit = self.prefixes.get(key)
        if hit is None:
            hit = self.prefixes[key] = self._prefix(key)
        return hit

    def _prefix(self, key: str | None) -> str:
        series, name = self.labels, self.name
        if self.kind == "histogram":
            if key in ("_count", "_sum"):
                return f"{name}{key}{{{series.text}}} "
            head, tail = series.around("le")
            return f'{name}_bucket{{{head}le="{key}"{tail}}} '
        sample = name + "_total" if self.kind == "counter" else name
        if self.extra is None:
            return f"{sample}{{{series.text}}} "
        head, tail = series.around(self.extra)
        return f'{sample}{{{head}{self.extra}="{_escape(key)}"{tail}}} '

    def add_metric(self, values: list[str], value, sum_value: float | None = None) -> None:
        prefix = self.prefix
        if self.kind == "histogram":  # value: [(le, cumulative count), ...], as HistogramMetricFamily takes
            self.lines.extend(f"{prefix(le)}{_number(count)}\n" for le, count in value)
            self.lines.append(f"{prefix('_count')}{_number(value[-1][1])}\n")
            self.lines.append(f"{prefix('_sum')}{_number(sum_value)}\n")
        else:
            self.lines.append(f"{prefix(values[-1] if self.extra else None)}{_number(value)}\n")


def _number(value) -> str:
    if type(value) is int and -1000000 < value < 1000000:
        return f"{value}.0"  # what floatToGoString gives, without its float checks
    return floatToGoString(value)


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return value



class Encodable:
    """A registry as the text writer reads it, every label value encodable (exporter/common/text.py): the
    status sources' and the budget's label values come from outside."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        for family in self.registry.collect():
            for i, sample in enumerate(family.samples):
                if not all(v.isascii() for v in sample.labels.values()):
                    family.samples[i] = sample._replace(labels={k: encodable(v) for k, v in sample.labels.items()})
            yield family

