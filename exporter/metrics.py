"""The metrics contract: every probe metric family, built fresh on each scrape from the store.

Values come from the background prober, not from the scrape: scraping never triggers a probe.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from itertools import accumulate

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.utils import floatToGoString

from exporter import __version__, catalog
from exporter.budget import Budget
from exporter.targets import SERIES_LABELS
from exporter.checks import Checker
from exporter.outcomes import Outcome
from exporter.state import DURATION_BUCKETS, LATENESS_BUCKETS, STATUS_LAG_BUCKETS, Store
from exporter.status.collector import StatusCollector
from exporter.text import encodable, utf8

_BG = "Values come from the background prober"


# name -> (type, help, labels beyond the series labels). The contract: dashboards, alerts, docs and
# tests read this list.
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "nanobanana_probe_duration_seconds": (
        "histogram", f"Duration of successful probes, request start to verified image. {_BG}.", ()),
    "nanobanana_probes": ("counter", f"Probe attempts by outcome. {_BG}.", ("outcome",)),
    "nanobanana_probe_success": (
        "gauge", f"1 if the last probe that was not rate limited succeeded, else 0. {_BG}.", ()),
    "nanobanana_probe_consecutive_failures": (
        "gauge", f"Failed probes in a row; rate-limited probes neither reset nor extend it. {_BG}.", ()),
    "nanobanana_probe_consecutive_slow": (
        "gauge", f"Successful probes in a row slower than the series' latency threshold; a failure resets it. {_BG}.", ()),
    "nanobanana_probe_last_run_timestamp_seconds": ("gauge", f"When the last probe finished. {_BG}.", ()),
    # the alerts name it; the error text itself (unbounded) is on the landing page, never a label
    "nanobanana_probe_last_outcome": (
        "gauge", f"1, labelled with the outcome of the last probe (only that one). {_BG}.", ("outcome",)),
    "nanobanana_probe_last_success_timestamp_seconds": ("gauge", f"When the last successful probe finished. {_BG}.", ()),
    "nanobanana_probe_phase_duration_seconds": ("gauge", f"Time spent in each phase of the last probe. {_BG}.", ("phase",)),
    "nanobanana_probe_phase_seconds": ("counter", f"Time spent in each phase, summed over all probes. {_BG}.", ("phase",)),
    "nanobanana_probe_response_bytes": ("gauge", f"Size of the last probe's response body. {_BG}.", ()),
    "nanobanana_probe_image_bytes": ("gauge", f"Size of the last probe's image file. {_BG}.", ()),
    "nanobanana_probe_tokens": ("counter", f"Tokens reported by the API's usage fields. {_BG}.", ("kind",)),
    "nanobanana_probe_interval_seconds": ("gauge", "Configured probe interval.", ()),
    "nanobanana_probe_timeout_seconds": ("gauge", "Configured probe timeout.", ()),
    "nanobanana_probe_skipped": ("counter", f"Probes not run when due, by reason. {_BG}.", ("reason",)),
    "nanobanana_probe_cost_usd": (
        "counter", f"Estimated spend of finished probes in USD at the configured prices; failed attempts cost what "
        f"the price's `failed` rule says. {_BG}.", ()),
    "nanobanana_probe_price_usd": ("gauge", "Configured estimated price of one successful probe in USD.", ()),
    "nanobanana_probe_confirmations": (
        "counter", f"Probes run early, off the regular schedule, to confirm a failure: reason failure (a paid probe "
        f"failed), liveness (a free check failed), slow (a successful probe slower than its latency threshold), status (an "
        f"official incident appeared), uptime (OpenRouter's uptime of the model fell) or canary (canary calls failed "
        f"in a row). They count in nanobanana_probes_total too. {_BG}.", ("reason",)),
    # the image checks (exporter/imagechecks.py, docs/image-checks.md): verdicts beside the outcome
    "nanobanana_image_checks": (
        "counter", f"Images judged by each image check, passed or failed (an unchecked image is not counted). {_BG}.",
        ("check",)),
    "nanobanana_image_check_failures": ("counter", f"Images that failed each image check. {_BG}.", ("check",)),
    "nanobanana_image_check_passed": (
        "gauge", f"1 if the last image judged by the check passed it, 0 if it failed; absent while the check has not "
        f"judged an image. {_BG}.", ("check",)),
    "nanobanana_image_check_consecutive_failures": (
        "gauge", f"Images in a row that failed the check; an unchecked image neither resets nor extends it. {_BG}.",
        ("check",)),
    "nanobanana_probe_served_model_info": (
        "gauge", f"The model the last answer said served it (Gemini's modelVersion, the OpenAI-style `model`); "
        f"absent while no answer named one; always 1. {_BG}.", ("served_model",)),
    "nanobanana_probe_served_provider_info": (
        "gauge", f"The provider a router said served the last answer (OpenRouter's `provider`); always 1. {_BG}.",
        ("provider",)),
}

# The background checks (exporter.checks): one series per target, each kind its own outcome list.
CHECK_LABELS = ("target", "api", "model")


def check_families(kind: str, what: str) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """The families every kind of check has: `nanobanana_<kind>_*`."""
    bg = f"Values come from the background {kind} checker"
    return {
        f"nanobanana_{kind}_checks": ("counter", f"{what} by outcome. {bg}.", ("outcome",)),
        f"nanobanana_{kind}_outcome": (
            "gauge", f"1 for the outcome of the last {kind} check, 0 for the others. {bg}.", ("outcome",)),
        f"nanobanana_{kind}_success": ("gauge", f"1 if the last {kind} check succeeded, else 0. {bg}.", ()),
        f"nanobanana_{kind}_consecutive_failures": (
            "gauge", f"Failed {kind} checks in a row; rate-limited ones neither reset nor extend it. {bg}.", ()),
        f"nanobanana_{kind}_duration_seconds": ("gauge", f"Duration of the last {kind} check. {bg}.", ()),
        f"nanobanana_{kind}_last_run_timestamp_seconds": ("gauge", f"When the last {kind} check finished. {bg}.", ()),
        f"nanobanana_{kind}_last_success_timestamp_seconds": (
            "gauge", f"When the last successful {kind} check finished. {bg}.", ()),
        f"nanobanana_{kind}_interval_seconds": ("gauge", f"Configured {kind} check interval.", ()),
    }


LIVENESS_FAMILIES = check_families("liveness", "Free liveness checks (metadata calls)")
_CC = "Values come from the background canary checker"
CANARY_FAMILIES = check_families("canary", "Canary calls (a paid text-only generation on the image model)") | {
    "nanobanana_canary_cost_usd": (
        "counter", f"Estimated spend of canary calls in USD, from the tokens the answers report. {_CC}.", ()),
    "nanobanana_canary_tokens": ("counter", f"Tokens reported by the canary answers' usage fields. {_CC}.", ("kind",)),
    "nanobanana_canary_skipped": (
        "counter", f"Canary calls not run when due, by reason (budget, maintenance). {_CC}.", ("reason",)),
}
CHECK_FAMILIES = {"liveness": LIVENESS_FAMILIES, "canary": CANARY_FAMILIES}

# The catalog against the live APIs (exporter/drift.py CatalogWatch): at start and daily
_CW = "Values come from the daily catalog comparison (exporter/drift.py)"
CATALOG_FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "nanobanana_catalog_drift": (
        "gauge", f"Differences between the model catalog and the live APIs, by kind: gone (a configured model the "
                 f"API no longer lists), price (a live rate more than 5 % off the catalog's), new_model (an image "
                 f"model the catalog does not know), parameter (a request field the listing says the model does not accept). "
                 f"{_CW}.", ("kind",)),
    "nanobanana_catalog_drift_info": (
        "gauge", f"One difference: the target and model, its kind, the rate (price) or request field (parameter) it "
                 f"concerns, the catalog's and the live value; always 1. {_CW}.", ("target", "model", "kind", "field", "catalog", "live")),
    "nanobanana_catalog_last_check_timestamp_seconds": (
        "gauge", f"When the last comparison finished (the targets whose API did not answer were skipped). {_CW}.", ()),
}

# Daily budgets (exporter.budget): scope is "global" or "target:<name>".
BUDGET_FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "nanobanana_budget_limit_usd": ("gauge", "Configured daily spend limit in USD, where one is set.", ("scope",)),
    "nanobanana_budget_spent_usd": (
        "gauge", "Estimated spend of paid probes this budget day in USD; kept across restarts, 0 when the day "
                 "starts.", ("scope",)),
    "nanobanana_budget_exhausted": (
        "gauge", "1 while the scope's daily limit is reached and its paid probes pause until the day ends.", ("scope",)),
    "nanobanana_budget_day_end_timestamp_seconds": (
        "gauge", "When the current budget day ends (midnight in the configured time zone).", ()),
}
# The catalog entries of the probed models (exporter/catalog.py): one series per model id and api
# (lifecycle dates are per platform: Model.shutdown_on).
MODEL_FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "nanobanana_model_info": (
        "gauge", "A probed model id on an api, its family (the catalog's, or the target's family:) and its stage "
                 "today on that api (preview, ga, deprecated, shutdown; unknown for ids the catalog does not know); "
                 "always 1.", ("model", "api", "family", "stage")),
    "nanobanana_model_shutdown_timestamp_seconds": (
        "gauge", "Announced shutdown of a probed model id on an api, where one is announced: the platform's own "
                 "date where the catalog has one (Vertex AI's), else Google's (the earliest possible).",
        ("model", "api")),
}
_KINDS = {"histogram": HistogramMetricFamily, "counter": CounterMetricFamily, "gauge": GaugeMetricFamily}


class ProbeCollector:
    """`series_families=False` leaves FAMILIES out of collect(): a scrape renders them with render()
    (make_registry then leaves the CheckCollectors out too)."""

    def __init__(self, store: Store, series_families: bool = True):
        self.store = store
        self.series_families = series_families
        self._text = _TextCache(FAMILIES, SERIES_LABELS, self.fill)

    def describe(self):
        return []  # families are dynamic; registering must not call collect()

    def collect(self):
        if self.series_families:
            f = _families(FAMILIES, SERIES_LABELS)
            self.fill(f)
            yield from f.values()
        info = GaugeMetricFamily("nanobanana_exporter_build_info", "Version of nanobanana-exporter; always 1.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield from self.models()
        lateness = HistogramMetricFamily(
            "nanobanana_exporter_schedule_lateness_seconds",
            "How late the scheduler started probes: actual start minus due time. Growing values mean a busy event loop.")
        buckets = [(str(b), c) for b, c in zip(LATENESS_BUCKETS, accumulate(self.store.lateness_counts))]
        lateness.add_metric([], buckets + [("+Inf", sum(self.store.lateness_counts))], self.store.lateness_sum)
        yield lateness
        lag = HistogramMetricFamily(
            "nanobanana_status_page_lag_seconds",
            "Per official incident: time from the first failing probe of the current failure streak of an affected "
            "series to the incident's first appearance in the status feed. Not observed when no affected series fails.",
            labels=["source"])
        for source, (counts, total) in self.store.status_lag.items():
            buckets = [(str(b), c) for b, c in zip(STATUS_LAG_BUCKETS, accumulate(counts))]
            lag.add_metric([source], buckets + [("+Inf", sum(counts))], total)
        yield lag

    def models(self):
        f = _families(MODEL_FAMILIES)
        day = catalog.today()
        seen: dict[tuple[str, str], str] = {}
        for state in self.store:
            target = state.series.target
            seen.setdefault((target.model, target.api), target.family.name)
        for (model_id, api), family in sorted(seen.items()):
            entry = catalog.MODELS.get(model_id)
            f["nanobanana_model_info"].add_metric([model_id, api, family, entry.stage_on(day, api) if entry else "unknown"], 1)
            shutdown = entry.shutdown_on(api) if entry else None
            if shutdown:
                midnight = dt.datetime.combine(shutdown, dt.time(), dt.timezone.utc)
                f["nanobanana_model_shutdown_timestamp_seconds"].add_metric([model_id, api], midnight.timestamp())
        yield from f.values()

    def render(self, openmetrics: bool = False) -> bytes:
        """FAMILIES as exposition text, the same samples as collect() without prometheus_client's
        per-sample objects and formatting (the sizes at 1,000 series: BENCHMARKS.md, Scale)."""
        return b"".join(self.chunks(openmetrics))

    def chunks(self, openmetrics: bool = False) -> list[bytes]:
        """render()'s text in pieces, for the scrape to join once with the rest."""
        return self._text.chunks(((state, state.series.key, state.series) for state in self.store), openmetrics)

    def fill(self, f, states=None) -> None:
        for state in self.store if states is None else states:
            values = list(state.series.key)
            buckets = [(str(b), c) for b, c in zip(DURATION_BUCKETS, accumulate(state.bucket_counts))]
            buckets.append(("+Inf", sum(state.bucket_counts)))
            f["nanobanana_probe_duration_seconds"].add_metric(values, buckets, state.duration_sum)
            for outcome, count in state.probes.items():
                f["nanobanana_probes"].add_metric(values + [outcome.value], count)
            if state.success is not None:
                f["nanobanana_probe_success"].add_metric(values, state.success)
            f["nanobanana_probe_consecutive_failures"].add_metric(values, state.consecutive_failures)
            f["nanobanana_probe_consecutive_slow"].add_metric(values, state.consecutive_slow)
            if state.last_run is not None:
                f["nanobanana_probe_last_run_timestamp_seconds"].add_metric(values, state.last_run)
            if state.last is not None:
                f["nanobanana_probe_last_outcome"].add_metric(values + [state.last.outcome.value], 1)
            if state.last_success is not None:
                f["nanobanana_probe_last_success_timestamp_seconds"].add_metric(values, state.last_success)
            if state.last is not None:
                for name, seconds in state.last.phases.items():
                    f["nanobanana_probe_phase_duration_seconds"].add_metric(values + [name], seconds)
                f["nanobanana_probe_response_bytes"].add_metric(values, state.last.response_bytes)
                f["nanobanana_probe_image_bytes"].add_metric(values, state.last.image_bytes)
            for name, seconds in state.phase_totals.items():
                f["nanobanana_probe_phase_seconds"].add_metric(values + [name], seconds)
            for kind, count in state.tokens.items():
                f["nanobanana_probe_tokens"].add_metric(values + [kind], count)
            f["nanobanana_probe_interval_seconds"].add_metric(values, state.series.interval)
            f["nanobanana_probe_timeout_seconds"].add_metric(values, state.series.timeout)
            for reason, count in state.skipped.items():
                f["nanobanana_probe_skipped"].add_metric(values + [reason], count)
            f["nanobanana_probe_cost_usd"].add_metric(values, state.cost)
            f["nanobanana_probe_price_usd"].add_metric(values, state.series.price)
            for reason, count in state.confirmations.items():
                f["nanobanana_probe_confirmations"].add_metric(values + [reason], count)
            for check, count in state.image_checks.items():
                f["nanobanana_image_checks"].add_metric(values + [check], count)
                f["nanobanana_image_check_failures"].add_metric(values + [check], state.image_check_failures[check])
                f["nanobanana_image_check_consecutive_failures"].add_metric(values + [check],
                                                                            state.image_check_streaks[check])
            for check, passed in state.last_judged.items():
                f["nanobanana_image_check_passed"].add_metric(values + [check], float(passed))
            if state.served is not None:
                if state.served[0]:
                    f["nanobanana_probe_served_model_info"].add_metric(values + [state.served[0]], 1)
                if state.served[1]:
                    f["nanobanana_probe_served_provider_info"].add_metric(values + [state.served[1]], 1)


