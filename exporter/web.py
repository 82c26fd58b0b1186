"""The exporter's HTTP endpoints: /metrics, /, /-/healthy, /-/ready."""

from __future__ import annotations

import asyncio
from typing import Callable

from aiohttp import web
from exporter import landing
from exporter.metrics import Exposition
from exporter.state import Store


def parse_listen_address(address: str) -> tuple[str | None, int]:
    """':9877' -> (None, 9877) meaning every interface; '127.0.0.1:0', '[::1]:9877'."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--web.listen-address: expected [host]:port, got {address!r}")
    host = host.strip("[]") or None
    return host, int(port)


def make_app(exposition: Exposition, store: Store, ready: Callable[[], bool], config_source: Callable[[], str]) -> web.Application:
    async def metrics(request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        body, content_type = await asyncio.get_running_loop().run_in_executor(None, exposition.render, accept)
        response = web.Response(body=body, headers={"Content-Type": content_type})
        response.enable_compression()
        return response

    async def index(request: web.Request) -> web.Response:
        html = landing.render(store, ready(), config_source())
        return web.Response(text=html, content_type="text/html")

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="Healthy.\n")

    async def is_ready(request: web.Request) -> web.Response:
        if ready():
            return web.Response(text="Ready.\n")
        return web.Response(status=503, text="Not ready: the config is not loaded or the scheduler is not running.\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", index)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", is_ready)
    return app


async def serve(app: web.Application, address: str) -> web.AppRunner:
    host, port = parse_listen_address(address)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    return runner.addresses[0][1]
