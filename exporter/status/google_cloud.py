"""Google Cloud status feed (incidents.json): ongoing incidents on the products we depend on.

The feed holds every incident since 2021 (megabytes), newest first. It is fetched conditionally
(ETag / Last-Modified), read into one capped buffer, decoded once, and only the incidents that
match a configured product and have not ended are kept.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from exporter.durations import Duration
from exporter.status.base import (
    IMPACTS, UNKNOWN_IMPACT, Incident, Snapshot, Source, SourceError, SourceSettings, check_status,
    read_capped, short_title,
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
        async with client.stream("GET", self.settings.url, headers=headers, timeout=self.settings.timeout) as response:
            if response.status_code == 304 and self._validators:
                return None
            check_status(response)
            body = await read_capped(response, self.settings.max_bytes)
            validators = {k: response.headers[k] for k in ("etag", "last-modified") if k in response.headers}
        feed = decode(body)
        del body  # from here on only the decoded feed is held, and only until the matches are picked
        snapshot = self.select(feed, time.time())
        self._validators = validators  # only after a good parse: a broken body is fetched again in full
        return snapshot

    def select(self, feed: list[Any], now: float) -> Snapshot:
        """The incidents of the watched products that have not ended by `now`."""
        incidents = {(i.product, i.id): i for raw in feed for i in self._incidents(raw) if i.ongoing(now)}
        names = tuple(dict.fromkeys(p.name for p in self.settings.products))
        return Snapshot(products=names, incidents=tuple(incidents.values()))

    def _incidents(self, raw: Any) -> list[Incident]:
        """One Incident per configured product this feed entry affects; none if it is unusable."""
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            return []
        affected_products = raw.get("affected_products")
        if not isinstance(affected_products, list):
            return []
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
            return []
        try:
            end = _timestamp(raw.get("end"))
        except ValueError:
            return []  # an end we cannot read: better no incident than a stuck one
        impact = raw.get("status_impact")
        impact = IMPACTS.get(impact, UNKNOWN_IMPACT) if isinstance(impact, str) else UNKNOWN_IMPACT
        title = short_title(raw.get("external_desc")) or raw["id"]
        uri = raw.get("uri") if isinstance(raw.get("uri"), str) else f"incidents/{raw['id']}"
        url = urljoin(self.settings.url, uri)
        return [Incident(product=p, impact=impact, id=raw["id"], title=title, url=url, end=end) for p in products]


def decode(body: bytes | bytearray) -> list[Any]:
    try:
        feed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise SourceError(f"the feed is not valid JSON: {err}") from None
    if not isinstance(feed, list):
        raise SourceError(f"the feed is a JSON {type(feed).__name__}, expected a list of incidents")
    return feed


def _timestamp(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r}")
    return moment.timestamp()
