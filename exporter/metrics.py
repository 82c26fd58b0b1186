"""The metrics contract: every probe metric family, built fresh on each scrape from the store.

Values come from the background prober, not from the scrape: scraping never triggers a probe.
"""

from __future__ import annotations

from itertools import accumulate

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from exporter import __version__
from exporter.budget import Budget
from exporter.config import SERIES_LABELS
from exporter.liveness import LivenessChecker
from exporter.outcomes import LIVENESS_OUTCOMES, Outcome
from exporter.state import DURATION_BUCKETS, Store
from exporter.status.collector import StatusCollector

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
    "nanobanana_probe_last_run_timestamp_seconds": ("gauge", f"When the last probe finished. {_BG}.", ()),
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
        f"failed) or liveness (a free check failed). They count in nanobanana_probes_total too. {_BG}.", ("reason",)),
}

# The free liveness checks (exporter.liveness): one series per target, their own outcome list.
LIVENESS_LABELS = ("target", "api", "model")
_LC = "Values come from the background liveness checker"
LIVENESS_FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "nanobanana_liveness_checks": ("counter", f"Free liveness checks (metadata calls) by outcome. {_LC}.", ("outcome",)),
    "nanobanana_liveness_outcome": (
        "gauge", f"1 for the outcome of the last liveness check, 0 for the others. {_LC}.", ("outcome",)),
    "nanobanana_liveness_success": ("gauge", f"1 if the last liveness check succeeded, else 0. {_LC}.", ()),
    "nanobanana_liveness_duration_seconds": ("gauge", f"Duration of the last liveness check. {_LC}.", ()),
    "nanobanana_liveness_last_run_timestamp_seconds": ("gauge", f"When the last liveness check finished. {_LC}.", ()),
    "nanobanana_liveness_last_success_timestamp_seconds": (
        "gauge", f"When the last successful liveness check finished. {_LC}.", ()),
    "nanobanana_liveness_interval_seconds": ("gauge", "Configured liveness check interval.", ()),
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
_KINDS = {"histogram": HistogramMetricFamily, "counter": CounterMetricFamily, "gauge": GaugeMetricFamily}


class ProbeCollector:
    def __init__(self, store: Store):
        self.store = store

    def describe(self):
        return []  # families are dynamic; registering must not call collect()

    def collect(self):
        f = _families(FAMILIES, SERIES_LABELS)
        for state in self.store:
            values = list(state.series.key)
            buckets = [(str(b), c) for b, c in zip(DURATION_BUCKETS, accumulate(state.bucket_counts))]
            buckets.append(("+Inf", sum(state.bucket_counts)))
            f["nanobanana_probe_duration_seconds"].add_metric(values, buckets, state.duration_sum)
            for outcome, count in state.probes.items():
                f["nanobanana_probes"].add_metric(values + [outcome.value], count)
            if state.success is not None:
                f["nanobanana_probe_success"].add_metric(values, state.success)
            f["nanobanana_probe_consecutive_failures"].add_metric(values, state.consecutive_failures)
            if state.last_run is not None:
                f["nanobanana_probe_last_run_timestamp_seconds"].add_metric(values, state.last_run)
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
        yield from f.values()
        info = GaugeMetricFamily("nanobanana_exporter_build_info", "Version of nanobanana-exporter; always 1.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info


def _families(table: dict[str, tuple[str, str, tuple[str, ...]]], base: tuple[str, ...] = ()) -> dict:
    return {name: _KINDS[kind](name, help_text, labels=list(base) + list(extra))
            for name, (kind, help_text, extra) in table.items()}


class LivenessCollector:
    def __init__(self, checker: LivenessChecker):
        self.checker = checker

    def describe(self):
        return []

    def collect(self):
        f = _families(LIVENESS_FAMILIES, LIVENESS_LABELS)
        for state in list(self.checker.states.values()):  # scrapes run in a worker thread
            values = list(state.key)
            for outcome, count in state.checks.items():
                f["nanobanana_liveness_checks"].add_metric(values + [outcome], count)
            f["nanobanana_liveness_interval_seconds"].add_metric(values, state.target.liveness.interval)
            last = state.last
            if last is None:
                continue
            for outcome in LIVENESS_OUTCOMES:
                f["nanobanana_liveness_outcome"].add_metric(values + [outcome], float(outcome == last.outcome))
            f["nanobanana_liveness_success"].add_metric(values, float(last.outcome == Outcome.SUCCESS))
            f["nanobanana_liveness_duration_seconds"].add_metric(values, last.duration)
            f["nanobanana_liveness_last_run_timestamp_seconds"].add_metric(values, last.started + last.duration)
            if state.last_success is not None:
                f["nanobanana_liveness_last_success_timestamp_seconds"].add_metric(values, state.last_success)
        yield from f.values()


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


def make_registry(store: Store, status=None, liveness: LivenessChecker | None = None,
                  budget: Budget | None = None) -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(ProbeCollector(store))
    if status is not None:  # the status poller (exporter.status.poller.StatusPoller)
        registry.register(StatusCollector(status))
    if liveness is not None:
        registry.register(LivenessCollector(liveness))
    if budget is not None:
        registry.register(BudgetCollector(budget))
    return registry
