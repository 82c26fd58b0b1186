"""exporter/common/runner.py: the loop shape every background job shares (probes, liveness checks, status
polls). Each test waits for events, never for a fixed time."""

from __future__ import annotations

import asyncio

from exporter.common.runner import Job, Jobs, Schedule
from tests.helpers import wait_for


async def test_the_first_run_waits_for_the_offset_and_the_next_is_an_interval_later():
    loop = asyncio.get_running_loop()
    start = loop.time()
    schedule = Schedule(interval=0.2, offset=0.1)
    reason, late = await schedule.next()
    assert reason == "" and late >= 0 and loop.time() - start >= 0.1
    assert abs(schedule.regular - (start + 0.3)) < 0.05  # from when it was due, not from when it woke


async def test_an_early_run_comes_with_its_reason_and_restarts_the_regular_schedule():
    loop = asyncio.get_running_loop()
    schedule = Schedule(interval=3600.0)  # the regular run is an hour away after the first
    assert (await schedule.next())[0] == ""
    schedule.plan(loop.time(), "failure")
    reason, late = await schedule.next()
    assert reason == "failure" and late >= 0 and schedule.early_at is None
    assert schedule.regular >= loop.time() + 3600.0 - 1  # an hour after the early run, not after the first


async def test_a_later_plan_replaces_the_earlier_one_while_waiting():
    loop = asyncio.get_running_loop()
    schedule = Schedule(interval=3600.0)
    await schedule.next()
    schedule.plan(loop.time() + 3000.0, "slow")
    waiting = asyncio.create_task(schedule.next())
    await asyncio.sleep(0)  # the task is waiting for the planned run
    schedule.plan(loop.time(), "status")
    assert (await asyncio.wait_for(waiting, 60))[0] == "status"


async def test_a_schedule_that_fell_behind_does_not_burst():
    ticks = [0.0]
    schedule = Schedule(interval=10.0, clock=lambda: ticks[0])
    await schedule.next()  # due at 0
    ticks[0] = 100.0  # ten intervals late (the process was stopped, the loop blocked)
    reason, late = await schedule.next()
    assert (reason, late) == ("", 90.0)
    assert schedule.regular == 110.0  # the next one interval from now, not nine catch-up runs


async def test_jobs_never_overlap_themselves_and_apply_keeps_unchanged_ones():
    runs = {"a": 0, "b": 0}
    running = set()

    def job(name: str, seconds: float):
        async def run() -> None:
            assert name not in running, f"{name} overlaps itself"
            running.add(name)
            await asyncio.sleep(seconds)  # longer than the interval: the next run waits for it
            running.discard(name)
            runs[name] += 1
        return run

    jobs = Jobs("test")
    try:
        jobs.apply({"a": Job("spec a", 0.01, job("a", 0.05)), "b": Job("spec b", 0.01, job("b", 0.0))})
        await wait_for(lambda: runs["a"] >= 3 and runs["b"] >= 3)
        kept = jobs._tasks["a"][1]
        replaced = jobs._tasks["b"][1]
        jobs.apply({"a": Job("spec a", 0.01, job("a", 0.05)), "b": Job("spec b2", 0.01, job("b", 0.0))})
        assert jobs._tasks["a"][1] is kept and not kept.done()
        assert jobs._tasks["b"][1] is not replaced
        await wait_for(replaced.done)
        jobs.apply({})
        assert not jobs._tasks
    finally:
        await jobs.stop()


async def test_a_cancelled_wait_stays_cancelled_when_a_plan_arrives_in_the_same_step():
    """Scheduler.stop and a reload cancel a series' loop; a probe that just finished may plan its
    confirmation in the same loop step. On Python 3.11, asyncio.wait_for returned the wake-up and
    swallowed that cancel: the loop ran on, probing forever, and stop() never returned (seen in CI:
    a 300 s test timeout while the orphan loop probed every 2 s)."""
    loop = asyncio.get_running_loop()
    schedule = Schedule(interval=3600.0, offset=3600.0)

    async def series_loop():
        while True:
            await schedule.next()

    for steps in range(4):  # the race depends on the order of ready callbacks: try each
        task = asyncio.create_task(series_loop())
        for _ in range(3):
            await asyncio.sleep(0)  # the loop is waiting for its next run
        schedule.plan(loop.time() + 60, "failure")
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=10)
        assert task in done and task.cancelled(), f"the cancel was lost after {steps} steps"
