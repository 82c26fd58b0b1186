"""The simulator: an HTTP server that speaks every dialect, with realistic latency, real images
and faults that can be injected by configuration and changed while it runs.

Control API (JSON): GET/PUT /_sim/config {"speed": 0.05, "payload": "noise", "faults": [...], "keys": [...],
"models": [...], "retired_models": [...], "service_accounts": {email: public key PEM}, "token_lifetime": 3600,
"metadata_account": email}; GET /_sim/requests (recent requests, keys never recorded). Vertex AI's
token endpoint and metadata server: exporter/simulator/google_auth.py.

Model ids: with `models` set, only those exist; without it, every id exists. Ids in
`retired_models`, and catalog ids past their shutdown date (exporter/models/catalog.py), answer 404
everywhere, as a retired model id does upstream. Each model answers at its family's sizes and
refuses the fields its family refuses (400). The free metadata calls
the liveness checks use (exporter/simulator/metadata.py) list `models`, or CATALOGUE when unset.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import asdict, replace
from typing import Any

from aiohttp import web

from exporter.models import catalog
from exporter.simulator import google_auth, images, metadata, status_feed
from exporter.simulator.faults import ONLY, Fault, parse_faults
from exporter.simulator.latency import draw_seconds
from exporter.simulator.wire import (
    ALIASES, Ask, Gemini, OpenAIChat, OpenAIImages, OpenRouterImages, Vertex, error_in_body, moderation, substitute,
    unknown_field,
)

log = logging.getLogger(__name__)

# Where each dialect lives on the simulator: a target's base_url is the simulator's address and this
# path (docs/simulator.md shows them; GET / lists them with the address).
BASE_PATHS = {"gemini": "", "openai_images": "/v1", "openai_chat": "/v1", "openrouter": "/api/v1",
              "openrouter_images": "/api/v1", "vertex": ""}
ERROR_DELAY = 0.1  # errors come back after this fraction of the generation time
# What GET /v1/models lists when `models` is not configured.
CATALOGUE: tuple[str, ...] = tuple(catalog.MODELS) + ALIASES


class Simulator:
    def __init__(self, speed: float = 1.0, faults: list[Fault] | None = None, keys: list[str] | None = None):
        self.speed = speed
        self.payload = "solid"  # images.PAYLOADS
        self.faults = faults or []
        self.keys = keys or []
        self.models: list[str] | None = None  # None: every model id exists
        self.retired_models: list[str] = []
        # OpenRouter's listing: model -> {"prompt": USD per 1M, "completion": ...} instead of the catalog's
        self.listing_prices: dict[str, dict[str, float]] = {}
        # OpenRouter's GET /api/v1/key: the key's credit limit (None: no limit) and its spend, in USD
        self.credit: dict[str, float | None] = {"limit": None, "usage": 0.0}
        self.clock_zero = time.monotonic()
        self.requests: deque[dict[str, Any]] = deque(maxlen=200)
        self.bot_messages: deque[dict[str, Any]] = deque(maxlen=100)  # what the fake Feishu bot received
        self.served_images: OrderedDict[str, bytes] = OrderedDict()  # url_image answers, newest last
        self.in_flight = 0
        self.max_in_flight = 0  # the most generation requests answered at once, for tests
        self.tokens = google_auth.TokenIssuer()  # Vertex's access tokens and the token endpoint

    def configure(self, raw: dict[str, Any]) -> None:
        unknown = set(raw) - {"speed", "faults", "keys", "models", "retired_models", "payload",
                              "service_accounts", "token_lifetime", "metadata_account", "listing_prices", "credit"}
        if unknown:
            raise ValueError(f"unknown simulator keys: {', '.join(sorted(unknown))}")
        faults = parse_faults(raw["faults"]) if "faults" in raw else self.faults
        self.tokens.configure(raw.get("service_accounts"), raw.get("token_lifetime"), raw.get("metadata_account"))
        speed = float(raw.get("speed", self.speed))
        if speed < 0:
            raise ValueError("speed must not be negative")
        payload = raw.get("payload", self.payload)
        if payload not in images.PAYLOADS:
            raise ValueError(f"payload must be one of {', '.join(images.PAYLOADS)}, got {payload!r}")
        if "faults" in raw:
            self.clock_zero = time.monotonic()  # scheduled windows count from when they were set
        self.faults, self.speed, self.payload = faults, speed, payload
        self.keys = list(raw.get("keys", self.keys))
        if "models" in raw:
            self.models = None if raw["models"] is None else [str(m) for m in raw["models"]]
        self.retired_models = [str(m) for m in raw.get("retired_models", self.retired_models)]
        prices = raw.get("listing_prices", self.listing_prices)
        if not isinstance(prices, dict) or not all(isinstance(v, dict) for v in prices.values()):
            raise ValueError("listing_prices must map model ids to {prompt, completion} in USD per 1M tokens")
        self.listing_prices = {str(m): {str(k): float(v) for k, v in rates.items()} for m, rates in prices.items()}
        credit = raw.get("credit", self.credit)
        if not isinstance(credit, dict) or set(credit) - {"limit", "usage"}:
            raise ValueError("credit takes limit (USD or null) and usage (USD)")
        limit = credit.get("limit", self.credit["limit"])
        self.credit = {"limit": None if limit is None else float(limit), "usage": float(credit.get("usage", self.credit["usage"]))}

    def model_exists(self, model: str) -> bool:
        if model in self.retired_models or _shut_down(model):
            return False
        return self.models is None or model in self.models

    def listed_models(self) -> list[str]:
        return [m for m in (self.models if self.models is not None else CATALOGUE)
                if m not in self.retired_models and not _shut_down(m)]

    def fault_for(self, ask: Ask) -> Fault | None:
        elapsed = time.monotonic() - self.clock_zero
        return next((f for f in self.faults if f.applies(ask.api, ask.model, ask.resolution, elapsed, ask.text)), None)

    def fault_active(self, kind: str) -> bool:
        """Whether a fault of this kind (with no model or resolution filter) applies now."""
        elapsed = time.monotonic() - self.clock_zero
        return any(f.kind == kind and f.model is None and f.resolution is None
                   and f.applies(f.api or "vertex", "", "", elapsed) for f in self.faults)

    def refusal(self, wire: Any, ask: Ask) -> tuple[int, dict] | None:
        """The answer to a request whose key or token is refused, or None."""
        if ask.api == "vertex":
            if self.tokens.account_of(ask.key) is None or self.fault_active("revoked_account"):
                return wire.bad_key(ask.key)
        elif self.keys and ask.key not in self.keys:
            return wire.bad_key(ask.key)
        return None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024**2)
        for prefix in ("", "/api"):  # OpenRouter lives under /api/v1
            app.router.add_post(prefix + "/v1/images/generations", self._handler(OpenAIImages()))
            app.router.add_post(prefix + "/v1/chat/completions", self._handler(OpenAIChat()))
        app.router.add_post("/api/v1/images", self._handler(OpenRouterImages()))  # OpenRouter's Image API
        app.router.add_post("/v1beta/models/{model_action}", self._handler(Gemini()))
        app.router.add_post(metadata.VERTEX_MODEL + ":generateContent", self._handler(Vertex()))
        google_auth.add_routes(app, self, index=self._index)  # POST /token; GET / pings the metadata server
        app.router.add_get("/_sim/images/{name}", self._image)
        app.router.add_get("/_sim/config", self._get_config)
        app.router.add_put("/_sim/config", self._put_config)
        app.router.add_get("/_sim/requests", self._get_requests)
        app.router.add_get("/api/v1/key", self._openrouter_key)
        app.router.add_post("/open-apis/bot/v2/hook/{token}", self._feishu_bot)  # a Feishu group bot, for the relay
        app.router.add_get("/_sim/bot-messages", self._get_bot_messages)
        status_feed.add_routes(app, self)  # /incidents.json, /api/v1/models/{author}/{slug}/endpoints
        metadata.add_routes(app, self)  # GET /v1beta/models/{model}, GET /v1/models
        return app

    async def _index(self, request: web.Request) -> web.Response:
        """What a person sees at the simulator's address: what it is and each dialect's base_url."""
        address = f"{request.scheme}://{request.host}"
        lines = ["nanobanana-exporter simulator: a stand-in for the Gemini API, Vertex AI, OpenAI-style gateways",
                 "and OpenRouter, for the exporter's demo and tests (docs/simulator.md). No key is needed",
                 "unless `keys` is set; vertex targets sign in with a service-account key whose token_uri",
                 f"is {address}/token.", "", "base_url of a target, by api:"]
        lines += [f"  {api:<14} {address}{path}" for api, path in BASE_PATHS.items()]
        lines += ["", f"GET {address}/_sim/config    speed, payload and faults (PUT to change them)",
                  f"GET {address}/_sim/requests  the recent requests",
                  f"POST {address}/open-apis/bot/v2/hook/demo  a Feishu bot for the relay (FEISHU_WEBHOOK_URL);",
                  f"GET {address}/_sim/bot-messages  what it received"]
        return web.Response(text="\n".join(lines) + "\n")

    def _handler(self, wire: Any):
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json()
                ask = wire.read(request, body)
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
                return web.json_response(wire.error(400, f"Invalid request: {err}"), status=400)
            fault = self.fault_for(ask)
            record = {k: v for k, v in asdict(ask).items() if k != "key"} | {
                "path": request.path, "fault": fault.kind if fault else None, "body": _summary(body),
                "authenticated": ask.key is not None}
            self.requests.append(record)
            refused = self.refusal(wire, ask)
            if refused is not None:
                return web.json_response(refused[1], status=refused[0])
            if not self.model_exists(ask.model) or self.not_served_here(ask, fault):
                return web.json_response(wire.model_missing(ask.model, **_where(request)), status=404)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return await self._answer(request, wire, ask, fault)
            finally:
                self.in_flight -= 1

        return handle

    async def _answer(self, request: web.Request, wire: Any, ask: Ask, fault: Fault | None) -> web.StreamResponse:
        latency = draw_seconds(ask.resolution, ask.thinking_level, self.speed)
        kind = fault.kind if fault else None
        if kind in ONLY and ask.api not in ONLY[kind]:
            kind = None  # a dialect that cannot receive this answer gets a normal one
        if kind in ("status", "html_error", "reset", "not_json", "moderation"):
            await asyncio.sleep(latency * ERROR_DELAY)
            if kind == "status":
                return web.json_response(wire.error(fault.status), status=fault.status)
            if kind == "moderation":
                return web.json_response(moderation(), status=403)
            if kind == "html_error":
                return web.Response(status=502, content_type="text/html",
                                    text="<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>")
            if kind == "not_json":
                return web.Response(status=200, content_type="text/html", text="<html><body>Welcome</body></html>")
            request.transport.abort()  # reset: the connection goes away mid-request
            raise asyncio.CancelledError
        if kind == "strict_gateway" and (field := unknown_field(ask)) is not None:
            await asyncio.sleep(latency * ERROR_DELAY)
            return web.json_response(wire.error(400, f"Unrecognized request argument supplied: {field}",
                                                "invalid_request_error"), status=400)
        if kind == "hang":
            await asyncio.sleep(24 * 3600)
        if kind == "substituted" and not ask.text:
            ask = replace(ask, model=substitute(ask.model))
        await asyncio.sleep(latency)
        if kind == "safety_block":
            status, payload = wire.blocked(ask)
            return web.json_response(payload, status=status)
        if kind == "text_only" or (kind == "vercel_gateway" and "image" not in ask.modalities):
            return web.json_response(wire.text_only(ask))
        if kind == "error_in_body":
            return web.json_response(error_in_body(fault.status))
        if kind in ("finish_error", "no_image_reason"):
            return web.json_response(getattr(wire, kind)(ask))
        answer = wire.text_answer(ask) if ask.text else self._image_answer(request, wire, ask, kind)
        payload = json.dumps(answer).encode()
        if kind == "truncated_json":
            return web.Response(body=payload[: len(payload) // 2], content_type="application/json")
        if kind == "slow_drip":
            return await _drip(request, payload, fault.seconds)
        return web.Response(body=payload, content_type="application/json")

    def _image_answer(self, request: web.Request, wire: Any, ask: Ask, kind: str | None) -> dict:
        """The answer with an image, as the image faults shape it."""
        width, height = (ask.width // 2, ask.height // 2) if kind == "wrong_size" else (ask.width, ask.height)
        scene = images.scene_for(ask.prompt)
        if kind == "off_prompt":
            scene = images.off_prompt(scene)
        look = kind if kind in ("blank", "upscaled") else "faithful"
        image: bytes | None = images.png(width, height, self.payload, scene, look)
        if kind == "corrupt_image":
            image = b"\x89PNG\r\n\x1a\n" + random.randbytes(256)
        if kind == "bad_base64":
            image = None
        url = None
        if kind == "url_image":
            name = uuid.uuid4().hex + ".png"
            self.served_images[name] = image or b""
            while len(self.served_images) > 32:  # images never fetched (a probe timed out) do not pile up
                self.served_images.popitem(last=False)
            url = f"{request.scheme}://{request.host}/_sim/images/{name}"
        return wire.image(ask, image, url, images_field=True) if kind == "images_field" else wire.image(ask, image, url)

    async def _image(self, request: web.Request) -> web.Response:
        image = self.served_images.pop(request.match_info["name"], None)
        if image is None:
            return web.Response(status=404, text="no such image")
        return web.Response(body=image, content_type="image/png")

    async def _get_config(self, request: web.Request) -> web.Response:
        return web.json_response({"speed": self.speed, "faults": [asdict(f) for f in self.faults], "keys": len(self.keys),
                                  "models": self.models, "retired_models": self.retired_models})

    async def _put_config(self, request: web.Request) -> web.Response:
        try:
            self.configure(await request.json())
        except (ValueError, TypeError) as err:
            return web.json_response({"error": str(err)}, status=400)
        return await self._get_config(request)

    async def _openrouter_key(self, request: web.Request) -> web.Response:
        """OpenRouter's free GET /api/v1/key, the fields the exporter reads (shape as documented at
        openrouter.ai/docs/api/api-reference/api-keys/get-current-key, seen 2026-12-06)."""
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.requests.append({"path": request.path, "api": "openrouter_key"})
        if not key or (self.keys and key not in self.keys):
            return web.json_response({"error": {"code": 401, "message": "No auth credentials found"}}, status=401)
        limit, usage = self.credit["limit"], self.credit["usage"]
        return web.json_response({"data": {
            "label": "sk-or-v1-sim...key", "limit": limit, "limit_remaining": None if limit is None else max(limit - usage, 0.0),
            "limit_reset": None, "usage": usage, "usage_daily": usage, "usage_weekly": usage, "usage_monthly": usage,
            "is_free_tier": False, "include_byok_in_limit": False}})

    async def _feishu_bot(self, request: web.Request) -> web.Response:
        """A Feishu custom bot's webhook, so the relay's path can be tried without a Feishu group: it
        keeps the message and answers as Feishu does on success (code 0)."""
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"code": 9499, "msg": "Bad Request"})
        self.bot_messages.append({"at": time.time(), "message": body})
        return web.json_response({"code": 0, "msg": "success", "data": {}})

    async def _get_bot_messages(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.bot_messages))

    async def _get_requests(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.requests))


    @staticmethod
    def not_served_here(ask: Ask, fault: Fault | None) -> bool:
        return fault is not None and fault.kind == "model_not_in_region" and ask.location not in (None, "global")


def _where(request: web.Request) -> dict[str, str]:
    """The project and location a Vertex request names (nothing for the other dialects)."""
    info = request.match_info
    return {"project": info["project"], "location": info["location"]} if "location" in info else {}


def _shut_down(model: str) -> bool:
    """A catalog id past its shutdown date answers 404, as upstream."""
    entry = catalog.MODELS.get(model)
    return entry is not None and entry.stage_on(catalog.today()) == "shutdown"


async def _drip(request: web.Request, payload: bytes, seconds: float) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": str(len(payload))})
    await response.prepare(request)
    chunks = 100
    step = max(1, len(payload) // chunks)
    for i in range(0, len(payload), step):
        await response.write(payload[i : i + step])
        await asyncio.sleep(seconds / chunks)
    await response.write_eof()
    return response


def _summary(body: Any) -> Any:
    """The request body with long strings shortened, for /_sim/requests."""
    if isinstance(body, dict):
        return {k: _summary(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_summary(v) for v in body]
    if isinstance(body, str) and len(body) > 200:
        return body[:200] + "..."
    return body


async def start(simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve the simulator; returns the runner and its base URL."""
    runner = web.AppRunner(simulator.app(), access_log=None, shutdown_timeout=0.5, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return runner, f"http://{bound[0]}:{bound[1]}"
