"""openai_images and openai_chat through the real openai SDK (on the probe's httpx client): the
request is the SDK's, one attempt, phases measured, the body cap holds on error bodies too, an answer
the SDK cannot parse is bad_response with the SDK's message. Every fault's outcome is asserted in
tests/test_probe.py (FAULTS) for these dialects as for the others."""

from __future__ import annotations

import httpx
import pytest

from conftest import FAKE_BEARER, config_for
from exporter.loading.config import load_text
from exporter.contract.outcomes import Outcome
from exporter.probing.probe import Prober
from exporter.common.redact import Redactor

SDK_APIS = ("openai_images", "openai_chat")


class Recording(httpx.AsyncBaseTransport):
    """The real transport, with every request's headers kept."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None):
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request):
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self):
        await self.inner.aclose()


@pytest.mark.parametrize("api", SDK_APIS)
async def test_the_request_is_the_sdks_one_attempt_with_phases(simulator, api):
    sim, base = simulator
    recording = Recording()
    prober = Prober(Redactor([FAKE_BEARER]), transport=recording)
    levels = "[low]" if api == "openai_chat" else "[default]"  # openai_images: OpenAI's Images API has no thinking field
    text = (f"targets:\n  - {{name: t, api: {api}, base_url: '{base}/v1', model: gemini-3-pro-image, api_key_env: K,"
            f" thinking_levels: {levels}, extra_body: {{quality: high}}}}\n")
    config = load_text(text, environ={"K": FAKE_BEARER})
    try:
        attempt = await prober.probe(config.series[0])
        assert attempt.outcome is Outcome.SUCCESS, attempt.message
        sim.configure({"faults": [{"kind": "status", "status": 503}]})
        failed = await prober.probe(config.series[0])
    finally:
        await prober.aclose()
    assert failed.outcome is Outcome.SERVER_ERROR
    first, second = recording.requests  # one request per probe: the SDK's retries are off
    assert first.headers["user-agent"].startswith("AsyncOpenAI/Python")
    assert "x-stainless-lang" in first.headers
    assert first.headers["authorization"] == f"Bearer {FAKE_BEARER}"
    assert first.headers.get("x-stainless-retry-count") == "0"
    body = sim.requests[0]["body"]
    assert body["quality"] == "high"  # extra_body reached the wire
    assert "thinking_level" not in body  # in no public spec
    if api == "openai_chat":  # OpenAI's own chat fields, as the SDK sends them
        assert body["reasoning_effort"] == "low" and body["modalities"] == ["image", "text"]
    phases = attempt.phases
    assert phases["connect"] > 0 and phases["processing"] > 0 and phases["transfer"] > 0
    assert sum(phases.values()) <= attempt.duration
    assert attempt.usage["output"] >= 1120


async def test_no_key_sends_no_authorization_header(simulator):
    _, base = simulator
    recording = Recording()
    prober = Prober(transport=recording)
    try:
        attempt = await prober.probe(config_for(base, "openai_images").series[0])
    finally:
        await prober.aclose()
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert "authorization" not in recording.requests[0].headers


@pytest.mark.parametrize("api", SDK_APIS)
@pytest.mark.parametrize("status", [200, 500])
async def test_the_body_cap_holds_for_what_the_sdk_reads(api, status):
    """An endless error page (or answer): the SDK reads error bodies whole before it raises; the
    probe's capping transport stops it at max_response_bytes all the same."""

    async def endless():
        while True:
            yield b"x" * 65536

    def answer(request):
        return httpx.Response(status, headers={"content-type": "application/json"}, content=endless())

    prober = Prober(transport=httpx.MockTransport(answer))
    config = config_for("http://upstream.invalid", api, max_response_bytes=1 << 20, timeout="20s")
    try:
        attempt = await prober.probe(config.series[0])
    finally:
        await prober.aclose()
    assert attempt.outcome is Outcome.BAD_RESPONSE
    assert attempt.message == f"response body exceeds the {1 << 20} byte cap"


@pytest.mark.parametrize("api", SDK_APIS)
async def test_an_answer_the_sdk_cannot_parse_is_bad_response_with_its_message(simulator, api):
    sim, base = simulator
    sim.configure({"faults": [{"kind": "truncated_json"}]})
    prober = Prober()
    try:
        attempt = await prober.probe(config_for(base, api).series[0])
    finally:
        await prober.aclose()
    assert attempt.outcome is Outcome.BAD_RESPONSE
    assert attempt.message.startswith("the openai SDK cannot parse the answer: JSONDecodeError")


@pytest.mark.parametrize("api", SDK_APIS)
async def test_sdk_exceptions_map_to_outcomes(simulator, api):
    sim, base = simulator
    prober = Prober()
    cases = [({"kind": "status", "status": 429}, Outcome.RATE_LIMITED),  # RateLimitError
             ({"kind": "status", "status": 401}, Outcome.AUTH_ERROR),  # AuthenticationError
             ({"kind": "moderation"}, Outcome.CONTENT_BLOCKED),  # PermissionDeniedError, but a filter
             ({"kind": "reset"}, Outcome.NETWORK_ERROR),  # APIConnectionError
             ({"kind": "hang"}, Outcome.TIMEOUT)]  # APITimeoutError / the probe's deadline
    try:
        for fault, outcome in cases:
            sim.configure({"faults": [fault]})
            attempt = await prober.probe(config_for(base, api, timeout="1s").series[0])
            assert attempt.outcome is outcome, (fault, attempt.message)
            assert "APIConnectionError" not in attempt.message  # the cause is shown, not the SDK's wrapper
    finally:
        await prober.aclose()
