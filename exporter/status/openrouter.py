"""OpenRouter endpoint statistics: per provider endpoint of a model, uptime, latency and status.

`GET {base}/models/{author}/{slug}/endpoints` is free; with an API key the answer also carries
latency percentiles (null without one). Uptime comes in percent, latency in milliseconds.

The latency unit, settled from evidence (2026-12-06): OpenRouter's SDK (`PercentileStats`) says
"Latency percentiles in milliseconds ... time to first token", while its example (p50 25.5, p99 85.3)
reads like seconds. A recorded live answer decides it: 33 endpoints of z-ai/glm-5.3-flash fetched
2026-09-30 (tests/fixtures/upstream/openrouter-endpoints-live.json, third party) have p50 373 to
10792 and p99 up to 21556: as seconds, a first token after 3 to 6 hours. Milliseconds.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import Field, field_validator

from exporter.common.durations import Duration
from exporter.status.base import (
    LATENCY_QUANTILES, MAX_ENDPOINTS, UPTIME_WINDOWS, Endpoint, Snapshot, Source, SourceError, SourceSettings,
    check_status, get, read_capped,
)

# the catalog's current OpenRouter slugs of Nano Banana Pro and its newest Flash (exporter/models/catalog.py): not the
# deprecated google/gemini-3.1-flash-image this list named until 2026-12-06
DEFAULT_MODELS = ("google/gemini-3-pro-image", "google/gemini-nano-banana-2.1")
TRIGGER_WINDOW = UPTIME_WINDOWS[0]  # 5m: the freshest figure


class OpenRouterSettings(SourceSettings):
    base_url: str = Field(default="https://openrouter.ai/api/v1", pattern=r"^https?://")
    interval: Duration = Field(default=300.0, gt=0)  # OpenRouter refreshes its figures about every 5 minutes
    max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    models: list[str] = Field(default_factory=lambda: list(DEFAULT_MODELS), min_length=1)
    api_key_env: str | None = None
    api_key_file: str | None = None
    # A model whose endpoints' 5-minute uptime falls below this ratio probes the targets of that model
    # at once (Scheduler.model_degraded, at most once an interval per series); null: never.
    trigger_uptime_below: float | None = Field(default=0.9, gt=0, le=1)

    @field_validator("models")
    @classmethod
    def _author_slug(cls, models: list[str]) -> list[str]:
        for model in models:
            author, _, slug = model.partition("/")
            if not author or not slug or "/" in slug or any(c in model for c in "?#% "):
                raise ValueError(f"model {model!r} is not author/slug")
        if len(set(models)) != len(models):
            raise ValueError("lists a model twice")
        return models


class OpenRouterEndpoints(Source):
    kind = "openrouter"
    Settings = OpenRouterSettings
    settings: OpenRouterSettings

    async def fetch(self, client: httpx.AsyncClient) -> Snapshot:
        endpoints: list[Endpoint] = []
        for model in self.settings.models:  # one at a time: a polite, cheap poll
            try:
                payload = await self._get(client, model)
                endpoints.extend(parse_endpoints(model, payload))
            except SourceError as err:
                raise SourceError(f"{model}: {err}") from None
        return Snapshot(endpoints=tuple(endpoints))

    def degraded(self, snapshot: Snapshot) -> set[str]:
        """Models with an endpoint whose uptime over the last 5 minutes is below trigger_uptime_below:
        a Google endpoint failing OpenRouter's traffic is a hint, worth one paid probe, not a verdict."""
        below = self.settings.trigger_uptime_below
        if below is None:
            return set()
        return {e.model for e in snapshot.endpoints if e.uptime.get(TRIGGER_WINDOW, 1.0) < below}

    async def _get(self, client: httpx.AsyncClient, model: str) -> Any:
        url = f"{self.settings.base_url.rstrip('/')}/models/{model}/endpoints"
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        async with get(client, url, headers, self.settings) as response:
            check_status(response)
            body = await read_capped(response, self.settings.max_bytes)
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise SourceError(f"the answer is not valid JSON: {err}") from None


def parse_endpoints(model: str, payload: Any) -> list[Endpoint]:
    data = payload.get("data") if isinstance(payload, dict) else None
    raw_endpoints = data.get("endpoints") if isinstance(data, dict) else None
    if not isinstance(raw_endpoints, list):
        raise SourceError("the answer has no data.endpoints list")
    endpoints: list[Endpoint] = []
    seen: set[str] = set()
    for raw in raw_endpoints:
        if len(endpoints) == MAX_ENDPOINTS:
            break
        if not isinstance(raw, dict) or not isinstance(raw.get("provider_name"), str) or not raw["provider_name"]:
            continue
        provider = raw["provider_name"]
        if provider in seen:  # a provider with two endpoints (say fp8 and bf16): tell them apart
            provider = f"{provider} ({raw.get('tag') or raw.get('quantization') or len(seen)})"
        seen.add(provider)
        status = raw.get("status")
        uptime = {w: _ratio(raw.get(f"uptime_last_{w}")) for w in UPTIME_WINDOWS}
        latency_ms = raw.get("latency_last_30m") if isinstance(raw.get("latency_last_30m"), dict) else {}
        latency = {q: _number(latency_ms.get(key)) for key, q in LATENCY_QUANTILES.items()}
        endpoints.append(Endpoint(
            model=model,
            provider=provider,
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            uptime={w: v for w, v in uptime.items() if v is not None},
            latency={q: v / 1000 for q, v in latency.items() if v is not None},
        ))
    return endpoints


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return None
    return float(value)


def _ratio(percent: Any) -> float | None:
    value = _number(percent)
    return None if value is None else min(value, 100.0) / 100.0
