"""A loopback stand-in for status.cloud.google.com and openrouter.ai, for the status tests.

Serves whatever feed or endpoint payloads a test sets, answers conditional requests like a CDN
would (ETag and Last-Modified, either can be switched off), and records every request's headers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "status"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class StatusServer:
    base_url: str = ""
    feed: bytes = b"[]"
    feed_status: int = 200  # anything but 200 answers with a short error body
    etag: bool = True
    last_modified: bool = True
    endpoints: dict[str, bytes] = field(default_factory=dict)  # "author/slug" -> body
    endpoints_status: int = 200
    seen: list[Seen] = field(default_factory=list)
    _modified: datetime = field(default_factory=lambda: datetime(2026, 3, 4, 10, 5, 13, tzinfo=timezone.utc))
    _served: bytes = b""

    def set_feed(self, body: bytes | str | list) -> None:
        if isinstance(body, list):
            body = json.dumps(body)
        self.feed = body.encode() if isinstance(body, str) else body

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/incidents.json", self._incidents)
        app.router.add_get("/api/v1/models/{author}/{slug}/endpoints", self._endpoints)
        return app

    async def _incidents(self, request: web.Request) -> web.Response:
        response = self._answer_feed(request)
        self.seen.append(Seen(request.path, dict(request.headers), response.status))
        return response

    def _answer_feed(self, request: web.Request) -> web.Response:
        if self.feed_status != 200:
            return web.Response(status=self.feed_status, text="upstream trouble")
        if self.feed != self._served:  # the feed changed: a new version, a later Last-Modified
            self._served = self.feed
            self._modified += timedelta(minutes=1)
        headers = {}
        tag = '"' + hashlib.sha1(self.feed).hexdigest() + '"'
        if self.etag:
            headers["ETag"] = tag
        if self.last_modified:
            headers["Last-Modified"] = format_datetime(self._modified, usegmt=True)
        if self.etag and request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers=headers)
        since = request.headers.get("If-Modified-Since")
        if self.last_modified and "If-None-Match" not in request.headers and since:
            if self._modified <= parsedate_to_datetime(since):
                return web.Response(status=304, headers=headers)
        return web.Response(body=self.feed, content_type="application/json", headers=headers)

    async def _endpoints(self, request: web.Request) -> web.Response:
        model = f"{request.match_info['author']}/{request.match_info['slug']}"
        body = self.endpoints.get(model)
        if self.endpoints_status != 200:
            response = web.json_response({"error": {"code": self.endpoints_status, "message": "Unauthorized"}},
                                         status=self.endpoints_status)
        elif body is None:
            response = web.json_response({"error": {"code": 404, "message": "No endpoints found"}}, status=404)
        else:
            response = web.Response(body=body, content_type="application/json")
        self.seen.append(Seen(request.path, dict(request.headers), response.status))
        return response


async def start_server(server: StatusServer) -> web.AppRunner:
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.base_url = f"http://{host}:{port}"
    return runner


def status_config(status_yaml: str, environ: dict[str, str] | None = None):
    """A Config whose `status_sources:` is `status_yaml` (indented by the caller's own layout)."""
    from textwrap import indent

    from exporter.loading.config import load_text

    text = ("targets:\n  - {name: t, api: gemini, model: m, base_url: 'http://127.0.0.1:9'}\n"
            "status_sources:\n" + indent(status_yaml.strip("\n"), "  ") + "\n")
    return load_text(text, "<test>", environ=environ or {})


class Harness:
    """A StatusPoller driven by hand (no background loop) and a fresh registry reading it."""

    def __init__(self, config, redact=str):
        from prometheus_client import CollectorRegistry

        from exporter.status.collector import StatusCollector
        from exporter.status.poller import StatusPoller

        self.now: float | None = None  # None: the real clock
        self.poller = StatusPoller(redact)
        self.poller.apply(config.status_sources, run=False)
        self.registry = CollectorRegistry()
        self.registry.register(StatusCollector(self.poller, clock=self._clock))

    def _clock(self) -> float:
        import time

        return time.time() if self.now is None else self.now

    async def poll(self, kind: str) -> None:
        await self.poller.poll(kind)

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def samples(self, name: str) -> list[dict[str, str]]:
        """Label sets of every sample of one metric family."""
        return [dict(s.labels) for metric in self.registry.collect() for s in metric.samples if s.name == name]

    async def close(self) -> None:
        await self.poller.stop()
