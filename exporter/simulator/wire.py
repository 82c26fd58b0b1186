"""How each dialect's requests read and answers look on the simulator's side of the wire."""

from __future__ import annotations

import base64
import functools
import importlib
import re
import time
import typing
import uuid
from dataclasses import dataclass
from typing import Any

from exporter.models.catalog import FAMILIES, Family, family_of
from exporter.probing.dialects.base import CHAT_IMAGE_SIZES
from exporter.simulator.latency import THINKING_TOKENS
from exporter.models.sizes import RESOLUTIONS, expected_size

_GRPC_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred.",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}


@dataclass
class Ask:
    """What a request asks for, whatever its dialect."""

    api: str
    model: str
    resolution: str
    thinking_level: str
    width: int
    height: int
    key: str | None
    prompt: str
    location: str | None = None  # vertex: the location of the endpoint asked
    text: bool = False  # a text-only request (the canary's): answered with text, resolution TEXT
    quota_project: str | None = None  # vertex: x-goog-user-project
    fields: tuple[str, ...] = ()  # openai dialects: the body's top-level fields (a strict gateway checks them)
    modalities: tuple[str, ...] = ()  # chat: the output modalities asked for


# Gateway aliases the simulator serves as the family of the same name (a gateway knows what its
# aliases are; the exporter learns it from a target's `family:`)
ALIASES: tuple[str, ...] = ("nano-banana-pro", "nano-banana-2", "nano-banana")
TEXT_TOKENS = 2  # "OK"
TEXT_THINKING_TOKENS = 280  # UNVERIFIED: a guess at Pro's thinking before a one-word answer


def model_family(model: str) -> Family:
    return FAMILIES[model] if model in ALIASES else family_of(model)


def substitute(model: str) -> str:
    """The cheaper model of another family a substituting gateway serves instead (the substituted fault)."""
    other = "gemini-3.1-flash-image" if model_family(model).name == "nano-banana" else "gemini-2.5-flash-image"
    return f"google/{other}" if model.startswith("google/") else other


def _resolution_of(width: int, height: int, family: Family) -> str:
    area = width * height
    return min(family.resolutions, key=lambda r: abs(expected_size(r, "1:1", family)[0] ** 2 - area))


def _resolution_named(value: str) -> str:
    """The resolution a request's image size names (chat requests spell 512 as 0.5K)."""
    for resolution in RESOLUTIONS:
        if value in (resolution, CHAT_IMAGE_SIZES.get(resolution)):
            return resolution
    raise ValueError(f"image size {value!r} is not supported")


TEXT = "text"  # the resolution of a text-only request: no image fault with a resolution filter matches it


def _text_ask(api: str, model: str, key: str | None, prompt: str) -> Ask:
    return Ask(api, model, TEXT, "default", 0, 0, key, prompt, text=True)


def _model_takes(family: Family, model: str, image_size: object, level: str) -> None:
    """The real API's 400 for a field the model refuses (Nano Banana takes no imageSize and no
    thinking; each family its own sizes and levels), raised as ValueError (the handler's 400)."""
    if image_size is not None and not family.takes_image_size:
        raise ValueError(f"image size is not supported by {model}")
    if not family.takes_thinking(level):
        raise ValueError(f"thinking level {level} is not supported by {model}")


# The request fields OpenAI's own APIs define, read from the openai SDK's request types (a source the
# exporter did not write): what a strict OpenAI-compatible gateway accepts.
_OPENAI_PARAMS = {"openai_chat": "openai.types.chat.completion_create_params:CompletionCreateParamsNonStreaming",
                  "openai_images": "openai.types.image_generate_params:ImageGenerateParamsNonStreaming"}


@functools.cache
def openai_fields(api: str) -> frozenset[str]:
    module, _, name = _OPENAI_PARAMS[api].partition(":")
    return frozenset(typing.get_type_hints(getattr(importlib.import_module(module), name)))


def unknown_field(ask: "Ask") -> str | None:
    """The first body field a strict gateway refuses: one OpenAI's API does not define."""
    if ask.api not in _OPENAI_PARAMS:
        return None
    return next((f for f in ask.fields if f not in openai_fields(ask.api)), None)


def image_tokens(ask: "Ask") -> int:
    return model_family(ask.model).image_tokens.get(ask.resolution, 1120)


