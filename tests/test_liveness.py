"""Free liveness checks against the simulator over loopback: every dialect, a retired model id, a
revoked key, a whole-API outage; their metrics; and a failed check confirming with a paid probe."""

from __future__ import annotations

import asyncio

import pytest
import yaml

from conftest import FAKE_BEARER, FAKE_KEY, config_for
from exporter.loading.config import load_text
from exporter.probing.dialects import DIALECTS
from exporter.background.liveness import LivenessChecker
from exporter.exposition.metrics import LIVENESS_FAMILIES, make_registry
from exporter.contract.outcomes import LIVENESS_OUTCOMES, MODEL_MISSING
from exporter.probing.probe import Prober
from exporter.common.redact import Redactor
from exporter.background.scheduler import Scheduler
from exporter.simulator.server import BASE_PATHS
from exporter.domain.state import Store
from tests.helpers import wait_for

MODELS = {"gemini": "gemini-3-pro-image", "openai_images": "nano-banana-pro", "openai_chat": "gemini-3.1-flash-image",
          "openrouter": "google/gemini-3-pro-image", "openrouter_images": "google/gemini-3-pro-image",
          "vertex": "gemini-3-pro-image"}


def base_of(base: str, api: str) -> str:
    return base + BASE_PATHS[api]


def config(base: str, api: str, model: str | None = None, key: str = FAKE_KEY, **target) -> object:
    if api == "vertex":  # Google credentials (the test service account), no key
        return config_for(base, api, model=model or MODELS[api], **target)
    fields = {"name": "t", "api": api, "base_url": base_of(base, api), "model": model or MODELS[api],
              "api_key_env": "KEY", **target}
    return load_text(yaml.safe_dump({"targets": [fields]}), environ={"KEY": key})


@pytest.fixture
async def checker():
    c = LivenessChecker(Redactor([FAKE_KEY, FAKE_BEARER]))
    yield c
    await c.stop()


async def check(checker, cfg):
    checker.apply(cfg, run=False)
    return await checker.run(cfg.targets[0])


@pytest.mark.parametrize("api", sorted(DIALECTS))
async def test_a_known_model_is_alive_and_the_check_costs_nothing(simulator, checker, api):
    sim, base = simulator
    result = await check(checker, config(base, api))
    assert (result.outcome, result.message) == ("success", "")
    [seen] = [r for r in sim.requests if r.get("api") != "oauth2"]  # vertex signs in first
    assert seen["metadata"] is True  # a GET to a metadata route, never a generation request


@pytest.mark.parametrize("api", sorted(DIALECTS))
async def test_a_retired_model_id_is_model_missing(simulator, checker, api):
    sim, base = simulator
    retired = MODELS[api]
    sim.configure({"retired_models": [retired]})
    result = await check(checker, config(base, api))
    assert result.outcome == MODEL_MISSING
    assert retired in result.message


async def test_a_model_the_gateway_does_not_list_is_model_missing(simulator, checker):
    sim, base = simulator
    sim.configure({"models": ["nano-banana-pro-v2"]})
    result = await check(checker, config(base, "openai_images", "nano-banana-pro"))
    assert result.outcome == MODEL_MISSING and "not listed" in result.message
    assert (await check(checker, config(base, "openai_images", "nano-banana-pro-v2"))).outcome == "success"


@pytest.mark.parametrize("api,key", [("gemini", FAKE_KEY), ("openai_images", FAKE_BEARER), ("openai_chat", FAKE_BEARER)])
async def test_a_revoked_key_is_auth_error_and_never_shown(simulator, checker, api, key):
    sim, base = simulator
    sim.configure({"keys": ["the-only-valid-key"]})
    result = await check(checker, config(base, api, key=key))
    assert result.outcome == "auth_error"
    assert key not in result.message
    assert (await check(checker, config(base, api, key="the-only-valid-key"))).outcome == "success"


@pytest.mark.parametrize("fault,outcome", [
    ({"kind": "status", "status": 503, "metadata": True}, "server_error"),
    ({"kind": "status", "status": 429, "metadata": True}, "rate_limited"),
    ({"kind": "hang", "metadata": True}, "timeout"),
    ({"kind": "reset", "metadata": True}, "network_error"),
    ({"kind": "not_json", "metadata": True}, "bad_response"),
    ({"kind": "status", "status": 503}, "success"),  # a generation-only outage: the free check cannot see it
])
async def test_metadata_faults(simulator, checker, fault, outcome):
    sim, base = simulator
    sim.configure({"faults": [fault]})
    result = await check(checker, config(base, "gemini", liveness={"timeout": "300ms"}))
    assert result.outcome == outcome, result.message


