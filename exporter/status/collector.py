"""Status metric families, built fresh on each scrape from the poller's last snapshots.

Values come from the background status poller, not from the scrape: a failed fetch keeps the last
good values, and `nanobanana_status_source_last_success_timestamp_seconds` says how old they are.
"""

from __future__ import annotations

import time
from collections import Counter


from exporter.common.metric_families import Collector, Table, gauge
from exporter.status.base import IMPACTS
from exporter.status.poller import StatusPoller

_BG = "Values come from the background status poller; a failed fetch keeps the last good values"

STATUS_FAMILIES = Table(
    gauge("nanobanana_status_source_up", "1 if the last fetch and parse of the status source succeeded, else 0.",
          ("source",)),
    gauge("nanobanana_status_source_last_success_timestamp_seconds",
          "When the status source was last fetched and parsed successfully.", ("source",)),
    gauge("nanobanana_status_source_fetch_duration_seconds", "How long the last fetch of the status source took.",
          ("source",)),
    gauge("nanobanana_upstream_incidents_active", f"Official incidents not yet ended, by watched product and impact. {_BG}.",
          ("source", "product", "impact")),
    gauge("nanobanana_upstream_incident_info", f"One series per official incident not yet ended; always 1. {_BG}.",
          ("source", "product", "impact", "id", "title", "url")),
    gauge("nanobanana_openrouter_endpoint_uptime_ratio",
          f"Share of successful requests OpenRouter saw per provider endpoint, over a window. {_BG}.",
          ("model", "provider", "window")),
    gauge("nanobanana_openrouter_endpoint_latency_seconds",
          f"Time to first token OpenRouter saw per provider endpoint over 30m, by quantile (needs an API key). {_BG}.",
          ("model", "provider", "quantile")),
    gauge("nanobanana_openrouter_endpoint_status",
          f"OpenRouter's status code of the provider endpoint: 0 normal, negative degraded. {_BG}.", ("model", "provider")))


class StatusCollector(Collector):
    families = STATUS_FAMILIES

    def __init__(self, poller: StatusPoller, clock=time.time):
        self.poller = poller
        self.clock = clock

    def fill(self, f) -> None:
        now = self.clock()
        up, last_success, duration = (f[f"nanobanana_status_source_{n}"] for n in
                                      ("up", "last_success_timestamp_seconds", "fetch_duration_seconds"))
        active, info = f["nanobanana_upstream_incidents_active"], f["nanobanana_upstream_incident_info"]
        uptime, latency, status = (f[f"nanobanana_openrouter_endpoint_{n}"] for n in
                                   ("uptime_ratio", "latency_seconds", "status"))
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
