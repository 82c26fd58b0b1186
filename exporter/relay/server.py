"""The relay's HTTP endpoints: POST /alerts/{channel} (one channel), POST /alerts (every channel
that takes the group's severity), GET /metrics, /-/healthy, /-/ready and /.

With a token configured, every endpoint but the health checks needs it (POST /-/reload, /metrics,
the index, any /alerts/ path, known or not): the token is checked before anything else, so an
unauthenticated caller learns nothing about the channels."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from pydantic import ValidationError

from exporter.common.redact import Redactor
from exporter.exposition.web import read_body
from exporter.relay.alerts import SEVERITY_ORDER, BadPayload, parse
from exporter.relay.config import RelayConfig
from exporter.relay.delivery import Courier, DeliveryFailed
from exporter.relay.metrics import RelayMetrics

log = logging.getLogger("exporter.relay")
MAX_BODY = 4 * 1024 * 1024  # Alertmanager groups are far smaller; a larger body is not a notification
OPEN_PATHS = ("/-/healthy", "/-/ready")  # what probes and orchestrators call without credentials
# Notifications handled at once (body read, parsed, delivered); one more gets 503 before its body is
# read, and Alertmanager retries it. Deliveries waiting for a bot's rate limit count too.
MAX_IN_FLIGHT = 16


def make_app(config: RelayConfig | Callable[[], RelayConfig], courier: Courier, metrics: RelayMetrics,
             redactor: Redactor) -> web.Application:
    """config: the config, or a function returning the current one (a reload replaces it; each
    request reads it once, when it starts)."""
    current = config if callable(config) else (lambda: config)

    @web.middleware
    async def guard(request: web.Request, handler):
        config = current()
        if config.token and request.path not in OPEN_PATHS and not _authorized(request, config.token):
            name = request.match_info.get("channel")
            if name in config.channels:  # a bounded label: configured channels only
                metrics.notifications.labels(name, "unauthorized").inc()
            return web.Response(status=401, text="missing or wrong bearer token\n",
                                headers={"WWW-Authenticate": 'Bearer realm="nanobanana-relay"'})
        return await handler(request)

    in_flight = 0

    async def alerts(request: web.Request) -> web.Response:
        """POST /alerts/{channel}: one channel. POST /alerts: every channel that takes the group's severity."""
        nonlocal in_flight
        config = current()
        name = request.match_info.get("channel")
        if name is not None and name not in config.channels:
            return web.Response(status=404, text="unknown channel (the relay's index page lists them)\n")
        wanted = [config.channels[name]] if name is not None else list(config.channels.values())
        if in_flight >= MAX_IN_FLIGHT:
            for channel in wanted:
                metrics.notifications.labels(channel.name, "busy").inc()
            return web.Response(status=503, text=f"the relay is handling {MAX_IN_FLIGHT} notifications; retry later\n",
                                headers={"Retry-After": "5", "Connection": "close"})
        in_flight += 1
        try:
            return await handle(request, wanted, fan_out=name is None)
        finally:
            in_flight -= 1

    async def handle(request: web.Request, wanted: list, fan_out: bool) -> web.Response:
        received = time.monotonic()
        try:
            body = await read_body(request)
            # parsing a large group takes a while: off the event loop, which goes on answering
            notification = await asyncio.get_running_loop().run_in_executor(courier.executor, parse, body)
            del body
        except (ValueError, UnicodeDecodeError, ValidationError) as err:
            for channel in wanted:
                metrics.notifications.labels(channel.name, "bad_request").inc()
            return web.Response(status=400, text=f"not an Alertmanager webhook payload: {_explain(err)}\n")
        if fan_out:
            severity = notification.routing_severity
            wanted = [channel for channel in wanted if channel.takes(severity)]
            if not wanted:
                return web.Response(text=f"no channel takes severity {severity}: nothing to deliver\n")
        # every channel at once; a retry after one failed finds the others' messages already sent
        # (the courier's per-channel dedup), so only the failed channel gets them again
        answers = await asyncio.gather(*(deliver(channel, notification, received) for channel in wanted))
        status = max(status for status, _ in answers)  # 200 unless one failed (502 or 503)
        return web.Response(status=status, text="".join(text for _, text in answers))

    async def deliver(channel, notification, received: float) -> tuple[int, str]:
        name = channel.name
        started = time.monotonic()
        try:
            outcome = await courier.deliver(channel, notification, received)
        except asyncio.CancelledError:
            # the caller hung up (Alertmanager's notify timeout): what was sent stays sent, and
            # Alertmanager will retry; counted, so duplicates can be told from new notifications
            metrics.notifications.labels(name, "cancelled").inc()
            metrics.duration.labels(name).observe(time.monotonic() - started)
            log.warning("caller went away before delivery finished", extra={"channel": name, "alerts": notification.count})
            raise
        except DeliveryFailed as err:
            metrics.notifications.labels(name, "failed").inc()
            metrics.duration.labels(name).observe(time.monotonic() - started)
            reason = redactor(str(err))
            log.error("delivery failed", extra={"channel": name, "alerts": notification.count, "error": reason})
            return err.status, f"delivery to {name} failed: {reason}\n"
        metrics.notifications.labels(name, "delivered").inc()
        metrics.duration.labels(name).observe(time.monotonic() - started)
        log.info("delivered", extra={"channel": name, "status": notification.status,
                                     "alerts": notification.count, "messages": outcome.messages})
        return 200, f"delivered {notification.count} alerts in {outcome.messages} messages to {name}\n"

    async def metrics_page(request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(metrics.registry), headers={"Content-Type": content_type})

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="Healthy.\n")

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="Ready.\n")  # the config is loaded before the server starts

    async def index(request: web.Request) -> web.Response:
        config = current()
        rows = "".join(f"<li><code>/alerts/{n}</code> ({c.platform.name}; from <code>/alerts</code>: "
                       f"{', '.join(sorted(c.severities, key=SEVERITY_ORDER.index))})</li>"
                       for n, c in sorted(config.channels.items()))
        html = (f"<html><head><title>nanobanana relay</title></head><body><h1>nanobanana relay</h1>"
                f"<p>Alertmanager webhook endpoints:</p><ul>{rows}</ul><p><a href='/metrics'>Metrics</a></p></body></html>")
        return web.Response(text=html, content_type="text/html")

    app = web.Application(client_max_size=MAX_BODY, middlewares=[guard])
    app.router.add_post("/alerts", alerts)
    app.router.add_post("/alerts/{channel}", alerts)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_get("/", index)
    return app


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # aiohttp keeps header bytes that are not UTF-8 as surrogate escapes: encode them back, never fail
    given_bytes = given.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token.encode())


def _explain(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    if isinstance(err, UnicodeDecodeError):
        return "body is not UTF-8"
    if isinstance(err, BadPayload):
        return str(err)
    return "body is not JSON"
