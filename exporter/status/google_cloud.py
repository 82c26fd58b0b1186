"""Google Cloud status feed (incidents.json): ongoing incidents on the products we depend on.

The feed holds every incident since 2021 (megabytes), newest first. It is fetched conditionally
(ETag / Last-Modified), read into one capped buffer, decoded once, and only the incidents that
match a configured product and have not ended are kept.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from exporter.common.durations import Duration
from exporter.status.base import (
    IMPACTS, MAX_INCIDENTS, UNKNOWN_IMPACT, Incident, Snapshot, Source, SourceError, SourceSettings,
    check_status, get, read_capped, short_title,
)

GEMINI_PRODUCT_ID = "Z0FZJAMvEB4j3NbCJs6B"


class Product(BaseModel):
    """A product to watch: matched by id, or by any of its titles (products get renamed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9 ._-]+$", max_length=64)  # the `product` label value
    id: str | None = None
    titles: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _matchable(self) -> "Product":
        if not self.id and not self.titles:
            raise ValueError("a product needs an id or at least one title")
        return self


DEFAULT_PRODUCTS = (
    Product(name="Gemini", id=GEMINI_PRODUCT_ID, titles=["Vertex Gemini API", "Gemini on Agent Platform"]),
    Product(name="Vertex AI Online Prediction", titles=["Vertex AI Online Prediction"]),
    Product(name="Vertex Imagen API", titles=["Vertex Imagen API"]),
)


class GoogleCloudSettings(SourceSettings):
    url: str = Field(default="https://status.cloud.google.com/incidents.json", pattern=r"^https?://")
    interval: Duration = Field(default=120.0, gt=0)
    products: list[Product] = Field(default_factory=lambda: list(DEFAULT_PRODUCTS), min_length=1)


class GoogleCloudStatus(Source):
    kind = "google_cloud"
    Settings = GoogleCloudSettings
    settings: GoogleCloudSettings

    def __init__(self, settings: GoogleCloudSettings, api_key: str | None = None):
        super().__init__(settings, api_key)
        self._validators: dict[str, str] = {}  # the feed's ETag / Last-Modified, once parsed
        self._by_id = {p.id: p.name for p in settings.products if p.id}
        self._by_title = {t.casefold(): p.name for p in settings.products for t in p.titles}

    async def fetch(self, client: httpx.AsyncClient) -> Snapshot | None:
        headers = {"Accept": "application/json"}
        if "etag" in self._validators:
            headers["If-None-Match"] = self._validators["etag"]
        if "last-modified" in self._validators:
            headers["If-Modified-Since"] = self._validators["last-modified"]
        async with get(client, self.settings.url, headers, self.settings) as response:
            if response.status_code == 304 and self._validators:
                return None
            check_status(response)
            body = await read_capped(response, self.settings.max_bytes)
            validators = {k: response.headers[k] for k in ("etag", "last-modified") if k in response.headers}
        # in a thread, an entry at a time: a 61 MB feed held the loop 10 s when decoded whole (issue 32)
        feed = decode(body)
        del body  # the decoder holds it until it has the text
        snapshot = await asyncio.to_thread(self.select, feed, time.time())
        self._validators = validators  # only after a good parse: a broken body is fetched again in full
        return snapshot

    def select(self, feed: Iterable[Any], now: float) -> Snapshot:
        """The incidents of the watched products that have not ended by `now`: the first MAX_INCIDENTS
        of each product the feed lists (it lists the newest first), the others only counted."""
        incidents: dict[tuple[str, str], Incident] = {}
        kept: Counter[str] = Counter()
        uncounted: Counter[tuple[str, str]] = Counter()
        for raw in feed:
            products, impact, end = self._match(raw)
            if end is not None and end <= now:
                continue
            for product in products:
                if (product, raw["id"]) in incidents:
                    continue
                if kept[product] < MAX_INCIDENTS:  # title and URL only for those kept: they cost the most
                    incidents[(product, raw["id"])] = self._incident(raw, product, impact, end)
                    kept[product] += 1
                else:
                    uncounted[(product, impact)] += 1
        names = tuple(dict.fromkeys(p.name for p in self.settings.products))
        return Snapshot(products=names, incidents=tuple(incidents.values()),
                        uncounted=tuple((p, impact, n) for (p, impact), n in sorted(uncounted.items())))

    def _match(self, raw: Any) -> tuple[list[str], str, float | None]:
        """(configured products this feed entry affects, its impact, its end); no products if it is unusable."""
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            return [], UNKNOWN_IMPACT, None
        affected_products = raw.get("affected_products")
        if not isinstance(affected_products, list):
            return [], UNKNOWN_IMPACT, None
        products = []
        for affected in affected_products:
            if not isinstance(affected, dict):
                continue
            product_id, title = affected.get("id"), affected.get("title")
            name = (self._by_id.get(product_id) if isinstance(product_id, str) else None) or \
                (self._by_title.get(title.casefold()) if isinstance(title, str) else None)
            if name and name not in products:
                products.append(name)
        if not products:
            return [], UNKNOWN_IMPACT, None
        try:
            end = _timestamp(raw.get("end"))
        except ValueError:
            return [], UNKNOWN_IMPACT, None  # an end we cannot read: better no incident than a stuck one
        impact = raw.get("status_impact")
        impact = IMPACTS.get(impact, UNKNOWN_IMPACT) if isinstance(impact, str) else UNKNOWN_IMPACT
        return products, impact, end

    def _incident(self, raw: dict, product: str, impact: str, end: float | None) -> Incident:
        title = short_title(raw.get("external_desc")) or raw["id"]
        uri = raw.get("uri") if isinstance(raw.get("uri"), str) else f"incidents/{raw['id']}"
        return Incident(product=product, impact=impact, id=raw["id"], title=title,
                        url=urljoin(self.settings.url, uri), end=end)


_SPACE = re.compile(r"[ \t\n\r]*")


def decode(body: bytes | bytearray) -> Iterator[Any]:
    """The feed's entries one by one, each decoded as it is reached: only the entries kept stay in
    memory, never the whole feed as objects (600,000 incidents kept 643 MB, issue 32)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SourceError(f"the feed is not valid JSON: {err}") from None
    del body
    decoder = json.JSONDecoder()
    pos = _SPACE.match(text).end()
    if not text.startswith("[", pos):
        try:
            kind = type(json.loads(text)).__name__
        except ValueError as err:
            raise SourceError(f"the feed is not valid JSON: {err}") from None
        raise SourceError(f"the feed is a JSON {kind}, expected a list of incidents")
    pos = _SPACE.match(text, pos + 1).end()
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            try:
                entry, pos = decoder.raw_decode(text, pos)
            except ValueError as err:
                raise SourceError(f"the feed is not valid JSON: {err}") from None
            yield entry
            pos = _SPACE.match(text, pos).end()
            if text.startswith("]", pos):
                pos += 1
                break
            if not text.startswith(",", pos):
                raise SourceError(f"the feed is not valid JSON: expected ',' or ']' at char {pos}")
            pos = _SPACE.match(text, pos + 1).end()
    if _SPACE.match(text, pos).end() != len(text):
        raise SourceError(f"the feed is not valid JSON: extra data at char {pos}")


def _timestamp(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r}")
    return moment.timestamp()
