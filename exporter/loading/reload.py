"""Reloading the config of a running process (SIGHUP or POST /-/reload), like Prometheus.

The process gives a function that reads and checks everything first (config and web config) and
only then applies it; a failure leaves the running config as it was. Reloads never overlap.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from exporter.loading.config import ConfigError
from exporter.common.metric_families import Collector, Table, gauge

log = logging.getLogger("exporter.loading.reload")

# The metric names, as Prometheus itself names them (prometheus_config_last_reload_*).
SUCCESSFUL = "{prefix}_config_last_reload_successful"
SUCCESS_TIMESTAMP = "{prefix}_config_last_reload_success_timestamp_seconds"


def reload_families(prefix: str) -> Table:
    """prefix: nanobanana_exporter or nanobanana_relay."""
    return Table(
        gauge(SUCCESSFUL.format(prefix=prefix),
              "1 if the last config reload succeeded (the config loaded at start counts), else 0."),
        gauge(SUCCESS_TIMESTAMP.format(prefix=prefix), "When the config was last loaded or reloaded successfully."))


class Reloader(Collector):
    def __init__(self, prefix: str, apply: Callable[[], Awaitable[str]], redact: Callable[[str], str] = str):
        """prefix: nanobanana_exporter or nanobanana_relay. apply: reads, checks and applies the new
        config, returns a one-line summary, raises ConfigError (nothing applied) when it is invalid."""
        self.prefix = prefix
        self.families = reload_families(prefix)
        self.apply = apply
        self.redact = redact
        self.successful = True
        self.success_time = time.time()  # the config loaded at start counts as the first success
        self.last_error = ""  # the error of the last reload when it failed (redacted), for the landing page
        self.last_attempt: float | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    async def reload(self, trigger: str) -> tuple[bool, str]:
        """(ok, summary or error). Never raises: the process keeps running either way."""
        async with self._lock:
            self.last_attempt = time.time()
            try:
                summary = await self.apply()
            except ConfigError as err:
                return self._failed(trigger, str(err))
            except Exception as err:  # noqa: BLE001 - a reload must never take the process down
                log.exception("reload crashed")
                return self._failed(trigger, f"{type(err).__name__}: {err}")
            self.successful, self.success_time, self.last_error = True, time.time(), ""
            log.info("config reloaded", extra={"trigger": trigger, "summary": summary})
            return True, summary

    def _failed(self, trigger: str, error: str) -> tuple[bool, str]:
        error = self.redact(error)
        self.successful, self.last_error = False, error
        log.error("reload failed, the running config stays", extra={"trigger": trigger, "error": error})
        return False, error

    # wiring ------------------------------------------------------------------------------------
    def handle_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        def on_hup() -> None:
            task = loop.create_task(self.reload("SIGHUP"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hup)

    async def serve_until_stopped(self) -> None:
        """Reload on SIGHUP; return on SIGTERM or SIGINT."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.handle_sighup(loop)
        await stop.wait()
        log.info("shutting down")

    def add_route(self, app: web.Application, echo_errors: bool = True) -> None:
        """POST /-/reload: 200 and a summary, or 500 and the error (as Prometheus answers; with
        echo_errors False only "see the log", so no config text reaches the caller). A browser's
        cross-site request (an Origin other than the Host) is refused: a plain form cannot reload."""
        async def reload(request: web.Request) -> web.Response:
            if _cross_site(request):
                return web.Response(status=403, text="cross-site reload refused\n")
            ok, text = await self.reload("POST /-/reload")
            if ok:
                return web.Response(text=f"config reloaded: {text}\n")
            if not echo_errors:
                return web.Response(status=500, text="failed to reload config; the error is in the log\n")
            return web.Response(status=500, text=f"failed to reload config: {text}\n")

        app.router.add_post("/-/reload", reload)

    # metrics -----------------------------------------------------------------------------------
    def fill(self, f) -> None:
        f[SUCCESSFUL.format(prefix=self.prefix)].add_metric([], 1 if self.successful else 0)
        f[SUCCESS_TIMESTAMP.format(prefix=self.prefix)].add_metric([], self.success_time)


def _cross_site(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or request.headers.get("Sec-Fetch-Site") == "same-origin":
        return False  # curl, amtool and scripts send no Origin
    return urlsplit(origin).netloc.lower() != request.host.lower()
