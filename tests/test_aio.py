"""The event loop the exporter runs on (exporter/common/aio.py): asyncio's by default; uvloop when
NANOBANANA_EVENT_LOOP=uvloop asks and it is installed, asyncio's (with a warning) when it is not.
Either way aio.run runs the coroutine to its value."""

from __future__ import annotations

import asyncio
import importlib.util
import logging

from exporter.common import aio


async def _answer():
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__, 42


def test_asyncio_by_default(monkeypatch):
    monkeypatch.delenv(aio.ENV, raising=False)
    assert aio.loop_factory() == ("asyncio", None)
    module, value = aio.run(_answer())
    assert value == 42 and module.startswith("asyncio")


def test_uvloop_when_asked_and_installed_else_asyncio_with_a_warning(monkeypatch, caplog):
    monkeypatch.setenv(aio.ENV, "uvloop")
    installed = importlib.util.find_spec("uvloop") is not None
    with caplog.at_level(logging.WARNING, logger="exporter.common.aio"):
        name, _ = aio.loop_factory()
    assert name == ("uvloop" if installed else "asyncio")
    assert installed or "uvloop is not installed" in caplog.text
    module, value = aio.run(_answer())
    assert value == 42 and module.startswith("uvloop" if installed else "asyncio")