def _families(table: dict[str, tuple[str, str, tuple[str, ...]]], base: tuple[str, ...] = ()) -> dict:
    return {name: _KINDS[kind](name, help_text, labels=list(base) + list(extra))
            for name, (kind, help_text, extra) in table.items()}


class CheckCollector:
    """The families of one kind of check (exporter.checks.Checker): CHECK_FAMILIES[checker.kind], one
    series per target. Liveness checks run on every target, so at 1,000 series these are ~5,000 lines:
    a scrape renders them with render(), cached per target like ProbeCollector's."""

    def __init__(self, checker: Checker):
        self.checker = checker
        self.prefix = f"nanobanana_{checker.kind}_"
        self._text = _TextCache(CHECK_FAMILIES[checker.kind], CHECK_LABELS, self.fill)

    def describe(self):
        return []

    def collect(self):
        f = _families(CHECK_FAMILIES[self.checker.kind], CHECK_LABELS)
        self.fill(f)
        yield from f.values()

    def render(self, openmetrics: bool = False) -> bytes:
        return b"".join(self.chunks(openmetrics))

    def chunks(self, openmetrics: bool = False) -> list[bytes]:
        return self._text.chunks(((state, state.key, state.target) for state in self.checker), openmetrics)

    def fill(self, families, states=None) -> None:
        f = {name.removeprefix(self.prefix): family for name, family in families.items()}
        for state in self.checker if states is None else states:  # a snapshot: scrapes run in a worker thread
            values = list(state.key)
            for outcome, count in state.checks.items():
                f["checks"].add_metric(values + [outcome], count)
            f["interval_seconds"].add_metric(values, self.checker.settings(state.target).interval)
            if "cost_usd" in f:
                f["cost_usd"].add_metric(values, state.cost)
                for token_kind, count in state.tokens.items():
                    f["tokens"].add_metric(values + [token_kind], count)
                for reason, count in state.skipped.items():
                    f["skipped"].add_metric(values + [reason], count)
            last = state.last
            if last is None:
                continue
            for outcome in self.checker.outcomes:
                f["outcome"].add_metric(values + [outcome], float(outcome == last.outcome))
            f["success"].add_metric(values, float(last.outcome == Outcome.SUCCESS))
            f["consecutive_failures"].add_metric(values, state.consecutive_failures)
            f["duration_seconds"].add_metric(values, last.duration)
            f["last_run_timestamp_seconds"].add_metric(values, last.started + last.duration)
            if state.last_success is not None:
                f["last_success_timestamp_seconds"].add_metric(values, state.last_success)


