"""Status metric families, built fresh on each scrape from the poller's last snapshots.

Values come from the background status poller, not from the scrape: a failed fetch keeps the last
good values, and `nanobanana_status_source_last_success_timestamp_seconds` says how old they are.
"""

from __future__ import annotations

import time
from collections import Counter

from prometheus_client.core import GaugeMetricFamily

from exporter.status.base import IMPACTS
from exporter.status.poller import StatusPoller

_BG = "Values come from the background status poller; a failed fetch keeps the last good values"


class StatusCollector:
    def __init__(self, poller: StatusPoller, clock=time.time):
        self.poller = poller
        self.clock = clock

    def describe(self):
        return []  # families are dynamic; registering must not call collect()

    def collect(self):
        now = self.clock()
        up = GaugeMetricFamily(
            "nanobanana_status_source_up", "1 if the last fetch and parse of the status source succeeded, else 0.",
            labels=["source"])
        last_success = GaugeMetricFamily(
            "nanobanana_status_source_last_success_timestamp_seconds",
            "When the status source was last fetched and parsed successfully.", labels=["source"])
        duration = GaugeMetricFamily(
            "nanobanana_status_source_fetch_duration_seconds", "How long the last fetch of the status source took.",
            labels=["source"])
        active = GaugeMetricFamily(
            "nanobanana_upstream_incidents_active",
            f"Official incidents not yet ended, by watched product and impact. {_BG}.",
            labels=["source", "product", "impact"])
        info = GaugeMetricFamily(
            "nanobanana_upstream_incident_info",
            f"One series per official incident not yet ended; always 1. {_BG}.",
            labels=["source", "product", "impact", "id", "title", "url"])
        uptime = GaugeMetricFamily(
            "nanobanana_openrouter_endpoint_uptime_ratio",
            f"Share of successful requests OpenRouter saw per provider endpoint, over a window. {_BG}.",
            labels=["model", "provider", "window"])
        latency = GaugeMetricFamily(
            "nanobanana_openrouter_endpoint_latency_seconds",
            f"Time to first token OpenRouter saw per provider endpoint over 30m, by quantile "
            f"(needs an API key). {_BG}.", labels=["model", "provider", "quantile"])
        status = GaugeMetricFamily(
            "nanobanana_openrouter_endpoint_status",
            f"OpenRouter's status code of the provider endpoint: 0 normal, negative degraded. {_BG}.",
            labels=["model", "provider"])
        for state in self.poller:  # a snapshot: scrapes run in a worker thread
            kind = state.config.kind
            if state.up is not None:
                up.add_metric([kind], 1.0 if state.up else 0.0)
            if state.last_success is not None:
                last_success.add_metric([kind], state.last_success)
            if state.duration is not None:
                duration.add_metric([kind], state.duration)
            snapshot = state.snapshot
            if snapshot is None:
                continue  # never fetched: no data, which is not the same as no incidents
            ongoing = [i for i in snapshot.incidents if i.ongoing(now)]
            counts = Counter((i.product, i.impact) for i in ongoing)
            for product, impact, count in snapshot.uncounted:  # ongoing beyond the incidents kept
                counts[(product, impact)] += count
            for product in snapshot.products:
                for impact in IMPACTS.values():
                    counts.setdefault((product, impact), 0)
            for (product, impact), count in sorted(counts.items()):
                active.add_metric([kind, product, impact], count)
            for i in ongoing:
                info.add_metric([kind, i.product, i.impact, i.id, i.title, i.url], 1.0)
            for e in snapshot.endpoints:
                for window, ratio in e.uptime.items():
                    uptime.add_metric([e.model, e.provider, window], ratio)
                for quantile, seconds in e.latency.items():
                    latency.add_metric([e.model, e.provider, quantile], seconds)
                if e.status is not None:
                    status.add_metric([e.model, e.provider], e.status)
        yield from (up, last_success, duration, active, info, uptime, latency, status)
