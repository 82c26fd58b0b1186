"""Runs every series on its own interval, spread over the interval, never overlapping itself,
at most `max_concurrency` probes in flight per target."""

from __future__ import annotations

import asyncio
import logging
import random
import zlib

from exporter.config import Config, Series
from exporter.probe import Prober
from exporter.state import Store

log = logging.getLogger(__name__)

JITTER = 0.01  # fraction of the interval, at most MAX_JITTER seconds
MAX_JITTER = 2.0


def first_offset(series: Series) -> float:
    """A stable place in the interval for the first run: series spread evenly, restarts keep it."""
    digest = zlib.crc32("\0".join(series.key).encode())
    return (digest / 2**32) * series.interval


class Scheduler:
    def __init__(self, store: Store, prober: Prober):
        self.store = store
        self.prober = prober
        self.running = False
        self._loops: dict[tuple[str, ...], tuple[Series, asyncio.Task]] = {}
        self._inflight: set[asyncio.Task] = set()
        self._limits: dict[str, tuple[int, asyncio.Semaphore]] = {}

    def apply(self, config: Config) -> None:
        """Start, keep or restart series to match the config. Kept series keep their state."""
        self.store.sync(config)
        wanted = {s.key: s for s in config.series}
        for key, (series, task) in list(self._loops.items()):
            if wanted.get(key) != series:
                task.cancel()
                del self._loops[key]
        for key, series in wanted.items():
            if key not in self._loops:
                task = asyncio.create_task(self._loop(series), name=f"series {'/'.join(key)}")
                self._loops[key] = (series, task)
        for target in config.targets:
            limit = self._limits.get(target.name)
            if limit is None or limit[0] != target.max_concurrency:
                self._limits[target.name] = (target.max_concurrency, asyncio.Semaphore(target.max_concurrency))
        self.running = True

    async def stop(self) -> None:
        self.running = False
        tasks = [task for _, task in self._loops.values()] + list(self._inflight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()

    async def _loop(self, series: Series) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + first_offset(series)
        inflight: asyncio.Task | None = None
        while True:
            jitter = random.uniform(0, min(series.interval * JITTER, MAX_JITTER))
            await asyncio.sleep(max(0.0, due + jitter - loop.time()))
            self.store.late(loop.time() - due - jitter)
            if inflight is not None and not inflight.done():
                self.store.states[series.key].skip("overlap")
                log.warning("probe skipped: the previous one is still running", extra=series.labels)
            else:
                inflight = asyncio.create_task(self._run(series))
                self._inflight.add(inflight)
                inflight.add_done_callback(self._inflight.discard)
            due += series.interval
            if due < loop.time():  # the loop itself fell far behind: do not fire a burst to catch up
                due = loop.time() + series.interval

    async def _run(self, series: Series) -> None:
        _, limit = self._limits[series.target.name]
        async with limit:
            attempt = await self.prober.probe(series)
        state = self.store.states.get(series.key)
        if state is None or state.series != series:
            return  # the series was removed or changed by a reload while the probe ran
        state.record(attempt)
        level = logging.INFO if not attempt.outcome.is_failure else logging.WARNING
        log.log(
            level,
            "probe finished",
            extra={**series.labels, "outcome": attempt.outcome.value, "duration_seconds": round(attempt.duration, 3),
                   **({"error": attempt.message} if attempt.message else {})},
        )