def _bearer(headers: Any) -> str | None:
    value = headers.get("Authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


class Gemini:
    api = "gemini"

    def read(self, request: Any, body: dict) -> Ask:
        model = (request.match_info.get("model_action") or request.match_info["model"]).rsplit(":", 1)[0]
        family = model_family(model)
        config = body.get("generationConfig") or {}
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        prompt = body["contents"][0]["parts"][0]["text"]
        if [str(m).upper() for m in config.get("responseModalities") or ()] == ["TEXT"]:
            return _text_ask(self.api, model, key, prompt)
        image_config = config.get("imageConfig") or {}
        resolution = _resolution_named(str(image_config.get("imageSize") or "1K"))
        aspect = image_config.get("aspectRatio") or "1:1"
        level = ((config.get("thinkingConfig") or {}).get("thinkingLevel") or "default").lower()
        _model_takes(family, model, image_config.get("imageSize"), level)
        width, height = expected_size(resolution, aspect, family)
        return Ask(self.api, model, resolution, level, width, height, key, prompt)

    def image(self, ask: Ask, image: bytes | None, url: str | None) -> dict:
        part = {"inlineData": {"mimeType": "image/png", "data": _b64(image) if image is not None else "!!not-base64!!"}}
        return self._answer(ask, [{"text": "Here is your image."}, part], "STOP")

    def text_only(self, ask: Ask) -> dict:
        return self._answer(ask, [{"text": "I can describe a red circle, but here is no image."}], "STOP")

    def no_image_reason(self, ask: Ask) -> dict:
        return self._answer(ask, [{"text": "I could not make that image."}], "NO_IMAGE")

    def text_answer(self, ask: Ask) -> dict:
        """The answer to a text-only request: one text part, usage with the model's thinking."""
        return self._answer(ask, [{"text": "OK"}], "STOP")

    def blocked(self, ask: Ask) -> tuple[int, dict]:
        return 200, {"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}], "usageMetadata": _gemini_usage(ask, 0)}

    def error(self, status: int, message: str | None = None, reason: str | None = None) -> dict:
        error: dict[str, Any] = {
            "code": status,
            "message": message or _MESSAGES.get(status, "Request failed."),
            "status": _GRPC_STATUS.get(status, "UNKNOWN"),
        }
        if reason:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
        return {"error": error}

    def bad_key(self, key: str | None = None) -> tuple[int, dict]:
        return 400, self.error(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")

    def model_missing(self, model: str) -> dict:
        return self.error(404, f"models/{model} is not found for API version v1beta, or is not supported for "
                               "generateContent. Call ListModels to see the list of available models.")

    def model_info(self, model: str) -> dict:
        return {"name": f"models/{model}", "version": "001", "displayName": model,
                "inputTokenLimit": 65536, "outputTokenLimit": 32768,
                "supportedGenerationMethods": ["generateContent", "countTokens"]}

    def _answer(self, ask: Ask, parts: list, reason: str) -> dict:
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": reason, "index": 0}],
            "usageMetadata": _gemini_usage(ask, TEXT_TOKENS if ask.text else image_tokens(ask)),
            "modelVersion": ask.model,
            "responseId": uuid.uuid4().hex[:20],
        }


def _thoughts(ask: Ask) -> int:
    """Thinking tokens: the level's; a text request on a model that always thinks (Pro) thinks anyway."""
    if ask.text:
        return TEXT_THINKING_TOKENS if model_family(ask.model).name == "nano-banana-pro" else 0
    return THINKING_TOKENS.get(ask.thinking_level, 0)


def _gemini_usage(ask: Ask, image_tokens: int) -> dict:
    prompt_tokens = len(ask.prompt.split()) + 3
    thoughts = _thoughts(ask)
    usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": image_tokens,
             "totalTokenCount": prompt_tokens + image_tokens + thoughts}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


class Vertex(Gemini):
    """Vertex AI's generateContent: Gemini's body and answer, a bearer token, google.rpc errors
    (tests/fixtures/upstream/vertex-*.json)."""

    api = "vertex"

    def read(self, request: Any, body: dict) -> Ask:
        ask = super().read(request, body)
        ask.key, ask.location = _bearer(request.headers), request.match_info["location"]
        ask.quota_project = request.headers.get("x-goog-user-project")
        return ask

    def bad_key(self, key: str | None = None) -> tuple[int, dict]:
        # a missing, expired or revoked access token
        return 401, self.error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                                    "login cookie or other valid authentication credential.", "ACCESS_TOKEN_EXPIRED"
                               if key else "CREDENTIALS_MISSING")

    def model_missing(self, model: str, project: str = "", location: str = "") -> dict:
        return self.error(404, f"Publisher Model `projects/{project}/locations/{location}/publishers/google/models/"
                               f"{model}` was not found or your project does not have access to it. Please ensure you "
                               "are using a valid model version.")


