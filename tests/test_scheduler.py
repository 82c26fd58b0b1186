"""Rate-limit semantics, overlap skipping, spreading, concurrency and reload, read from the registry."""

import pytest

from conftest import config_for
from exporter.loading.config import load_text
from exporter.exposition.metrics import make_registry
from exporter.contract.outcomes import Outcome
from exporter.probing.probe import Prober
from exporter.background.scheduler import Scheduler, first_offset
from exporter.domain.state import Attempt, SeriesState, Store
from tests.helpers import wait_for


def attempt(outcome, duration=1.0):
    return Attempt(started=1000.0, outcome=outcome, duration=duration, phases={})


def test_rate_limited_neither_resets_nor_extends_a_failure_streak():
    config = config_for("http://127.0.0.1:1")
    state = SeriesState(config.series[0])
    state.record(attempt(Outcome.SERVER_ERROR))
    state.record(attempt(Outcome.RATE_LIMITED))
    state.record(attempt(Outcome.TIMEOUT))
    assert (state.success, state.consecutive_failures) == (0, 2)
    state.record(attempt(Outcome.SUCCESS, 12.0))
    state.record(attempt(Outcome.RATE_LIMITED))
    assert (state.success, state.consecutive_failures) == (1, 0)
    assert state.probes[Outcome.RATE_LIMITED] == 2
    assert sum(state.bucket_counts) == 1  # only the success is a latency observation


def labels_of(series, **extra):
    return {**series.labels, **extra}


async def test_metrics_from_scheduled_probes(simulator):
    sim, base = simulator
    config = config_for(base, "gemini", interval="200ms", resolutions=["1K", "2K"])
    store = Store()
    registry = make_registry(store)
    prober = Prober()
    scheduler = Scheduler(store, prober)

    def count(series, outcome):
        return registry.get_sample_value("nanobanana_probes_total", labels_of(series, outcome=outcome))

    scheduler.apply(config)
    try:
        await wait_for(lambda: all(count(s, "success") >= 3 for s in config.series), "3 successes per series")
        sim.configure({"faults": [{"kind": "status", "status": 429}]})
        await wait_for(lambda: all(count(s, "rate_limited") >= 1 for s in config.series), "a 429 per series")
    finally:
        await scheduler.stop()
        await prober.aclose()
    for series in config.series:
        labels = series.labels
        ok, limited = count(series, "success"), count(series, "rate_limited")
        assert ok >= 3 and limited >= 1
        assert registry.get_sample_value("nanobanana_probes_total", labels_of(series, outcome="timeout")) == 0
        assert registry.get_sample_value("nanobanana_probe_success", labels) == 1  # 429 did not change it
        assert registry.get_sample_value("nanobanana_probe_consecutive_failures", labels) == 0
        assert registry.get_sample_value("nanobanana_probe_duration_seconds_count", labels) == ok
        assert registry.get_sample_value("nanobanana_probe_interval_seconds", labels) == 0.2
        assert registry.get_sample_value("nanobanana_probe_tokens_total", labels_of(series, kind="output")) >= 1120 * ok
        phase_sum = sum(registry.get_sample_value("nanobanana_probe_phase_seconds_total", labels_of(series, phase=p))
                        for p in ("connect", "tls", "processing", "transfer", "decode"))
        assert 0 < phase_sum <= registry.get_sample_value("nanobanana_probe_duration_seconds_sum", labels) + 0.5
        assert registry.get_sample_value("nanobanana_probe_last_success_timestamp_seconds", labels) <= \
            registry.get_sample_value("nanobanana_probe_last_run_timestamp_seconds", labels)


async def test_overlapping_run_is_skipped_and_counted(simulator):
    sim, base = simulator
    sim.configure({"faults": [{"kind": "hang"}]})
    config = config_for(base, "gemini", interval="100ms", timeout="1s")
    store = Store()
    registry = make_registry(store)
    prober = Prober()
    scheduler = Scheduler(store, prober)
    labels = config.series[0].labels

    def timeouts():
        return registry.get_sample_value("nanobanana_probes_total", {**labels, "outcome": "timeout"})

    def skipped():
        return registry.get_sample_value("nanobanana_probe_skipped_total", {**labels, "reason": "overlap"})

    scheduler.apply(config)
    try:
        # the first probe hangs for its 1 s timeout; the ticks meanwhile are skipped, not started
        await wait_for(lambda: timeouts() >= 1 and skipped() >= 5, "a timeout and 5 skipped ticks")
    finally:
        await scheduler.stop()
        await prober.aclose()
    # one probe in flight at a time: each probe the simulator received is a recorded timeout, or the
    # one still hanging when the scheduler stopped, and no probe started before the previous one ended
    sent = len([r for r in sim.requests if not r.get("metadata")])
    assert sent in (timeouts(), timeouts() + 1), (sent, timeouts())
    history = list(store.get(config.series[0].key).history)
    assert [a.outcome for a in history] == [Outcome.TIMEOUT] * len(history)
    assert all(b.started >= a.started + a.duration - 0.05 for a, b in zip(history, history[1:]))


def test_first_runs_spread_over_the_interval():
    text = "targets:\n" + "".join(
        f"  - {{name: t{i}, api: gemini, model: m, interval: 1m, resolutions: [1K, 2K, 4K]}}\n" for i in range(20)
    )
    offsets = sorted(first_offset(s) for s in load_text(text).series)
    assert len(offsets) == 60 and all(0 <= o < 60 for o in offsets)
    # spread: every 10-second slice of the minute gets some series; none gets a herd
    slices = [sum(1 for o in offsets if k * 10 <= o < (k + 1) * 10) for k in range(6)]
    assert min(slices) >= 3 and max(slices) <= 20


@pytest.mark.parametrize("cap", [1, 2])
async def test_concurrency_cap_per_target(simulator, cap):
    sim, base = simulator
    sim.configure({"speed": 0.01})  # 1K ~ 0.2 s
    text = (f"targets:\n  - {{name: t, api: gemini, base_url: '{base}', model: m, interval: 10m,"
            f" max_concurrency: {cap}, resolutions: [1K, 2K, 4K], thinking_levels: [default, low]}}\n")
    store = Store()
    prober = Prober()
    scheduler = Scheduler(store, prober, offset=lambda series: 0.0)  # all due at once
    scheduler.apply(load_text(text))
    try:
        await wait_for(lambda: sum(sum(s.probes.values()) for s in store) >= 6, "a probe of each series")
    finally:
        await scheduler.stop()
        await prober.aclose()
    assert sim.max_in_flight == cap


async def test_reload_keeps_counters_of_kept_series_and_drops_removed(simulator):
    _, base = simulator
    store = Store()
    registry = make_registry(store)
    prober = Prober()
    scheduler = Scheduler(store, prober)
    both = config_for(base, "gemini", interval="100ms", resolutions=["1K", "2K"])
    one_k, two_k = both.series

    def successes(series):
        return registry.get_sample_value("nanobanana_probes_total", {**series.labels, "outcome": "success"})

    scheduler.apply(both)
    try:
        await wait_for(lambda: successes(one_k) >= 2 and successes(two_k) >= 2, "2 successes per series")
        before = successes(one_k)
        scheduler.apply(config_for(base, "gemini", interval="100ms", resolutions=["1K"]))
        assert successes(two_k) is None  # dropped at once
        # the kept series goes on probing from its counter, not from zero
        await wait_for(lambda: successes(one_k) > before, "a probe of the kept series after the reload")
    finally:
        await scheduler.stop()
        await prober.aclose()
    assert successes(one_k) > before >= 2
    assert successes(two_k) is None