async def test_liveness_metrics(simulator, checker):
    sim, base = simulator
    cfg = config(base, "gemini")
    registry = make_registry(Store(), liveness=checker)
    labels = {"target": "t", "api": "gemini", "model": "gemini-3-pro-image"}
    await check(checker, cfg)
    sim.configure({"retired_models": ["gemini-3-pro-image"]})
    await checker.run(cfg.targets[0])
    value = registry.get_sample_value
    for outcome in LIVENESS_OUTCOMES:  # every outcome pre-created
        expected = 1 if outcome in ("success", MODEL_MISSING) else 0
        assert value("nanobanana_liveness_checks_total", {**labels, "outcome": outcome}) == expected
        assert value("nanobanana_liveness_outcome", {**labels, "outcome": outcome}) == (outcome == MODEL_MISSING)
    assert value("nanobanana_liveness_success", labels) == 0
    assert value("nanobanana_liveness_interval_seconds", labels) == 60
    assert 0 < value("nanobanana_liveness_duration_seconds", labels) < 5
    assert value("nanobanana_liveness_last_success_timestamp_seconds", labels) <= \
        value("nanobanana_liveness_last_run_timestamp_seconds", labels)
    names = {m.name for m in registry.collect()}
    assert {n.removesuffix("_total") for n in names if n.startswith("nanobanana_liveness")} == set(LIVENESS_FAMILIES)


async def test_checks_run_on_their_interval_and_can_be_turned_off(simulator):
    sim, base = simulator
    text = yaml.safe_dump({"targets": [
        {"name": "on", "api": "gemini", "base_url": base, "model": "gemini-3-pro-image", "liveness": {"interval": "100ms"}},
        {"name": "off", "api": "gemini", "base_url": base, "model": "gemini-3-pro-image", "liveness": {"enabled": False}},
    ]})
    checker = LivenessChecker()
    loop = asyncio.get_running_loop()
    started = loop.time()
    checker.apply(load_text(text))
    assert [state.key[0] for state in checker] == ["on"]
    (on,) = checker
    try:
        await wait_for(lambda: sum(on.checks.values()) >= 4, "4 checks of the target that has them on")
    finally:
        await checker.stop()
    elapsed = loop.time() - started
    checks = sum(on.checks.values())
    requests = len([r for r in sim.requests if r.get("metadata")])
    # only "on" asked the simulator (a check cut short by stop() may have asked without being recorded)
    assert checks <= requests <= checks + 1
    # on its interval, never faster: n checks start at least n-1 intervals apart (a lower bound, which
    # a busy machine cannot break, where an upper bound on the count after a fixed time would flake)
    assert elapsed >= (requests - 1) * 0.1 * 0.95, (requests, elapsed)


async def test_a_failed_check_confirms_at_once_with_one_paid_probe(simulator):
    """A whole-API outage: the free check sees it first and the scheduler probes right away instead of
    waiting for the (long) interval; then the failure confirmations follow."""
    sim, base = simulator
    cfg = config(base, "gemini", interval="1h", confirm={"after": "100ms"}, liveness={"interval": "100ms"})
    store, prober = Store(), Prober()
    scheduler = Scheduler(store, prober, offset=lambda series: 0.0, jitter=0.0)
    checker = LivenessChecker(on_failure=scheduler.liveness_failed)
    registry = make_registry(store)
    labels = cfg.series[0].labels
    value = registry.get_sample_value
    scheduler.apply(cfg)
    checker.apply(cfg)
    (_, _, control), = scheduler._loops.values()
    try:
        await wait_for(lambda: value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 1,
                       "the first regular probe")
        sim.configure({"faults": [{"kind": "status", "status": 503, "metadata": True}]})
        # the failed check's probe, then its two confirmations, long before the hourly interval
        await wait_for(lambda: value("nanobanana_probes_total", {**labels, "outcome": "server_error"}) == 3,
                       "the triggered probe and two confirmations")
        # recorded and planned in one step: confirmed twice, nothing more is planned; the checks that go on
        # failing trigger no more probes (the series is failing already: confirmations handle it)
        assert control.schedule.early_at is None and control.confirmations == 2
        assert value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 1
    finally:
        await scheduler.stop()
        await checker.stop()
        await prober.aclose()
    assert value("nanobanana_probes_total", {**labels, "outcome": "server_error"}) == 3
    assert value("nanobanana_probe_consecutive_failures", labels) == 3  # the outage alert's condition
    assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "liveness"}) == 1
    assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "failure"}) == 2
