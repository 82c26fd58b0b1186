"""Faults the simulator injects: what can go wrong, for which requests, when, and how often."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Any

from exporter.common.durations import parse_duration

# kind -> what it does (the outcome each one yields is asserted by the tests, one list here)
KINDS: dict[str, str] = {
    "status": "answer with an HTTP error status (`status`, default 503) in the dialect's error format",
    "html_error": "answer 502 with an HTML error page, as a proxy in front of the API would",
    "not_json": "answer 200 with an HTML page instead of JSON",
    "hang": "accept the request and never answer",
    "slow_drip": "send a 200 and then the body a few bytes at a time, over `seconds` (default 600)",
    "truncated_json": "answer 200 with the JSON cut in half",
    "bad_base64": "answer with image data that is not base64",
    "corrupt_image": "answer with valid base64 of bytes that are not an image",
    "wrong_size": "answer with an image at half the requested size",
    "safety_block": "block the request the way the dialect reports safety filters",
    "text_only": "answer well-formed, with text and no image",
    "reset": "close the connection without answering",
    "url_image": "not a fault: answer with an image URL to download instead of inline data",
    # images that decode at the right size and are still not what was paid for (exporter/probing/imagechecks.py)
    "blank": "answer with a uniform grey image of the requested size",
    "upscaled": "answer with the scene drawn at a quarter of the requested size and scaled up to it",
    "substituted": "answer as another family's model and name it in the answer (modelVersion, model)",
    "off_prompt": "answer with another scene than the prompt asks (another colour and shape)",
    # answers real services send (tests/fixtures/upstream/ has the recorded shapes)
    "error_in_body": "answer 200 with only an error object whose code is `status`, as OpenRouter reports errors "
                     "that happen after the model started",
    "moderation": "answer 403 with OpenRouter's moderation error (metadata.reasons, flagged_input)",
    "finish_error": "chat dialects: finish_reason error, the provider failed mid-answer (others answer normally)",
    "no_image_reason": "gemini: finishReason NO_IMAGE and no image part (others answer normally)",
    "images_field": "not a fault: openai_chat answers in message.images[] as OpenRouter-style gateways do "
                    "(others answer normally)",
    "vercel_gateway": "openai_chat: a gateway that makes images only when `modalities` holds image, as Vercel's "
                      "AI Gateway documents; without it, a text answer (others answer normally)",
    "strict_gateway": "openai_chat, openai_images: a gateway that answers 400 naming a body field OpenAI's API "
                      "does not define (the openai SDK's request types), as strict gateways do",
    # Vertex AI (exporter/simulator/google_auth.py: the token endpoint)
    "revoked_account": "vertex: the service account is disabled: the token endpoint refuses the grant "
                       "(invalid_grant) and Vertex refuses the tokens it issued (401)",
    "model_not_in_region": "vertex: regional endpoints answer 404 NOT_FOUND for the model; the global one serves it",
}
# kinds that only some dialects can receive; the others answer normally
ONLY: dict[str, tuple[str, ...]] = {
    "finish_error": ("openai_chat", "openrouter"),
    "no_image_reason": ("gemini",),
    "images_field": ("openai_chat",),
    "vercel_gateway": ("openai_chat",),
    "strict_gateway": ("openai_chat", "openai_images"),
    "revoked_account": ("vertex",),
    "model_not_in_region": ("vertex",),
}

# kinds that also hit a text-only request (the canary's); the others are faults of image output
# and a text request gets a normal answer. `image_only: true` keeps any fault off text requests.
TEXT_KINDS: frozenset[str] = frozenset({
    "status", "html_error", "not_json", "hang", "slow_drip", "truncated_json", "safety_block", "reset",
    "error_in_body", "moderation", "finish_error", "revoked_account", "model_not_in_region", "strict_gateway",
})


@dataclass
class Fault:
    kind: str
    rate: float = 1.0  # probability per matching request
    status: int = 503
    seconds: float = 600.0  # slow_drip: how long the body takes
    start: float | None = None  # seconds after simulator start (or after the fault was set)
    end: float | None = None
    api: str | None = None  # filters; None matches all
    model: str | None = None
    resolution: str | None = None
    metadata: bool = False  # also hit the free metadata calls (a whole-API outage), not only generation
    image_only: bool = False  # only requests for an image: a fault the canary's text requests cannot see

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Fault":
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        if raw.get("kind") not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, got {raw.get('kind')!r}")
        values = dict(raw)
        for key in ("start", "end", "seconds"):
            if isinstance(values.get(key), str):
                values[key] = parse_duration(values[key])
        fault = cls(**values)
        if not 0 <= fault.rate <= 1:
            raise ValueError("fault rate must be between 0 and 1")
        return fault

    def applies(self, api: str, model: str, resolution: str, elapsed: float, text: bool = False) -> bool:
        if text and (self.image_only or self.kind not in TEXT_KINDS):
            return False
        if self.api not in (None, api) or self.model not in (None, model) or self.resolution not in (None, resolution):
            return False
        if self.start is not None and elapsed < self.start:
            return False
        if self.end is not None and elapsed >= self.end:
            return False
        return self.rate >= 1 or random.random() < self.rate


def parse_faults(raw: Any) -> list[Fault]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("faults must be a list")
    return [Fault.from_dict(item) for item in raw]
