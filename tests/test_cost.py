"""What probes cost: list prices, per-token prices and the rule for failed attempts, from real
answers of the simulator."""

from __future__ import annotations

import pytest

from conftest import config_for
from exporter.outcomes import Outcome
from exporter.pricing import LIST_PRICES
from exporter.probe import Prober


@pytest.fixture
async def prober():
    p = Prober()
    yield p
    await p.aclose()


async def cost_of(prober, config):
    series = config.series[0]
    attempt = await prober.probe(series)
    return attempt.outcome, series.target.price.cost(series.resolution, attempt.outcome, attempt.usage, attempt.image_bytes)


@pytest.mark.parametrize("resolution", sorted(LIST_PRICES))
async def test_a_success_costs_the_list_price_of_its_resolution(simulator, prober, resolution):
    _, base = simulator
    outcome, usd = await cost_of(prober, config_for(base, "gemini", resolutions=[resolution]))
    assert outcome is Outcome.SUCCESS
    assert usd == LIST_PRICES[resolution] == {"1K": 0.134, "2K": 0.134, "4K": 0.24}[resolution]


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
    assert usd == (0.134 if charged else 0.0)


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
    from exporter.config import load_text

    config = load_text("defaults: {price: {per_image: {1K: 0.05, 2K: 0.05}, failed: all}}\n"
                       "targets: [{name: a, api: gemini, model: m, price: {per_image: {2K: 0.07}}}]\n")
    price = config.targets[0].price
    assert price.per_image == {"1K": 0.05, "2K": 0.07, "4K": 0.24}
    assert price.failed == "all" and price.per_million_tokens is None
