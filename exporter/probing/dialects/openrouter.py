"""OpenRouter chat completions with image output: images in message.images[]."""

from __future__ import annotations

from exporter.probing.dialects.base import (
    Dialect, Listing, ProbeFailure, Request, bearer, dig, served,
)
from exporter.probing.dialects.openai_chat import ChatCompletions, finish_check, images_field
from exporter.contract.outcomes import Outcome


class FreeCalls:
    """The free calls both OpenRouter dialects share. The key's credit: OpenRouter publishes a key's
    limit, what is left of it and its spend at `GET {base}/key` (the key itself as bearer token;
    openrouter.ai/docs/api/api-reference/api-keys/get-current-key, seen 2026-12-06), read by
    exporter/background/credit.py."""

    def credit_request(self, target, api_key):
        return Request(f"{target.base_url}/key", bearer(api_key), None, "GET")

    # The catalog check: `GET {base}/models?output_modalities=image` (the default list hides image
    # models) with ids, text rates and supported parameters
    def listing_request(self, target, secret):
        return Request(f"{target.base_url.rstrip('/')}/models?output_modalities=image", bearer(secret), None, "GET")


class OpenRouter(FreeCalls, ChatCompletions, Dialect):
    name = "openrouter"
    thinking_field = "reasoning.effort"  # https://openrouter.ai/docs/api-reference/parameters (reasoning)
    default_base_url = "https://openrouter.ai/api/v1"
    otel_provider, otel_operation = "openrouter", "chat"
    listing = Listing(complete=True, prices=True, parameters=True, new_model_prefix="google/")

    liveness_names_model = True

    def liveness_request(self, target, api_key):
        # the endpoint list of the model: free; proves reachability and that the slug still exists.
        # It is public, so it does not prove the key (paid probes do).
        return Request(f"{target.base_url}/models/{target.model}/endpoints", bearer(api_key), None, "GET")

    def model_listed(self, target, payload):
        endpoints = dig(payload, "data", "endpoints")
        if not isinstance(endpoints, list):
            raise ProbeFailure(Outcome.BAD_RESPONSE, "data.endpoints is not a list")
        return bool(endpoints)  # a model without any provider endpoint cannot be used

    def parse(self, payload):
        choice = dig(payload, "choices", 0)
        message = dig(choice, "message")
        if not isinstance(message, dict):
            raise ProbeFailure(Outcome.BAD_RESPONSE, "choices[0].message is not an object")
        finish_check(choice)
        answer = images_field(message)
        if answer is None:
            raise ProbeFailure(Outcome.NO_IMAGE, "message has no images")
        # the slug that answered and the provider that served it, beside the choices
        # (tests/fixtures/upstream/openrouter-chat-image-success.json, openrouter-200-finish-reason-error.json)
        answer.model, answer.provider = served(payload, "model"), served(payload, "provider")
        return answer
