"""OpenRouter's Image API dialect (exporter/probing/dialects/openrouter_images.py) against the simulator: what
it sends, the sizes it asks for, and its free check."""

from __future__ import annotations

import pytest

from conftest import config_for
from exporter.contract.outcomes import Outcome
from exporter.probing.probe import Prober


@pytest.fixture
async def prober():
    p = Prober()
    yield p
    await p.aclose()


async def test_nano_banana_2_at_512_is_asked_for_by_the_catalogs_name(simulator, prober):
    sim, base = simulator
    config = config_for(base, "openrouter_images", model="google/gemini-3.1-flash-image", resolutions=["512"],
                        aspect_ratio="4:1")
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    seen = sim.requests[-1]
    assert seen["path"] == "/api/v1/images"
    assert seen["body"] == {"model": "google/gemini-3.1-flash-image", "prompt": seen["body"]["prompt"], "n": 1,
                            "aspect_ratio": "4:1", "resolution": "512"}
    assert attempt.usage["output"] == 747  # Nano Banana 2's tokens at 512


async def test_nano_banana_gets_no_resolution(simulator, prober):
    sim, base = simulator
    config = config_for(base, "openrouter_images", model="google/gemini-2.5-flash-image")
    sim.configure({"models": ["google/gemini-2.5-flash-image"]})  # served here, whatever the catalog's date
    await prober.probe(config.series[0])
    assert "resolution" not in sim.requests[-1]["body"]


def test_thinking_levels_are_refused():
    with pytest.raises(Exception, match="api openrouter_images has no documented thinking field"):
        config_for("http://127.0.0.1:1", "openrouter_images", model="google/gemini-3-pro-image", thinking_levels=["high"])
