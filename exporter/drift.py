"""The catalog against the live APIs: free listing calls, compared with exporter/catalog.py.

The catalog was right for the APIs as documented when it was written; the APIs move on (a model
retired early, a price changed, a new Nano Banana). This module asks the APIs themselves, with each
target's credentials, through calls that cost nothing:

- Gemini API: `GET {base}/v1beta/models` (models.list): which ids exist; a Gemini image id the
  catalog does not know is a new model. It lists no prices.
- Vertex AI: `GET {endpoint}/v1beta1/publishers/google/models/{model}` (publishers.models.get, Model
  Garden's entry): whether the id still exists. No prices, no list of new ids.
- OpenRouter (both dialects): `GET {base}/models?output_modalities=image` (the default list hides
  image models): ids, `pricing.prompt` / `pricing.completion` in USD per token, compared with the
  family's text rates; `supported_parameters`. Its per-image `pricing.image` is the price of an
  input image (UNVERIFIED which), so image-token prices are not compared.
- OpenAI-style gateways: `GET {base}/models`: whether the id is listed; a Gemini image id the
  catalog does not know is a new model.

Dialects' request builders do no I/O (exporter/dialects), nor does `compare`: recorded listings test
it directly (tests/fixtures/upstream/listings/). `check_catalog` does the calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from exporter import catalog
from exporter.dialects.base import Request
from exporter.dialects.openai_images import bearer
from exporter.targets import Config, Target

KINDS: tuple[str, ...] = ("gone", "price", "new_model")  # the `kind` label of nanobanana_catalog_drift
PRICE_TOLERANCE = 0.05  # a live price more than 5 % off the catalog's is drift
MAX_BYTES = 8 * 1024 * 1024
OFFLINE_ENV = "NANOBANANA_CATALOG_CHECK"  # "off": --config.check compares nothing (the tests set it)


@dataclass(frozen=True)
class Drift:
    kind: str  # one of KINDS
    target: str
    model: str  # the configured model, or the new model's id
    catalog: str  # what the catalog says ("" for a new model)
    live: str  # what the API says
    field: str = ""  # price: which rate

    def describe(self) -> str:
        if self.kind == "gone":
            return f"model {self.model} (target {self.target}) is not listed by its API any more (catalog: {self.catalog})"
        if self.kind == "price":
            return (f"model {self.model} (target {self.target}): live {self.field} price {self.live} USD per 1M tokens, "
                    f"catalog {self.catalog}")
        return f"the API of target {self.target} lists an image model the catalog does not know: {self.model}"


def listing_request(target: Target, secret: str | None) -> Request | None:
    """The free call that lists what the target's API serves, or None for a dialect without one."""
    base = target.base_url.rstrip("/")
    if target.api == "gemini":
        return Request(f"{base}/v1beta/models?pageSize=1000", {"x-goog-api-key": secret} if secret else {}, None, "GET")
    if target.api == "vertex":
        return Request(f"{base}/v1beta1/publishers/google/models/{quote(target.model, safe='')}", bearer(secret), None,
                       "GET")
    if target.api in ("openrouter", "openrouter_images"):
        return Request(f"{base}/models?output_modalities=image", bearer(secret), None, "GET")
    if target.api in ("openai_images", "openai_chat"):
        return Request(f"{base}/models", bearer(secret), None, "GET")
    return None


def _stage(target: Target) -> str:
    entry = catalog.MODELS.get(target.model)
    if entry is None:
        return "not in the catalog"
    shutdown = entry.shutdown_on(target.api)
    return f"{entry.stage_on(catalog.today(), target.api)}" + (f", shutdown {shutdown}" if shutdown else "")


def _gemini_image_id(model_id: str) -> bool:
    return model_id.startswith(("gemini-", "google/gemini-")) and "image" in model_id


def compare(target: Target, status: int, payload: Any) -> list[Drift]:
    """What a listing answer says against the catalog, for one target. A 404 on Vertex's lookup is
    `gone`; other non-2xx answers say nothing (the liveness check reports them)."""
    drifts: list[Drift] = []
    if target.api == "vertex":
        return [Drift("gone", target.name, target.model, _stage(target), "404 from publishers.models.get")] \
            if status == 404 else []
    if not 200 <= status < 300 or not isinstance(payload, dict):
        return []
    if target.api == "gemini":
        listed = {str(m.get("name", "")).removeprefix("models/"): m for m in payload.get("models") or [] if isinstance(m, dict)}
    else:
        listed = {str(m.get("id", "")): m for m in payload.get("data") or [] if isinstance(m, dict)}
    if target.model not in listed and (target.model in catalog.MODELS or target.api in ("gemini", "openrouter", "openrouter_images")):
        drifts.append(Drift("gone", target.name, target.model, _stage(target), "not in the list"))
    entry = listed.get(target.model)
    if entry is not None and target.api.startswith("openrouter"):
        family = target.family
        pricing = entry.get("pricing") if isinstance(entry.get("pricing"), dict) else {}
        for field, ours in (("prompt", family.usd_per_million_input_tokens), ("completion", family.usd_per_million_text_tokens)):
            live = _per_million(pricing.get(field))
            if live is not None and abs(live - ours) > PRICE_TOLERANCE * ours:
                drifts.append(Drift("price", target.name, target.model, f"{ours:g}", f"{live:g}", field))
    for model_id in sorted(listed):
        if model_id not in catalog.MODELS and _gemini_image_id(model_id) and (
                target.api != "openrouter" or model_id.startswith("google/")):
            drifts.append(Drift("new_model", target.name, model_id, "", "listed"))
    return drifts


