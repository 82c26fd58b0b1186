"""The simulator's status sources: a Google Cloud `incidents.json` and OpenRouter endpoint stats.

Both follow the scheduled faults: a scheduled 5xx fault (one with a `start`) becomes an official
incident when its window opens and is resolved when it closes, and the OpenRouter uptime of the
affected model drops meanwhile. The feed answers conditional requests (ETag, Last-Modified) with 304.
"""

from __future__ import annotations

import hashlib
import json
import time
import weakref
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from exporter.simulator import metadata

if TYPE_CHECKING:
    from exporter.simulator.faults import Fault
    from exporter.simulator.metadata import Simulator

GEMINI = {"title": "Gemini on Agent Platform", "id": "Z0FZJAMvEB4j3NbCJs6B"}
IMAGEN = {"title": "Vertex Imagen API", "id": "sim-imagen"}
STORAGE = {"title": "Cloud Storage", "id": "UwaYoXQ5bHYHG6EdiPB8"}

# Past incidents, so the feed looks like the real one: resolved, and one on a product nobody watches.
HISTORY: list[dict[str, Any]] = [
    {"id": "sim-history-storage", "begin": "2026-01-12T08:00:00+00:00", "end": "2026-01-12T09:30:00+00:00",
     "external_desc": "Elevated error rates for Cloud Storage in us-east1", "severity": "medium",
     "status_impact": "SERVICE_DISRUPTION", "affected_products": [STORAGE]},
    {"id": "sim-history-gemini", "begin": "2026-01-05T14:10:00+00:00", "end": "2026-01-05T15:02:00+00:00",
     "external_desc": "Vertex Gemini API: increased latency for image generation requests", "severity": "low",
     "status_impact": "SERVICE_INFORMATION",
     "affected_products": [{"title": "Vertex Gemini API", "id": GEMINI["id"]}]},
]


def add_routes(app: web.Application, simulator: Simulator) -> None:
    async def incidents(request: web.Request) -> web.Response:
        body, modified = feed(simulator)
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        headers = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True), "Cache-Control": "no-cache"}
        if _not_modified(request, etag, modified):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def endpoints(request: web.Request) -> web.Response:
        author, slug = request.match_info["author"], request.match_info["slug"]
        keyed = request.headers.get("Authorization", "").startswith("Bearer ")
        metadata.record(simulator, request, "openrouter", f"{author}/{slug}", "key" if keyed else None)
        failed = await metadata.metadata_fault(request, simulator, ("openrouter",), f"{author}/{slug}",
                                         metadata.OPENAI_STYLE)
        if failed is not None:
            return failed
        if author != "google" or not simulator.model_exists(f"{author}/{slug}"):
            return web.json_response({"error": {"code": 404, "message": "No endpoints found for this model"}}, status=404)
        return web.json_response(endpoint_stats(simulator, f"{author}/{slug}", keyed))

    app.router.add_get("/incidents.json", incidents)
    app.router.add_get("/api/v1/models/{author}/{slug}/endpoints", endpoints)


_WALL_ZERO: weakref.WeakKeyDictionary[Any, tuple[float, int]] = weakref.WeakKeyDictionary()


def _wall_zero(simulator: Simulator) -> int:
    """The simulator clock's zero as wall time, fixed once per clock so the feed stays byte-stable."""
    cached = _WALL_ZERO.get(simulator)
    if cached is None or cached[0] != simulator.clock_zero:
        cached = (simulator.clock_zero, round(time.time() - (time.monotonic() - simulator.clock_zero)))
        _WALL_ZERO[simulator] = cached
    return cached[1]


def _scheduled_outages(simulator: Simulator) -> list[tuple[int, Fault]]:
    return [(n, f) for n, f in enumerate(simulator.faults) if f.kind == "status" and f.status >= 500 and f.start is not None]


def feed(simulator: Simulator) -> tuple[bytes, datetime]:
    """The feed's body (newest first) and when it last changed."""
    elapsed = time.monotonic() - simulator.clock_zero
    wall_zero = _wall_zero(simulator)
    entries = []
    for n, fault in _scheduled_outages(simulator):
        if elapsed < fault.start:
            continue
        begin = _iso(wall_zero + fault.start)
        end = _iso(wall_zero + fault.end) if fault.end is not None and elapsed >= fault.end else None
        product = IMAGEN if fault.model and "imagen" in fault.model else GEMINI
        what = fault.model or "image generation"
        entries.append({
            "id": f"sim-{wall_zero}-{n}", "number": str(9000 + n), "begin": begin, "created": begin,
            "modified": end or begin, **({"end": end} if end else {}),
            "external_desc": f"Elevated HTTP {fault.status} errors for {what} requests",
            "severity": "high" if fault.rate >= 0.5 else "medium",
            "status_impact": "SERVICE_OUTAGE" if fault.rate >= 0.5 else "SERVICE_DISRUPTION",
            "affected_products": [product],
            "currently_affected_locations": [] if end else [{"title": "Global", "id": "global"}],
            "most_recent_update": {"created": end or begin, "modified": end or begin, "when": end or begin,
                                   "status": "AVAILABLE" if end else "SERVICE_OUTAGE",
                                   "text": "The issue has been resolved." if end else "We are investigating."},
            "uri": f"incidents/sim-{wall_zero}-{n}",
        })
    entries.sort(key=lambda e: e["begin"], reverse=True)
    entries += [{**h, "created": h["begin"], "modified": h["end"], "uri": f"incidents/{h['id']}"} for h in HISTORY]
    modified = max(datetime.fromisoformat(e["modified"]) for e in entries)
    return json.dumps(entries).encode(), modified.replace(microsecond=0)


def endpoint_stats(simulator: Simulator, model: str, keyed: bool) -> dict[str, Any]:
    elapsed = time.monotonic() - simulator.clock_zero
    down = any(
        (f.model is None or f.model in model) and f.start <= elapsed < (f.end if f.end is not None else float("inf"))
        for _, f in _scheduled_outages(simulator))
    endpoints = []
    for provider, tag in (("Google Vertex", "google-vertex"), ("Google AI Studio", "google-ai-studio")):
        latency = {"p50": 14200, "p75": 17900, "p90": 22100, "p99": 31800} if keyed else None
        endpoints.append({
            "name": f"{provider} | {model}", "model_name": model, "provider_name": provider, "tag": tag,
            "context_length": 65536, "quantization": "unknown", "max_completion_tokens": 32768,
            "max_prompt_tokens": 65536, "supported_parameters": ["temperature", "top_p", "max_tokens"],
            "status": -2 if down else 0,
            "uptime_last_5m": 12.5 if down else 100.0,
            "uptime_last_30m": 71.4 if down else 99.6,
            "uptime_last_1d": 98.9 if down else 99.7,
            "latency_last_30m": latency,
            "throughput_last_30m": {"p50": 95.1, "p75": 80.4, "p90": 61.0, "p99": 30.2} if keyed else None,
            "pricing": {"prompt": "0.000002", "completion": "0.000012", "request": "0", "image": "0.134"},
        })
    return {"data": {"id": model, "name": f"Google: {model.split('/')[-1]}", "created": 1763000000,
                     "description": "Simulated endpoints", "architecture": {"modality": "text+image->text+image"},
                     "endpoints": endpoints}}


def _not_modified(request: web.Request, etag: str, modified: datetime) -> bool:
    if "If-None-Match" in request.headers:  # takes precedence over If-Modified-Since (RFC 9110)
        return etag in [t.strip() for t in request.headers["If-None-Match"].split(",")] or \
            request.headers["If-None-Match"].strip() == "*"
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            return modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), timezone.utc).isoformat()
