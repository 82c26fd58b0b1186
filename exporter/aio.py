"""The event loop the exporter's processes run on: uvloop where it is installed (`pip install
'nanobanana-exporter[uvloop]'`: a libuv loop with less overhead per callback and per socket
read), asyncio's own otherwise, or when NANOBANANA_EVENT_LOOP=asyncio asks for it. BENCHMARKS.md
compares the two."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "NANOBANANA_EVENT_LOOP"  # "asyncio" or "uvloop"; unset: uvloop when installed


def loop_factory() -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """(name, factory) of the event loop to run: ("uvloop", uvloop.new_event_loop) or ("asyncio", None)."""
    if os.environ.get(ENV, "uvloop") == "asyncio":
        return "asyncio", None
    try:
        import uvloop
    except ImportError:
        return "asyncio", None
    return "uvloop", uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main) on the loop loop_factory() picks."""
    _, factory = loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
