"""The shape every status source shares: settings, one fetch, one parsed snapshot.

A source fetches its upstream once per call and returns a `Snapshot` (or `None` when the upstream
answered "not modified"), or raises `SourceError` with a message fit for a log line. Sources keep
only what the metrics need; the poller and the collector never know which source they run.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from exporter.common import bodies
from exporter.common.durations import Duration

# status_impact values of the Google Cloud feed and the label values they become
IMPACTS: dict[str, str] = {
    "SERVICE_INFORMATION": "information",
    "SERVICE_DISRUPTION": "disruption",
    "SERVICE_OUTAGE": "outage",
}
UNKNOWN_IMPACT = "unknown"
UPTIME_WINDOWS: tuple[str, ...] = ("5m", "30m", "1d")
LATENCY_QUANTILES: dict[str, str] = {"p50": "0.5", "p75": "0.75", "p90": "0.9", "p99": "0.99"}
TITLE_MAX = 100  # characters of an incident title kept as a label value
# Incidents kept per product, as series; the rest are only counted. 2,000 ongoing incidents made
# 2,001 alert instances and 600,000 a 109 MB /metrics (issue 32); a real product has a handful.
MAX_INCIDENTS = 100
MAX_ENDPOINTS = 100  # provider endpoints kept per model (a real model has a few)


class SourceError(Exception):
    """A fetch or parse that failed; the message names what went wrong, never a secret."""


class SourceSettings(BaseModel):
    """Settings every source takes; each source adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    interval: Duration = Field(default=300.0, gt=0)
    timeout: Duration = Field(default=30.0, gt=0)
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)


@dataclass(frozen=True)
class Incident:
    """An ongoing (or not yet ended) official incident, as matched to one configured product."""

    product: str
    impact: str
    id: str
    title: str
    url: str
    end: float | None = None  # seconds since the epoch; None while ongoing

    def ongoing(self, now: float) -> bool:
        return self.end is None or self.end > now


@dataclass(frozen=True)
class Endpoint:
    """One provider endpoint of a model, as a third-party aggregator measures it."""

    model: str
    provider: str
    status: int | None  # 0 = normal; negative values are undocumented
    uptime: dict[str, float] = field(default_factory=dict)  # window -> ratio 0-1
    latency: dict[str, float] = field(default_factory=dict)  # quantile -> seconds


@dataclass(frozen=True)
class Snapshot:
    products: tuple[str, ...] = ()  # every product watched, so absent incidents read as 0
    incidents: tuple[Incident, ...] = ()  # at most MAX_INCIDENTS per product, the first the feed lists
    uncounted: tuple[tuple[str, str, int], ...] = ()  # (product, impact, ongoing incidents beyond those)
    endpoints: tuple[Endpoint, ...] = ()


class Source:
    kind: ClassVar[str]
    Settings: ClassVar[type[SourceSettings]]

    def __init__(self, settings: SourceSettings, api_key: str | None = None):
        self.settings = settings
        self.api_key = api_key

    async def fetch(self, client: httpx.AsyncClient) -> Snapshot | None:
        raise NotImplementedError

    def degraded(self, snapshot: Snapshot) -> set[str]:
        """The models this snapshot says are degraded (a paid probe of their targets is worth it now)."""
        return set()


@contextlib.asynccontextmanager
async def get(client: httpx.AsyncClient, url: str, headers: dict[str, str], settings: SourceSettings):
    """A streamed GET, the whole of it (headers and body) within settings.timeout: httpx's timeout
    bounds each read, so a feed that trickles a byte a second never ended (issue 32)."""
    try:
        async with asyncio.timeout(settings.timeout):
            async with client.stream("GET", url, headers=headers, timeout=settings.timeout) as response:
                yield response
    except TimeoutError:
        raise SourceError(f"no complete answer within {settings.timeout:g}s (the source's timeout)") from None


async def read_capped(response: httpx.Response, max_bytes: int) -> bytearray:
    """The body of a streamed response in one buffer (exporter/common/bodies.py), refusing more than `max_bytes`."""
    try:
        return await bodies.read_capped(response, max_bytes)
    except bodies.TooLarge as err:
        raise SourceError(f"{err} (the source's max_bytes)") from None


def check_status(response: httpx.Response) -> None:
    if response.status_code != 200:
        reason = response.reason_phrase or ""
        raise SourceError(f"HTTP {response.status_code} {reason}".rstrip())


def short_title(text: object) -> str:
    """The first line of a description, whitespace collapsed, at most TITLE_MAX characters."""
    if not isinstance(text, str):
        return ""
    first = next((line for line in text.splitlines() if line.strip()), "")
    first = " ".join(first.replace("*", "").split())
    return first if len(first) <= TITLE_MAX else first[: TITLE_MAX - 1].rstrip() + "\u2026"
