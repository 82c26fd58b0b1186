"""Everything a person or Prometheus could read during the test session, kept for one last check:
no known fake secret may appear in any of it (tests/test_zz_secrets.py runs last and scans it).

Fed by: conftest.running_process (every exporter, simulator and relay process's whole log),
stack.Service (processes started by start_service), stack.FakeWebhook (every relay message a fake bot
received: its body; the URL legitimately carries the bot's credentials), and every response a test
read over httpx from a loopback /metrics, landing page, /-/reload or relay /alerts/ endpoint.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from urllib.parse import urlsplit

import httpx

# The kinds of text the final check expects to have seen in a full run.
KINDS = ("metrics", "landing page", "log", "relay message", "response")


class Captured:
    """Each text is scanned as it arrives (the session reads ~100 MB of scrapes: only sizes and
    findings are kept), so a secret must be registered before text that could hold it is captured:
    at import time, or before the process that knows it starts."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.allowed: dict[str, frozenset[str]] = {}  # secret -> kinds it belongs in
        self.sizes: dict[str, int] = defaultdict(int)  # kind -> characters scanned
        self.found: list[str] = []
        self._lock = threading.Lock()

    def secret(self, *values: str, allowed_in: tuple[str, ...] = ()) -> None:
        """Register recognisable fake secrets the tests use. allowed_in: kinds where the value belongs
        (a mention's user ID in the relay message that mentions them), searched for everywhere else."""
        with self._lock:
            self.secrets.update(v for v in values if v)
            if allowed_in:
                self.allowed.update({v: frozenset(allowed_in) for v in values if v})

    def add(self, kind: str, text: str, where: str = "") -> None:
        if not text:
            return
        with self._lock:
            self.sizes[kind] += len(text)
            for secret in self.secrets:
                if kind in self.allowed.get(secret, ()):
                    continue
                at = text.find(secret)
                if at >= 0:
                    context = text[max(0, at - 80): at + len(secret) + 40].replace("\n", " ")
                    self.found.append(f"{kind} ({where or '?'}): {secret!r} in ...{context}...")

    def size(self, kind: str) -> int:
        return self.sizes.get(kind, 0)

    def leaks(self) -> list[str]:
        """'kind (where): secret in ...context...' for every occurrence of a registered secret."""
        with self._lock:
            return list(self.found)

    def response(self, response: httpx.Response) -> None:
        """Keep a response a test read from one of our servers' user-facing endpoints."""
        url = urlsplit(str(response.request.url))
        if url.hostname not in ("127.0.0.1", "localhost", "::1"):
            return
        path = url.path
        if path == "/metrics":
            kind = "metrics"
        elif path == "/":
            kind = "landing page"
        elif path.startswith(("/alerts/", "/-/")):
            kind = "response"
        else:
            return
        try:
            text = response.text
        except httpx.ResponseNotRead:
            return
        self.add(kind, text, f"{response.request.method} {path}")


CAPTURED = Captured()


def install_httpx_hook() -> None:
    """Feed CAPTURED every non-streamed httpx response the tests read (sync and async clients)."""
    if getattr(httpx.Client.send, "_captured", False):
        return
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self, request, *args, **kwargs):
        response = sync_send(self, request, *args, **kwargs)
        if not kwargs.get("stream"):
            CAPTURED.response(response)
        return response

    async def asend(self, request, *args, **kwargs):
        response = await async_send(self, request, *args, **kwargs)
        if not kwargs.get("stream"):
            CAPTURED.response(response)
        return response

    send._captured = asend._captured = True
    httpx.Client.send, httpx.AsyncClient.send = send, asend
