"""Every dialect against the simulator over loopback: every outcome from a real injected fault."""

import pytest

from conftest import FAKE_BEARER, FAKE_KEY, config_for, free_port
from exporter.loading.config import load_text
from exporter.common.yamlconfig import ConfigError
from exporter.probing.dialects import DIALECTS
from exporter.contract.outcomes import OUTCOMES, Outcome
from exporter.probing.probe import Prober
from exporter.common.redact import Redactor
from exporter.simulator import KINDS
from tests.helpers import FAULTS, expected

DIALECT_NAMES = sorted(DIALECTS)

def test_fault_table_covers_every_fault_kind_and_outcome():
    assert {f["kind"] for f, _ in FAULTS} == set(KINDS)
    # every outcome but the two that come from outside the simulator's answers (checked below)
    covered = {o for _, by in FAULTS for o in (by.values() if isinstance(by, dict) else (by,))}
    assert covered | {Outcome.NETWORK_ERROR, Outcome.TIMEOUT} == set(OUTCOMES)


@pytest.fixture
async def prober():
    p = Prober(Redactor([FAKE_KEY, FAKE_BEARER]))
    yield p
    await p.aclose()


@pytest.mark.parametrize("api", DIALECT_NAMES)
async def test_success_with_phases_usage_and_image(simulator, prober, api):
    sim, base = simulator
    level = "default" if DIALECTS[api].thinking_field is None else "high"  # openai_images has no thinking field
    config = config_for(base, api, resolutions=["2K"], thinking_levels=[level])
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert attempt.image_size == "2048x2048 png"
    assert attempt.image_bytes > 1000 and attempt.response_bytes > attempt.image_bytes
    phases = attempt.phases
    assert set(phases) == {"connect", "tls", "processing", "transfer", "decode"}
    assert phases["connect"] > 0 and phases["processing"] > 0 and phases["decode"] > 0
    assert phases["tls"] == 0  # plain http to the simulator
    assert sum(phases.values()) <= attempt.duration
    assert attempt.usage["output"] >= 1120 and attempt.usage["input"] > 0
    assert (attempt.usage.get("thinking", 0) > 0) == (level == "high")  # thinking asked for, as the API documents it
    seen = sim.requests[-1]
    assert (seen["api"], seen["resolution"], seen["thinking_level"]) == (api, "2K", level)


async def test_gemini_sends_thinking_config_only_when_asked(simulator, prober):
    sim, base = simulator
    for level in ("default", "low"):
        config = config_for(base, "gemini", thinking_levels=[level])
        assert (await prober.probe(config.series[0])).outcome is Outcome.SUCCESS
        body = sim.requests[-1]["body"]
        assert ("thinkingConfig" in body["generationConfig"]) == (level != "default")
        assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "1:1", "imageSize": "1K"}


async def test_openai_images_asks_for_pixels_of_the_aspect_ratio(simulator, prober):
    sim, base = simulator
    config = config_for(base, "openai_images", resolutions=["4K"], aspect_ratio="16:9")
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert sim.requests[-1]["body"]["size"] == "5504x3072"
    assert attempt.image_size == "5504x3072 png"


@pytest.mark.parametrize("api", DIALECT_NAMES)
@pytest.mark.parametrize("fault,outcome", FAULTS, ids=[f"{f['kind']}{f.get('status', '')}" for f, _ in FAULTS])
async def test_fault_yields_documented_outcome(simulator, prober, api, fault, outcome):
    sim, base = simulator
    sim.configure({"faults": [fault]})
    # A 1 s deadline for the faults that must time out (their probe ends at it, not at the fault's 30 s);
    # the others get room for a token fetch on a busy machine, so they end in their own outcome.
    outcome = expected(fault, outcome, api)
    times_out = outcome is Outcome.TIMEOUT
    config = config_for(base, api, timeout="1s" if times_out else "20s")
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is outcome, attempt.message
    if times_out:
        assert attempt.duration < 10  # the whole-probe deadline held, far before the fault's 30 s
    if outcome is not Outcome.SUCCESS:
        assert attempt.message  # a person sees why


async def test_connection_refused_is_network_error(prober):
    config = config_for(f"http://127.0.0.1:{free_port()}", "gemini")
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.NETWORK_ERROR
    assert "ConnectError" in attempt.message


async def test_rejected_key_is_auth_error_and_redacted(simulator, prober):
    sim, base = simulator
    sim.configure({"keys": ["the-only-valid-key"]})
    for api, var_value in (("gemini", FAKE_KEY), ("openai_images", FAKE_BEARER)):
        text = (f"targets:\n  - {{name: t, api: {api}, base_url: '{base}{'' if api == 'gemini' else '/v1'}',"
                f" model: m, api_key_env: K}}\n")
        config = load_text(text, environ={"K": var_value})
        attempt = await prober.probe(config.series[0])
        assert attempt.outcome is Outcome.AUTH_ERROR, attempt.message
        assert var_value not in attempt.message
    assert "<redacted>" in attempt.message  # the gateway echoed the key; the exporter masked it


async def test_body_over_cap_is_bad_response(simulator, prober):
    _, base = simulator
    config = config_for(base, "gemini", max_response_bytes=4096)
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.BAD_RESPONSE
    assert "exceeds the 4096 byte cap" in attempt.message


async def test_downloaded_url_image_counts_in_phases(simulator, prober):
    sim, base = simulator
    sim.configure({"faults": [{"kind": "url_image"}]})
    config = config_for(base, "openai_images")
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS
    assert attempt.image_bytes > attempt.response_bytes  # the image came from the second request
    assert sum(attempt.phases.values()) <= attempt.duration