def _per_million(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number * 1e6, 6) if number >= 0 else None


@dataclass
class Report:
    drifts: list[Drift] = dataclasses.field(default_factory=list)
    compared: list[str] = dataclasses.field(default_factory=list)  # target names whose API answered
    unreachable: dict[str, str] = dataclasses.field(default_factory=dict)  # target name -> why


async def check_catalog(targets: Iterable[Target], client: httpx.AsyncClient, secret=None,
                        timeout: float = 10.0) -> Report:
    """Every target's listing, compared; one call per distinct listing URL and credential. `secret`:
    an async function of the target giving what its dialect sends (exporter.credentials)."""
    report = Report()
    answers: dict[tuple[str, str | None], tuple[int, Any] | str] = {}
    for target in targets:
        try:
            async with asyncio.timeout(timeout):
                key = await secret(target) if secret else target.api_key
                request = listing_request(target, key)
                if request is None:
                    continue
                cache = (request.url, key)
                if cache not in answers:
                    answers[cache] = await _get(client, request)
        except (TimeoutError, httpx.HTTPError, OSError) as err:
            report.unreachable[target.name] = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            continue
        except Exception as err:  # credentials that fail: the liveness check says more
            report.unreachable[target.name] = f"{type(err).__name__}"
            continue
        status, payload = answers[cache]
        if status in (401, 403) or status >= 500:
            report.unreachable[target.name] = f"HTTP {status}"
            continue
        report.compared.append(target.name)
        report.drifts.extend(d for d in compare(target, status, payload) if d not in report.drifts)
    return report


async def _get(client: httpx.AsyncClient, request: Request) -> tuple[int, Any]:
    async with client.stream("GET", request.url, headers=request.headers) as response:
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_BYTES:
                raise httpx.DecodingError(f"listing larger than {MAX_BYTES} bytes")
    try:
        return response.status_code, json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return response.status_code, None


def config_check_lines(config: Config, timeout: float = 10.0) -> list[str]:
    """What `--config.check` prints about the catalog: the comparison when the APIs answer, and
    which could not be reached; never a failure (an offline check is still a valid check)."""
    if os.environ.get(OFFLINE_ENV, "").lower() == "off":
        return [f"catalog: not compared with the live APIs ({OFFLINE_ENV}=off)"]

    async def run() -> Report:
        from exporter.credentials import Credentials

        credentials = Credentials()
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            return await check_catalog(config.targets, client, credentials.secret, timeout)

    try:
        report = asyncio.run(run())
    except Exception as err:  # noqa: BLE001 - an offline check never fails the config check
        return [f"catalog: not compared with the live APIs ({type(err).__name__})"]
    lines = [f"CATALOG DRIFT: {d.describe()}" for d in report.drifts]
    if report.compared:
        lines.insert(0, f"catalog: compared with the live APIs of {', '.join(report.compared)}: "
                        f"{len(report.drifts) or 'no'} difference{'s' if len(report.drifts) != 1 else ''}")
    for name, why in report.unreachable.items():
        lines.append(f"catalog: the API of target {name} could not be reached ({why}): not compared")
    return lines


DAY = 86400.0


def catalog_watch(credentials=None) -> "CatalogWatch | None":
    """The running exporter's watch, or None when NANOBANANA_CATALOG_CHECK=off (the tests' default)."""
    if os.environ.get(OFFLINE_ENV, "").lower() == "off":
        return None
    return CatalogWatch(credentials)


class CatalogWatch:
    """The comparison in the running exporter: at start, after a reload that changes the targets, and
    then daily, with the liveness checks' credentials and TLS. Its report feeds the
    `nanobanana_catalog_*` families (exporter/metrics.py CATALOG_FAMILIES)."""

    def __init__(self, credentials=None, transport: httpx.AsyncBaseTransport | None = None, interval: float = DAY,
                 timeout: float = 30.0):
        from exporter import __version__, tls
        from exporter.credentials import Credentials

        self.credentials = credentials or Credentials()
        self.interval, self.timeout = interval, timeout
        self.report: Report | None = None
        self.last_run: float | None = None  # wall clock of the last finished comparison
        self._targets: tuple[Target, ...] = ()
        self._task: asyncio.Task | None = None
        self._client = httpx.AsyncClient(verify=tls.client_context(), timeout=timeout, follow_redirects=False,
                                         transport=transport, headers={"User-Agent": f"nanobanana-exporter/{__version__}"})

    def apply(self, config: Config) -> None:
        """Compare now (and daily) when the targets' listings changed; keep the schedule otherwise."""
        targets = tuple(config.targets)
        specs = [(t.name, t.api, t.base_url, t.model, t.api_key, t.google) for t in targets]
        if self._task is not None and specs == [(t.name, t.api, t.base_url, t.model, t.api_key, t.google)
                                                for t in self._targets]:
            return
        self._targets = targets
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="catalog drift")

    async def _loop(self) -> None:
        import logging
        import time

        log = logging.getLogger(__name__)
        while True:
            try:
                report = await check_catalog(self._targets, self._client, self.credentials.secret, self.timeout)
            except Exception as err:  # noqa: BLE001 - a bug of ours must not end the daily check
                log.error("catalog drift check raised unexpectedly: %r", type(err).__name__)
            else:
                self.report, self.last_run = report, time.time()
                for d in report.drifts:
                    log.info("catalog drift", extra={"kind": d.kind, "target": d.target, "model": d.model,
                                                     "catalog": d.catalog, "live": d.live})
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()
