"""Credit headroom: what is left on a target's API key, where the API publishes it for free.

A probe that stops because the account ran out of credit is an outage you could have seen coming.
OpenRouter publishes a key's limit, what is left of it and its spend at GET /api/v1/key (free, the
key itself as bearer token; openrouter.ai/docs/api/api-reference/api-keys/get-current-key, seen
2026-12-06): `data.limit` (USD, null without a limit), `data.limit_remaining`, `data.usage` (all-time
spend in USD). The rules divide what is left by the last day's spend (NanoBananaCreditRunningOut).
The Gemini API, Vertex AI and OpenAI-style gateways publish no such figure (docs/cost.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from exporter.common import tls
from exporter.probing.dialects import DIALECTS
from exporter.common.metric_families import Collector, Table, counter, gauge
from exporter.domain.targets import Config, Target

log = logging.getLogger(__name__)

INTERVAL = 300.0  # seconds between looks: the figures move with spend, a few cents a probe
TIMEOUT = 10.0

CREDIT_FAMILIES = Table(
    gauge("nanobanana_credit_remaining_usd", "Credit left on the target's API key, as the API reports it (OpenRouter "
          "limit_remaining); absent when the key has no limit. Read every 5 minutes."),
    gauge("nanobanana_credit_limit_usd", "Credit limit of the target's API key (OpenRouter limit); absent when the "
          "key has none."),
    counter("nanobanana_credit_used_usd", "All-time spend on the target's API key as the API reports it (OpenRouter "
            "usage), every application using the key included."),
    base=("target",))


@dataclass(frozen=True)
class Credit:
    used: float
    limit: float | None
    remaining: float | None


def has_credit(target: Target) -> bool:
    """Whether the target's API publishes its key's credit (its dialect's `credit_request`)."""
    return bool(target.api_key) and DIALECTS[target.api].credit_request(target, target.api_key) is not None


def read_credit(payload: object) -> Credit:
    """OpenRouter's /key answer as figures; ValueError when it is not that shape."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise ValueError("no `data` object")

    def usd(name: str, optional: bool) -> float | None:
        value = data.get(name)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"`data.{name}` is not an amount in USD")
        return float(value)

    return Credit(used=usd("usage", False), limit=usd("limit", True), remaining=usd("limit_remaining", True))


class CreditChecker(Collector):
    """Reads the credit of every target whose API publishes it, every INTERVAL seconds; a collector
    of CREDIT_FAMILIES."""

    families = CREDIT_FAMILIES

    def __init__(self, redact: Callable[[str], str] = str, interval: float = INTERVAL,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.redact = redact
        self.interval = interval
        self.credits: dict[str, Credit] = {}
        self._tasks: dict[str, tuple[Target, asyncio.Task]] = {}
        self._client = httpx.AsyncClient(verify=tls.client_context(), timeout=TIMEOUT, follow_redirects=False,
                                         transport=transport)

    def apply(self, config: Config) -> None:
        wanted = {t.name: t for t in config.targets if has_credit(t)}
        for name, (target, task) in list(self._tasks.items()):
            if wanted.get(name) != target:
                task.cancel()
                del self._tasks[name]
                self.credits.pop(name, None)
        for name, target in wanted.items():
            if name not in self._tasks:
                self._tasks[name] = (target, asyncio.create_task(self._loop(target), name=f"credit {name}"))

    async def _loop(self, target: Target) -> None:
        while True:
            await self.check(target)
            await asyncio.sleep(self.interval)

    async def check(self, target: Target) -> None:
        request = DIALECTS[target.api].credit_request(target, target.api_key or "")
        try:
            response = await self._client.request(request.method, request.url, headers=request.headers)
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            self.credits[target.name] = read_credit(response.json())
        except (httpx.HTTPError, ValueError) as err:
            # kept as it was: a missed look changes nothing the rules read; the log says why
            log.warning("credit check failed", extra={"target": target.name, "error": self.redact(str(err))[:200]})

    async def stop(self) -> None:
        for _, task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*(task for _, task in self._tasks.values()), return_exceptions=True)
        self._tasks.clear()
        await self._client.aclose()

    # metrics -----------------------------------------------------------------------------------
    def fill(self, families) -> None:
        for name, credit in sorted(self.credits.items()):
            families["nanobanana_credit_used_usd"].add_metric([name], credit.used)
            if credit.limit is not None:
                families["nanobanana_credit_limit_usd"].add_metric([name], credit.limit)
            if credit.remaining is not None:
                families["nanobanana_credit_remaining_usd"].add_metric([name], credit.remaining)
