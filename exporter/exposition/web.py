"""The exporter's HTTP endpoints (/metrics, /, /-/healthy, /-/ready), and the listener that both
the exporter and the relay serve from: TLS and basic auth from --web.config.file, swapped on reload."""

from __future__ import annotations

import asyncio
import gzip
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from aiohttp import web
from exporter.exposition import landing
from exporter.exposition.metrics import Exposition
from exporter.domain.state import Store
from exporter.common.text import utf8
from exporter.common.webconfig import REALM, AuthBusy, BasicAuth, WebConfig

# Limits of every listener (the exporter's and the relay's), against slow and abusive clients.
# aiohttp's keep-alive timeout is armed when a connection opens and again after each answer, and
# closes a connection still waiting for a request or for the rest of its headers (aiohttp >= 3.14.4):
# it is the idle timeout and the header-read timeout at once (slowloris). Its default is an hour.
IDLE_TIMEOUT = 10.0  # seconds; Prometheus reconnects when the next scrape comes later
# A TLS client must finish its handshake this fast, as a plain one must send its request within
# IDLE_TIMEOUT. asyncio's default is 60 s, and aiohttp's sites do not pass one: connections that never
# handshake held a file descriptor each for a minute (issue 32), so the listeners are opened here.
HANDSHAKE_TIMEOUT = 10.0
BODY_TIMEOUT = 10.0  # seconds to read a request body, where one is read (the relay's webhooks): read_body()
LIMITS = {
    "keepalive_timeout": IDLE_TIMEOUT,
    "max_line_size": 8190,  # request line and each header line; longer ones get 400
    "max_field_size": 8190,
    "max_headers": 100,
}


# Scrapes render in threads of their own: nothing else that blocks (a credential refresh, a reload's
# file reads) can queue in front of them, and /-/healthy asks these threads whether they answer.
SCRAPES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scrape")
SCRAPE_STALL = 5.0  # seconds: a scrape thread that cannot start a no-op this fast cannot serve scrapes


def parse_listen_address(address: str) -> tuple[str | None, int]:
    """':9877' -> (None, 9877) meaning every interface; '127.0.0.1:0', '[::1]:9877'."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--web.listen-address: expected [host]:port, got {address!r}")
    host = host.strip("[]") or None
    return host, int(port)


def make_app(exposition: Exposition, store: Store, ready: Callable[[], bool], config_source: Callable[[], str], *,
             liveness=None, budget=None, maintenance=None, canary=None, reloader=None) -> web.Application:
    """The exporter's routes. What the landing page shows beside the probes is optional and named:
    the checkers, the budget, the maintenance windows (() -> Config) and the reloader."""
    def scrape(accept: str, gzipped: bool) -> tuple[bytes, dict[str, str]]:
        body, content_type = exposition.render(accept)
        if not gzipped:
            return body, {"Content-Type": content_type}
        # level 1: at 1,000 series (8 MB of text) 11 ms instead of 35 ms at the default level, for a
        # body 20 % larger (270 KB instead of 225 KB); see BENCHMARKS.md
        return gzip.compress(body, compresslevel=1, mtime=0), {"Content-Type": content_type, "Content-Encoding": "gzip"}

    async def metrics(request: web.Request) -> web.Response:
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
        body, headers = await asyncio.get_running_loop().run_in_executor(
            SCRAPES, scrape, request.headers.get("Accept", ""), gzipped)
        return web.Response(body=body, headers=headers)

    async def index(request: web.Request) -> web.Response:
        html = landing.render(store, ready(), config_source(), liveness, budget,
                              maintenance() if maintenance else None, canary, reloader)
        return web.Response(body=utf8(html), content_type="text/html", charset="utf-8")

    async def healthy(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(SCRAPE_STALL):
                await asyncio.get_running_loop().run_in_executor(SCRAPES, int)
        except TimeoutError:
            return web.Response(status=503, text=f"Unhealthy: scrapes cannot start within {SCRAPE_STALL:g}s.\n")
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


class Server:
    """One process's listeners: one per --web.listen-address, or the sockets systemd passed. Every
    request passes the basic-auth check of the current web config; a new web config (reload) applies
    to the next request, and a TLS change re-opens the listeners on the same ports (connections
    already open finish on the old settings)."""

    def __init__(self, app: web.Application, addresses: str | Sequence[str], web_config: WebConfig | None = None,
                 sockets: Sequence[socket.socket] = ()):
        addresses = [addresses] if isinstance(addresses, str) else list(addresses)
        self.endpoints = [parse_listen_address(address) for address in addresses]
        self.sockets = list(sockets)  # kept open: each listener gets a duplicate, closed when it stops
        self.web_config = web_config or WebConfig()
        self.auth = BasicAuth()
        app.middlewares.append(self._guard)
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5, **LIMITS)
        self.listeners: list[asyncio.AbstractServer] = []
        self.ports: list[int] = [port for _, port in self.endpoints]

    @property
    def port(self) -> int:
        """The first listener's port (the one bound, when 0 was asked for)."""
        return self.ports[0] if self.ports else 0

    async def start(self) -> None:
        await self.runner.setup()
        try:
            self.ports = await self._open(self.ports)
        except BaseException:
            await self.runner.cleanup()
            raise

    async def _open(self, ports: list[int]) -> list[int]:
        """Open every listener; the ports they are bound to."""
        ssl_context = self.web_config.ssl_context()
        tls = {"ssl": ssl_context, "ssl_handshake_timeout": HANDSHAKE_TIMEOUT} if ssl_context else {}
        loop = asyncio.get_running_loop()
        bound = []
        for (host, _), port in zip(self.endpoints, ports):
            listener = await loop.create_server(self.runner.server, host, port, backlog=128, **tls)
            self.listeners.append(listener)
            bound.append(listener.sockets[0].getsockname()[1])
        for sock in self.sockets:
            self.listeners.append(await loop.create_server(self.runner.server, sock=sock.dup(), backlog=128, **tls))
            bound.append(sock.getsockname()[1] if sock.family in (socket.AF_INET, socket.AF_INET6) else 0)
        return bound

    async def _close(self) -> None:
        """Stop listening; open connections finish (runner.cleanup() closes them on stop)."""
        while self.listeners:
            self.listeners.pop().close()

    async def apply(self, new: WebConfig) -> None:
        """Switch to a new, already validated web config."""
        old, self.web_config = self.web_config, new
        if new.tls_fingerprint == old.tls_fingerprint or not self.listeners:
            return
        await self._close()
        try:
            await self._open(self.ports)
        except OSError:
            await self._close()
            self.web_config = old  # a port was taken in between: keep serving the old settings
            await self._open(self.ports)
            raise

    async def stop(self) -> None:
        await self._close()
        await self.runner.cleanup()
        for sock in self.sockets:
            sock.close()
        self.auth.close()

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        config = self.web_config
        if config.users and request.path not in config.open_paths:
            try:
                ok = await self.auth.check(config, request.headers.get("Authorization", ""))
            except AuthBusy:  # a flood of unknown credentials: refuse unchecked, scrapes go on
                return web.Response(status=503, text="Too many authentication attempts; try again.\n",
                                    headers={"Retry-After": "1"})
            if not ok:
                return web.Response(status=401, text="Unauthorized: basic auth required.\n",
                                    headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})
        return await handler(request)


async def read_body(request: web.Request) -> bytes:
    """The request body, read within BODY_TIMEOUT (else 408 and the connection closes) and within the
    app's client_max_size (else aiohttp's 413)."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            return await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(text=f"the request body did not arrive within {BODY_TIMEOUT:g}s\n",
                                     headers={"Connection": "close"}) from None
