"""The relay's HTTP endpoints: POST /alerts/{channel}, GET /metrics, /-/healthy, /-/ready and /."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from pydantic import ValidationError

from exporter.redact import Redactor
from exporter.web import read_body
from exporter.relay.alerts import BadPayload, parse
from exporter.relay.config import RelayConfig
from exporter.relay.delivery import Courier, DeliveryFailed
from exporter.relay.metrics import RelayMetrics

log = logging.getLogger("exporter.relay")
MAX_BODY = 4 * 1024 * 1024  # Alertmanager groups are far smaller; a larger body is not a notification


def make_app(config: RelayConfig | Callable[[], RelayConfig], courier: Courier, metrics: RelayMetrics,
             redactor: Redactor) -> web.Application:
    """config: the config, or a function returning the current one (a reload replaces it; each
    request reads it once, when it starts)."""
    current = config if callable(config) else (lambda: config)

    async def alerts(request: web.Request) -> web.Response:
        config = current()
        name = request.match_info["channel"]
        channel = config.channels.get(name)
        if channel is None:
            return web.Response(status=404, text=f"unknown channel {name[:64]!r}; configured: {', '.join(sorted(config.channels))}\n")
        if config.token and not _authorized(request, config.token):
            metrics.notifications.labels(name, "unauthorized").inc()
            return web.Response(status=401, text="missing or wrong bearer token\n",
                                headers={"WWW-Authenticate": 'Bearer realm="nanobanana-relay"'})
        try:
            notification = parse(await read_body(request))
        except (ValueError, UnicodeDecodeError, ValidationError) as err:
            metrics.notifications.labels(name, "bad_request").inc()
            return web.Response(status=400, text=f"not an Alertmanager webhook payload: {_explain(err)}\n")
        started = time.monotonic()
        try:
            outcome = await courier.deliver(channel, notification)
        except DeliveryFailed as err:
            metrics.notifications.labels(name, "failed").inc()
            metrics.duration.labels(name).observe(time.monotonic() - started)
            reason = redactor(str(err))
            log.error("delivery failed", extra={"channel": name, "alerts": len(notification.alerts), "error": reason})
            return web.Response(status=err.status, text=f"delivery to {name} failed: {reason}\n")
        metrics.notifications.labels(name, "delivered").inc()
        metrics.duration.labels(name).observe(time.monotonic() - started)
        log.info("delivered", extra={"channel": name, "status": notification.status,
                                     "alerts": len(notification.alerts), "messages": outcome.messages})
        return web.Response(text=f"delivered {len(notification.alerts)} alerts in {outcome.messages} messages to {name}\n")

    async def metrics_page(request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(metrics.registry), headers={"Content-Type": content_type})

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="Healthy.\n")

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="Ready.\n")  # the config is loaded before the server starts

    async def index(request: web.Request) -> web.Response:
        config = current()
        rows = "".join(f"<li><code>/alerts/{n}</code> ({c.platform.name})</li>" for n, c in sorted(config.channels.items()))
        html = (f"<html><head><title>nanobanana relay</title></head><body><h1>nanobanana relay</h1>"
                f"<p>Alertmanager webhook endpoints:</p><ul>{rows}</ul><p><a href='/metrics'>Metrics</a></p></body></html>")
        return web.Response(text=html, content_type="text/html")

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/alerts/{channel}", alerts)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_get("/", index)
    return app


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


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
