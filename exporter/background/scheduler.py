"""Runs every series on its own interval, spread over the interval, never overlapping itself,
at most `max_concurrency` probes in flight per target.

Cost-aware: a paid probe runs only while the budget of its scope lasts (else it is skipped with
reason "budget"); every finished probe is priced and charged. A failed probe (not rate limited)
is confirmed sooner than the interval (`confirm:`, by default twice, 30 s apart), so is a probe
slower than its latency threshold (exporter.domain.detection), and a failed free
liveness check runs one paid probe of each healthy series of its target at once, so an outage is
confirmed in about a minute while the steady state stays cheap; so do `trigger_after` failed
canaries in a row (exporter/background/canary.py), which see a generation outage the free check cannot.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from exporter.domain.budget import Budget
from exporter.probing.dialects import DIALECTS
from exporter.domain.targets import Config, ConfirmSettings, Series, Target
from exporter.domain.maintenance import Maintenance
from exporter.contract.outcomes import Outcome
from exporter.probing.probe import Prober
from exporter.common.runner import Schedule
from exporter.domain.state import Store

log = logging.getLogger(__name__)

JITTER = 0.01  # fraction of the interval, at most MAX_JITTER seconds
MAX_JITTER = 2.0


def _google_status(series: Series) -> bool:
    return DIALECTS[series.target.api].google_status


def first_offset(series: Series) -> float:
    """A stable place in the interval for the first run: series spread evenly, restarts keep it."""
    digest = zlib.crc32("\0".join(series.key).encode())
    return (digest / 2**32) * series.interval


def confirmation_delay(outcome: Outcome, confirmations: int, confirm: ConfirmSettings, interval: float,
                       slow: bool = False) -> float | None:
    """Seconds from the end of a probe to a confirmation probe, or None to stay on the regular schedule.

    A failure is confirmed, and so is a success slower than the series' latency threshold (`slow`):
    a degradation is then seen in a few probes, not after an hour of them. `confirmations` counts
    those already started since the streak began (the last success, or the last fast success): a
    long outage or slowdown is confirmed once, then probed at the regular interval.
    """
    if not (outcome.is_failure or (slow and outcome is Outcome.SUCCESS)):  # rate limited: not a verdict
        return None
    if confirmations >= confirm.count or confirm.after >= interval:
        return None
    return confirm.after


@dataclass
class _Control:
    """The scheduling state of one series' loop."""

    schedule: Schedule  # when it probes next (exporter/common/runner.py); early probes have a CONFIRM_REASONS reason
    confirmations: int = 0  # failure confirmations started since the last success
    slow_confirmations: int = 0  # slow-probe confirmations started since the last fast success
    inflight: asyncio.Task | None = None
    last_trigger: float = float("-inf")  # loop time of the last probe a liveness check or incident triggered
    probes: int = 0  # probes started: picks the next of the target's prompts

    def plan(self, at: float, reason: str) -> None:
        self.schedule.plan(at, reason)


