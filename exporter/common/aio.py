"""The event loop the exporter's processes run on: asyncio's own, or uvloop (a libuv loop with less
overhead per callback and socket read) when NANOBANANA_EVENT_LOOP=uvloop asks and it is installed
(`pip install 'nanobanana-exporter[uvloop]'`). Opt-in, because the measurements in BENCHMARKS.md
("Event loop") do not show it better everywhere: it halved the timing error, but not the lateness
or the scrape time at 1,000 series."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
ENV = "NANOBANANA_EVENT_LOOP"  # "asyncio" (the default) or "uvloop"


def loop_factory() -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """(name, factory) of the event loop to run: ("uvloop", uvloop.new_event_loop) or ("asyncio", None)."""
    if os.environ.get(ENV, "asyncio") != "uvloop":
        return "asyncio", None
    try:
        import uvloop
    except ImportError:
        log.warning("uvloop is not installed: running on asyncio's event loop", extra={"env": ENV})
        return "asyncio", None
    return "uvloop", uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main) on the loop loop_factory() picks."""
    _, factory = loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


# Work on a buffer this large runs in a thread: its C code (bytes.join, zlib.crc32 in PIL's PNG
# verify) lets go of the interpreter lock, so the loop keeps running (measured on a 15 MiB 4K
# image: a 9-12 ms stall on the loop, under 3 ms from a thread). Smaller ones are not worth a thread.
OFF_LOOP_BYTES = 1 << 20


async def off_loop(size: int, work: Callable[..., T], *args: Any) -> T:
    """work(*args), in a thread when it works on `size` bytes or more."""
    if size < OFF_LOOP_BYTES:
        return work(*args)
    return await asyncio.to_thread(work, *args)


def freeze_heap() -> None:
    """Take what lives as long as the config (series, states, targets, templates: ~hundreds of thousands
    of objects at 1,000 series) out of the cyclic garbage collector's full passes, which walk every
    object and run on the event loop (with the check-family cache, lateness p99 at 1,000 series went
    from 865 ms to 39-84 ms: BENCHMARKS.md, "Changes these measurements led to"). Called after
    start-up and after each reload; frozen objects are
    still freed as usual when their last reference goes, and a reload unfreezes first so the old
    config's cycles are collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
