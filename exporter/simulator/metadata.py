"""The free metadata calls the exporter's liveness checks make, on the simulator's side.

Gemini `GET /v1beta/models/{model}` (404 for an unknown or retired id), OpenAI-style `GET /v1/models`
(the listed ids); OpenRouter's endpoint list lives in status_feed. Keys are checked as generation
checks them. Faults reach these routes only with `metadata: true` (a whole-API outage); of the fault
kinds only those that make sense without an image apply (status, html_error, not_json, hang, reset).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aiohttp import web

from exporter.models import catalog
from exporter.simulator.wire import Gemini, OpenAIImages, OpenRouterImages, Vertex

if TYPE_CHECKING:
    from exporter.simulator.faults import Fault
    from exporter.simulator.google_auth import TokenIssuer


@runtime_checkable
class Simulator(Protocol):
    """What the metadata and status routes read of the running simulator. exporter/simulator/server.py's
    Simulator is one; it imports this module to add the routes, so this module names only what it reads."""

    speed: float
    clock_zero: float  # monotonic time scheduled faults count from
    faults: list[Fault]
    keys: list[str]
    requests: deque[dict[str, Any]]  # what GET /_sim/requests lists
    tokens: TokenIssuer
    listing_prices: dict[str, dict[str, float]]  # model -> OpenRouter listing rates that replace the catalog's

    def fault_active(self, kind: str) -> bool: ...

    def model_exists(self, model: str) -> bool: ...

    def listed_models(self) -> list[str]: ...

LATENCY_SECONDS = 0.2  # a metadata call at real-world speed
GEMINI = Gemini()
VERTEX = Vertex()
VERTEX_MODEL = "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}"
OPENAI_STYLE = OpenAIImages()
OPENROUTER_IMAGES = OpenRouterImages()
_KINDS = ("status", "html_error", "not_json", "hang", "reset")


async def metadata_fault(request: web.Request, simulator: Simulator, apis: tuple[str, ...], model: str | None,
                         wire: Any) -> web.StreamResponse | None:
    """Answer as an injected metadata fault would, after the call's latency; None when there is none.
    `apis`: the dialects this route serves; `model`: the id it names (None for a list)."""
    await asyncio.sleep(LATENCY_SECONDS * simulator.speed)
    elapsed = time.monotonic() - simulator.clock_zero
    fault = next((f for f in simulator.faults
                  if f.metadata and f.kind in _KINDS and f.api in (None, *apis) and model in (None, f.model or model)
                  and f.applies(f.api, f.model, f.resolution, elapsed)), None)
    if fault is None:
        return None
    if fault.kind == "status":
        return web.json_response(wire.error(fault.status), status=fault.status)
    if fault.kind == "html_error":
        return web.Response(status=502, content_type="text/html", text="<html><body><h1>502 Bad Gateway</h1></body></html>")
    if fault.kind == "not_json":
        return web.Response(status=200, content_type="text/html", text="<html><body>Welcome</body></html>")
    if fault.kind == "hang":
        await asyncio.sleep(24 * 3600)
    request.transport.abort()  # reset
    raise asyncio.CancelledError


def record(simulator: Simulator, request: web.Request, api: str, model: str | None, key: str | None) -> None:
    """Note a metadata call in /_sim/requests (never the key itself)."""
    simulator.requests.append({"path": request.path, "api": api, "model": model, "metadata": True,
                               "authenticated": key is not None})


def add_routes(app: web.Application, simulator: Simulator) -> None:

    async def gemini_model(request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        record(simulator, request, "gemini", model, key)
        failed = await metadata_fault(request, simulator, ("gemini",), model, GEMINI)
        if failed is not None:
            return failed
        if simulator.keys and key not in simulator.keys:
            status, payload = GEMINI.bad_key(key)
            return web.json_response(payload, status=status)
        if not simulator.model_exists(model):
            return web.json_response(GEMINI.error(404, f"models/{model} is not found for API version v1beta"), status=404)
        return web.json_response(GEMINI.model_info(model))

    async def model_list(request: web.Request) -> web.StreamResponse:
        value = request.headers.get("Authorization", "")
        key = value[7:] if value.startswith("Bearer ") else None
        record(simulator, request, "openai", None, key)
        failed = await metadata_fault(request, simulator, ("openai_images", "openai_chat"), None, OPENAI_STYLE)
        if failed is not None:
            return failed
        if simulator.keys and key not in simulator.keys:
            status, payload = OPENAI_STYLE.bad_key(key)
            return web.json_response(payload, status=status)
        return web.json_response(OPENAI_STYLE.model_list(simulator.listed_models()))

    async def vertex_count_tokens(request: web.Request) -> web.StreamResponse:
        # Vertex's free check: countTokens on the model in a location (exporter/probing/dialects/vertex.py)
        model = request.match_info["model"]
        value = request.headers.get("Authorization", "")
        token = value[7:] if value.startswith("Bearer ") else None
        record(simulator, request, "vertex", model, token)
        failed = await metadata_fault(request, simulator, ("vertex",), model, VERTEX)
        if failed is not None:
            return failed
        if simulator.tokens.account_of(token) is None or simulator.fault_active("revoked_account"):
            status, payload = VERTEX.bad_key(token)
            return web.json_response(payload, status=status)
        location = request.match_info["location"]
        if not simulator.model_exists(model) or (location != "global" and simulator.fault_active("model_not_in_region")):
            return web.json_response(VERTEX.model_missing(model, request.match_info["project"], location), status=404)
        body = await request.json()
        words = sum(len(str(p.get("text", "")).split()) for c in body.get("contents", []) for p in c.get("parts", []))
        return web.json_response({"totalTokens": words + 1, "totalBillableCharacters": words * 4})

    app.router.add_post(VERTEX_MODEL + ":countTokens", vertex_count_tokens)
    app.router.add_get("/v1beta/models/{model}", gemini_model)
    app.router.add_get("/v1/models", model_list)

    async def image_endpoints(request: web.Request) -> web.StreamResponse:
        # OpenRouter's Image API: the endpoints serving a model, free (exporter/probing/dialects/openrouter_images.py)
        model = f"{request.match_info['author']}/{request.match_info['slug']}"
        value = request.headers.get("Authorization", "")
        record(simulator, request, "openrouter_images", model, value[7:] if value.startswith("Bearer ") else None)
        failed = await metadata_fault(request, simulator, ("openrouter_images",), model, OPENAI_STYLE)
        if failed is not None:
            return failed
        if not simulator.model_exists(model):
            return web.json_response({"id": model, "endpoints": []})
        return web.json_response(OPENROUTER_IMAGES.endpoints(model))

    app.router.add_get("/api/v1/images/models/{author}/{slug}/endpoints", image_endpoints)

    # the listings the catalog drift check reads (exporter/background/drift.py)
    async def gemini_models(request: web.Request) -> web.StreamResponse:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        record(simulator, request, "gemini", None, key)
        if simulator.keys and key not in simulator.keys:
            status, payload = GEMINI.bad_key(key)
            return web.json_response(payload, status=status)
        return web.json_response({"models": [GEMINI.model_info(m) for m in simulator.listed_models() if "/" not in m]})

    async def vertex_publisher_model(request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        record(simulator, request, "vertex", model, None)
        if not simulator.model_exists(model):
            return web.json_response(VERTEX.error(404, f"Publisher model `publishers/google/models/{model}` not found."),
                                     status=404)
        return web.json_response({"name": f"publishers/google/models/{model}", "versionId": "001",
                                  "launchStage": "GA"})

    async def openrouter_models(request: web.Request) -> web.StreamResponse:
        record(simulator, request, "openrouter", None, None)
        return web.json_response({"data": [openrouter_model(simulator, m) for m in simulator.listed_models()
                                           if m.startswith("google/")]})

    app.router.add_get("/v1beta/models", gemini_models)
    app.router.add_get("/v1beta1/publishers/google/models/{model}", vertex_publisher_model)
    app.router.add_get("/api/v1/models", openrouter_models)


def openrouter_model(simulator: Simulator, model: str) -> dict:
    """One entry of OpenRouter's model list: prices in USD per token, as strings (OpenRouter's shape)."""
    family = catalog.family_of(model)
    rates = {"prompt": family.usd_per_million_input_tokens, "completion": family.usd_per_million_text_tokens}
    rates |= simulator.listing_prices.get(model, {})
    return {"id": model, "name": f"Google: {family.title}", "architecture": {
        "input_modalities": ["image", "text"], "output_modalities": ["image", "text"]},
        "pricing": {k: f"{v / 1e6:.10f}".rstrip("0") for k, v in rates.items()},
        "supported_parameters": ["reasoning", "max_tokens", "temperature"]}
