"""Plan before you pay: what a config will cost and how fast it can detect an outage.

`--config.check` prints it. Figures are steady-state estimates at the configured prices: every
probe succeeds and is charged its per-image price; confirmations add up to `confirm.count` probes
per failure streak; liveness checks are free; a canary (exporter/background/canary.py) costs its estimated
usage at the family's text rates, per target.

Worst-case detection assumes the outage starts right after a probe started, every failing probe
runs into its timeout (a hanging API), the probe alert fires after CONSECUTIVE_FAILURES failures in
a row (alertmanager/rules.yml), Prometheus needs up to one scrape interval to see the last failure
and one evaluation interval to evaluate the rule, and Alertmanager holds a new group for its
group_wait (alertmanager/alertmanager.yml). A slowdown is seen the same way: every probe slower than
its threshold (at worst, as slow as its timeout), confirmed like a failure, CONSECUTIVE_SLOW in a
row, then NanoBananaLatencyHigh's `for`. benchmarks/detection.py measures the same through the
shipped rules and prints these bounds beside its figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.models import catalog
from exporter.domain.budget import GLOBAL, target_scope
from exporter.domain.targets import Config, Series
from exporter.contract.rules import alert
from exporter.contract.settings import CONSECUTIVE_FAILURES, CONSECUTIVE_SLOW
from exporter.common.durations import format_duration, parse_duration
from exporter.background.canary import estimated_cost, has_canary
from exporter.background.liveness import has_check
from exporter.background.scheduler import JITTER, MAX_JITTER
from exporter.exposition.service import counted

DAY = 86400.0
MONTH_DAYS = 30
SCRAPE_INTERVAL = 15.0
EVALUATION_INTERVAL = 15.0
ALERT_FOR = 0.0  # NanoBananaProbeFailing
LATENCY_FOR = parse_duration(alert("NanoBananaLatencyHigh").for_)
GROUP_WAIT = 30.0  # alertmanager/alertmanager.yml route.group_wait
ALLOWANCE = SCRAPE_INTERVAL + EVALUATION_INTERVAL + ALERT_FOR + GROUP_WAIT


PROMETHEUS_DEFAULT_INTERVAL = "1m"  # Prometheus' own default for both intervals
EXPORTER_JOB = "nanobanana"  # the scrape job the rules expect (nanobanana:exporter_job:info)


def prometheus_warnings(path: str) -> list[str]:
    """Where a Prometheus config disagrees with the intervals the detection times assume (its global
    scrape and evaluation intervals, and the exporter job's own scrape interval)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as err:
        return [f"{path}: cannot read it as a Prometheus config: {err}"]
    if not isinstance(doc, dict):
        return [f"{path}: not a Prometheus config (expected a mapping at the top)"]
    glob = doc.get("global") or {}
    jobs = [j for j in doc.get("scrape_configs") or [] if isinstance(j, dict) and j.get("job_name") == EXPORTER_JOB]
    job = jobs[0] if jobs else {}
    out = []
    for key, value, assumed in (("scrape_interval", job.get("scrape_interval", glob.get("scrape_interval")), SCRAPE_INTERVAL),
                                ("evaluation_interval", glob.get("evaluation_interval"), EVALUATION_INTERVAL)):
        shown = f"{value} " if value is not None else f"{PROMETHEUS_DEFAULT_INTERVAL} (unset: Prometheus' default) "
        try:
            seconds = parse_duration(str(value or PROMETHEUS_DEFAULT_INTERVAL))
        except ValueError:
            out.append(f"{path}: {key} {value!r} is not a duration")
            continue
        if seconds != assumed:
            out.append(f"{path}: {key} is {shown}but the plan assumes {assumed:g}s: each alert can fire up to "
                       f"{seconds - assumed:g}s later than --config.check's detection times; set it to {assumed:g}s")
    if not jobs:
        out.append(f"{path}: no scrape job named {EXPORTER_JOB!r} (NanoBananaExporterDown expects it, rules.yml "
                   "nanobanana:exporter_job:info)")
    return out


@dataclass(frozen=True)
class SeriesPlan:
    series: Series
    probes_per_day: float
    cost_per_day: float
    detect_paid: float  # seconds: an outage only paid calls see (generation fails; the canary's text calls too)
    detect_api: float  # seconds: an outage the free liveness check sees too (the whole API is down)
    detect_slow: float = 0.0  # seconds: every probe slower than its latency threshold


def failures_seen(series: Series, first_start: float, confirmations: bool = True, count: int = CONSECUTIVE_FAILURES) -> float:
    """When the `count`-th failing (or slow) probe ends, the first one starting at `first_start`."""
    confirm, timeout = series.target.confirm, series.timeout
    start, end, used = first_start, first_start + timeout, 0
    for _ in range(count - 1):
        if confirmations and used < confirm.count and confirm.after < series.interval:
            start, used = end + confirm.after, used + 1
        else:
            start = start + series.interval
        end = start + timeout
    return end


def plan_series(series: Series) -> SeriesPlan:
    interval = series.interval
    probes = DAY / interval
    jitter = min(interval * JITTER, MAX_JITTER)
    detect_paid = failures_seen(series, interval + jitter) + ALLOWANCE
    detect_api = detect_paid
    liveness = series.target.liveness
    if has_check(series.target) and liveness.trigger_probes:
        # the check fails at worst one interval (plus its timeout) in; it probes the series at once
        detect_api = min(detect_paid, failures_seen(series, liveness.interval + liveness.timeout) + ALLOWANCE)
    canary = series.target.canary
    if has_canary(series.target) and canary.trigger_after:
        # the trigger_after-th failing canary ends at worst that many intervals (and its timeout) in;
        # it probes the series at once
        canary_fails = canary.trigger_after * canary.interval + canary.timeout
        detect_paid = min(detect_paid, failures_seen(series, canary_fails) + ALLOWANCE)
        detect_api = min(detect_api, detect_paid)
    detect_slow = failures_seen(series, interval + jitter, count=CONSECUTIVE_SLOW) + ALLOWANCE - ALERT_FOR + LATENCY_FOR
    return SeriesPlan(series, probes, probes * series.price, detect_paid, detect_api, detect_slow)


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def paused_share(config: Config, target: str, now: float) -> float:
    """The share (0-1) of the next MONTH_DAYS days that maintenance windows pause the target."""
    span = MONTH_DAYS * DAY
    return config.maintenance.paused_seconds(target, now, now + span) / span


def print_plan(config: Config, out: Callable[[str], Any] = print, now: float | None = None) -> list[SeriesPlan]:
    plans = [plan_series(s) for s in config.series]
    rows = [("target", "api", "model", "resolution", "thinking", "interval", "timeout", "probes/day", "usd/day",
             "usd/month", "detect", "detect-paid", "detect-slow")]
    for p in plans:
        s = p.series
        rows.append((*s.key, format_duration(s.interval), format_duration(s.timeout), f"{p.probes_per_day:g}",
                     _usd(p.cost_per_day), _usd(p.cost_per_day * MONTH_DAYS), format_duration(p.detect_api),
                     format_duration(p.detect_paid), format_duration(p.detect_slow)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    total_probes = sum(p.probes_per_day for p in plans)
    total_cost = sum(p.cost_per_day for p in plans)
    checks = sum(DAY / t.liveness.interval for t in config.targets if has_check(t))
    canaries = canary_costs(config)
    total_cost += sum(canaries.values())
    out(f"total: {total_probes:g} paid probes/day, {_usd(total_cost)}/day, {_usd(total_cost * MONTH_DAYS)}/month "
        f"({MONTH_DAYS} days); {checks:g} free liveness checks/day")
    now = time.time() if now is None else now
    saved = 0.0
    for t in config.targets if config.maintenance.windows else ():
        share = paused_share(config, t.name, now)
        if share:
            usd = (sum(p.cost_per_day for p in plans if p.series.target.name == t.name) + canaries.get(t.name, 0.0)) * MONTH_DAYS
            saved += usd * share
            out(f"maintenance {t.name}: paused {share * MONTH_DAYS * 24:.1f} h of the next {MONTH_DAYS} days "
                f"({share:.1%}), saving {_usd(usd * share)} of its {_usd(usd)}/month")
    if saved:
        out(f"total with maintenance windows: {_usd(total_cost * MONTH_DAYS - saved)} over the next {MONTH_DAYS} days")
    for name, usd in canaries.items():
        target = next(t for t in config.targets if t.name == name)
        out(f"canary {name}: {DAY / target.canary.interval:g} text calls/day, about {_usd(usd)}/day (included above; "
            f"{canary_price(target)} each at an estimated usage); it cannot see a fault of image output alone")
    out("detect: worst case from the start of a whole-API outage (the free liveness check sees it too) to a firing")
    out(f"  {CONSECUTIVE_FAILURES}-failures alert; detect-paid: an outage only paid calls see (generation fails).")
    out(f"  detect-slow: every probe slower than its latency threshold ({CONSECUTIVE_SLOW} in a row, confirmed like a"
        f" failure, then the latency alert's for {LATENCY_FOR:g}s).")
    out(f"  All include probe timeouts and an allowance of {ALLOWANCE:g}s (scrape {SCRAPE_INTERVAL:g}s +"
        f" evaluation {EVALUATION_INTERVAL:g}s + for {ALERT_FOR:g}s + Alertmanager group_wait {GROUP_WAIT:g}s).")
    out(f"  Prometheus is assumed to scrape the exporter every {SCRAPE_INTERVAL:g}s and evaluate the rules every "
        f"{EVALUATION_INTERVAL:g}s (docs/alerting.md's prometheus.yml; --prometheus.config FILE checks yours).")
    out("costs: every probe succeeding at its per-image price; confirmations add up to confirm.count probes per failure streak.")
    if canaries:
        out("  detect and detect-paid include the canary: trigger_after failed canaries in a row probe the series at once.")
    for warning in model_warnings(config) + budget_warnings(config, plans):
        out(f"WARNING: {warning}")
    out(f"{counted(len(config.series), 'series', 'series')} in {counted(len(config.targets), 'target')}")
    return plans


def canary_costs(config: Config) -> dict[str, float]:
    """Target name -> USD per day of its canary, for the targets that run one."""
    return {t.name: DAY / t.canary.interval * estimated_cost(t) for t in config.targets if has_canary(t)}


def canary_price(target) -> str:
    return f"${estimated_cost(target):.4f}"


def model_warnings(config: Config) -> list[str]:
    """Model ids that are shut down, shut down soon or deprecated (exporter/models/catalog.py), and ids the
    catalog does not know, whose sizes and levels go unchecked and whose price is a guess."""
    warnings, seen = [], set()
    for t in config.targets:
        if t.model in seen:
            continue
        seen.add(t.model)
        lifecycle = catalog.lifecycle_warning(t.model, catalog.today(), t.api)
        if lifecycle:
            warnings.append(lifecycle)
        if t.family is catalog.UNKNOWN:
            warnings.append(f"model {t.model} (target {t.name}) is not in the model catalog: its sizes, aspect ratios "
                            "and thinking levels are not checked and it is priced as Nano Banana Pro; set family: "
                            f"({', '.join(catalog.FAMILIES)}) or price:")
    return warnings


def budget_warnings(config: Config, plans: list[SeriesPlan]) -> list[str]:
    budget = config.budget
    if budget is None:
        return []
    canaries = canary_costs(config)
    spend = {GLOBAL: sum(p.cost_per_day for p in plans) + sum(canaries.values())}
    for p in plans:
        scope = target_scope(p.series.target.name)
        spend[scope] = spend.get(scope, 0.0) + p.cost_per_day
    for name, usd in canaries.items():
        spend[target_scope(name)] = spend.get(target_scope(name), 0.0) + usd
    limits = {target_scope(name): usd for name, usd in budget.targets.items()}
    if budget.daily_limit_usd is not None:
        limits[GLOBAL] = budget.daily_limit_usd
    warnings = []
    for scope, limit in limits.items():
        planned = spend.get(scope, 0.0)
        if planned > limit:
            hours = 24 * limit / planned
            warnings.append(f"the plan costs {_usd(planned)}/day in scope {scope}, more than its daily budget "
                            f"{_usd(limit)}: its paid probes would pause about {hours:.1f} h into each day")
    return warnings