async def test_the_landing_page_shows_a_thumbnail_of_the_last_image(simulator, prober):
    import base64
    import io
    import re

    from PIL import Image

    from exporter.exposition import landing
    from exporter.domain.state import Store

    sim, base = simulator
    sim.configure({"payload": "noise", "faults": [{"kind": "wrong_size"}]})  # a wrong image is shown too
    config = config_for(base, "gemini", resolutions=["2K"])
    store = Store()
    store.apply(config)
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.BAD_IMAGE and attempt.thumbnail
    [state] = list(store)
    state.record(attempt)
    assert attempt.thumbnail == b"" and len(state.thumbnail[0]) < 8192  # kept once, a few KB
    page = landing.render(store, True, "<test>")
    [data] = re.findall(r'<img class="thumb"[^>]* src="data:image/jpeg;base64,([^"]+)"', page)
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        assert image.format == "JPEG" and max(image.size) == 96 and image.size[0] == image.size[1]


@pytest.mark.parametrize("api", ["gemini", "vertex", "openrouter"])  # the dialects the probe reads itself
async def test_a_large_image_is_decoded_as_it_streams(simulator, prober, api, monkeypatch):
    # a noise PNG at 2K is ~4 MB: its base64 streams through exporter/common/blobs.py, not json.loads
    import exporter.common.blobs as blobs

    decoded = []
    finish = blobs._Decoding.finish
    monkeypatch.setattr(blobs._Decoding, "finish", lambda self: decoded.append(self.head) or finish(self))
    sim, base = simulator
    sim.configure({"payload": "noise"})
    attempt = await prober.probe(config_for(base, api, resolutions=["2K"]).series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert attempt.image_size == "2048x2048 png" and attempt.image_bytes > 2_000_000
    assert decoded == [b"data:image/png;base64," if api == "openrouter" else b""]
    phases = attempt.phases
    assert phases["decode"] > 0 and phases["transfer"] >= 0  # the decode between chunks is decode's time
    assert sum(phases.values()) <= attempt.duration


async def test_an_image_that_is_not_base64_after_a_megabyte_is_bad_response(prober):
    import base64

    import httpx

    from exporter.simulator.images import png

    data = base64.b64encode(png(2048, 2048, "noise")).decode()
    broken = data[:1_000_000] + "*" + data[1_000_000:]
    body = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": broken}}]}}]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    p = Prober(transport=transport)
    try:
        attempt = await p.probe(config_for("http://upstream.test", "gemini").series[0])
    finally:
        await p.aclose()
    assert attempt.outcome is Outcome.BAD_RESPONSE
    assert attempt.message == "candidates[0].content.parts[0].inlineData.data is not valid base64"


async def test_vercel_style_gateway_makes_images_at_every_thinking_level(simulator, prober):
    """A gateway that makes images only when `modalities` holds image (Vercel's AI Gateway documents
    it): openai_chat asks for them, and sends each level as OpenAI's `reasoning_effort`."""
    sim, base = simulator
    sim.configure({"faults": [{"kind": "vercel_gateway"}]})
    config = config_for(base, "openai_chat", model="gemini-nano-banana-2.1",
                        thinking_levels=["default", "minimal", "medium", "high"])
    for series in config.series:
        attempt = await prober.probe(series)
        assert attempt.outcome is Outcome.SUCCESS, attempt.message
        body = sim.requests[-1]["body"]
        assert body["modalities"] == ["image", "text"] and "thinking_level" not in body
        assert body.get("reasoning_effort", "default") == series.thinking_level
        assert sim.requests[-1]["thinking_level"] == series.thinking_level
    # the same gateway without `modalities` answers text: what every probe got before
    text_only = config_for(base, "openai_chat", extra_body={"modalities": None})
    assert (await prober.probe(text_only.series[0])).outcome is Outcome.NO_IMAGE


async def test_openrouter_sends_the_thinking_level_as_its_reasoning_effort(simulator, prober):
    """OpenRouter takes `reasoning: {effort}` (openrouter.ai/docs/api-reference/parameters), not OpenAI's
    top-level `reasoning_effort`: both chat dialects build one body, each with its own thinking_field."""
    sim, base = simulator
    config = config_for(base, "openrouter", model="google/gemini-3-pro-image",
                        thinking_levels=["default", "low", "high"])
    for series in config.series:
        assert (await prober.probe(series)).outcome is Outcome.SUCCESS
        body = sim.requests[-1]["body"]
        assert "reasoning_effort" not in body and body["modalities"] == ["image", "text"]
        assert body.get("reasoning", {"effort": "default"}) == {"effort": series.thinking_level}


async def test_strict_gateway_names_the_field_and_extra_body_drops_it(simulator, prober):
    sim, base = simulator
    sim.configure({"faults": [{"kind": "strict_gateway"}]})
    refused = await prober.probe(config_for(base, "openai_chat").series[0])
    assert refused.outcome is Outcome.CLIENT_ERROR
    assert "image_config" in refused.message and "400" in refused.message
    dropped = await prober.probe(config_for(base, "openai_chat", extra_body={"image_config": None}).series[0])
    assert dropped.outcome is Outcome.SUCCESS, dropped.message
    assert "image_config" not in sim.requests[-1]["body"]
    # openai_images sends only OpenAI's own fields; a gateway field of the user's own is named too
    assert (await prober.probe(config_for(base, "openai_images").series[0])).outcome is Outcome.SUCCESS
    own = await prober.probe(config_for(base, "openai_images", extra_body={"thinking_level": "high"}).series[0])
    assert own.outcome is Outcome.CLIENT_ERROR and "thinking_level" in own.message


def test_a_dialect_without_a_thinking_field_refuses_levels():
    with pytest.raises(ConfigError, match="api openai_images has no documented thinking field"):
        config_for("http://127.0.0.1:1", "openai_images", thinking_levels=["high"])