def error_in_body(status: int) -> dict:
    """OpenRouter's error after the model started: HTTP 200 with only an error object
    (tests/fixtures/upstream/openrouter-200-error-body.json)."""
    return {"error": {"code": status, "message": _MESSAGES.get(status, "Upstream error from provider."),
                      "metadata": {"provider_name": "Google AI Studio", "raw": {"code": status}}}}


def moderation() -> dict:
    """OpenRouter's 403 when its moderation flagged the input (tests/fixtures/upstream/openrouter-403-moderation.json)."""
    return {"error": {"code": 403, "message": "Input was flagged by moderation.",
                      "metadata": {"reasons": ["violence"], "flagged_input": "A simple red...",
                                   "provider_name": "Google AI Studio", "model_slug": "google/gemini-3-pro-image"}}}


class _OpenAIStyle:
    def error(self, status: int, message: str | None = None, reason: str | None = None) -> dict:
        kinds = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
        return {"error": {"message": message or _MESSAGES.get(status, "Request failed."), "type": "api_error",
                          "code": reason or kinds.get(status)}}

    def bad_key(self, key: str | None = None) -> tuple[int, dict]:
        # echoes the key, as some gateways do: the exporter must redact it
        return 401, self.error(401, f"Incorrect API key provided: {key}.", "invalid_api_key")

    def model_missing(self, model: str) -> dict:
        return {"error": {"message": f"The model `{model}` does not exist or you do not have access to it.",
                          "type": "invalid_request_error", "code": "model_not_found"}}

    def model_list(self, models: list[str]) -> dict:
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 1763000000,
                                            "owned_by": m.split("/")[0] if "/" in m else "google"} for m in models]}

    def _usage(self, ask: Ask) -> dict:
        prompt_tokens = len(ask.prompt.split()) + 3
        thoughts = _thoughts(ask)
        completion = (TEXT_TOKENS if ask.text else image_tokens(ask)) + thoughts
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                "total_tokens": prompt_tokens + completion,
                "completion_tokens_details": {"reasoning_tokens": thoughts}}


class OpenAIImages(_OpenAIStyle):
    api = "openai_images"

    def read(self, request: Any, body: dict) -> Ask:
        match = re.fullmatch(r"(\d+)x(\d+)", str(body.get("size") or "1024x1024"))
        width, height = (int(match.group(1)), int(match.group(2))) if match else (1024, 1024)
        model = str(body.get("model"))
        # OpenAI's Images API has no thinking field: the exporter sends none (exporter/probing/dialects/openai_images.py)
        return Ask(self.api, model, _resolution_of(width, height, model_family(model)), "default", width, height,
                   _bearer(request.headers), str(body.get("prompt") or ""), fields=tuple(body))

    def image(self, ask: Ask, image: bytes | None, url: str | None) -> dict:
        item = {"url": url} if url else {"b64_json": _b64(image) if image is not None else "!!not-base64!!"}
        return self._answer(ask, [item])

    def text_only(self, ask: Ask) -> dict:
        return self._answer(ask, [{"revised_prompt": ask.prompt}])

    def blocked(self, ask: Ask) -> tuple[int, dict]:
        return 400, self.error(400, "Your request was rejected by the safety system.", "content_policy_violation")

    def _answer(self, ask: Ask, data: list) -> dict:
        usage = self._usage(ask)
        return {"created": int(time.time()), "data": data,
                "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                          "total_tokens": usage["total_tokens"],
                          "output_tokens_details": {"reasoning_tokens": THINKING_TOKENS.get(ask.thinking_level, 0)}}}


