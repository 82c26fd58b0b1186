"""Detection on the cadence the exporter really runs: slow probes are confirmed like failures, and
the run of slow probes is exported for NanoBananaLatencyHigh (exporter/domain/detection.py)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from conftest import config_for
from exporter.domain import detection
from exporter.loading.config import ConfirmSettings
from exporter.exposition.metrics import make_registry
from exporter.contract.outcomes import Outcome
from exporter.probing.probe import Prober
from exporter.background.scheduler import Scheduler, confirmation_delay
from exporter.domain.state import Store
from tests.helpers import wait_for


@pytest.mark.parametrize("outcome,slow,expected", [
    (Outcome.SUCCESS, True, 30.0),  # a slow success is confirmed like a failure
    (Outcome.SUCCESS, False, None),
    (Outcome.RATE_LIMITED, True, None),  # quota: no verdict on speed either
    (Outcome.TIMEOUT, False, 30.0),
])
def test_slow_successes_are_confirmed(outcome, slow, expected):
    assert confirmation_delay(outcome, 0, ConfirmSettings(), 900, slow) == expected
    assert confirmation_delay(outcome, 2, ConfirmSettings(), 900, slow) is None  # confirmed: back to the interval


def test_threshold_per_resolution_and_thinking_level():
    assert detection.latency_threshold("1K", "default") == 25
    assert detection.latency_threshold("2K", "high") == pytest.approx(85)



@contextlib.asynccontextmanager
async def scheduled(config):
    """The scheduler running `config`, its series due at once and without jitter: yields (scheduler,
    the registry's sample reader, the series' labels)."""
    store, prober = Store(), Prober()
    registry = make_registry(store)
    scheduler = Scheduler(store, prober, offset=lambda series: 0.0, jitter=0.0)
    scheduler.apply(config)
    try:
        yield scheduler, registry.get_sample_value, config.series[0].labels
    finally:
        await scheduler.stop()
        await prober.aclose()


async def test_a_slow_series_is_confirmed_twice_then_returns_to_its_interval(simulator, monkeypatch):
    sim, base = simulator
    monkeypatch.setitem(detection.LATENCY_SECONDS, "1K", 0.1)  # slow = over 100 ms here
    sim.configure({"faults": [{"kind": "slow_drip", "seconds": 0.3}]})  # every probe ~300 ms, and succeeds
    config = config_for(base, "gemini", interval="30s", confirm={"after": "50ms", "count": 2},
                        liveness={"enabled": False})
    async with scheduled(config) as (scheduler, value, labels):
        await wait_for(lambda: value("nanobanana_probe_consecutive_slow", labels) == 3)
        assert value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 3
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "slow"}) == 2
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "failure"}) == 0
        # confirmed twice: no third confirmation is planned, the next probe waits for the 30 s interval
        (_, _, control), = scheduler._loops.values()
        assert control.schedule.early_at is None and control.slow_confirmations == 2


async def test_a_failure_resets_the_slow_streak(simulator, monkeypatch):
    sim, base = simulator
    monkeypatch.setitem(detection.LATENCY_SECONDS, "1K", 0.1)
    sim.configure({"faults": [{"kind": "slow_drip", "seconds": 0.3}]})
    config = config_for(base, "gemini", interval="2s", confirm={"after": "50ms", "count": 1},
                        liveness={"enabled": False})
    async with scheduled(config) as (scheduler, value, labels):
        await wait_for(lambda: (value("nanobanana_probe_consecutive_slow", labels) or 0) >= 1)
        sim.configure({"faults": [{"kind": "status", "status": 503}]})  # the confirmation (or the next probe) fails
        await wait_for(lambda: value("nanobanana_probe_consecutive_failures", labels) >= 1)
        assert value("nanobanana_probe_consecutive_slow", labels) == 0


@pytest.mark.slow  # a benchmark
@pytest.mark.timeout(600)
def test_detection_benchmark_short_form():
    """benchmarks/detection.py, briefly: the exporter against the simulator, its scrapes through the
    shipped rules in promtool. A generation-only outage pages the default plan, and the canary plan
    within its worst case; one failed probe does not."""
    import dataclasses
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import detection as bench

    short = {s.name: s for s in bench.SCENARIOS}
    scenarios = [dataclasses.replace(short["generation-outage"], length=25 * 60.0), short["single-failure"]]
    plans = ["default", "canary", "naive"]
    result = asyncio.run(bench.run(scenarios, plans, speedup=50, seed=1, warmup=15 * 60.0))
    verdicts = bench.verdicts(scenarios, plans, result)
    outage = verdicts["generation-outage", "default"]
    assert outage.first.endswith("(critical)") and outage.detect is not None, outage
    assert 60 < outage.detect < 25 * 60, outage  # the next 15-minute probe, its confirmations, group_wait
    assert verdicts["generation-outage", "naive"].detect < 6 * 60
    canary = verdicts["generation-outage", "canary"]  # three failed canaries probe at once: --config.check's bound
    assert canary.first.endswith("(critical)") and canary.detect < result["bounds"]["canary"][1] + 3 * 60, canary
    # the default plan only: on a busy machine a naive probe a minute can time out three times in a row
    assert verdicts["single-failure", "default"].false_pages == 0, verdicts["single-failure", "default"]
    assert 0 < verdicts["single-failure", "default"].cost < verdicts["single-failure", "naive"].cost / 5
    # the canary's text calls are charged: a canary plan costs more than the default, far less than naive
    assert verdicts["single-failure", "default"].cost < verdicts["single-failure", "canary"].cost
    assert verdicts["single-failure", "canary"].cost < verdicts["single-failure", "naive"].cost / 5
    print(bench.table(scenarios, plans, verdicts))


async def test_a_new_official_incident_is_reported_once(server):
    """The poller tells the scheduler about each ongoing disruption or outage new in the feed."""
    from status_server import fixture, status_config

    from exporter.status.poller import StatusPoller

    seen = []
    poller = StatusPoller(on_incident=lambda source, incident: seen.append((source, incident.id, incident.impact)))
    config = status_config(f"""
