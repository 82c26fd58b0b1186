"""Plan before you pay: --config.check prints interval, probes and cost per day and month, and the
worst-case detection time per series and in total, and warns when the plan exceeds the budget."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from exporter.loading.config import load_text
from exporter.plan import ALLOWANCE, plan_series, print_plan
from tests.helpers import run_check

CONFIG = """
budget: {daily_limit_usd: 20, targets: {pro4k: 5}}
targets:
  - {name: flash, api: gemini, model: gemini-3.1-flash-image, interval: 15m, timeout: 45s}
  - {name: pro4k, api: gemini, model: gemini-3-pro-image, interval: 1h, resolutions: [4K], timeout: 3m,
     confirm: {count: 1}, liveness: {enabled: false}}
"""


def test_plan_figures():
    flash, pro = (plan_series(s) for s in load_text(CONFIG).series)
    assert flash.probes_per_day == 96 and flash.cost_per_day == pytest.approx(96 * 0.067)  # Nano Banana 2's price
    assert pro.probes_per_day == 24 and pro.cost_per_day == pytest.approx(24 * 0.24)
    # flash, only paid probes see it: the next probe after 15m (+2s jitter) times out at 45s, two
    # confirmations 30s after each failure end also time out, then the Prometheus allowance
    assert flash.detect_paid == 900 + 2 + 45 + 2 * (30 + 45) + ALLOWANCE
    # the free check (every 1m, 10s timeout) sees a whole-API outage and probes at once
    assert flash.detect_api == 60 + 10 + 45 + 2 * (30 + 45) + ALLOWANCE
    # pro4k: one confirmation, then the regular interval, counted from the confirmation's start; no liveness check
    confirmation_start = 3600 + 2 + 180 + 30
    assert pro.detect_paid == pro.detect_api == confirmation_start + 3600 + 180 + ALLOWANCE


def test_print_plan_totals_and_budget_warnings():
    lines: list[str] = []
    print_plan(load_text(CONFIG), lines.append)
    text = "\n".join(lines)
    assert lines[0].split() == ["target", "api", "model", "resolution", "thinking", "interval", "timeout",
                                "probes/day", "usd/day", "usd/month", "detect", "detect-paid", "detect-slow"]
    assert lines[1].split() == ["flash", "gemini", "gemini-3.1-flash-image", "1K", "default", "15m", "45s", "96",
                                "$6.43", "$192.96", "5m25s", "19m17s", "29m17s"]
    assert lines[2].split()[5:] == ["1h", "3m", "24", "$5.76", "$172.80", "2h7m32s", "2h7m32s", "2h17m32s"]
    assert "total: 120 paid probes/day, $12.19/day, $365.76/month (30 days); 1440 free liveness checks/day" in text
    assert "scrape 15s + evaluation 15s + for 0s" in text
    warnings = [line for line in lines if line.startswith("WARNING") and "budget" in line]  # model warnings: test_catalog.py
    assert warnings == ["WARNING: the plan costs $5.76/day in scope target:pro4k, more than its daily budget $5.00: "
                        "its paid probes would pause about 20.8 h into each day"]
    assert lines[-1] == "2 series in 2 targets"


def test_config_check_warns_but_passes_when_the_plan_exceeds_the_budget(tmp_path):
    path = tmp_path / "expensive.yml"
    path.write_text("budget: {daily_limit_usd: 50}\n"
                    "targets: [{name: naive, api: gemini, model: gemini-3-pro-image, interval: 1m}]\n")
    result = run_check("--config.file", str(path))
    assert result.returncode == 0, result.stderr
    assert re.search(r"naive .* 1m +45s +1440 +\$192\.96 +\$5,788\.80 ", result.stdout)
    assert "WARNING: the plan costs $192.96/day in scope global, more than its daily budget $50.00" in result.stdout


def test_the_plan_counts_maintenance_windows_in_the_months_cost():
    """--config.check's month: the windows' pauses over the next 30 days, each window once per target,
    a recurring window that is open at the start counted from then."""
    config = load_text("""
maintenance:
  - {name: upgrade, targets: [a], start: 2026-12-10T22:00, end: 2026-12-11T02:00}
  - {name: sunday-night, weekdays: [sunday], start_time: "23:00", duration: 3h}
  - {name: overlap, targets: [a], weekdays: [sunday], start_time: "23:30", duration: 1h}
targets:
  - {name: a, api: gemini, model: gemini-3-pro-image}
  - {name: b, api: gemini, model: gemini-3-pro-image}
  - {name: c, api: gemini, model: gemini-3-pro-image}
""")
    lines: list[str] = []
    monday = datetime.datetime(2026, 12, 7, tzinfo=datetime.timezone.utc).timestamp()  # Sunday 23:00 + 3h still open
    print_plan(config, lines.append, now=monday)
    text = "\n".join(lines)
    usd_month = float(re.search(r"\$([\d,.]+)/month \(30 days\)", text)[1].replace(",", "")) / 3  # each target's
    b_hours = 2 + 4 * 3  # the rest of the open Sunday night, then four more
    a_hours = b_hours + 4  # and the one-off upgrade; the overlapping window adds nothing
    assert f"maintenance b: paused {b_hours:.1f} h of the next 30 days" in text
    assert f"maintenance a: paused {a_hours:.1f} h of the next 30 days" in text
    saved = usd_month * (a_hours + 2 * b_hours) / (30 * 24)
    total = re.search(r"^total with maintenance windows: \$([\d,.]+) over the next 30 days$", text, re.M)
    assert float(total[1].replace(",", "")) == pytest.approx(3 * usd_month - saved, abs=0.01)


def test_the_documented_prometheus_config_matches_the_plan_and_an_unset_one_warns(tmp_path):
    """docs/alerting.md's prometheus.yml sets the intervals --config.check's detection times assume;
    a config that leaves them to Prometheus' 1m default gets a warning for each."""
    from exporter.plan import prometheus_warnings

    docs = (Path(__file__).resolve().parent.parent / "docs" / "alerting.md").read_text()
    [snippet] = re.findall(r"```yaml\n(# prometheus.yml\n.*?)```", docs, re.S)
    documented = tmp_path / "documented.yml"
    documented.write_text(snippet)
    assert prometheus_warnings(str(documented)) == []
    bare = tmp_path / "bare.yml"
    bare.write_text("scrape_configs: [{job_name: nanobanana, static_configs: [{targets: ['localhost:9877']}]}]\n")
    warnings = prometheus_warnings(str(bare))
    assert [w.split(" is ")[0] for w in warnings] == [f"{bare}: scrape_interval", f"{bare}: evaluation_interval"]
    assert all("1m (unset: Prometheus' default) but the plan assumes 15s" in w for w in warnings)
