"""The OpenAI-style dialects (those whose class sets `openai_sdk_call`) sent through the openai SDK, as the
teams' own applications call their gateways: `client.images.generate(...)`,
`client.chat.completions.create(...)`, with the gateway's extra fields in `extra_body`.

The SDK runs on the probe's own httpx client (`AsyncOpenAI(http_client=...)`: openai 3.x takes a
legacy `httpx.AsyncClient` beside its own httpx2 one), so the probe keeps its single HTTP stack: the
phase timing (the trace hook the probe's client adds to every request), the body cap (the client's
capping transport, error bodies included), no keep-alive. `max_retries=0`: one attempt, as every
probe; the series' timeout is the SDK's timeout too (the probe's own deadline still bounds all).

What the SDK adds: the request as the SDK builds it (its headers, its JSON encoding, its
base_url joining), and its parsing of the answer: a 2xx body the SDK cannot parse (invalid JSON
under a JSON content type) is `bad_response` with the SDK's message, as it would break the users'
applications. Error answers are classified from their status and body exactly as the other
dialects' (exporter.probing.dialects.base.classify_error), which reads more than the SDK's exception class
(a 403 from a moderation filter is content_blocked, not PermissionDeniedError's auth_error).
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections import OrderedDict
from typing import Any

import httpx

from exporter.probing.dialects.base import ProbeFailure, Request
from exporter.contract.outcomes import Outcome

CLIENTS_KEPT = 16  # SDK clients per prober, by (base_url, key): a new key makes a new one


class SDK:
    """SDK clients over one httpx client. The openai package is imported on first use: a config
    without OpenAI-style targets never pays its import time."""

    def __init__(self, http: httpx.AsyncClient):
        self.http = http
        self._clients: OrderedDict[tuple[str, str | None], Any] = OrderedDict()
        self._openai: Any = None

    async def ready(self) -> None:
        """Import the SDK (once, in a thread: about 1-2 s), before the probe's clock starts."""
        if self._openai is None:
            self._openai = await asyncio.to_thread(importlib.import_module, "openai")

    def client(self, base_url: str, key: str | None) -> Any:
        openai = self._openai or importlib.import_module("openai")

        entry = (base_url, key)
        if entry not in self._clients:
            # no key: a placeholder the SDK insists on, and its header omitted in call()
            self._clients[entry] = openai.AsyncOpenAI(api_key=key or "unused", base_url=base_url, http_client=self.http,
                                                      max_retries=0)
            while len(self._clients) > CLIENTS_KEPT:
                self._clients.popitem(last=False)
        self._clients.move_to_end(entry)
        return self._clients[entry]

    async def call(self, kind: str, base_url: str, key: str | None, request: Request,
                   timeout: float) -> tuple[int, Any, str, int]:
        """(status, parsed JSON payload or None, content type, body bytes) of one SDK call; `kind`:
        the dialect's `openai_sdk_call`, "images" (images.generate) or "chat" (chat.completions.create)."""
        openai = self._openai or importlib.import_module("openai")

        client = self.client(base_url, key)
        body = dict(request.body or {})
        options: dict[str, Any] = {"extra_body": body, "timeout": timeout}
        if not key:  # send no Authorization header, as the other dialects do without a key
            options["extra_headers"] = {"Authorization": openai.omit}
        try:
            if kind == "images":
                raw = await client.images.with_raw_response.generate(
                    model=body.pop("model"), prompt=body.pop("prompt"), **options)
            else:
                raw = await client.chat.completions.with_raw_response.create(
                    model=body.pop("model"), messages=body.pop("messages"), **options)
        except openai.APIStatusError as err:  # 4xx / 5xx: the body was read (and capped) by the SDK
            response = err.response
            return response.status_code, _json(response.content), response.headers.get("content-type", ""), \
                len(response.content)
        except (openai.APITimeoutError, openai.APIConnectionError) as err:
            # the httpx error (or the cap's ProbeFailure) underneath: the probe classifies it as ever
            cause = err.__cause__
            if isinstance(cause, (httpx.HTTPError, ProbeFailure, OSError)):
                raise cause from None
            raise
        response = raw.http_response
        status, size, content_type = response.status_code, len(response.content), response.headers.get("content-type", "")
        try:
            parsed = raw.parse()
        except Exception as err:  # what breaks an application using the SDK breaks the probe
            raise ProbeFailure(Outcome.BAD_RESPONSE,
                               f"the openai SDK cannot parse the answer: {type(err).__name__}: {err}") from None
        del raw, response
        if isinstance(parsed, str):  # the SDK hands back the text of a body that is not JSON
            return status, None, content_type, size
        return status, parsed.to_dict(mode="python", exclude_unset=True), content_type, size


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