class Scheduler:
    """`offset` places a series' first probe in its interval, `jitter` (a fraction of the interval, at
    most `max_jitter` seconds) spreads later ones, `clock` is the wall clock maintenance windows are read
    on, `loop_clock` the monotonic one probes are planned on (the running loop's by default): tests
    inject them instead of patching this module."""

    def __init__(self, store: Store, prober: Prober, budget: Budget | None = None, *,
                 offset: Callable[[Series], float] = first_offset, jitter: float = JITTER, max_jitter: float = MAX_JITTER,
                 clock: Callable[[], float] = time.time, loop_clock: Callable[[], float] | None = None):
        self.store = store
        self.prober = prober
        self.budget = budget
        self.running = False
        self._loops: dict[tuple[str, ...], tuple[Series, asyncio.Task, _Control]] = {}
        self._inflight: set[asyncio.Task] = set()
        self._limits: dict[str, tuple[int, asyncio.Semaphore]] = {}
        self.maintenance = Maintenance()
        self.offset = offset
        self.jitter, self.max_jitter = jitter, max_jitter
        self.clock = clock  # wall clock: maintenance windows are local times
        self.loop_clock = loop_clock or (lambda: asyncio.get_running_loop().time())

    def apply(self, config: Config) -> None:
        """Start, keep or restart series to match the config. Kept series keep their state."""
        self.store.apply(config)
        self.maintenance = config.maintenance
        if self.budget is not None:
            self.budget.apply(config.budget, [t.name for t in config.targets])
        wanted = {s.key: s for s in config.series}
        for key, (series, task, control) in list(self._loops.items()):
            if wanted.get(key) != series:
                task.cancel()
                if key not in wanted and control.inflight is not None:
                    control.inflight.cancel()  # a removed target's probe must not spend on or hold its slot
                del self._loops[key]
        for key, series in wanted.items():
            if key not in self._loops:
                jitter = min(series.interval * self.jitter, self.max_jitter)
                control = _Control(Schedule(series.interval, self.offset(series), jitter, self.loop_clock))
                task = asyncio.create_task(self._loop(series, control), name=f"series {'/'.join(key)}")
                self._loops[key] = (series, task, control)
        for target in config.targets:
            limit = self._limits.get(target.name)
            if limit is None or limit[0] != target.max_concurrency:
                self._limits[target.name] = (target.max_concurrency, asyncio.Semaphore(target.max_concurrency))
        self.running = True

    def liveness_failed(self, target: Target, *_: object) -> None:
        """A free check of `target` failed: probe each of its healthy series now, at most once an interval."""
        if target.liveness.trigger_probes:
            self._trigger(lambda series: series.target == target, "liveness")

    def canary_failed(self, target: Target, *_: object) -> None:
        """The canary of `target` failed `trigger_after` times in a row: probe each of its healthy
        series now, at most once an interval."""
        self._trigger(lambda series: series.target == target, "canary")

    def refusal(self, target: Target) -> str | None:
        """Why a paid call of `target` may not run now ("maintenance", "budget"), or None."""
        if self.maintenance.active(target.name, self.clock()):
            return "maintenance"  # paused, not paid: confirmations too
        if self.budget is not None and self.budget.refusal(target.name):
            return "budget"
        return None

    def incident_opened(self, source: str, incident: object) -> None:
        """An official incident appeared on a watched Google product: probe every series of an API the
        Google Cloud feed covers (its dialect's `google_status`) now, at most once an interval per series."""
        if source != "google_cloud":
            return
        failing = [state.failing_since for state in self.store
                   if _google_status(state.series) and state.failing_since is not None]
        if failing:  # how late the status page was: from our first failing probe to the incident's appearance
            self.store.incident_lag(source, max(0.0, self.clock() - min(failing)))
        self._trigger(_google_status, "status")

    def model_degraded(self, source: str, model: str) -> None:
        """An aggregator (OpenRouter) reports the endpoints of `model` ("author/slug") degraded: probe
        every series of that model now, whatever the API (OpenRouter's Google endpoints are Google's
        serving path), at most once an interval per series."""
        ids = {model, model.partition("/")[2]}
        self._trigger(lambda series: series.target.model in ids, "uptime")

    def _trigger(self, affected, reason: str) -> None:
        now = self.loop_clock()
        for series, _, control in list(self._loops.values()):
            state = self.store.get(series.key)
            if not affected(series) or state is None:
                continue
            if state.consecutive_failures or now - control.last_trigger < series.interval:
                continue  # already failing (confirmations handle it), or triggered recently
            if control.inflight is not None and not control.inflight.done():
                continue  # a probe is on its way: its verdict comes soon anyway
            control.last_trigger = now
            control.plan(now, reason)

    async def stop(self) -> None:
        self.running = False
        tasks = [task for _, task, _ in self._loops.values()] + list(self._inflight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()

    async def _loop(self, series: Series, control: _Control) -> None:
        while True:
            reason, late = await control.schedule.next()
            self.store.late(late)
            self._start(series, control, reason)

    def _start(self, series: Series, control: _Control, reason: str) -> None:
        state = self.store.get(series.key)
        if state is None:
            return  # dropped by a reload as it came due
        if control.inflight is not None and not control.inflight.done():
            if not reason:  # an early probe with one in flight is simply not needed
                state.skip("overlap")
                log.warning("probe skipped: the previous one is still running", extra=series.labels)
            return
        refused = self.refusal(series.target)
        if refused is not None:
            state.skip(refused)
            return
        if reason == "failure":
            control.confirmations += 1
        elif reason == "slow":
            control.slow_confirmations += 1
        control.inflight = asyncio.create_task(self._run(series, control, reason))
        self._inflight.add(control.inflight)
        control.inflight.add_done_callback(self._inflight.discard)

    async def _run(self, series: Series, control: _Control, reason: str) -> None:
        _, limit = self._limits[series.target.name]
        prompts = series.target.prompts
        prompt, control.probes = prompts[control.probes % len(prompts)], control.probes + 1
        async with limit:
            attempt = await self.prober.probe(series, prompt)
        attempt.cost = series.target.price.cost(series.resolution, attempt.outcome, attempt.usage, attempt.image_bytes)
        if self.budget is not None:  # the image is billed even when a reload dropped the series meanwhile
            self.budget.record(series.target.name, attempt.cost)
        state = self.store.get(series.key)
        if state is None or state.series != series:
            return  # the series was removed or changed by a reload while the probe ran
        attempt.confirmation = reason
        state.record(attempt)
        slow = state.consecutive_slow > 0
        if attempt.outcome is Outcome.SUCCESS:
            control.confirmations = 0
            if not slow:
                control.slow_confirmations = 0
        done, why = (control.slow_confirmations, "slow") if slow else (control.confirmations, "failure")
        delay = confirmation_delay(attempt.outcome, done, series.target.confirm, series.interval, slow)
        if delay is not None:
            control.plan(self.loop_clock() + delay, why)
        level = logging.INFO if not attempt.outcome.is_failure else logging.WARNING
        log.log(
            level,
            "probe finished",
            extra={**series.labels, "outcome": attempt.outcome.value, "duration_seconds": round(attempt.duration, 3),
                   "cost_usd": round(attempt.cost, 4), **({"confirmation": reason} if reason else {}),
                   **({"error": attempt.message} if attempt.message else {})},
        )
