"""Benchmark (not a unit test): how fast, and how falsely, each probing plan alerts, through the
alert rules as shipped (alertmanager/rules.yml) and the real Prometheus rule engine (promtool).

    python benchmarks/detection.py [--speedup 15] [--seed 12] [--scenario NAME ...] [--plan NAME ...]

Timing is the measurement: run it on a quiet machine and not under `nice`. Every real millisecond
the event loop is late counts --speedup times; the run prints the scheduler's mean lateness in
simulated seconds so a starved run shows itself (probes then time out and page falsely).

1. Drives the exporter's own scheduler, prober and liveness checker in-process against the
   simulator, every duration (intervals, timeouts, confirmation delay, liveness interval, simulated
   latency, slow-probe thresholds) divided by --speedup. All scenarios run at once, each against a
   simulator of its own; every plan of a scenario is a target of the same exporter.
2. Scrapes the exporter's metrics every 15 simulated seconds, as Prometheus would, through the
   exporter's own collector (exporter.exposition.metrics), on a mirror of the store whose attempts are scaled
   back to simulated seconds, so the histogram buckets, timestamps and intervals are the real ones.
3. Writes the scraped series as a promtool rule test (input_series at 15 s, evaluation every 15 s)
   that loads alertmanager/rules.yml and asks, at the end, when each alert was first firing
   (ALERTS). promtool reports what it got; that is the answer.
4. Detection time = first firing of the plan's first alert + Alertmanager's group_wait for its
   severity (alertmanager/alertmanager.yml) - fault start. A false page is a critical alert that
   fires in a scenario that should not page, or before the fault starts. Cost per day =
   nanobanana_probe_cost_usd_total at the list price, per simulated day.

Scenarios: see SCENARIOS. Plans: default (the exporter's defaults), canary (the defaults with the
canary on: a text-only call a minute), canary-fast (images every 30 minutes, a canary every 30 s,
two failed canaries probe at once), naive (a 1K probe every minute,
no confirmations, no liveness checks) and dense (a probe every 5 minutes with the default checks).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.domain import detection  # noqa: E402
from exporter.background.canary import CanaryChecker  # noqa: E402
from exporter.loading.config import (DEFAULT_INTERVAL, DEFAULT_TIMEOUTS, CanarySettings, ConfirmSettings,  # noqa: E402
                             LivenessSettings, load_text)
from exporter.background.liveness import LivenessChecker  # noqa: E402
from exporter.exposition.metrics import CheckCollector, ProbeCollector  # noqa: E402
from exporter.plan import plan_series  # noqa: E402
from exporter.probing.probe import Prober  # noqa: E402
from exporter.background.scheduler import MAX_JITTER, Scheduler  # noqa: E402
from exporter.simulator import Simulator, start  # noqa: E402
from exporter.domain.state import Store  # noqa: E402

RULES = ROOT / "alertmanager" / "rules.yml"
ALERTMANAGER = ROOT / "alertmanager" / "alertmanager.yml"
MODEL = "gemini-3-pro-image"
SCRAPE = 15.0  # simulated seconds; Prometheus' scrape and evaluation interval
WARMUP = 3600.0  # healthy probing before any fault: the rules' windows fill with normal probes
DAY = 86400.0
HOUR = 3600.0
MIN = 60.0


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    faults: tuple[dict, ...]  # simulator faults, start/end in simulated seconds after WARMUP
    start: float  # fault start, simulated seconds after WARMUP
    length: float  # simulated seconds after WARMUP
    pages: bool  # should the on-call person be paged?
    incident_after: float | None = None  # an official incident appears this long after the start


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("api-outage", "the whole API answers 503, metadata calls included",
             ({"kind": "status", "status": 503, "metadata": True, "start": 0, "end": 30 * MIN},), 0, 45 * MIN, True),
    Scenario("generation-outage", "image generation answers 503 (overloaded); metadata calls work",
             ({"kind": "status", "status": 503, "start": 0, "end": 30 * MIN},), 0, 45 * MIN, True),
    Scenario("image-only-outage", "image generation answers 503; text generation and metadata calls work",
             ({"kind": "status", "status": 503, "image_only": True, "start": 0, "end": 30 * MIN},), 0, 45 * MIN, True),
    Scenario("4k-only", "only 4K generation fails (the plan probes 4K too here)",
             ({"kind": "status", "status": 503, "resolution": "4K", "start": 0, "end": 30 * MIN},), 0, 45 * MIN, True),
    # 20 % failing is 40 times the error budget of a 99.5 % objective: a page is right.
    Scenario("intermittent-20", "20 % of generations fail for 2 h",
             ({"kind": "status", "status": 503, "rate": 0.2, "start": 0, "end": 2 * HOUR},), 0, 2 * HOUR, True),
    # slow_drip adds `seconds` to every answer: 1K ~17.5 s + 15 s = ~33 s (threshold 25 s, timeout 45 s;
    # 3-4x slower would be 52-70 s, past the 1K timeout: a timeout outage, not a latency one).
    Scenario("latency-2x", "every probe ~1.9x as slow (1K ~33 s: over the threshold, under the timeout) for 2 h",
             ({"kind": "slow_drip", "seconds": 15, "start": 0, "end": 2 * HOUR},), 0, 2 * HOUR, False),
    Scenario("rate-limit-storm", "every generation answers 429 for 1 h",
             ({"kind": "status", "status": 429, "start": 0, "end": HOUR},), 0, HOUR + 15 * MIN, False),
    Scenario("single-failure", "one failed probe (one 503 window of 20 s)",
             ({"kind": "status", "status": 503, "start": 0, "end": 20},), 0, 45 * MIN, False),
    Scenario("late-incident", "generation outage; the official incident appears 40 min in",
             ({"kind": "status", "status": 503, "start": 0, "end": HOUR},), 0, HOUR, True, incident_after=40 * MIN),
)


def plans() -> dict[str, dict]:
    """Plan name -> target settings (unscaled seconds)."""
    confirm, liveness, canary = ConfirmSettings(), LivenessSettings(), CanarySettings()
    default = {"interval": DEFAULT_INTERVAL, "confirm": {"after": confirm.after, "count": confirm.count},
               "liveness": {"interval": liveness.interval, "timeout": liveness.timeout}}
    canary_on = {"enabled": True, "interval": canary.interval, "timeout": canary.timeout}
    return {
        "default": default,
        "canary": {**default, "canary": canary_on},
        # the nearest plan to a tenth of naive's cost with naive's detection: images every 30 minutes,
        # a canary every 30 s, two failed in a row probe at once
        "canary-fast": {**default, "interval": 1800.0, "canary": {**canary_on, "interval": 30.0, "trigger_after": 2}},
        "dense": {**default, "interval": 300.0},
        "naive": {"interval": 60.0, "confirm": {"count": 0}, "liveness": {"enabled": False}},
    }


PLANS = tuple(plans())


def target_config(scenario: Scenario, plan: str, base_url: str, scale: float) -> dict:
    """One target; durations multiplied by `scale` (1 for the simulated-seconds mirror)."""
    settings = plans()[plan]

    def seconds(value: float) -> str:
        return f"{value * scale * 1000:.6f}ms"

    checks = {key: {k: seconds(v) if k in ("interval", "timeout") else v for k, v in settings[key].items()}
              for key in ("liveness", "canary") if key in settings}
    return {"name": f"{scenario.name}-{plan}", "api": "gemini", "base_url": base_url, "model": MODEL,
            "interval": seconds(settings["interval"]),
            "timeout": {r: seconds(t) for r, t in DEFAULT_TIMEOUTS.items()},
            "resolutions": ["1K", "4K"] if scenario.name == "4k-only" else ["1K"],
            "confirm": {k: seconds(v) if k == "after" else v for k, v in settings["confirm"].items()}, **checks}


@dataclass
class Recorder:
    """The scrapes: series (label text) -> {step: value}."""

    samples: dict[str, dict[int, float]] = field(default_factory=dict)
    names: frozenset[str] = frozenset()

    def scrape(self, step: int, text: str) -> None:
        wanted = "\n".join(line for line in text.splitlines() if re.split(r"[{ ]", line, maxsplit=1)[0] in self.names)
        for family in text_string_to_metric_families(wanted):
            for sample in family.samples:
                if sample.name not in self.names:
                    continue
                labels = ",".join(f'{k}="{v}"' for k, v in sorted({**sample.labels, "job": "nanobanana",
                                                                    "instance": "exporter:9877"}.items()))
                self.samples.setdefault(f"{sample.name}{{{labels}}}", {})[step] = sample.value

    def add(self, series: str, step: int, value: float) -> None:
        self.samples.setdefault(series, {})[step] = value


def rule_metric_names() -> frozenset[str]:
    """The sample names the shipped rules read: only those are recorded."""
    exprs = " ".join(r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"])
    return frozenset(re.findall(r"\bnanobanana_[a-z_]+", exprs))


class Mirror:
    """The store in simulated seconds: every new attempt of the real store, scaled back."""

    def __init__(self, config, speedup: float, wall_zero: float, epoch: float):
        self.store = Store()
        self.store.apply(config)
        self.collector = ProbeCollector(self.store)
        self.speedup, self.wall_zero, self.epoch = speedup, wall_zero, epoch
        self.seen: dict[tuple, int] = {}

    def sim_time(self, wall: float) -> float:
        return self.epoch + (wall - self.wall_zero) * self.speedup

    def update(self, real: Store) -> None:
        for state in real:
            mirror = self.store.get(state.series.key)
            total = sum(state.probes.values())
            new = total - self.seen.get(state.series.key, 0)
            self.seen[state.series.key] = total
            for attempt in list(state.history)[-new:] if new else []:
                mirror.record(dataclasses.replace(
                    attempt, started=self.sim_time(attempt.started), duration=attempt.duration * self.speedup,
                    phases={k: v * self.speedup for k, v in attempt.phases.items()}))
            mirror.skipped = dict(state.skipped)
            mirror.version += 1


async def run(scenarios: list[Scenario], plan_names: list[str], speedup: float, seed: int, warmup: float = WARMUP) -> dict:
    random.seed(seed)
    saved = dict(detection.LATENCY_SECONDS)
    for key in detection.LATENCY_SECONDS:  # the slow threshold is in seconds too
        detection.LATENCY_SECONDS[key] /= speedup
    sims, runners = {}, []
    targets, mirror_targets = [], []
    for scenario in scenarios:
        sim = Simulator(speed=1 / speedup)
        runner, base_url = await start(sim)
        sims[scenario.name] = sim
        runners.append(runner)
        for plan in plan_names:
            targets.append(target_config(scenario, plan, base_url, 1 / speedup))
            mirror_targets.append(target_config(scenario, plan, base_url, 1))
    config = load_text(yaml.safe_dump({"targets": targets}), "<benchmark>")
    mirror_config = load_text(yaml.safe_dump({"targets": mirror_targets}), "<benchmark mirror>")
    loop = asyncio.get_running_loop()
    store, prober = Store(), Prober()
    scheduler = Scheduler(store, prober, max_jitter=MAX_JITTER / speedup)  # the jitter cap is in seconds too
    liveness = LivenessChecker(on_failure=scheduler.liveness_failed)
    canary = CanaryChecker(on_failure=scheduler.canary_failed, refusal=scheduler.refusal)
    wall_zero = time.time()  # promtool's time 0: the mirror's timestamps count from here
    mirror = Mirror(mirror_config, speedup, wall_zero, 0.0)
    recorder = Recorder(names=rule_metric_names())
    length = warmup + max(s.length for s in scenarios) + 15 * MIN
    for scenario in scenarios:  # faults in real seconds from now
        sims[scenario.name].configure({"faults": [
            {**f, **{k: (warmup + f[k]) / speedup for k in ("start", "end") if k in f},
             **({"seconds": f["seconds"] / speedup} if "seconds" in f else {})} for f in scenario.faults]})
    zero = loop.time()
    scheduler.apply(config)
    liveness.apply(config)
    canary.apply(config)
    live = CheckCollector(liveness)
    steps = int(length // SCRAPE)
    for step in range(steps + 1):
        await asyncio.sleep(max(0.0, zero + step * SCRAPE / speedup - loop.time()))
        mirror.update(store)
        text = mirror.collector.render().decode()
        recorder.scrape(step, text)
        for family in live.collect():
            for sample in family.samples:
                if sample.name == "nanobanana_liveness_outcome":
                    labels = ",".join(f'{k}="{v}"' for k, v in sorted({**sample.labels, "job": "nanobanana",
                                                                        "instance": "exporter:9877"}.items()))
                    recorder.add(f"{sample.name}{{{labels}}}", step, sample.value)
        recorder.add('up{instance="exporter:9877",job="nanobanana"}', step, 1)
        recorder.add('nanobanana_exporter_config_last_reload_success_timestamp_seconds{instance="exporter:9877",'
                     'job="nanobanana"}', step, 0)
        t = step * SCRAPE - warmup
        for scenario in scenarios:
            if scenario.incident_after is not None and scenario.start + scenario.incident_after <= t < scenario.length:
                recorder.add(f'nanobanana_upstream_incident_info{{id="sim-{scenario.name}",impact="outage",'
                             f'instance="exporter:9877",job="nanobanana",product="Gemini on Agent Platform",'
                             f'source="google_cloud",title="Elevated HTTP 503 errors",url="https://status.example/"}}',
                             step, 1)
    days = length / DAY
    late = store.lateness_sum / max(1, sum(store.lateness_counts)) * speedup
    bounds = {}
    plan_of = {f"{scenario.name}-{plan}": plan for scenario in scenarios for plan in plan_names}
    for series in mirror_config.series:  # --config.check's worst cases, for the same plans
        plan = plan_of[series.target.name]
        if series.resolution == "1K" and plan not in bounds:
            p = plan_series(series)
            bounds[plan] = (p.detect_api, p.detect_paid, p.detect_slow)
    costs = {state.series.target.name: 0.0 for state in store}
    for state in store:
        costs[state.series.target.name] += state.cost / days
    canaries: dict[str, list[float]] = {}  # plan -> [calls, USD] per simulated day, over its scenarios
    for state in canary:  # the canary's tokens at the family's text rates
        costs[state.target.name] += state.cost / days
        calls = canaries.setdefault(plan_of[state.target.name], [0.0, 0.0])
        calls[0] += sum(state.checks.values()) / days / len(scenarios)
        calls[1] += state.cost / days / len(scenarios)
    await scheduler.stop()
    await liveness.stop()
    await canary.stop()
    await prober.aclose()
    for runner in runners:
        await runner.cleanup()
    detection.LATENCY_SECONDS.update(saved)
    return {"recorder": recorder, "steps": steps, "costs": costs, "warmup": warmup, "lateness": late, "bounds": bounds,
            "canaries": canaries}


def promtool_first_firing(recorder: Recorder, steps: int, save: str | None = None,
                          window: float = 20 * MIN) -> list[tuple[dict[str, str], float]]:
    """(labels, first firing time in simulated seconds) of every alert that fired, from promtool."""
    series = []
    for name, values in recorder.samples.items():
        cells = [values.get(step) for step in range(steps + 1)]
        series.append({"series": name, "values": " ".join("_" if v is None else f"{v:g}" for v in cells)})
    # promtool's query engine loads at most 10,000 samples per query: ask window by window, in
    # shorter windows when many alerts fire
    ends = [min(steps * SCRAPE, window * (n + 1)) for n in range(int(-(-steps * SCRAPE // window)))]
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": f"{SCRAPE:g}s",
        "tests": [{
            "interval": f"{SCRAPE:g}s",
            "input_series": series,
            "promql_expr_test": [{
                "expr": f'min_over_time(timestamp(ALERTS{{alertstate="firing"}})[{window:g}s:{SCRAPE:g}s])',
                "eval_time": f"{end:g}s",
                "exp_samples": [],
            } for end in ends],
        }],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(save or Path(tmp) / "detection_test.yml")
        path.write_text(yaml.safe_dump(test, width=1 << 20))
        out = promtool(path)
    if "too many samples" in out and window > 2 * SCRAPE:
        return promtool_first_firing(recorder, steps, save, window / 2)
    return parse_first_firing(out)


def promtool(path: Path) -> str:
    done = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=1800)
    return "" if done.returncode == 0 else done.stdout + done.stderr


def parse_first_firing(out: str) -> list[tuple[dict[str, str], float]]:
    if not out:
        return []  # nothing fired at all
    if "err:" in out or "got:" not in out:
        raise SystemExit(f"promtool failed:\n{out[-3000:]}")
    first: dict[tuple, float] = {}
    for block in out.split("got:")[1:]:
        block = block.split("expr:")[0]
        for labels, value in re.findall(r"\{([^}]*)\} ([-+.\deE]+)", block):
            key = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels)))
            first[key] = min(first.get(key, float("inf")), float(value))
    return [(dict(key), t) for key, t in first.items()]


def group_waits() -> dict[str, float]:
    """Alertmanager's group_wait per severity, from the shipped alertmanager.yml."""
    from exporter.common.durations import parse_duration

    route = yaml.safe_load(ALERTMANAGER.read_text())["route"]
    waits = {}
    for severity in ("critical", "warning", "info"):
        wait = route.get("group_wait", "30s")
        for child in route.get("routes", []):
            if f'severity="{severity}"' in child.get("matchers", []):
                wait = child.get("group_wait", wait)
        waits[severity] = parse_duration(wait)
    return waits


