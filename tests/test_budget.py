"""Daily budgets: the day boundary in a time zone, restarts, pause and resume, per-target limits,
a corrupt or unwritable state file, and budgets stopping real probes against the simulator."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from conftest import config_for
from exporter.domain.budget import GLOBAL, Budget, BudgetSettings, target_scope
from exporter.loading.config import load_text
from exporter.background.liveness import LivenessChecker
from exporter.exposition.metrics import make_registry
from exporter.probing.probe import Prober
from exporter.background.scheduler import Scheduler
from exporter.domain.state import Store
from tests.helpers import wait_for

BERLIN = ZoneInfo("Europe/Berlin")


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, when: datetime):
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when.timestamp()


def settings(tmp_path, **values) -> BudgetSettings:
    return BudgetSettings(**{"timezone": "Europe/Berlin", "state_file": str(tmp_path / "budget.json"), **values})


def test_spend_resets_at_midnight_in_the_configured_time_zone(tmp_path):
    clock = Clock(datetime(2026, 3, 10, 23, 50, tzinfo=BERLIN))
    budget = Budget(settings(tmp_path, daily_limit_usd=1.0), ["google"], clock)
    for _ in range(8):
        budget.record("google", 0.134)
    assert budget.refusal("google") == GLOBAL  # 1.072 >= 1.0
    assert budget.day_end() == datetime(2026, 3, 11, tzinfo=BERLIN).timestamp()
    # 22:55 UTC is still 23:55 in Berlin: the same day, still paused
    clock.set(datetime(2026, 3, 10, 23, 59, 59, tzinfo=BERLIN))
    assert budget.refusal("google") == GLOBAL
    clock.set(datetime(2026, 3, 11, 0, 0, 1, tzinfo=BERLIN))  # the next day in Berlin
    assert budget.refusal("google") is None
    assert {s.scope: s.spent for s in budget.states()} == {GLOBAL: 0.0, "target:google": 0.0}


def test_spend_survives_a_restart_within_the_day_but_not_into_the_next(tmp_path):
    clock = Clock(datetime(2026, 3, 10, 9, 0, tzinfo=BERLIN))
    first = Budget(settings(tmp_path, daily_limit_usd=5.0), ["google", "gateway"], clock)
    first.record("google", 0.24)
    first.record("gateway", 0.05)
    saved = json.loads((tmp_path / "budget.json").read_text())
    assert saved["day"] == "2026-03-10" and saved["timezone"] == "Europe/Berlin"
    assert list(tmp_path.iterdir()) == [tmp_path / "budget.json"]  # no temporary file left behind

    clock.set(datetime(2026, 3, 10, 17, 0, tzinfo=BERLIN))
    restarted = Budget(settings(tmp_path, daily_limit_usd=5.0), ["google", "gateway"], clock)
    spent = {s.scope: s.spent for s in restarted.states()}
    assert spent == pytest.approx({GLOBAL: 0.29, "target:google": 0.24, "target:gateway": 0.05})

    clock.set(datetime(2026, 3, 11, 8, 0, tzinfo=BERLIN))
    next_day = Budget(settings(tmp_path, daily_limit_usd=5.0), ["google"], clock)
    assert {s.scope: s.spent for s in next_day.states()} == {GLOBAL: 0.0, "target:google": 0.0}


def test_a_target_limit_pauses_only_that_target(tmp_path):
    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=BERLIN))
    budget = Budget(settings(tmp_path, daily_limit_usd=10.0, targets={"google": 0.3}), ["google", "gateway"], clock)
    budget.record("google", 0.134)
    budget.record("google", 0.134)
    assert budget.refusal("google") is None  # 0.268 < 0.3
    budget.record("google", 0.134)
    assert budget.refusal("google") == target_scope("google")
    assert budget.refusal("gateway") is None
    states = {s.scope: s for s in budget.states()}
    assert states["target:google"].exhausted and not states[GLOBAL].exhausted
    assert states["target:gateway"].limit is None and not states["target:gateway"].exhausted


@pytest.mark.parametrize("content", ["{not json", '{"day": "2026-03-10", "spent": {"global": "lots"}}',
                                     '["a list"]', "", '{"day": 20260310, "spent": {}}'])
def test_a_corrupt_state_file_is_reported_and_counts_as_zero(tmp_path, caplog, content):
    (tmp_path / "budget.json").write_text(content)
    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=BERLIN))
    with caplog.at_level(logging.WARNING, logger="exporter.domain.budget"):
        budget = Budget(settings(tmp_path, daily_limit_usd=1.0), ["google"], clock)
    assert any("budget state file" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert budget.states()[0].spent == 0.0
    budget.record("google", 0.5)  # and the next charge writes a good file over it
    assert json.loads((tmp_path / "budget.json").read_text())["spent"][GLOBAL] == 0.5


def test_an_unwritable_state_file_is_reported_once_and_spend_kept_in_memory(tmp_path, caplog):
    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=BERLIN))
    path = tmp_path / "missing-dir" / "budget.json"
    with caplog.at_level(logging.INFO, logger="exporter.domain.budget"):
        budget = Budget(BudgetSettings(daily_limit_usd=1.0, state_file=str(path)), ["google"], clock)
        budget.record("google", 0.4)
        budget.record("google", 0.4)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot write the budget state file" in warnings[0].getMessage()
    assert budget.states()[0].spent == pytest.approx(0.8)


def test_budget_config_errors_name_the_key():
    with pytest.raises(Exception, match=r"budget.targets.nobody: no target is called 'nobody'"):
        load_text("budget: {targets: {nobody: 1}}\ntargets: [{name: t, api: gemini, model: m}]\n")
    with pytest.raises(Exception, match=r"budget.daily_limit_usd: Input should be greater than 0"):
        load_text("budget: {daily_limit_usd: 0}\ntargets: [{name: t, api: gemini, model: m}]\n")


async def test_paid_probes_pause_at_the_limit_and_resume_the_next_day(simulator, tmp_path):
    """Real probes against the simulator: the budget stops them, liveness checks go on, the next day
    (a moved clock) lets them run again."""
    sim, base = simulator
    clock = Clock(datetime(2026, 3, 10, 23, 0, tzinfo=BERLIN))
    raw = {"budget": {"targets": {"t": 0.3}, "timezone": "Europe/Berlin", "state_file": str(tmp_path / "b.json")},
           "targets": [{"name": "t", "api": "gemini", "base_url": base, "model": "gemini-3-pro-image",
                        "interval": "50ms", "liveness": {"interval": "50ms"}}]}
    config = load_text(yaml.safe_dump(raw))
    store, prober, budget = Store(), Prober(), Budget(clock=clock)
    scheduler = Scheduler(store, prober, budget, offset=lambda series: 0.0)
    liveness = LivenessChecker()
    registry = make_registry(store, liveness=liveness, budget=budget)
    scheduler.apply(config)
    liveness.apply(config)
    labels = config.series[0].labels
    value = registry.get_sample_value
    check_labels = {"target": "t", "api": "gemini", "model": "gemini-3-pro-image", "outcome": "success"}

    def probes():
        return value("nanobanana_probes_total", {**labels, "outcome": "success"})

    def refused():
        return value("nanobanana_probe_skipped_total", {**labels, "reason": "budget"})

    try:
        # probes run one at a time and are charged as they finish: the first refusal comes once the
        # spend reached the limit, so by then exactly the probes that passed it have run
        await wait_for(lambda: refused() >= 5, "5 probes refused by the budget")
        checks = value("nanobanana_liveness_checks_total", check_labels)
        assert probes() == 3  # 3 x $0.134 passes $0.30; the fourth is refused
        assert value("nanobanana_probe_cost_usd_total", labels) == pytest.approx(0.402)
        assert value("nanobanana_budget_exhausted", {"scope": "target:t"}) == 1
        assert value("nanobanana_budget_spent_usd", {"scope": "global"}) == pytest.approx(0.402)
        assert value("nanobanana_budget_limit_usd", {"scope": "target:t"}) == 0.3
        assert value("nanobanana_budget_limit_usd", {"scope": "global"}) is None  # none set
        # later: more ticks refused, no probe ran meanwhile, and the free checks go on
        later = refused() + 5
        await wait_for(lambda: refused() >= later and value("nanobanana_liveness_checks_total", check_labels) > checks,
                       "more refusals and more free checks")
        assert probes() == 3
        clock.set(datetime(2026, 3, 11, 0, 0, 5, tzinfo=BERLIN))  # midnight in Berlin
        # a new day: paid probes run again until they pass the limit again; the next refusal can only
        # come after those three
        at_midnight = refused()
        await wait_for(lambda: refused() > at_midnight, "the budget of the new day spent")
        assert probes() == 6
        assert value("nanobanana_budget_spent_usd", {"scope": "target:t"}) == pytest.approx(0.402)
        assert value("nanobanana_budget_day_end_timestamp_seconds") == datetime(2026, 3, 12, tzinfo=BERLIN).timestamp()
    finally:
        await scheduler.stop()
        await liveness.stop()
        await prober.aclose()


def test_without_a_budget_spend_is_counted_but_nothing_is_written_or_limited(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    budget = Budget(None, ["t"])
    budget.apply(config_for("http://127.0.0.1:1").budget, ["t"])
    budget.record("t", 100.0)
    assert budget.refusal("t") is None
    assert [(s.scope, s.limit, s.spent) for s in budget.states()] == [(GLOBAL, None, 100.0), ("target:t", None, 100.0)]
    assert list(tmp_path.iterdir()) == []
