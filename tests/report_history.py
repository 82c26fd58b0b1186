"""A month of exporter history for the report, as Prometheus would have scraped it, written as
OpenMetrics for `promtool tsdb create-blocks-from openmetrics`.

As in sparse_history.py, the probe series' samples come from the exporter's own SeriesState and
ProbeCollector; only the status-source series are written directly. What happened (the truth the
tests compare with): two outages (the second long enough for its series to miss a 99.5 % SLO), an official incident listed 40 minutes after the first began,
a six-hour scrape gap, a few 429s. `series` > 3 adds targets for the benchmark (100 series).
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import yaml

from exporter.loading.config import load_text
from exporter.exposition.metrics import ProbeCollector
from exporter.contract.outcomes import Outcome
from exporter.domain.state import Attempt, Store
from sparse_history import _samples

END = int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp())  # the month is November 2026
START = END - 30 * 86400
INTERVAL = 900
DAY, HOUR = 86400, 3600
OUTAGE_SERVER = (START + 8 * DAY + 10 * HOUR, START + 8 * DAY + 12 * HOUR)  # google, every resolution
OUTAGE_TIMEOUT = (START + 18 * DAY + 3 * HOUR, START + 18 * DAY + 15 * HOUR)  # gateway 1K: misses the SLO
INCIDENT = (OUTAGE_SERVER[0] + 40 * 60, OUTAGE_SERVER[1] + HOUR)  # listed 40 min after our outage began
GAP = (START + 23 * DAY + 6 * HOUR, START + 23 * DAY + 12 * HOUR)  # nothing scraped
RATE_LIMITED_EVERY = 97
PRICE = 0.134
BASE = {"1K": 18.0, "2K": 36.0}
# the families the report reads (the others would only make the file larger)
REPORTED = ("nanobanana_probes_total", "nanobanana_probe_success", "nanobanana_probe_duration_seconds_bucket",
            "nanobanana_probe_duration_seconds_count", "nanobanana_probe_duration_seconds_sum",
            "nanobanana_probe_cost_usd_total", "nanobanana_probe_last_run_timestamp_seconds",
            "nanobanana_probe_last_success_timestamp_seconds")
SCRAPE_LABELS = 'job="nanobanana",instance="exporter:9877"'
SCRAPE = 240  # seconds between the samples written (a coarse scrape keeps the month small)


def config(series: int = 3):
    targets = [{"name": "google", "api": "gemini", "model": "gemini-3-pro-image", "resolutions": ["1K", "2K"]},
               {"name": "gateway", "api": "gemini", "model": "gemini-3-pro-image", "resolutions": ["1K"]}]
    targets += [{"name": f"extra{i:02d}", "api": "gemini", "model": "gemini-3-pro-image", "resolutions": ["1K"]}
                for i in range(series - 3)]
    return load_text(yaml.safe_dump({"targets": targets}))


def outcome_of(target: str, resolution: str, finished: float, k: int) -> tuple[Outcome, float]:
    if target == "google" and OUTAGE_SERVER[0] <= finished < OUTAGE_SERVER[1]:
        return Outcome.SERVER_ERROR, 2.0
    if target == "gateway" and OUTAGE_TIMEOUT[0] <= finished < OUTAGE_TIMEOUT[1]:
        return Outcome.TIMEOUT, 45.0
    if k % RATE_LIMITED_EVERY == 5:
        return Outcome.RATE_LIMITED, 0.4
    return Outcome.SUCCESS, BASE[resolution] + (k * 7919) % 1000 / 100  # +0..10 s


def write_openmetrics(directory, series: int = 3, scrape: int = SCRAPE) -> list[Path]:
    """Write the month to one OpenMetrics file per day in `directory`; return their paths."""
    cfg = config(series)
    store = Store()
    store.apply(cfg)
    collector = ProbeCollector(store, series_families=False)
    probes = []  # (finished, key, k)
    for n, s in enumerate(cfg.series):
        offset = (n * 97) % INTERVAL
        probes += [(START + offset + k * INTERVAL, s.key, k) for k in range((END - START) // INTERVAL)]
    probes.sort()
    samples: dict[int, dict[str, list[str]]] = {}  # day -> identity -> lines
    i, current = 0, None
    for t in range(START, END + 1, scrape):
        changed = current is None
        while i < len(probes) and probes[i][0] <= t:
            finished, key, k = probes[i]
            outcome, duration = outcome_of(key[0], key[3], finished, k)
            ok = outcome is Outcome.SUCCESS
            store.get(key).record(Attempt(started=finished - duration, outcome=outcome, duration=duration,
                                             phases={"processing": duration}, cost=PRICE if ok else 0.0))
            i, changed = i + 1, True
        if GAP[0] <= t < GAP[1]:
            continue
        if changed:
            current = [(identity, value) for identity, (name, value) in _samples(collector.render().decode(), SCRAPE_LABELS).items()
                       if name in REPORTED]
        wide = {f'nanobanana_status_source_up{{source="google_cloud",{SCRAPE_LABELS}}}': 1.0}
        if INCIDENT[0] <= t < INCIDENT[1]:
            wide[f'nanobanana_upstream_incident_info{{source="google_cloud",product="Vertex Gemini API",'
                 f'impact="disruption",id="inc-1",title="Elevated error rates for image generation",'
                 f'url="https://status.cloud.google.com/incidents/inc-1",{SCRAPE_LABELS}}}'] = 1.0
        day = samples.setdefault(min((t - START) // DAY, 29), {})
        for identity, value in [*current, *wide.items()]:
            day.setdefault(identity, []).append(f"{identity} {value!r} {t}\n")
    paths = []
    for n, day in sorted(samples.items()):
        paths.append(Path(directory) / f"day-{n:02d}.om")
        with open(paths[-1], "w", encoding="utf-8") as f:
            for identity in sorted(day, key=lambda s: (s.split("{")[0], s)):
                f.writelines(day[identity])
            f.write("# EOF\n")
    return paths


def backfill(directory, data_dir) -> None:
    """promtool reads its whole input once per two-hour block: one file per day keeps that to 12 reads."""
    for path in write_openmetrics(directory):
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(path), str(data_dir)],
                       check=True, capture_output=True)
        path.unlink()
