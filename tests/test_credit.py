"""Credit headroom (exporter/background/credit.py): OpenRouter's free GET /api/v1/key read from the simulator
as the documented shape, exported per target, and refused when it is not that shape."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from conftest import FAKE_KEY, config_for
from exporter.background.credit import CREDIT_FAMILIES, CreditChecker, has_credit, read_credit
from tests.documentation import ALL

# The example answer of openrouter.ai/docs/api/api-reference/api-keys/get-current-key (its SDKs'
# GetCurrentKeyResponse), seen 2026-12-06, trimmed to the fields the exporter reads and a few beside.
DOCUMENTED = {"data": {"label": "sk-or-v1-au7...890", "limit": 100, "limit_remaining": 74.5, "limit_reset": "monthly",
                       "usage": 25.5, "usage_daily": 25.5, "is_free_tier": False}}


def test_the_documented_answer_reads_as_figures():
    credit = read_credit(DOCUMENTED)
    assert (credit.used, credit.limit, credit.remaining) == (25.5, 100.0, 74.5)
    unlimited = read_credit({"data": {**DOCUMENTED["data"], "limit": None, "limit_remaining": None}})
    assert unlimited.limit is None and unlimited.remaining is None


@pytest.mark.parametrize("payload", [{}, {"data": []}, {"data": {"limit": 5}}, {"data": {"usage": "1"}},
                                     {"data": {"usage": -1}}, {"data": {"usage": True}}, {"data": {"usage": float("nan")}}])
def test_other_shapes_are_refused(payload):
    with pytest.raises(ValueError):
        read_credit(payload)


async def test_the_checker_reads_the_simulators_key_endpoint(simulator):
    sim, base = simulator
    sim.configure({"credit": {"limit": 10, "usage": 2.5}})
    config = config_for(base, "openrouter", api_key_env="TEST_KEY")
    [target] = config.targets
    assert has_credit(target) and not has_credit(config_for(base, "gemini", api_key_env="TEST_KEY").targets[0])
    checker = CreditChecker()
    try:
        await checker.check(target)
    finally:
        await checker.stop()
    registry = CollectorRegistry()
    registry.register(checker)
    assert registry.get_sample_value("nanobanana_credit_remaining_usd", {"target": "t"}) == 7.5
    assert registry.get_sample_value("nanobanana_credit_limit_usd", {"target": "t"}) == 10
    assert registry.get_sample_value("nanobanana_credit_used_usd_total", {"target": "t"}) == 2.5
    assert sim.requests[-1]["api"] == "openrouter_key"


async def test_a_refused_key_leaves_no_figure(simulator):
    sim, base = simulator
    sim.configure({"keys": ["another-key-0123456789"]})
    [target] = config_for(base, "openrouter", api_key_env="TEST_KEY").targets
    checker = CreditChecker(redact=lambda text: text.replace(FAKE_KEY, "<key>"))
    try:
        await checker.check(target)
    finally:
        await checker.stop()
    assert checker.credits == {}


def test_every_credit_family_is_documented():
    names = [f.text_name for f in CREDIT_FAMILIES.values()]
    assert [n for n in names if f"`{n}`" not in ALL] == []
