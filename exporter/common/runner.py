"""The one way background work runs on an interval: paid probes (exporter/background/scheduler.py), free
liveness checks (exporter/background/liveness.py) and status polls (exporter/status/poller.py).

`Schedule` decides when one job runs next: every `interval` from a first `offset`, each run delayed
by up to `jitter` seconds so jobs of the same interval do not fire together; an early run can be
planned (`plan`), and it restarts the regular schedule. A loop that falls far behind does not fire
a burst to catch up. `Jobs` keeps a keyed set of simple jobs, each awaited before its next run (a
job never overlaps itself): `apply` starts, keeps or replaces them, `stop` cancels them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any


class Schedule:
    def __init__(self, interval: float, offset: float = 0.0, jitter: float = 0.0,
                 clock: Callable[[], float] | None = None):
        self.interval, self.jitter = interval, jitter
        self.clock = clock or asyncio.get_running_loop().time
        self.regular = self.clock() + offset
        self.early_at: float | None = None  # clock time of a planned early run
        self.reason = ""  # why it runs early
        self._wake = asyncio.Event()

    def plan(self, at: float, reason: str) -> None:
        """Run early, at clock time `at`, for `reason` (a later plan replaces an earlier one)."""
        self.early_at, self.reason = at, reason
        self._wake.set()

    async def next(self) -> tuple[str, float]:
        """Wait until the next run is due. Returns its reason ("" for a regular run) and how late it
        woke (seconds after it was due)."""
        while True:
            jitter = random.uniform(0, self.jitter) if self.jitter else 0.0
            early = self.early_at is not None and self.early_at < self.regular + jitter
            due = self.early_at if early else self.regular + jitter
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that meets a
            # wake-up in the same loop step, and the cancelled loop runs on (tests/test_runner.py)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, due - self.clock())):
                    await self._wake.wait()
            if self._wake.is_set():
                continue  # the plan changed while waiting: look again
            now = self.clock()
            if early:
                reason, self.early_at = self.reason, None
                self.regular = now + self.interval  # an early run restarts the regular schedule
                return reason, now - due
            self.regular += self.interval
            if self.regular < now:  # fell far behind: no burst to catch up
                self.regular = now + self.interval
            return "", now - due


@dataclass(frozen=True)
class Job:
    spec: Any  # what the job is for: a changed spec replaces the job (and restarts its schedule)
    interval: float
    run: Callable[[], Awaitable[Any]]  # must not raise: a job reports its own failures
    offset: float = 0.0


class Jobs:
    def __init__(self, name: str):
        self.name = name
        self._tasks: dict[Hashable, tuple[Any, asyncio.Task]] = {}

    def apply(self, jobs: dict[Hashable, Job]) -> None:
        """Run exactly these jobs: unchanged ones keep running on their schedule."""
        for key, (spec, task) in list(self._tasks.items()):
            job = jobs.get(key)
            if job is None or job.spec != spec or task.done():
                task.cancel()
                del self._tasks[key]
        for key, job in jobs.items():
            if key not in self._tasks:
                self._tasks[key] = (job.spec, asyncio.create_task(self._loop(job), name=f"{self.name} {key}"))

    async def _loop(self, job: Job) -> None:
        schedule = Schedule(job.interval, job.offset)
        while True:
            await schedule.next()
            await job.run()

    async def stop(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
