"""Benchmark (not a unit test): what the default probing plan costs and how fast it detects an
outage, against the naive plan (a 1K probe every minute, alert after 3 consecutive failures).

    python benchmarks/cost.py [--days 1] [--speedup 1000] [--seed 6]

Runs the exporter's own scheduler, prober and liveness checker in-process against the simulator,
with every duration (intervals, timeouts, confirmation delay, liveness interval, simulated latency)
divided by --speedup, so a simulated day takes 86.4 s at the default speed-up. Both plans probe the
same simulator at the same time, through the same scheduled outages, alternating two kinds:

  api         the whole API answers 503, the free metadata calls included (a front-end outage)
  generation  only image generation answers 503; metadata calls still work (e.g. the model is overloaded)

The alert condition is the probe alert's, evaluated on the exporter's own metrics the way Prometheus
would: a scrape of nanobanana_probe_consecutive_failures every 15 s, a rule evaluation every 15 s
(half an interval after the scrape) on the last scrape, firing when it is >= 3 (`for: 0`). Detection
time = first firing evaluation - outage start. Cost = nanobanana_probe_cost_usd_total at the list
price, per simulated day.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter.loading.config import DEFAULT_INTERVAL, DEFAULT_TIMEOUTS, ConfirmSettings, LivenessSettings, load_text  # noqa: E402
from exporter.background.liveness import LivenessChecker  # noqa: E402
from exporter.plan import CONSECUTIVE_FAILURES, EVALUATION_INTERVAL, SCRAPE_INTERVAL  # noqa: E402
from exporter.probing.probe import Prober  # noqa: E402
from exporter.background.scheduler import MAX_JITTER, Scheduler  # noqa: E402
from exporter.simulator import Simulator, start  # noqa: E402
from exporter.domain.state import Store  # noqa: E402

DAY = 86400.0
MODEL = "gemini-3-pro-image"
OUTAGE_SECONDS = 30 * 60.0  # long enough for a 15-minute plan to see it
PLANS = ("default", "naive")


@dataclass
class Outage:
    kind: str  # "api" or "generation"
    start: float  # simulated seconds
    end: float
    detected: dict[str, float] = field(default_factory=dict)  # plan -> seconds from start to firing


def ms(seconds: float, speedup: float) -> str:
    return f"{seconds * 1000 / speedup:.3f}ms"


def exporter_config(base_url: str, speedup: float):
    confirm, liveness = ConfirmSettings(), LivenessSettings()
    default = {  # the exporter's defaults, every duration scaled
        "name": "default", "interval": ms(DEFAULT_INTERVAL, speedup), "timeout": ms(DEFAULT_TIMEOUTS["1K"], speedup),
        "confirm": {"after": ms(confirm.after, speedup), "count": confirm.count},
        "liveness": {"interval": ms(liveness.interval, speedup), "timeout": ms(liveness.timeout, speedup)},
    }
    naive = {"name": "naive", "interval": ms(60, speedup), "timeout": ms(DEFAULT_TIMEOUTS["1K"], speedup),
             "confirm": {"count": 0}, "liveness": {"enabled": False}}
    targets = [{**t, "api": "gemini", "base_url": base_url, "model": MODEL, "resolutions": ["1K"]} for t in (default, naive)]
    return load_text(yaml.safe_dump({"targets": targets}), "<benchmark>")


def schedule_outages(days: float, rng: random.Random) -> list[Outage]:
    """One outage per 3-hour slot, kinds alternating, at a random place in its slot."""
    slot = 3 * 3600.0
    outages = []
    for n in range(int(days * DAY // slot)):
        start = n * slot + rng.uniform(15 * 60, slot - OUTAGE_SECONDS - 15 * 60)
        outages.append(Outage("api" if n % 2 == 0 else "generation", start, start + OUTAGE_SECONDS))
    return outages


async def run(days: float, speedup: float, seed: int) -> tuple[list[Outage], dict[str, dict[str, float]], float]:
    rng = random.Random(seed)
    random.seed(seed)
    simulator = Simulator(speed=1 / speedup)
    runner, base_url = await start(simulator)
    outages = schedule_outages(days, rng)
    simulator.configure({"faults": [
        {"kind": "status", "status": 503, "model": MODEL, "metadata": o.kind == "api",
         "start": o.start / speedup, "end": o.end / speedup} for o in outages]})
    loop = asyncio.get_running_loop()
    zero = loop.time()

    def now() -> float:  # simulated seconds since the faults were set
        return (loop.time() - zero) * speedup

    config = exporter_config(base_url, speedup)
    store, prober = Store(), Prober()
    scheduler = Scheduler(store, prober, max_jitter=MAX_JITTER / speedup)  # the jitter cap is in seconds too
    liveness = LivenessChecker(on_failure=scheduler.liveness_failed)
    scheduler.apply(config)
    liveness.apply(config)
    scraped: dict[str, int] = dict.fromkeys(PLANS, 0)
    false_alarms: dict[str, int] = dict.fromkeys(PLANS, 0)

    async def scrape_and_evaluate() -> None:
        tick = SCRAPE_INTERVAL / speedup
        step = 0
        while True:
            step += 1
            await asyncio.sleep(max(0.0, zero + step * tick - loop.time()))
            for state in store:  # the scrape
                scraped[state.series.target.name] = state.consecutive_failures
            await asyncio.sleep(max(0.0, zero + step * tick + EVALUATION_INTERVAL / 2 / speedup - loop.time()))
            t = now()
            for plan, failures in scraped.items():  # the rule evaluation
                if failures < CONSECUTIVE_FAILURES:
                    continue
                outage = next((o for o in outages if o.start <= t < o.end + 20 * 60), None)
                if outage is None:
                    false_alarms[plan] += 1
                elif plan not in outage.detected:
                    outage.detected[plan] = t - outage.start

    evaluator = asyncio.create_task(scrape_and_evaluate())
    await asyncio.sleep(days * DAY / speedup)
    elapsed_days = now() / DAY
    evaluator.cancel()
    await scheduler.stop()
    await liveness.stop()
    await prober.aclose()
    await runner.cleanup()
    totals = {}
    for state in store:
        plan = state.series.target.name
        checks = sum(sum(s.checks.values()) for s in liveness if s.target.name == plan)
        totals[plan] = {
            "probes": sum(state.probes.values()) / elapsed_days,
            "confirmations": sum(state.confirmations.values()) / elapsed_days,
            "cost": state.cost / elapsed_days,
            "checks": checks / elapsed_days,
            "false_alarms": false_alarms[plan],
        }
    return outages, totals, elapsed_days


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return f"mean {statistics.mean(values):5.0f} s, max {max(values):5.0f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=1.0, help="simulated days (default 1)")
    parser.add_argument("--speedup", type=float, default=1000.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # every failed probe logs a warning; the figures are the output
    outages, totals, days = asyncio.run(run(args.days, args.speedup, args.seed))
    print(f"simulated {days:.2f} days at {args.speedup:g}x, {len(outages)} outages of {OUTAGE_SECONDS / 60:g} min "
          f"(kinds alternating), alert: consecutive failures >= {CONSECUTIVE_FAILURES}, scrape {SCRAPE_INTERVAL:g}s,"
          f" evaluation {EVALUATION_INTERVAL:g}s")
    print()
    header = f"{'plan':<8} {'probes/day':>10} {'of which confirm':>16} {'usd/day':>9} {'free checks/day':>15} " \
             f"{'detect api outage':>28} {'detect generation outage':>28} {'missed':>6} {'false':>5}"
    print(header)
    for plan in PLANS:
        t = totals[plan]
        api = [o.detected[plan] for o in outages if o.kind == "api" and plan in o.detected]
        gen = [o.detected[plan] for o in outages if o.kind == "generation" and plan in o.detected]
        missed = sum(1 for o in outages if plan not in o.detected)
        print(f"{plan:<8} {t['probes']:>10.0f} {t['confirmations']:>16.0f} {t['cost']:>9.2f} {t['checks']:>15.0f} "
              f"{summary(api):>28} {summary(gen):>28} {missed:>6} {t['false_alarms']:>5}")
    print()
    for o in outages:
        times = ", ".join(f"{plan} {o.detected[plan]:.0f} s" if plan in o.detected else f"{plan} missed" for plan in PLANS)
        print(f"  {o.kind:<10} outage at {o.start / 3600:5.2f} h: {times}")
    ratio = totals["default"]["cost"] / totals["naive"]["cost"]
    print(f"\ndefault costs {ratio:.1%} of naive")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
