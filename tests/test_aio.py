"""The event loop the exporter runs on (exporter/aio.py): uvloop when installed, asyncio's when it is
not or when NANOBANANA_EVENT_LOOP=asyncio asks; either way aio.run runs the coroutine to its value."""

from __future__ import annotations

import asyncio
import importlib.util

from exporter import aio


async def _answer():
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__, 42


def test_asyncio_when_asked(monkeypatch):
    monkeypatch.setenv(aio.ENV, "asyncio")
    assert aio.loop_factory() == ("asyncio", None)
    module, value = aio.run(_answer())
    assert value == 42 and module.startswith("asyncio")


def test_uvloop_when_installed_else_asyncio(monkeypatch):
    monkeypatch.delenv(aio.ENV, raising=False)
    name, factory = aio.loop_factory()
    installed = importlib.util.find_spec("uvloop") is not None
    assert name == ("uvloop" if installed else "asyncio")
    module, value = aio.run(_answer())
    assert value == 42 and module.startswith("uvloop" if installed else "asyncio")
