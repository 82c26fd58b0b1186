"""Seven hours of exporter history at the default plan, as a Prometheus scraping every 15 s would
have stored it, written as OpenMetrics for `promtool tsdb create-blocks-from openmetrics`.

The probe series' samples are not invented here: every probe is recorded in the exporter's own
`SeriesState` (exporter/domain/state.py) and the samples are what its `ProbeCollector` renders at each
scrape. Only the exporter-wide series (liveness, canary, status sources, budget, build info) are written
directly, with the metric names of exporter/exposition/metrics.py.

`EVENTS` keeps what happened (every probe with its time, outcome and tokens), so tests compare
what a panel shows with the truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace

from exporter.loading.config import load_text
from exporter.exposition.metrics import BUDGET_FAMILIES, CANARY_FAMILIES, LIVENESS_FAMILIES, ProbeCollector
from exporter.contract.outcomes import CANARY_OUTCOMES, LIVENESS_OUTCOMES, Outcome
from exporter.domain.scenes import CHECKS, PASS
from exporter.domain.state import Attempt, Store

SCRAPE = 15  # seconds, the provisioned datasource's timeInterval
INTERVAL = 900  # the default probe interval
END = 1_767_225_600  # 2026-01-01T00:00:00Z: a fixed time, so every run sees the same data
HOURS = 7
START = END - HOURS * 3600
JOB = "nanobanana"
LOCATIONS = {"eu": "exporter-eu:9877", "us": "exporter-us:9877"}

CONFIG = """
targets:
  - name: google
    api: gemini
    model: gemini-3-pro-image
    resolutions: [1K, 2K, 4K]
    thinking_levels: [default, high]
"""
# The series each location probes, by (resolution, thinking_level), and what happens to them.
PLAN = {
    "eu": {
        ("1K", "default"): "blip",      # one server_error (a blip), one 429, otherwise fine
        ("2K", "high"): "slow-normal",  # 62-81 s: normal for high thinking (threshold 50 s x 1.7)
        ("2K", "default"): "streak",    # a timeout streak with confirmations, later a slow hour
        ("4K", "default"): "never",     # server_error from the start: never succeeded
    },
    "us": {("1K", "default"): "fine"},
}
BLIP_AT, RATE_LIMITED_AT = 12, 16  # probe numbers k of the blip series
STREAK = range(10, 15)  # probe numbers of the streak series that time out
CONFIRM_AFTER = (30, 60)  # a failure's confirmation probes, seconds after it finished
SLOW = range(20, 24)  # probe numbers of the streak series that are slow (55-65 s)
SKIP_AT = 22  # an overlap skip of the streak series
LIVENESS_RATE_LIMITED = (START + 4 * 3600, START + 4 * 3600 + 300)
INCIDENT = (START + 3 * 3600, START + 4 * 3600)  # an official incident (disruption) meanwhile
TOKENS = {"1K": 1120, "2K": 1120, "4K": 2000}
IMAGE_BYTES = {"1K": 1_500_000, "2K": 5_000_000, "4K": 12_000_000}


@dataclass
class Probe:
    location: str
    key: tuple[str, ...]  # the series' labels, exporter.loading.config.SERIES_LABELS order
    finished: float
    outcome: Outcome
    duration: float
    tokens: dict[str, int] = field(default_factory=dict)
    confirmation: str = ""
    k: int = -1  # the regular probe's number (-1: a confirmation)


def _duration(kind: str, k: int, resolution: str) -> float:
    base = {"1K": 17.0, "2K": 33.0, "4K": 58.0}[resolution]
    if kind == "slow-normal":
        return 81.0 if k == 20 else (62, 66, 70, 72, 74, 68, 64)[k % 7]
    if kind == "streak" and k in SLOW:
        return 55.0 + (k - SLOW.start) * 3
    return base + (k * 7) % 5


def plan_probes() -> list[Probe]:
    """Every probe of the seven hours, in time order."""
    out = []
    for location, series in PLAN.items():
        for n, ((resolution, level), kind) in enumerate(series.items()):
            key = ("google", "gemini", "gemini-3-pro-image", resolution, level)
            offset = 60 + 180 * n + (30 if location == "us" else 0)
            for k in range(HOURS * 4):
                finished = START + offset + k * INTERVAL + (k * 37) % 11  # a little jitter
                outcome, duration = Outcome.SUCCESS, _duration(kind, k, resolution)
                if kind == "never":
                    outcome, duration = Outcome.SERVER_ERROR, 2.0
                elif kind == "blip" and k == BLIP_AT:
                    outcome, duration = Outcome.SERVER_ERROR, 3.0
                elif kind == "blip" and k == RATE_LIMITED_AT:
                    outcome, duration = Outcome.RATE_LIMITED, 0.5
                elif kind == "streak" and k in STREAK:
                    outcome, duration = Outcome.TIMEOUT, 90.0
                tokens = {}
                if outcome is Outcome.SUCCESS:
                    tokens = {"input": 12, "output": TOKENS[resolution], "thinking": 400 if level == "high" else 90}
                out.append(Probe(location, key, finished, outcome, duration, tokens, k=k))
                if kind == "streak" and k == STREAK.start:  # the streak's first failure is confirmed
                    out += [Probe(location, key, finished + after + 90, Outcome.TIMEOUT, 90.0, confirmation="failure")
                            for after in CONFIRM_AFTER]
    return sorted(out, key=lambda p: p.finished)


def _attempt(p: Probe) -> Attempt:
    d = p.duration
    phases = {"connect": 0.2, "tls": 0.3, "processing": d * 0.65, "transfer": d * 0.25, "decode": d * 0.1 - 0.5}
    ok = p.outcome is Outcome.SUCCESS
    image = IMAGE_BYTES[p.key[3]] if ok else 0
    return Attempt(started=p.finished - d, outcome=p.outcome, duration=d, phases=phases,
                   response_bytes=image * 4 // 3 if ok else 300, image_bytes=image, usage=dict(p.tokens),
                   cost=0.24 if p.key[3] == "4K" else 0.134 if ok else 0.0, confirmation=p.confirmation,
                   # a faithful answer: the model asked served it, and its image passed every check
                   served_model=p.key[2] if ok else "",
                   verdicts={check: (PASS, "") for check in CHECKS} if ok else {})


SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$")


def _samples(text: str, scrape_labels: str) -> dict[str, tuple[str, float]]:
    """Exposition text -> series identity -> (name, value), the scrape's labels added."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, labels, value = SAMPLE.match(line).groups()
        labels = f"{labels},{scrape_labels}" if labels else scrape_labels
        out[f"{name}{{{labels}}}"] = (name, float(value))
    return out


