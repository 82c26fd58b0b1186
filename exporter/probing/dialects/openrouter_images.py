"""OpenRouter's Image API: `POST {base}/images`, the API OpenRouter's image-generation guide documents
since mid-2026 instead of image output from chat completions.

Sources, seen 2026-12-06: https://openrouter.ai/docs/guides/overview/multimodal/image-generation (a
mirror of the page: "a dedicated Image API", `resolution` 512 / 1K / 2K / 4K, normalized
`aspect_ratio` that "providers clamp to their supported subset", images as base64, `usage` with token
counts and cost; per-endpoint capabilities at `GET /images/models/{slug}/endpoints`), OpenRouter's
SDK reference (`images.generate`, `listModelEndpoints`) and tests/fixtures/upstream/
openrouter-images-api-success.json. That it serves the Gemini image models: THIRD PARTY ONLY (public
clients call it with google/gemini-2.5-flash-image and note that hybrid text+image models are served
by both it and chat completions); the guide's examples name other models.

What it sends: `model`, `prompt`, `n: 1`, `resolution` (512, 1K, 2K, 4K: the catalog's names),
`aspect_ratio`. No thinking field: the Image API documents none, so only `default` is measured.
"""

from __future__ import annotations

from exporter.probing.dialects.base import Dialect, Listing, ProbeFailure, Request, bearer, dig, merge_body, openai_chat_usage
from exporter.probing.dialects.openai_images import images_data
from exporter.probing.dialects.openrouter import FreeCalls
from exporter.contract.outcomes import Outcome


class OpenRouterImages(FreeCalls, Dialect):
    name = "openrouter_images"
    default_base_url = "https://openrouter.ai/api/v1"
    otel_provider, otel_operation = "openrouter", "generate_image"
    listing = Listing(complete=True, prices=True)
    liveness_names_model = True

    def build(self, series, api_key, prompt):
        t = series.target
        body = {"model": t.model, "prompt": prompt, "n": 1, "aspect_ratio": t.aspect_ratio}
        if t.family.takes_image_size:
            body["resolution"] = series.resolution
        return Request(f"{t.base_url}/images", bearer(api_key), merge_body(body, t.extra_body))

    def parse(self, payload):
        return images_data(payload)  # data[0].b64_json or data[0].url, as OpenAI's Images API

    def usage(self, payload):
        # prompt_tokens / completion_tokens, as in chat (the fixture's usage)
        return openai_chat_usage(payload.get("usage") if isinstance(payload, dict) else None)

    def liveness_request(self, target, api_key):
        # the model's Image API endpoints: free, and what the model takes there (supported_parameters)
        return Request(f"{target.base_url}/images/models/{target.model}/endpoints", bearer(api_key), None, "GET")

    def model_listed(self, target, payload):
        endpoints = dig(payload, "endpoints")
        if not isinstance(endpoints, list):
            raise ProbeFailure(Outcome.BAD_RESPONSE, "endpoints is not a list")
        return bool(endpoints)  # no endpoint: the Image API does not serve the model