@dataclass
class Verdict:
    first: str  # "AlertName (severity)" or "-"
    detect: float | None  # seconds from fault start, including group_wait
    false_pages: int  # critical alerts where none should fire, or active before the fault
    false_warnings: int  # warnings active before the fault started
    cost: float


def pending_seconds() -> dict[str, float]:
    """Each alert's `for:` (the same for every rule of one name), from the shipped rules."""
    from exporter.common.durations import parse_duration

    return {r["alert"]: parse_duration(r["for"]) if "for" in r else 0.0
            for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}


def verdicts(scenarios: list[Scenario], plan_names: list[str], result: dict) -> dict[tuple[str, str], Verdict]:
    fired = promtool_first_firing(result["recorder"], result["steps"], result.get("save"))
    waits, pending, warmup = group_waits(), pending_seconds(), result.get("warmup", WARMUP)
    out = {}
    for scenario in scenarios:
        for plan in plan_names:
            target = f"{scenario.name}-{plan}"
            # (labels, firing, active): an alert whose condition held before the fault is noise
            mine = [(labels, t - warmup, t - warmup - pending[labels["alertname"]]) for labels, t in fired
                    if labels.get("target") == target or labels.get("id") == f"sim-{scenario.name}"]
            early = [labels for labels, _, active in mine if active < scenario.start]
            false_pages = sum(1 for labels, _, active in mine if labels["severity"] == "critical"
                              and (not scenario.pages or active < scenario.start))
            false_warnings = sum(1 for labels in early if labels["severity"] == "warning")
            seen = sorted(((t + waits[labels["severity"]], labels) for labels, t, active in mine
                           if active >= scenario.start), key=lambda x: x[0])
            seen = [x for x in seen if x[1]["severity"] != "info"] or seen
            if seen:
                t, labels = seen[0]
                first, detect = f"{labels['alertname']} ({labels['severity']})", t - scenario.start
            else:
                first, detect = "-", None
            out[scenario.name, plan] = Verdict(first, detect, false_pages, false_warnings, result["costs"][target])
    return out


