"""The metrics contract: every probe metric family, built fresh on each scrape from the store.

Values come from the background prober, not from the scrape: scraping never triggers a probe.
"""

from __future__ import annotations

from itertools import accumulate

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from exporter import __version__
from exporter.config import SERIES_LABELS
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
}
_KINDS = {"histogram": HistogramMetricFamily, "counter": CounterMetricFamily, "gauge": GaugeMetricFamily}


class ProbeCollector:
    def __init__(self, store: Store):
        self.store = store

    def describe(self):
        return []  # families are dynamic; registering must not call collect()

    def collect(self):
        f = {
            name: _KINDS[kind](name, help_text, labels=list(SERIES_LABELS) + list(extra))
            for name, (kind, help_text, extra) in FAMILIES.items()
        }
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
        yield from f.values()
        info = GaugeMetricFamily("nanobanana_exporter_build_info", "Version of nanobanana-exporter; always 1.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info


def make_registry(store: Store, status=None) -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(ProbeCollector(store))
    if status is not None:  # the status poller (exporter.status.poller.StatusPoller)
        registry.register(StatusCollector(status))
    return registry
