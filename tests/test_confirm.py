"""Confirm on failure: the next-delay decision, and the scheduler confirming a failure against the
simulator, then returning to the regular interval."""

from __future__ import annotations

import pytest

from conftest import config_for
from exporter.loading.config import ConfirmSettings
from exporter.exposition.metrics import make_registry
from exporter.contract.outcomes import OUTCOMES, Outcome
from exporter.probing.probe import Prober
from exporter.background.scheduler import Scheduler, confirmation_delay
from exporter.domain.state import Store
from tests.helpers import wait_for

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
    from exporter.loading.config import load_text

    config = load_text("defaults: {confirm: {after: 10s}}\n"
                       "targets: [{name: a, api: gemini, model: m, confirm: {count: 1}}, {name: b, api: gemini, model: m}]\n")
    a, b = config.targets
    assert (a.confirm.after, a.confirm.count) == (10, 1)
    assert (b.confirm.after, b.confirm.count) == (10, 2)


async def test_a_failure_is_confirmed_sooner_then_the_series_returns_to_its_interval(simulator):
    sim, base = simulator
    sim.configure({"faults": [{"kind": "status", "status": 503}]})
    config = config_for(base, "gemini", interval="1s", confirm={"after": "100ms", "count": 2},
                        liveness={"enabled": False})
    store, prober = Store(), Prober()
    registry = make_registry(store)
    scheduler = Scheduler(store, prober, offset=lambda series: 0.0, jitter=0.0)
    labels = config.series[0].labels
    value = registry.get_sample_value
    scheduler.apply(config)
    (_, _, control), = scheduler._loops.values()
    history = store.get(config.series[0].key).history

    def failures():
        return value("nanobanana_probes_total", {**labels, "outcome": "server_error"})

    try:
        # the regular probe and two confirmations 100 ms apart, then nothing until the interval
        await wait_for(lambda: failures() == 3, "the regular probe and two confirmations")
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "failure"}) == 2
        assert [a.confirmation for a in history] == ["", "failure", "failure"]
        starts = [a.started for a in history]
        assert all(b - a > 0.09 for a, b in zip(starts, starts[1:]))  # each one `after` past the previous
        # recorded and planned in one step: confirmed twice, no third confirmation is planned
        assert control.schedule.early_at is None and control.confirmations == 2
        # the regular probe, one interval after the last confirmation: no new round
        await wait_for(lambda: failures() == 4, "the next regular probe")
        assert history[-1].confirmation == "" and history[-1].started - starts[-1] > 0.9
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "failure"}) == 2
        assert control.schedule.early_at is None
        sim.configure({"faults": []})
        # recovered: one success, on the regular interval (no failure, no confirmation in between)
        await wait_for(lambda: value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 1, "a success")
        assert failures() == 4 and history[-1].confirmation == ""
        assert control.schedule.early_at is None and control.confirmations == 0
        sim.configure({"faults": [{"kind": "status", "status": 503}]})
        # a new failure streak is confirmed again: the next regular probe fails, two confirmations follow
        await wait_for(lambda: failures() == 7, "a new streak and its two confirmations")
        assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "failure"}) == 4
        assert [a.confirmation for a in history][-4:] == ["", "", "failure", "failure"]
        assert control.schedule.early_at is None
    finally:
        await scheduler.stop()
        await prober.aclose()
    # confirmations are probes like any other: counted and charged (a 503 costs nothing by default)
    assert value("nanobanana_probe_cost_usd_total", labels) == pytest.approx(0.134)