class BudgetCollector:
    def __init__(self, budget: Budget):
        self.budget = budget

    def describe(self):
        return []

    def collect(self):
        f = _families(BUDGET_FAMILIES)
        for scope in self.budget.states():
            f["nanobanana_budget_spent_usd"].add_metric([scope.scope], scope.spent)
            if scope.limit is not None:
                f["nanobanana_budget_limit_usd"].add_metric([scope.scope], scope.limit)
                f["nanobanana_budget_exhausted"].add_metric([scope.scope], float(scope.exhausted))
        f["nanobanana_budget_day_end_timestamp_seconds"].add_metric([], self.budget.day_end())
        yield from f.values()


class CatalogCollector:
    def __init__(self, watch):
        self.watch = watch

    def describe(self):
        return []

    def collect(self):
        from exporter.drift import KINDS

        f = _families(CATALOG_FAMILIES)
        report = self.watch.report
        if report is not None:
            for kind in KINDS:
                f["nanobanana_catalog_drift"].add_metric([kind], sum(d.kind == kind for d in report.drifts))
            for d in report.drifts:
                f["nanobanana_catalog_drift_info"].add_metric([d.target, d.model, d.kind, d.field, d.catalog, d.live], 1)
            f["nanobanana_catalog_last_check_timestamp_seconds"].add_metric([], self.watch.last_run)
        yield from f.values()


