"""OpenAI Images API and compatible gateways: /images/generations.

What it sends: `model`, `prompt`, `n: 1`, `size` in pixels, `response_format: b64_json`, all fields of
OpenAI's Images API (openai-python `types/image_generate_params.py`). No thinking field: neither
OpenAI's Images API nor any gateway spec found has one (checked 2026-12-06; an earlier version sent a
top-level `thinking_level`, in no spec), so a target of this dialect takes only the `default` level;
a gateway's own field goes in `extra_body`."""

from __future__ import annotations

from exporter.probing.dialects.base import (
    Answer, Dialect, ProbeFailure, Request, bearer, decode_base64, dig, image_from_url, merge_body, openai_usage, served,
)
from exporter.contract.outcomes import Outcome
from exporter.models.sizes import expected_size


class ModelList:
    """The OpenAI-style free check: `GET {base}/models` lists the model ids the key may use."""

    def liveness_request(self, target, api_key):
        return Request(f"{target.base_url}/models", bearer(api_key), None, "GET")

    def listing_request(self, target, secret):  # the catalog check reads the same list
        return Request(f"{target.base_url.rstrip('/')}/models", bearer(secret), None, "GET")

    def model_listed(self, target, payload):
        data = dig(payload, "data")
        if not isinstance(data, list):
            raise ProbeFailure(Outcome.BAD_RESPONSE, "data is not a list")
        return any(isinstance(item, dict) and item.get("id") == target.model for item in data)


class OpenAIImages(ModelList, Dialect):
    name = "openai_images"
    otel_provider, otel_operation = "openai", "generate_image"
    openai_sdk_call = "images"

    def build(self, series, api_key, prompt):
        t = series.target
        width, height = expected_size(series.resolution, t.aspect_ratio, t.family)
        body = {
            "model": t.model,
            "prompt": prompt,
            "n": 1,
            "size": f"{width}x{height}",
            "response_format": "b64_json",
        }
        return Request(f"{t.base_url}/images/generations", bearer(api_key), merge_body(body, t.extra_body))

    def usage(self, payload):
        # `output_tokens_details` splits output into image_tokens and text_tokens (OpenAI's
        # ImagesResponse.usage); gateways that think may add reasoning_tokens there
        return openai_usage(payload.get("usage") if isinstance(payload, dict) else None,
                            "input_tokens", "output_tokens", "output_tokens_details")

    def parse(self, payload):
        return images_data(payload)


def images_data(payload) -> Answer:
    """The image of an OpenAI-style images answer: data[0].b64_json, or data[0].url to download.
    OpenAI's image object names no model; a gateway that adds `model` (and `provider`) says what served it."""
    data = dig(payload, "data")
    if not isinstance(data, list):
        raise ProbeFailure(Outcome.BAD_RESPONSE, "data is not a list")
    if not data:
        raise ProbeFailure(Outcome.NO_IMAGE, "answer has an empty data list")
    item = data[0] if isinstance(data[0], dict) else {}
    if item.get("b64_json"):
        answer = Answer(image=decode_base64(item["b64_json"], "data[0].b64_json"))
    elif item.get("url"):
        answer = image_from_url(item["url"], "data[0].url")
    else:
        raise ProbeFailure(Outcome.NO_IMAGE, "data[0] has neither b64_json nor url")
    answer.model, answer.provider = served(payload, "model"), served(payload, "provider")
    return answer