def _exporter_wide(location: str, t: float) -> dict[str, float]:
    """Liveness, status-source, budget and build-info samples of one exporter at time t."""
    target = 'target="google",api="gemini",model="gemini-3-pro-image"'
    limited = LIVENESS_RATE_LIMITED[0] <= t < LIVENESS_RATE_LIMITED[1] and location == "eu"
    out = {}
    assert {"nanobanana_liveness_success", "nanobanana_liveness_outcome"} <= set(LIVENESS_FAMILIES)
    out[f"nanobanana_liveness_success{{{target}}}"] = 0.0 if limited else 1.0
    for o in LIVENESS_OUTCOMES:
        now = Outcome.RATE_LIMITED if limited else Outcome.SUCCESS
        out[f'nanobanana_liveness_outcome{{{target},outcome="{o}"}}'] = float(o == now)
    assert {"nanobanana_canary_success", "nanobanana_canary_outcome", "nanobanana_canary_cost_usd"} <= set(CANARY_FAMILIES)
    out[f"nanobanana_canary_success{{{target}}}"] = 1.0  # a canary a minute, always answered
    for o in CANARY_OUTCOMES:
        out[f'nanobanana_canary_outcome{{{target},outcome="{o}"}}'] = float(o == Outcome.SUCCESS)
    out[f"nanobanana_canary_cost_usd_total{{{target}}}"] = round((t - START) / 60 * 0.0037, 6)
    incident = INCIDENT[0] <= t < INCIDENT[1]
    for impact in ("disruption", "outage"):
        out[f'nanobanana_upstream_incidents_active{{source="google_cloud",product="Vertex Gemini API",'
            f'impact="{impact}"}}'] = float(incident and impact == "disruption")
    out['nanobanana_openrouter_endpoint_uptime_ratio{model="google/gemini-3-pro-image-preview",'
        'provider="Google",window="5m"}'] = 0.97 if incident else 0.999
    assert {"nanobanana_budget_limit_usd", "nanobanana_budget_spent_usd", "nanobanana_budget_exhausted"} <= set(BUDGET_FAMILIES)
    out['nanobanana_budget_limit_usd{scope="global"}'] = 20.0
    out['nanobanana_budget_spent_usd{scope="global"}'] = round((t - START) / 3600 * 1.9, 4)
    out['nanobanana_budget_exhausted{scope="global"}'] = 0.0
    out['nanobanana_maintenance_active{target="google"}'] = 0.0  # no window configured
    out['nanobanana_exporter_build_info{version="0.9.0"}'] = 1.0
    out["nanobanana_exporter_config_last_reload_successful"] = 1.0  # every exporter exports it from its start
    return out


def write_openmetrics(path) -> list[Probe]:
    """Write the history to `path`; return the probes (the truth)."""
    probes = plan_probes()
    config = load_text(CONFIG)
    series: dict[str, list[tuple[float, float]]] = {}  # identity -> [(t, value)] at every scrape
    for location, instance in LOCATIONS.items():
        store = Store()
        wanted = {("google", "gemini", "gemini-3-pro-image", r, lvl) for r, lvl in PLAN[location]}
        store.apply(SimpleNamespace(series=[s for s in config.series if s.key in wanted]))  # this location's plan
        collector = ProbeCollector(store, series_families=False)
        scrape = f'job="{JOB}",instance="{instance}",location="{location}"'
        mine = [p for p in probes if p.location == location]
        i, current = 0, None
        for t in range(START, END + 1, SCRAPE):
            changed = current is None
            while i < len(mine) and mine[i].finished <= t:
                p = mine[i]
                store.get(p.key).record(_attempt(p))
                if PLAN[location][p.key[3:]] == "streak" and p.k == SKIP_AT:
                    store.get(p.key).skip("overlap")
                i, changed = i + 1, True
            if changed:
                current = _samples(collector.render().decode(), scrape)
            wide = {k.replace("}", f",{scrape}}}", 1) if "{" in k else f"{k}{{{scrape}}}": v
                    for k, v in _exporter_wide(location, t).items()}
            for identity, (_, value) in current.items():
                series.setdefault(identity, []).append((t, value))
            for identity, value in wide.items():
                series.setdefault(identity, []).append((t, value))
    with open(path, "w", encoding="utf-8") as f:
        # One family after another (OpenMetrics wants a family's samples together), each series
        # in time order. No TYPE lines: every family is `unknown`, which PromQL treats the same.
        for identity in sorted(series, key=lambda s: (s.split("{")[0], s)):
            f.writelines(f"{identity} {value!r} {t}\n" for t, value in series[identity])
        f.write("# EOF\n")
    return probes