google_cloud: {{url: "{server.base_url}/incidents.json"}}
openrouter: {{enabled: false}}
""")
    try:
        poller.apply(config.status_sources, run=False)
        server.set_feed(fixture("google_empty.json"))
        await poller.poll("google_cloud")
        assert seen == []
        server.set_feed(fixture("google_ongoing.json"))  # one ongoing disruption of a watched product, one ended
        await poller.poll("google_cloud")
        assert seen == [("google_cloud", "mXzRkt3rQ7yHmT9bJ8cK", "disruption")]
        await poller.poll("google_cloud")  # the same incident, still open: not new
        assert len(seen) == 1
    finally:
        await poller.stop()


async def test_an_incident_probes_gemini_series_at_once_at_most_once_an_interval(simulator):
    sim, base = simulator
    config = config_for(base, "gemini", interval="1h", liveness={"enabled": False})
    async with scheduled(config) as (scheduler, value, labels):
        await wait_for(lambda: value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 1)
        scheduler.incident_opened("openrouter", object())  # not a Google feed: nothing
        scheduler.incident_opened("google_cloud", object())
        await wait_for(lambda: value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 2)
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "status"}) == 1
        scheduler.incident_opened("google_cloud", object())  # within the interval: no second probe planned
        (_, _, control), = scheduler._loops.values()
        assert control.schedule.early_at is None
        assert value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 2


async def test_a_model_whose_openrouter_uptime_drops_is_reported_once_per_drop(server):
    """OpenRouter's 5-minute uptime of an endpoint below trigger_uptime_below (0.9) reports the
    model once; recovering and dropping again reports it again. The fixture's Google AI Studio
    endpoint is at 87.5 %."""
    import json

    from status_server import fixture, status_config

    from exporter.status.poller import StatusPoller

    model = "google/gemini-3-pro-image"
    degraded = fixture("openrouter_endpoints.json")
    healthy = json.loads(degraded)
    for endpoint in healthy["data"]["endpoints"]:
        endpoint["uptime_last_5m"] = 100
    seen = []
    poller = StatusPoller(on_degraded=lambda source, model: seen.append((source, model)))
    config = status_config(f"""
google_cloud: {{enabled: false}}
openrouter: {{base_url: "{server.base_url}/api/v1", models: [{model}]}}
""")
    try:
        poller.apply(config.status_sources, run=False)
        server.endpoints[model] = json.dumps(healthy).encode()
        await poller.poll("openrouter")
        assert seen == []
        server.endpoints[model] = degraded
        await poller.poll("openrouter")
        assert seen == [("openrouter", model)]
        await poller.poll("openrouter")  # still low: the same drop
        assert len(seen) == 1
        server.endpoints[model] = json.dumps(healthy).encode()
        await poller.poll("openrouter")
        server.endpoints[model] = degraded
        await poller.poll("openrouter")
        assert seen == [("openrouter", model)] * 2
    finally:
        await poller.stop()
    off = StatusPoller(on_degraded=lambda source, model: seen.append((source, model)))
    config = status_config(f"""
google_cloud: {{enabled: false}}
openrouter: {{base_url: "{server.base_url}/api/v1", models: [{model}], trigger_uptime_below: null}}
""")
    try:
        off.apply(config.status_sources, run=False)
        await off.poll("openrouter")
        assert off.get("openrouter").up and len(seen) == 2  # polled, and no trigger
    finally:
        await off.stop()


async def test_a_degraded_model_probes_its_series_at_once_at_most_once_an_interval(simulator):
    sim, base = simulator
    config = config_for(base, "gemini", interval="1h", liveness={"enabled": False})
    async with scheduled(config) as (scheduler, value, labels):
        await wait_for(lambda: value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 1)
        (_, _, control), = scheduler._loops.values()
        scheduler.model_degraded("openrouter", "google/gemini-3.1-flash-image")  # another model: nothing
        assert control.schedule.early_at is None
        scheduler.model_degraded("openrouter", "google/gemini-3-pro-image")  # this gemini target's model
        await wait_for(lambda: value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 2)
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "uptime"}) == 1
        scheduler.model_degraded("openrouter", "google/gemini-3-pro-image")  # within the interval
        assert control.schedule.early_at is None


async def test_status_page_lag_is_measured_from_our_first_failing_probe(simulator):
    sim, base = simulator
    sim.configure({"faults": [{"kind": "status", "status": 503}]})
    config = config_for(base, "gemini", interval="1h", confirm={"count": 0}, liveness={"enabled": False})
    async with scheduled(config) as (scheduler, value, labels):
        await wait_for(lambda: value("nanobanana_probe_consecutive_failures", labels) == 1)
        scheduler.incident_opened("google_cloud", object())
        count = value("nanobanana_status_page_lag_seconds_count", {"source": "google_cloud"})
        lag = value("nanobanana_status_page_lag_seconds_sum", {"source": "google_cloud"})
        assert count == 1 and 0 <= lag < 60
        assert value("nanobanana_status_page_lag_seconds_bucket",
                                         {"source": "google_cloud", "le": "60"}) == 1
