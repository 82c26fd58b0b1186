"""The dialects against answers the real services send (tests/fixtures/upstream/, each file with its
source in that folder's README), not only against the simulator's: every recorded shape gets its
outcome in every dialect that can receive it, through the code a probe runs (probe.read_answer)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from exporter.common.blobs import StreamedJSON
from exporter.probing.dialects import DIALECTS
from exporter.probing.dialects.base import ProbeFailure
from exporter.contract.outcomes import Outcome
from exporter.probing.probe import read_answer
from exporter.simulator.images import png

UPSTREAM = Path(__file__).parent / "fixtures" / "upstream"
PNG = base64.b64encode(png(64, 64, "solid")).decode()
CHAT = ("openai_chat", "openrouter")  # OpenRouter's shapes, which chat gateways copy
EVERY = tuple(DIALECTS)
GOOGLE = ("gemini", "vertex")  # Vertex AI answers in the Gemini API's shapes

# file -> (HTTP status it comes with, dialects that can receive it, outcome)
ANSWERS: dict[str, tuple[int, tuple[str, ...], Outcome]] = {
    "gemini-generatecontent-image-success.json": (200, GOOGLE, Outcome.SUCCESS),
    "gemini-finish-no-image.json": (200, GOOGLE, Outcome.NO_IMAGE),
    "gemini-finish-image-other.json": (200, GOOGLE, Outcome.NO_IMAGE),
    "gemini-finish-image-safety.json": (200, GOOGLE, Outcome.CONTENT_BLOCKED),
    "gemini-prompt-blocked.json": (200, GOOGLE, Outcome.CONTENT_BLOCKED),
    "gemini-400-api-key-invalid.json": (400, GOOGLE, Outcome.AUTH_ERROR),
    "gemini-400-unknown-field.json": (400, GOOGLE, Outcome.CLIENT_ERROR),
    "gemini-400-invalid-value.json": (400, GOOGLE, Outcome.CLIENT_ERROR),
    "gemini-404-model-not-found.json": (404, GOOGLE, Outcome.CLIENT_ERROR),
    "gemini-429-quota-failure.json": (429, GOOGLE, Outcome.RATE_LIMITED),
    "gemini-429-resource-exhausted-bare.json": (429, GOOGLE, Outcome.RATE_LIMITED),
    "gemini-503-overloaded.json": (503, GOOGLE, Outcome.SERVER_ERROR),
    "gemini-503-high-demand.json": (503, GOOGLE, Outcome.SERVER_ERROR),
    # OpenRouter reports errors after the model started as HTTP 200: by the error's own code
    "openrouter-200-error-body.json": (200, EVERY, Outcome.RATE_LIMITED),
    "openrouter-200-finish-reason-error.json": (200, CHAT, Outcome.SERVER_ERROR),
    "openrouter-403-moderation.json": (403, EVERY, Outcome.CONTENT_BLOCKED),
    "openrouter-403-guardrail.json": (403, EVERY, Outcome.CONTENT_BLOCKED),
    "openrouter-402-insufficient-credits.json": (402, EVERY, Outcome.AUTH_ERROR),
    "openrouter-429-capacity-exhausted.json": (429, EVERY, Outcome.RATE_LIMITED),
    "openrouter-400-model-not-found.json": (400, EVERY, Outcome.CLIENT_ERROR),
    "openrouter-chat-image-success.json": (200, CHAT, Outcome.SUCCESS),
    "openrouter-images-api-success.json": (200, ("openai_images", "openrouter_images"), Outcome.SUCCESS),
    "vercel-chat-image-success.json": (200, CHAT, Outcome.SUCCESS),
    "openai-images-response.json": (200, ("openai_images",), Outcome.SUCCESS),
    "openai-images-response-url.json": (200, ("openai_images",), Outcome.SUCCESS),
    "openai-chat-usage-reasoning.json": (200, ("openai_chat",), Outcome.SUCCESS),
    "vertex-429-resource-exhausted-shared.json": (429, GOOGLE, Outcome.RATE_LIMITED),
    "vertex-403-permission-denied.json": (403, GOOGLE, Outcome.AUTH_ERROR),
    "vertex-404-model-not-in-location.json": (404, GOOGLE, Outcome.CLIENT_ERROR),
    "vertex-401-unauthenticated.json": (401, GOOGLE, Outcome.AUTH_ERROR),
    # the canary's text answers (tests/test_canary.py reads them as canaries): as an image probe, no image
    "gemini-text-thinking-success.json": (200, GOOGLE, Outcome.NO_IMAGE),
    "gemini-text-signature-part.json": (200, GOOGLE, Outcome.NO_IMAGE),
    "gemini-text-signature-only.json": (200, GOOGLE, Outcome.NO_IMAGE),
    "openrouter-chat-text-success.json": (200, CHAT, Outcome.NO_IMAGE),
}

# file -> the token usage the exporter reads from it (each token counted once: reasoning tokens
# are already part of the OpenAI shapes' output count)
USAGE = {
    "gemini-generatecontent-image-success.json": {"input": 12, "output": 1126, "thinking": 150},
    "openai-images-response.json": {"input": 50, "output": 4200},
    "openai-chat-usage-reasoning.json": {"input": 12, "output": 1120, "thinking": 200},
    "openrouter-chat-image-success.json": {"input": 12, "output": 1120, "thinking": 170},
}


def load(name: str) -> dict:
    return json.loads((UPSTREAM / name).read_text().replace("<BASE64>", PNG))


def outcome_of(api: str, status: int, payload: dict) -> tuple[Outcome, str, dict]:
    return answer_of(api, status, payload)[:3]


def answer_of(api: str, status: int, payload: dict) -> tuple[Outcome, str, dict, bytes | str | None]:
    result: dict = {}
    try:
        answer = read_answer(DIALECTS[api], status, payload, "application/json", result)
    except ProbeFailure as failure:
        return failure.outcome, failure.message, result.get("usage", {}), None
    assert answer.image or answer.image_url, "a success carries an image or its URL"
    return Outcome.SUCCESS, "", result.get("usage", {}), answer.image or answer.image_url


def test_every_recorded_answer_has_an_outcome_and_a_source():
    files = sorted(p.name for p in UPSTREAM.glob("*.json"))
    assert files == sorted(ANSWERS)
    readme = (UPSTREAM / "README.md").read_text()
    assert [f for f in files if f not in readme] == []


CASES = [(name, api) for name, (_, apis, _) in ANSWERS.items() for api in apis]


@pytest.mark.parametrize("name,api", CASES, ids=[f"{n.removesuffix('.json')}-{a}" for n, a in CASES])
def test_recorded_answer_is_classified(name, api):
    status, _, want = ANSWERS[name]
    got, message, _ = outcome_of(api, status, load(name))
    assert got is want, message
    if want is not Outcome.SUCCESS:
        assert message  # a person sees why


@pytest.mark.parametrize("name,api", CASES, ids=[f"{n.removesuffix('.json')}-{a}" for n, a in CASES])
def test_recorded_answer_streamed_in_chunks_reads_the_same(name, api):
    # as a probe reads it (exporter/common/blobs.py), with the image's base64 long enough to be decoded as
    # it streams: the same outcome, message, usage and image as the whole body parsed at once
    recorded = (UPSTREAM / name).read_text()
    body = recorded.replace("<BASE64>", PNG).encode()
    reader = StreamedJSON(blob_min=64)
    for i in range(0, len(body), 97):
        reader.feed(body[i:i + 97])
    streamed = asyncio.run(reader.payload())
    status = ANSWERS[name][0]
    assert answer_of(api, status, streamed) == answer_of(api, status, load(name))
    if '"<BASE64>"' in recorded or ';base64,<BASE64>"' in recorded:  # a string of base64 (markdown stays text)
        assert "<base64 string" in repr(streamed)  # it was decoded as it came


def test_a_rate_limit_inside_a_200_names_it():
    _, message, _ = outcome_of("openrouter", 200, load("openrouter-200-error-body.json"))
    assert message == "HTTP 200 with error 429: Rate limit exceeded"


def test_a_provider_failing_mid_answer_says_so():
    _, message, _ = outcome_of("openrouter", 200, load("openrouter-200-finish-reason-error.json"))
    assert message.startswith("the provider failed mid-answer (finish reason error)")


def test_gemini_no_image_reasons_say_why():
    assert outcome_of("gemini", 200, load("gemini-finish-no-image.json"))[1] == (
        "the model answered without generating an image (finish reason NO_IMAGE)")
    assert outcome_of("gemini", 200, load("gemini-finish-image-other.json"))[1] == (
        "image generation stopped for a reason the API does not name (finish reason IMAGE_OTHER)")


@pytest.mark.parametrize("name", sorted(USAGE))
def test_usage_counts_every_token_once(name):
    api = {"gemini": "gemini", "openai": "openai_images" if "images" in name else "openai_chat",
           "openrouter": "openrouter"}[name.split("-")[0]]
    assert outcome_of(api, 200, load(name))[2] == USAGE[name]


def test_a_permission_403_without_moderation_metadata_stays_an_auth_error():
    payload = {"error": {"code": 403, "message": "Key is disabled"}}
    assert outcome_of("openrouter", 403, payload)[0] is Outcome.AUTH_ERROR


def test_openai_chat_sends_every_field_vercel_documents_for_images():
    """A recorded request shape: Vercel's AI Gateway makes images only with `modalities`."""
    from exporter.loading.config import load_text

    documented = json.loads((UPSTREAM / "requests" / "vercel-chat-image-request.json").read_text())
    config = load_text("targets:\n  - {name: t, api: openai_chat, base_url: 'https://gw/v1', model: m}\n")
    body = DIALECTS["openai_chat"].build(config.series[0], None, "p").body
    assert set(documented) <= set(body)
    assert "image" in body["modalities"]


def test_openrouter_endpoint_latency_is_milliseconds():
    """A live endpoints answer (listings/openrouter-endpoints-live.json): p50 3446 is 3.4 s to the first
    token, not an hour; the exported quantile is in seconds."""
    from exporter.status.openrouter import parse_endpoints

    payload = json.loads((UPSTREAM / "listings" / "openrouter-endpoints-live.json").read_text())
    [endpoint] = parse_endpoints("z-ai/glm-5.3-flash", payload)
    assert 1 < min(endpoint.latency.values()) and max(endpoint.latency.values()) < 60


@pytest.mark.parametrize("name, api, model", [
    ("gemini-generatecontent-image-success.json", "gemini", "gemini-3.1-flash-image"),
    ("openrouter-chat-image-success.json", "openrouter", None),
])
def test_the_answer_names_the_model_that_generated_it(name, api, model):
    """OpenTelemetry's gen_ai.response.model comes from the recorded answer: `modelVersion` (Gemini API),
    `model` (OpenAI-style)."""
    payload = load(name)
    expected = model or payload["model"]
    assert DIALECTS[api].response_model(payload) == expected
