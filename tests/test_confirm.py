"""Confirm on failure: the next-delay decision, and the scheduler confirming a failure against the
simulator, then returning to the regular interval."""

from __future__ import annotations

import asyncio

import pytest

from conftest import config_for
from exporter.config import ConfirmSettings
from exporter.metrics import make_registry
from exporter.outcomes import OUTCOMES, Outcome
from exporter.probe import Prober
from exporter.scheduler import Scheduler, confirmation_delay
from exporter.state import Store

DEFAULT = ConfirmSettings()


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_only_failures_are_confirmed(outcome):
    delay = confirmation_delay(outcome, 0, DEFAULT, interval=600)
    assert delay == (30.0 if outcome.is_failure else None)
    assert outcome is not Outcome.RATE_LIMITED or delay is None  # quota, not a verdict on the service


@pytest.mark.parametrize("done,count,after,interval,expected", [
    (0, 2, 30, 600, 30),  # first failure: confirm in 30 s
    (1, 2, 30, 600, 30),  # the first confirmation failed too: once more
    (2, 2, 30, 600, None),  # confirmed: back to the regular interval until a success
    (0, 0, 30, 600, None),  # confirmations turned off
    (0, 2, 60, 60, None),  # the regular probe comes as soon: no point confirming early
    (0, 2, 10, 60, 10),
])
def test_confirmation_delay(done, count, after, interval, expected):
    assert confirmation_delay(Outcome.SERVER_ERROR, done, ConfirmSettings(after=f"{after}s", count=count), interval) == expected


def test_confirm_settings_inherit_key_by_key():
    from exporter.config import load_text

    config = load_text("defaults: {confirm: {after: 10s}}\n"
                       "targets: [{name: a, api: gemini, model: m, confirm: {count: 1}}, {name: b, api: gemini, model: m}]\n")
    a, b = config.targets
    assert (a.confirm.after, a.confirm.count) == (10, 1)
    assert (b.confirm.after, b.confirm.count) == (10, 2)


async def test_a_failure_is_confirmed_sooner_then_the_series_returns_to_its_interval(simulator, monkeypatch):
    sim, base = simulator
    monkeypatch.setattr("exporter.scheduler.first_offset", lambda series: 0.0)
    monkeypatch.setattr("exporter.scheduler.JITTER", 0.0)
    sim.configure({"faults": [{"kind": "status", "status": 503}]})
    config = config_for(base, "gemini", interval="1s", confirm={"after": "100ms", "count": 2},
                        liveness={"enabled": False})
    store, prober = Store(), Prober()
    registry = make_registry(store)
    scheduler = Scheduler(store, prober)
    labels = config.series[0].labels
    value = registry.get_sample_value
    scheduler.apply(config)
    try:
        await asyncio.sleep(0.6)
        # the regular probe and two confirmations 100 ms apart, then nothing until the interval
        assert value("nanobanana_probes_total", {**labels, "outcome": "server_error"}) == 3
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "failure"}) == 2
        starts = [a.started for a in store.states[config.series[0].key].history]
        assert all(0.09 < b - a < 0.3 for a, b in zip(starts, starts[1:]))
        await asyncio.sleep(0.7)  # the regular probe, one interval after the last confirmation: no new round
        assert value("nanobanana_probes_total", {**labels, "outcome": "server_error"}) == 4
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "failure"}) == 2
        sim.configure({"faults": []})
        await asyncio.sleep(1.0)  # recovered: one success, on the regular interval
        assert value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 1
        sim.configure({"faults": [{"kind": "status", "status": 503}]})
        await asyncio.sleep(1.3)  # a new failure streak is confirmed again
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "failure"}) == 4
    finally:
        await scheduler.stop()
        await prober.aclose()
    # confirmations are probes like any other: counted and charged (a 503 costs nothing by default)
    assert value("nanobanana_probe_cost_usd_total", labels) == pytest.approx(0.134)

