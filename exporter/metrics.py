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


class ProbeCollector:
    def __init__(self, store: Store):
        self.store = store

    def describe(self):
        return []  # families are dynamic; registering must not call collect()

    def collect(self):
        L = list(SERIES_LABELS)
        duration = HistogramMetricFamily(
            "nanobanana_probe_duration_seconds",
            f"Duration of successful probes, request start to verified image. {_BG}.",
            labels=L,
        )
        probes = CounterMetricFamily("nanobanana_probes", f"Probe attempts by outcome. {_BG}.", labels=L + ["outcome"])
        success = GaugeMetricFamily(
            "nanobanana_probe_success",
            f"1 if the last probe that was not rate limited succeeded, else 0. {_BG}.",
            labels=L,
        )
        streak = GaugeMetricFamily(
            "nanobanana_probe_consecutive_failures",
            f"Failed probes in a row; rate-limited probes neither reset nor extend it. {_BG}.",
            labels=L,
        )
        last_run = GaugeMetricFamily(
            "nanobanana_probe_last_run_timestamp_seconds", f"When the last probe finished. {_BG}.", labels=L
        )
        last_success = GaugeMetricFamily(
            "nanobanana_probe_last_success_timestamp_seconds", f"When the last successful probe finished. {_BG}.", labels=L
        )
        phase = GaugeMetricFamily(
            "nanobanana_probe_phase_duration_seconds", f"Time spent in each phase of the last probe. {_BG}.", labels=L + ["phase"]
        )
        phase_total = CounterMetricFamily(
            "nanobanana_probe_phase_seconds", f"Time spent in each phase, summed over all probes. {_BG}.", labels=L + ["phase"]
        )
        response_bytes = GaugeMetricFamily(
            "nanobanana_probe_response_bytes", f"Size of the last probe's response body. {_BG}.", labels=L
        )
        image_bytes = GaugeMetricFamily(
            "nanobanana_probe_image_bytes", f"Size of the last probe's decoded image file. {_BG}.", labels=L
        )
        tokens = CounterMetricFamily(
            "nanobanana_probe_tokens", f"Tokens reported by the API's usage fields. {_BG}.", labels=L + ["kind"]
        )
        interval = GaugeMetricFamily("nanobanana_probe_interval_seconds", "Configured probe interval.", labels=L)
        timeout = GaugeMetricFamily("nanobanana_probe_timeout_seconds", "Configured probe timeout.", labels=L)
        skipped = CounterMetricFamily(
            "nanobanana_probe_skipped", f"Probes not run when due, by reason. {_BG}.", labels=L + ["reason"]
        )
        for state in self.store:
            values = list(state.series.key)
            buckets = [(str(b), c) for b, c in zip(DURATION_BUCKETS, accumulate(state.bucket_counts))]
            buckets.append(("+Inf", sum(state.bucket_counts)))
            duration.add_metric(values, buckets, state.duration_sum)
            for outcome, count in state.probes.items():
                probes.add_metric(values + [outcome.value], count)
            if state.success is not None:
                success.add_metric(values, state.success)
            streak.add_metric(values, state.consecutive_failures)
            if state.last_run is not None:
                last_run.add_metric(values, state.last_run)
            if state.last_success is not None:
                last_success.add_metric(values, state.last_success)
            if state.last is not None:
                for name, seconds in state.last.phases.items():
                    phase.add_metric(values + [name], seconds)
                response_bytes.add_metric(values, state.last.response_bytes)
                image_bytes.add_metric(values, state.last.image_bytes)
            for name, seconds in state.phase_totals.items():
                phase_total.add_metric(values + [name], seconds)
            for kind, count in state.tokens.items():
                tokens.add_metric(values + [kind], count)
            interval.add_metric(values, state.series.interval)
            timeout.add_metric(values, state.series.timeout)
            for reason, count in state.skipped.items():
                skipped.add_metric(values + [reason], count)
        yield from (duration, probes, success, streak, last_run, last_success, phase, phase_total,
                    response_bytes, image_bytes, tokens, interval, timeout, skipped)
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