class OpenAIChat(_OpenAIStyle):
    """Chat completions, either dialect: OpenRouter's under /api/v1, where OpenRouter lives."""

    def read(self, request: Any, body: dict) -> Ask:
        model = str(body.get("model"))
        family = model_family(model)
        openrouter = request.path.startswith("/api/")
        api = "openrouter" if openrouter else "openai_chat"
        messages = body.get("messages") or [{}]
        prompt = str(messages[-1].get("content") or "")
        modalities = tuple(str(m).lower() for m in body.get("modalities") or ())
        if modalities == ("text",):  # the canary's, either dialect
            return _text_ask(api, model, _bearer(request.headers), prompt)
        image_config = body.get("image_config") or {}
        resolution = _resolution_named(str(image_config.get("image_size") or "1K"))
        aspect = image_config.get("aspect_ratio") or "1:1"
        width, height = expected_size(resolution, aspect, family)
        level = ((body.get("reasoning") or {}).get("effort") if openrouter else body.get("reasoning_effort")) or "default"
        return Ask(api, model, resolution, str(level), width, height, _bearer(request.headers), prompt,
                   fields=tuple(body), modalities=modalities)

    def image(self, ask: Ask, image: bytes | None, url: str | None, images_field: bool = False) -> dict:
        data = "data:image/png;base64," + (_b64(image) if image is not None else "!!not-base64!!")
        link = url or data
        if ask.api == "openrouter" or images_field:
            message = {"role": "assistant", "content": "Here is your image.",
                       "images": [{"type": "image_url", "image_url": {"url": link}}]}
        else:
            message = {"role": "assistant", "content": f"Here is your image.\n\n![image]({link})"}
        return self._answer(ask, message, "stop")

    def text_only(self, ask: Ask) -> dict:
        return self._answer(ask, {"role": "assistant", "content": "I can describe a red circle instead."}, "stop")

    def text_answer(self, ask: Ask) -> dict:
        return self._answer(ask, {"role": "assistant", "content": "OK"}, "stop")

    def blocked(self, ask: Ask) -> tuple[int, dict]:
        return 200, self._answer(ask, {"role": "assistant", "content": ""}, "content_filter")

    def finish_error(self, ask: Ask) -> dict:
        answer = self._answer(ask, {"role": "assistant", "content": ""}, "error")
        answer["choices"][0]["native_finish_reason"] = "UNAVAILABLE"
        return answer

    def _answer(self, ask: Ask, message: dict, finish: str) -> dict:
        return {"id": "gen-" + uuid.uuid4().hex[:16], "object": "chat.completion", "created": int(time.time()),
                "model": ask.model, **({"provider": "Google"} if ask.api == "openrouter" else {}),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": self._usage(ask)}


def _b64(image: bytes) -> str:
    return base64.b64encode(image).decode("ascii")


class OpenRouterImages(_OpenAIStyle):
    """OpenRouter's Image API (exporter/probing/dialects/openrouter_images.py): `resolution` and `aspect_ratio`
    in the body, `data[].b64_json` back, usage in the chat shape with its cost
    (tests/fixtures/upstream/openrouter-images-api-success.json)."""

    api = "openrouter_images"

    def read(self, request: Any, body: dict) -> Ask:
        model = str(body.get("model"))
        family = model_family(model)
        resolution = _resolution_named(str(body.get("resolution") or "1K"))
        width, height = expected_size(resolution, str(body.get("aspect_ratio") or "1:1"), family)
        return Ask(self.api, model, resolution, "default", width, height, _bearer(request.headers),
                   str(body.get("prompt") or ""), fields=tuple(body))

    def image(self, ask: Ask, image: bytes | None, url: str | None) -> dict:
        item = {"url": url} if url else {"b64_json": _b64(image) if image is not None else "!!not-base64!!",
                                         "media_type": "image/png"}
        return self._answer(ask, [item])

    def text_only(self, ask: Ask) -> dict:
        return self._answer(ask, [])

    def blocked(self, ask: Ask) -> tuple[int, dict]:
        return 400, self.error(400, "Request blocked by the provider's content_policy.", "content_policy_violation")

    def endpoints(self, model: str) -> dict:
        """`GET /images/models/{slug}/endpoints`: one Google endpoint with what the family takes."""
        family = model_family(model)
        return {"id": model, "endpoints": [{
            "provider_name": "Google AI Studio", "provider_slug": "google-ai-studio",
            "supported_parameters": {"resolution": {"type": "enum", "values": list(family.resolutions)},
                                     "aspect_ratio": {"type": "enum", "values": list(family.aspect_ratios)}}}]}

    def _answer(self, ask: Ask, data: list) -> dict:
        usage = self._usage(ask)
        return {"created": int(time.time()), "data": data,
                "usage": {"prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
                          "total_tokens": usage["total_tokens"],
                          "cost": round(usage["completion_tokens"] * model_family(ask.model).usd_per_million_image_tokens / 1e6, 6)}}