class TasksCollector:
    """The asyncio tasks of the exporter's event loop, as Go exporters export go_goroutines: steady
    with a steady config, so a count that keeps growing is a leak. Read from the scrape's worker
    thread; asyncio.all_tasks copes with tasks starting meanwhile."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop

    def describe(self):
        return []

    def collect(self):
        tasks = GaugeMetricFamily("nanobanana_exporter_asyncio_tasks",
                                  "Unfinished asyncio tasks in the exporter's event loop (one per series, one per "
                                  "probe in flight, the HTTP server's); growing with a steady config means a leak.")
        tasks.add_metric([], len(asyncio.all_tasks(self.loop)))
        yield tasks


class _TextCache:
    """A table's per-series samples as exposition text. Each series' lines are kept until its state
    changes (its `version`, bumped after every change) or a reload gives it a new owner (the Series or
    Target object its fixed values come from); a scrape joins the kept lines under each family's header.
    A series' label text and sample-name prefixes are kept while its owner is the same, so re-rendering
    a changed series only formats its numbers."""

    def __init__(self, table: dict[str, tuple[str, str, tuple[str, ...]]], label_names: tuple[str, ...], fill):
        self.table, self.label_names, self.fill = table, label_names, fill  # fill(families, [state]) adds its samples
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
                labels = hit[2] if hit is not None and hit[1] is owner else _SeriesLabels(key, self.label_names)
                f = {name: _Lines(name, kind, extra, labels) for name, (kind, _, extra) in self.table.items()}
                self.fill(f, [state])
                hit = (version, owner, labels, {name: utf8("".join(lines.lines)) for name, lines in f.items()})
            texts[key] = hit
        self._texts = texts
        out = []
        for name, (kind, help_text, _) in self.table.items():
            typed = name if openmetrics or kind != "counter" else name + "_total"
            out.append(f"# HELP {typed} {help_text}\n# TYPE {typed} {kind}\n".encode())
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

    def __init__(self, name: str, kind: str, extra: tuple[str, ...], labels: _SeriesLabels):
        self.name, self.kind, self.labels = name, kind, labels
        self.extra = extra[0] if extra else None
        self.prefixes = labels.prefixes.setdefault(name, {})
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


def make_registry(store: Store, status=None, liveness: Checker | None = None,
                  budget: Budget | None = None, series_families: bool = True, canary: Checker | None = None,
                  catalog_watch=None) -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(ProbeCollector(store, series_families))
    if status is not None:  # the status poller (exporter.status.poller.StatusPoller)
        registry.register(StatusCollector(status))
    for checker in (liveness, canary):
        if checker is not None and series_families:
            registry.register(CheckCollector(checker))
    if budget is not None:
        registry.register(BudgetCollector(budget))
    if catalog_watch is not None:
        registry.register(CatalogCollector(catalog_watch))
    return registry


class _Encodable:
    """A registry as the text writer reads it, every label value encodable (exporter/text.py): the
    status sources' and the budget's label values come from outside."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        for family in self.registry.collect():
            for i, sample in enumerate(family.samples):
                if not all(v.isascii() for v in sample.labels.values()):
                    family.samples[i] = sample._replace(labels={k: encodable(v) for k, v in sample.labels.items()})
            yield family


class Exposition:
    """What /metrics serves: the per-series families rendered from cached text by ProbeCollector and
    CheckCollector.render(), the rest (process, build info, scheduler, status sources, budgets) by
    prometheus_client."""

    def __init__(self, store: Store, status=None, liveness: Checker | None = None, budget: Budget | None = None,
                 canary: Checker | None = None, catalog_watch=None):
        self.registry = make_registry(store, status, liveness, budget, series_families=False, canary=canary,
                                      catalog_watch=catalog_watch)
        self.series = [ProbeCollector(store)] + [CheckCollector(c) for c in (liveness, canary) if c is not None]

    def render(self, accept: str) -> tuple[bytes, str]:
        """The body and its content type for a scrape sending this Accept header."""
        encoder, content_type = choose_encoder(accept)
        openmetrics = content_type.startswith("application/openmetrics-text")
        rest = encoder(_Encodable(self.registry))
        eof = b"# EOF\n" if openmetrics and rest.endswith(b"# EOF\n") else b""
        series = [chunk for collector in self.series for chunk in collector.chunks(openmetrics)]
        return b"".join([rest.removesuffix(eof), *series, eof]), content_type
