"""What probes cost: list prices, per-token prices and the rule for failed attempts, from real
answers of the simulator."""

from __future__ import annotations

import pytest

from conftest import config_for
from exporter.contract.outcomes import Outcome


async def cost_of(prober, config):
    series = config.series[0]
    attempt = await prober.probe(series)
    return attempt.outcome, series.target.price.cost(series.resolution, attempt.outcome, attempt.usage, attempt.image_bytes)


# Google's list prices per image (https://ai.google.dev/gemini-api/docs/pricing), written out here
# rather than read from the catalog, so a wrong catalog entry fails
LIST_PRICES = [
    ("gemini-3-pro-image", "1K", 0.134), ("gemini-3-pro-image", "2K", 0.134), ("gemini-3-pro-image", "4K", 0.24),
    ("gemini-3.1-flash-image", "512", 0.045), ("gemini-3.1-flash-image", "1K", 0.067),
    ("gemini-3.1-flash-image", "2K", 0.101), ("gemini-3.1-flash-image", "4K", 0.151),
    ("gemini-nano-banana-2.1", "1K", 0.034),
]


@pytest.mark.parametrize("model,resolution,usd", LIST_PRICES)
async def test_a_success_costs_the_list_price_of_its_model_and_resolution(simulator, prober, model, resolution, usd):
    _, base = simulator
    outcome, cost = await cost_of(prober, config_for(base, "gemini", model=model, resolutions=[resolution]))
    assert outcome is Outcome.SUCCESS
    assert cost == pytest.approx(usd)


def test_nano_banana_costs_its_own_price_and_aliases_take_their_family(simulator):
    _, base = simulator
    flash = config_for(base, "openai_chat", model="gemini-2.5-flash-image")
    assert flash.series[0].price == pytest.approx(0.039)
    alias = config_for(base, "openai_images", model="nb2", family="nano-banana-2", resolutions=["512"])
    assert alias.series[0].price == pytest.approx(0.045)
    unknown = config_for(base, "openai_images", model="something-new")  # priced as the dearest family
    assert unknown.series[0].price == pytest.approx(0.134)


# fault -> (outcome, charged?) under the default rule: errors are free, an answer with an image or
# output tokens is billed in full
DEFAULT_RULE = [
    ({"kind": "status", "status": 503}, Outcome.SERVER_ERROR, False),
    ({"kind": "status", "status": 429}, Outcome.RATE_LIMITED, False),
    ({"kind": "reset"}, Outcome.NETWORK_ERROR, False),
    ({"kind": "wrong_size"}, Outcome.BAD_IMAGE, True),  # generated and billed, just not what we asked for
    ({"kind": "corrupt_image"}, Outcome.BAD_IMAGE, True),
    ({"kind": "text_only"}, Outcome.NO_IMAGE, True),  # Gemini reports output tokens for it
    ({"kind": "safety_block"}, Outcome.CONTENT_BLOCKED, False),  # no output tokens reported
]


@pytest.mark.parametrize("fault,outcome,charged", DEFAULT_RULE, ids=[f["kind"] for f, _, _ in DEFAULT_RULE])
async def test_failed_attempts_cost_what_the_answer_carried(simulator, prober, fault, outcome, charged):
    sim, base = simulator
    sim.configure({"faults": [fault]})
    got, usd = await cost_of(prober, config_for(base, "gemini"))
    assert got is outcome
    assert usd == pytest.approx(0.134 if charged else 0.0)


@pytest.mark.parametrize("rule,fault,expected", [
    ("all", {"kind": "status", "status": 503}, 0.05),  # a gateway billing every request
    ("all", {"kind": "status", "status": 429}, 0.0),  # refused requests are never billed
    ("none", {"kind": "wrong_size"}, 0.0),
    ("output", {"kind": "wrong_size"}, 0.05),
])
async def test_the_failed_rule_is_configurable(simulator, prober, rule, fault, expected):
    sim, base = simulator
    sim.configure({"faults": [fault]})
    config = config_for(base, "openai_images", model="nano-banana-pro", price={"per_image": {"1K": 0.05}, "failed": rule})
    _, usd = await cost_of(prober, config)
    assert usd == expected


async def test_per_token_prices_apply_when_the_answer_reports_usage(simulator, prober):
    _, base = simulator
    config = config_for(base, "gemini", resolutions=["4K"], thinking_levels=["high"],
                        price={"per_million_tokens": {"input": 2.0, "output": 120.0, "thinking": 120.0}})
    series = config.series[0]
    attempt = await prober.probe(series)
    usage = attempt.usage
    assert usage["output"] == 2000 and usage["thinking"] > 0 and usage["input"] > 0
    expected = (usage["input"] * 2.0 + (usage["output"] + usage["thinking"]) * 120.0) / 1e6
    assert series.target.price.cost("4K", attempt.outcome, usage, attempt.image_bytes) == pytest.approx(expected)
    assert series.target.price.cost("4K", attempt.outcome, {}, attempt.image_bytes) == 0.24  # no usage: per image


def test_prices_inherit_per_resolution_from_defaults():
    from exporter.loading.config import load_text

    config = load_text("defaults: {price: {per_image: {1K: 0.05, 2K: 0.05}, failed: all}}\n"
                       "targets: [{name: a, api: gemini, model: gemini-3-pro-image, price: {per_image: {2K: 0.07}}}]\n")
    price = config.targets[0].price
    assert price.per_image == {"1K": 0.05, "2K": 0.07, "4K": 0.24}
    assert price.failed == "all" and price.per_million_tokens is None
