"""Hours of one probe series as Prometheus would have scraped it, for `promtool test rules`.

The probe samples come from the exporter's own SeriesState and ProbeCollector (as in
sparse_history.py); this module only plays the scheduler: a regular probe every `interval`, a
failed or slow probe confirmed `CONFIRMATIONS` times `CONFIRM_AFTER` seconds apart (the shipped
`confirm:` default), skips while a maintenance window is open or the budget is spent. The exporter-wide
series (up, maintenance, budget, reload) are written directly with the metric names the rules read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from exporter.loading.config import load_text
from exporter.exposition.metrics import ProbeCollector
from exporter.contract.outcomes import Outcome
from exporter.domain.state import Attempt, Store
from sparse_history import _samples

CONFIRMATIONS, CONFIRM_AFTER = 2, 30.0
SCRAPE = 60  # a minute: three days of history at 15 s exceed promtool's sample limit (50M per query)
JOB, INSTANCE = "nanobanana", "exporter:9877"
SCRAPE_LABELS = f'job="{JOB}",instance="{INSTANCE}"'
CONFIG = """
targets:
  - {name: prod, api: gemini, model: gemini-3-pro-image, resolutions: [1K]}
"""
# A series' labels as the alerts carry them (the scrape's job and instance, the series' own).
SERIES = {"job": JOB, "instance": INSTANCE, "target": "prod", "api": "gemini", "model": "gemini-3-pro-image",
          "resolution": "1K", "thinking_level": "default"}


@dataclass
class Scenario:
    """What happens, as functions of the time a probe starts (seconds from 0)."""

    interval: float  # seconds between regular probes
    hours: float
    outcome: Callable[[float], Outcome] = lambda t: Outcome.SUCCESS
    duration: Callable[[float], float] = lambda t: 12.0  # seconds a probe takes (the 1K threshold is 25 s)
    maintenance: tuple[float, float] | None = None
    budget_pause: tuple[float, float] | None = None
    reload_failed: tuple[float, float] | None = None
    probes: list[tuple[float, Outcome, str]] = field(default_factory=list)  # (finished, outcome, confirmation)


def _within(t: float, span: tuple[float, float] | None) -> bool:
    return span is not None and span[0] <= t < span[1]


def play(s: Scenario) -> dict[str, list[float]]:
    """Series identity -> its value at every scrape from 0 to the scenario's end."""
    store = Store()
    config = load_text(CONFIG)
    store.apply(SimpleNamespace(series=config.series))
    [series] = config.series
    state = store.get(series.key)
    collector = ProbeCollector(store, series_families=False)
    end = s.hours * 3600
    due, confirming = 30.0, None  # next regular start, next confirmation start
    done = 0  # confirmations since the last good probe
    events: list[tuple[float, Callable[[], None]]] = []
    t = 0.0
    while True:
        start = min(due, confirming) if confirming is not None else due
        if start > end:
            break
        confirmation = confirming is not None and start == confirming
        if confirmation:
            confirming = None
        else:
            due += s.interval
            paused = "maintenance" if _within(start, s.maintenance) else "budget" if _within(start, s.budget_pause) else ""
            if paused:
                events.append((start, lambda r=paused: state.skip(r)))
                continue
        outcome, duration = s.outcome(start), s.duration(start)
        finished = start + (duration if outcome is Outcome.SUCCESS else 2.0)
        attempt = Attempt(started=start, outcome=outcome, duration=finished - start, phases={},
                          confirmation="failure" if confirmation else "")
        events.append((finished, lambda a=attempt: state.record(a)))
        s.probes.append((finished, outcome, attempt.confirmation))
        bad = outcome is not Outcome.SUCCESS or duration > series.latency_threshold
        if bad and done < CONFIRMATIONS:
            done += 1
            confirming = finished + CONFIRM_AFTER
        elif not bad:
            done = 0
    events.sort(key=lambda e: e[0])
    values: dict[str, list[float]] = {}
    i, current = 0, {}
    for step in range(int(end // SCRAPE) + 1):
        t = step * SCRAPE
        changed = step == 0
        while i < len(events) and events[i][0] <= t:
            events[i][1]()
            i, changed = i + 1, True
        if changed:
            current = {k: v for k, (_, v) in _samples(collector.render().decode(), SCRAPE_LABELS).items()}
        wide = {
            f"up{{{SCRAPE_LABELS}}}": 1.0,
            f'nanobanana_maintenance_active{{{SCRAPE_LABELS},target="prod"}}': float(_within(t, s.maintenance)),
            f'nanobanana_budget_exhausted{{{SCRAPE_LABELS},scope="global"}}': float(_within(t, s.budget_pause)),
            f"nanobanana_exporter_config_last_reload_successful{{{SCRAPE_LABELS}}}": float(not _within(t, s.reload_failed)),
            f"nanobanana_exporter_config_last_reload_success_timestamp_seconds{{{SCRAPE_LABELS}}}": 0.0,
        }
        for identity, value in (current | wide).items():
            values.setdefault(identity, [float("nan")] * step).append(value)
    return values


def compact(samples: list[float]) -> str:
    """promtool's expanding notation: a run of one value as `vxN` (N + 1 samples), a missing
    sample (a series not yet exported) as `_`."""
    out, i = [], 0
    while i < len(samples):
        if samples[i] != samples[i]:
            out.append("_")
            i += 1
            continue
        j = i
        while j + 1 < len(samples) and samples[j + 1] == samples[i]:
            j += 1
        value = f"{samples[i]:.10g}"
        out.append(value if j == i else f"{value}x{j - i}")
        i = j + 1
    return " ".join(out)