def table(scenarios: list[Scenario], plan_names: list[str], v: dict[tuple[str, str], Verdict]) -> str:
    rows = ["| scenario | plan | first alert | detected after | false pages | early warnings | USD/day |",
            "|---|---|---|---|---|---|---|"]
    for scenario in scenarios:
        for plan in plan_names:
            x = v[scenario.name, plan]
            detect = "-" if x.detect is None else f"{x.detect:.0f} s"
            rows.append(f"| {scenario.name} | {plan} | {x.first} | {detect} | {x.false_pages} | {x.false_warnings} "
                        f"| {x.cost:.2f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speedup", type=float, default=15.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--scenario", action="append", choices=[s.name for s in SCENARIOS])
    parser.add_argument("--plan", action="append", choices=PLANS)
    parser.add_argument("--save", metavar="FILE", help="keep the promtool test file (the recorded series) here")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # every failed probe logs a warning; the figures are the output
    scenarios = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    plan_names = args.plan or list(PLANS)
    result = asyncio.run(run(scenarios, plan_names, args.speedup, args.seed))
    result["save"] = args.save
    v = verdicts(scenarios, plan_names, result)
    print(f"{len(scenarios)} scenarios x {len(plan_names)} plans at {args.speedup:g}x, seed {args.seed}; "
          f"rules: alertmanager/rules.yml through promtool; detection includes group_wait {group_waits()}")
    for s in scenarios:
        print(f"  {s.name}: {s.what} ({'should page' if s.pages else 'should not page'})")
    print(f"  scheduler lateness: mean {result['lateness']:.1f} simulated seconds per probe start (machine load)")
    for plan, (api, paid, slow) in result["bounds"].items():
        print(f"  --config.check worst case, {plan}: detect {api:.0f} s, detect-paid {paid:.0f} s, detect-slow {slow:.0f} s")
    for plan, (calls, usd) in result["canaries"].items():
        print(f"  canary calls, {plan}: {calls:.0f} per simulated day, ${usd:.2f} a day per target (in USD/day below)")
    print()
    print(table(scenarios, plan_names, v))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
