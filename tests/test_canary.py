"""The canary (exporter/background/canary.py): a paid text-only generation on the image model. Its request in
every dialect, its verdict on answers the real services send (tests/fixtures/upstream/), against
the simulator (outcomes, tokens, cost charged to the budget, a fault of image output alone it cannot
see), its metrics, and three failed canaries probing the target's series at once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import generate_latest

from conftest import FAKE_BEARER, FAKE_KEY, config_for
from exporter.domain.budget import GLOBAL, Budget, BudgetSettings
from exporter.background.canary import ESTIMATED_USAGE, CanaryChecker, estimated_cost, has_canary
from exporter.loading.config import ConfigError, load_text
from exporter.probing.credentials import Credentials
from exporter.probing.dialects import DIALECTS
from exporter.exposition.metrics import CANARY_FAMILIES, make_registry
from exporter.contract.outcomes import CANARY_OUTCOMES, NO_TEXT
from exporter.plan import print_plan
from exporter.probing.probe import Prober
from exporter.common.redact import Redactor
from exporter.background.scheduler import Scheduler
from exporter.domain.state import Store
from tests.helpers import wait_for

UPSTREAM = Path(__file__).parent / "fixtures" / "upstream"
GOOGLE = ("gemini", "vertex")
CHAT = ("openai_chat", "openrouter")
WITH_CANARY = GOOGLE + CHAT
MODEL = {"openrouter": "google/gemini-3-pro-image"}
ON = {"enabled": True}


def canary_config(base: str, api: str = "gemini", **target) -> object:
    return config_for(base, api, model=MODEL.get(api, "gemini-3-pro-image"),
                      canary={**ON, **target.pop("canary", {})}, **target)


@pytest.fixture
async def checker():
    c = CanaryChecker(Redactor([FAKE_KEY, FAKE_BEARER]))
    yield c
    await c.stop()


# --- the request -----------------------------------------------------------------------------------


def test_the_canary_asks_for_text_only_and_sends_no_image_settings():
    cfg = load_text(yaml.safe_dump({"targets": [
        {"name": api.replace("_", "-"), "api": api, "base_url": "http://up.example", "model": "gemini-3-pro-image",
         "canary": ON, "extra_body": {"generationConfig": {"temperature": 0.5}},
         **({"project": "my-project", "location": "global"} if api == "vertex" else {})}
        for api in sorted(DIALECTS)]}), "<test>")
    requests = {t.api: DIALECTS[t.api].canary_request(t, "KEY", "Reply OK.") for t in cfg.targets}
    gemini = requests["gemini"]
    assert gemini.url == "http://up.example/v1beta/models/gemini-3-pro-image:generateContent"
    # TEXT alone, no imageConfig or thinkingConfig, and the target's extra_body (written for images) left out
    assert gemini.body == {"contents": [{"parts": [{"text": "Reply OK."}]}],
                           "generationConfig": {"responseModalities": ["TEXT"]}}
    assert gemini.headers == {"x-goog-api-key": "KEY"}
    vertex = requests["vertex"]
    assert vertex.url.endswith("/v1/projects/my-project/locations/global/publishers/google/models/gemini-3-pro-image:generateContent")
    assert vertex.body["contents"][0]["role"] == "user" and vertex.headers == {"Authorization": "Bearer KEY"}
    assert requests["openrouter"].body["modalities"] == ["text"]
    assert "image_config" not in requests["openrouter"].body and "image_config" not in requests["openai_chat"].body
    assert requests["openai_chat"].body["modalities"] == ["text"]  # OpenAI's own chat parameter
    assert requests["openai_images"] is None  # the Images API makes images only: no canary
    assert [t.api for t in cfg.targets if has_canary(t)] == sorted(WITH_CANARY)


def test_the_canary_is_off_by_default_and_inherits_from_defaults():
    text = yaml.safe_dump({"defaults": {"canary": {"enabled": True, "interval": "2m"}}, "targets": [
        {"name": "a", "api": "gemini", "model": "gemini-3-pro-image"},
        {"name": "b", "api": "gemini", "model": "gemini-3-pro-image", "canary": {"trigger_after": 5}},
        {"name": "c", "api": "gemini", "model": "gemini-3-pro-image", "canary": {"enabled": False}}]})
    a, b, c = load_text(text, "<test>").targets
    assert (a.canary.enabled, a.canary.interval, a.canary.trigger_after) == (True, 120, 3)
    assert (b.canary.enabled, b.canary.interval, b.canary.trigger_after) == (True, 120, 5)
    assert not has_canary(c)
    (plain,) = load_text(yaml.safe_dump({"targets": [{"name": "a", "api": "gemini", "model": "m"}]}), "<t>").targets
    assert not plain.canary.enabled


@pytest.mark.parametrize("canary, problem", [
    ({"trigger_after": -1}, "targets[0].canary.trigger_after"),
    ({"interval": "soon"}, "targets[0].canary.interval"),
    ({"prompt": ""}, "targets[0].canary.prompt"),
    ({"per_million_tokens": {"images": 1}}, "targets[0].canary.per_million_tokens"),
    ({"enable": True}, "targets[0].canary.enable: unknown key"),
])
def test_a_broken_canary_setting_names_file_line_and_key(canary, problem):
    text = yaml.safe_dump({"targets": [{"name": "a", "api": "gemini", "model": "m", "canary": canary}]})
    with pytest.raises(ConfigError) as err:
        load_text(text, "nanobanana.yml")
    assert str(err.value).startswith("nanobanana.yml:") and problem in str(err.value), err.value


# --- the verdict on recorded answers ---------------------------------------------------------------

# file -> (HTTP status, dialects that can receive it, canary outcome)
ANSWERS: dict[str, tuple[int, tuple[str, ...], str]] = {
    "gemini-text-thinking-success.json": (200, GOOGLE, "success"),
    "gemini-text-signature-part.json": (200, GOOGLE, "success"),
    "gemini-text-signature-only.json": (200, GOOGLE, NO_TEXT),
    "gemini-generatecontent-image-success.json": (200, GOOGLE, "success"),  # it carries a text part too
    "gemini-finish-image-safety.json": (200, GOOGLE, "content_blocked"),
    "gemini-prompt-blocked.json": (200, GOOGLE, "content_blocked"),
    "gemini-503-overloaded.json": (503, GOOGLE, "server_error"),
    "gemini-503-high-demand.json": (503, GOOGLE, "server_error"),
    "gemini-429-quota-failure.json": (429, GOOGLE, "rate_limited"),
    "gemini-400-api-key-invalid.json": (400, GOOGLE, "auth_error"),
    "gemini-404-model-not-found.json": (404, GOOGLE, "client_error"),
    "vertex-403-permission-denied.json": (403, GOOGLE, "auth_error"),
    "vertex-429-resource-exhausted-shared.json": (429, GOOGLE, "rate_limited"),
    "openrouter-chat-text-success.json": (200, CHAT, "success"),
    "openrouter-chat-image-success.json": (200, CHAT, NO_TEXT),  # its content is empty: the image is in images[]
    "openrouter-200-error-body.json": (200, WITH_CANARY, "rate_limited"),
    "openrouter-200-finish-reason-error.json": (200, CHAT, "server_error"),
    "openrouter-403-moderation.json": (403, WITH_CANARY, "content_blocked"),
    "openrouter-402-insufficient-credits.json": (402, WITH_CANARY, "auth_error"),
    "openrouter-429-capacity-exhausted.json": (429, WITH_CANARY, "rate_limited"),
}


def _answers():
    for name, (status, apis, outcome) in ANSWERS.items():
        for api in apis:
            yield pytest.param(name, status, api, outcome, id=f"{name}-{api}")


class StaticKey(Credentials):
    """Every target's secret is one key: the recorded answers are under test here, not how a token is got."""

    async def secret(self, target):
        return "KEY"


@pytest.mark.parametrize("name, status, api, outcome", list(_answers()))
async def test_recorded_answers_get_their_canary_outcome(name, status, api, outcome):
    payload = json.loads((UPSTREAM / name).read_text().replace("<BASE64>", "iVBORw0KGgo="))
    (target,) = load_text(yaml.safe_dump({"targets": [{"name": "t", "api": api, "model": "gemini-3-pro-image",
                                                       "base_url": "https://gateway.example/v1",
                                                       **({"project": "my-project"} if api == "vertex" else {})}]})).targets
    answer = httpx.MockTransport(lambda request: httpx.Response(status, json=payload))
    checker = CanaryChecker(transport=answer, credentials=StaticKey())
    try:
        check = await checker.check(target)
    finally:
        await checker.stop()
    assert check.outcome == outcome, check.message
    assert check.outcome in CANARY_OUTCOMES


def test_a_recorded_text_answer_is_priced_from_its_tokens_thinking_at_the_text_rate():
    payload = json.loads((UPSTREAM / "gemini-text-thinking-success.json").read_text())
    (target,) = load_text(yaml.safe_dump({"targets": [{"name": "t", "api": "gemini",
                                                       "model": "gemini-3-pro-image"}]})).targets
    assert DIALECTS["gemini"].usage(payload) == {"input": 12, "output": 1, "thinking": 156}
    # Nano Banana Pro: input $2, text and thinking output $12 per million tokens
    assert target.price.of_text(DIALECTS["gemini"].usage(payload)) == pytest.approx((12 * 2 + 157 * 12) / 1e6)
    chat = json.loads((UPSTREAM / "openrouter-chat-text-success.json").read_text())
    assert DIALECTS["openrouter"].usage(chat) == {"input": 12, "output": 1, "thinking": 156}  # reasoning counted once


# --- against the simulator -------------------------------------------------------------------------


@pytest.mark.parametrize("api", WITH_CANARY)
async def test_a_canary_succeeds_in_every_dialect_that_has_one_and_is_charged(simulator, api):
    sim, base = simulator
    cfg = canary_config(base, api)
    budget = Budget(BudgetSettings(daily_limit_usd=10, state_file=None), ["t"])
    checker = CanaryChecker(charge=budget.record)
    checker.apply(cfg, run=False)
    try:
        check = await checker.run(cfg.targets[0])
    finally:
        await checker.stop()
    assert (check.outcome, check.message) == ("success", "")
    [seen] = [r for r in sim.requests if r.get("api") != "oauth2"]
    assert seen["text"] is True and seen["resolution"] == "text"  # a text-only generation request
    assert check.usage["thinking"] > 0 and check.cost == pytest.approx(cfg.targets[0].price.of_text(check.usage))
    assert 0 < check.cost < 0.01 < cfg.series[0].price  # far cheaper than the 1K image ($0.134)
    assert budget.spent[GLOBAL] == pytest.approx(check.cost)


async def test_a_generation_outage_fails_the_canary_and_an_image_only_fault_does_not(simulator, checker):
    sim, base = simulator
    cfg = canary_config(base)
    checker.apply(cfg, run=False)
    sim.configure({"faults": [{"kind": "status", "status": 503}]})  # "the model is overloaded"
    failed = await checker.run(cfg.targets[0])
    assert failed.outcome == "server_error" and "overloaded" in failed.message
    assert failed.cost == 0  # an error answer is not billed
    # what the canary cannot see: image output failing alone, a 4K-only fault, an undecodable image
    for fault in ({"kind": "status", "status": 503, "image_only": True}, {"kind": "status", "resolution": "4K"},
                  {"kind": "corrupt_image"}, {"kind": "wrong_size"}):
        sim.configure({"faults": [fault]})
        assert (await checker.run(cfg.targets[0])).outcome == "success", fault


async def test_three_failed_canaries_probe_the_series_at_once_with_reason_canary(simulator):
    sim, base = simulator
    cfg = canary_config(base, interval="1h", confirm={"after": "100ms"}, liveness={"enabled": False},
                        canary={"interval": "100ms"})
    store, prober = Store(), Prober()
    scheduler = Scheduler(store, prober, offset=lambda series: 0.0, jitter=0.0)
    triggered = []
    checker = CanaryChecker(on_failure=lambda target, check: (triggered.append(check.outcome),
                                                              scheduler.canary_failed(target, check)),
                            refusal=scheduler.refusal)
    registry = make_registry(store, canary=checker)
    labels, value = cfg.series[0].labels, registry.get_sample_value
    scheduler.apply(cfg)
    checker.apply(cfg)
    try:
        await wait_for(lambda: value("nanobanana_probes_total", {**labels, "outcome": "success"}) == 1,
                       "the first regular probe")
        await wait_for(lambda: (value("nanobanana_canary_checks_total", {"target": "t", "api": "gemini",
                                                                         "model": "gemini-3-pro-image",
                                                                         "outcome": "success"}) or 0) >= 1,
                       "a successful canary")
        assert triggered == []
        sim.configure({"faults": [{"kind": "status", "status": 503}]})  # a generation outage: metadata calls work
        # the third failed canary probes the series at once, then its two confirmations, long before the hour
        await wait_for(lambda: value("nanobanana_probes_total", {**labels, "outcome": "server_error"}) == 3,
                       "the canary-triggered probe and two confirmations")
    finally:
        await scheduler.stop()
        await checker.stop()
        await prober.aclose()
    assert triggered[:1] == ["server_error"]
    canary_labels = {"target": "t", "api": "gemini", "model": "gemini-3-pro-image"}
    assert value("nanobanana_canary_consecutive_failures", canary_labels) >= 3
    assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "canary"}) == 1
    assert value("nanobanana_probe_confirmations_total", {**labels, "reason": "failure"}) == 2
    assert value("nanobanana_probe_consecutive_failures", labels) == 3  # the outage alert's condition


async def test_rate_limited_canaries_do_not_trigger_and_a_spent_budget_pauses_the_canary(simulator):
    sim, base = simulator
    cfg = canary_config(base)
    triggered = []
    budget = Budget(BudgetSettings(daily_limit_usd=0.001, state_file=None), ["t"])
    checker = CanaryChecker(on_failure=lambda target, check: triggered.append(check),
                            refusal=lambda target: "budget" if budget.refusal(target.name) else None,
                            charge=budget.record)
    checker.apply(cfg, run=False)
    target = cfg.targets[0]
    try:
        sim.configure({"faults": [{"kind": "status", "status": 429}]})
        for _ in range(4):
            assert (await checker.run(target)).outcome == "rate_limited"
        assert triggered == [] and checker.get(("t", "gemini", "gemini-3-pro-image")).consecutive_failures == 0
        sim.configure({"faults": []})
        assert (await checker.run(target)).outcome == "success"  # $0.0034 > the $0.001 limit
        assert await checker.run(target) is None  # paused: not run, not paid
    finally:
        await checker.stop()
    state = checker.get(("t", "gemini", "gemini-3-pro-image"))
    assert state.skipped == {"budget": 1, "maintenance": 0} and sum(state.checks.values()) == 5


async def test_canary_metrics_are_their_own_families_and_promtool_clean(simulator, checker):
    sim, base = simulator
    cfg = canary_config(base)
    checker.apply(cfg, run=False)
    await checker.run(cfg.targets[0])
    sim.configure({"faults": [{"kind": "status", "status": 503}]})
    await checker.run(cfg.targets[0])
    registry = make_registry(Store(), canary=checker)
    value = registry.get_sample_value
    labels = {"target": "t", "api": "gemini", "model": "gemini-3-pro-image"}
    for outcome in CANARY_OUTCOMES:  # every outcome pre-created
        expected = 1 if outcome in ("success", "server_error") else 0
        assert value("nanobanana_canary_checks_total", {**labels, "outcome": outcome}) == expected
    assert value("nanobanana_canary_success", labels) == 0
    assert value("nanobanana_canary_consecutive_failures", labels) == 1
    assert value("nanobanana_canary_interval_seconds", labels) == 60
    assert 0 < value("nanobanana_canary_cost_usd_total", labels) < 0.01
    assert value("nanobanana_canary_tokens_total", {**labels, "kind": "thinking"}) > 0
    names = {m.name for m in registry.collect()}
    assert {n.removesuffix("_total") for n in names if n.startswith("nanobanana_canary")} == set(CANARY_FAMILIES)
    # never mixed with the image probes' samples
    assert not [s for m in registry.collect() for s in m.samples if s.name.startswith("nanobanana_probe")]
    done = subprocess.run(["promtool", "check", "metrics"], input=generate_latest(registry), capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_config_check_plans_the_canary_cost_and_its_detection():
    text = yaml.safe_dump({"targets": [
        {"name": "pro", "api": "gemini", "model": "gemini-3-pro-image", "canary": ON},
        {"name": "plain", "api": "gemini", "model": "gemini-3-pro-image"}]})
    lines: list[str] = []
    plans = {p.series.target.name: p for p in print_plan(load_text(text, "<test>"), lines.append)}
    # three failed canaries a minute apart probe at once: the generation outage is no longer found at the next 15-minute probe
    assert plans["pro"].detect_paid < plans["plain"].detect_paid / 2
    [line] = [x for x in lines if x.startswith("canary pro:")]
    target = load_text(text, "<test>").targets[0]
    assert "1440 text calls/day" in line and f"${1440 * estimated_cost(target):,.2f}/day" in line
    assert "cannot see a fault of image output alone" in line
    assert estimated_cost(target) == pytest.approx(target.price.of_text(ESTIMATED_USAGE))
    total = next(x for x in lines if x.startswith("total:"))
    assert f"${2 * 96 * 0.134 + 1440 * estimated_cost(target):,.2f}/day" in total


async def test_the_landing_page_shows_each_canary_with_its_cost(simulator, checker):
    from exporter.exposition import landing

    sim, base = simulator
    cfg = canary_config(base)
    checker.apply(cfg, run=False)
    sim.configure({"faults": [{"kind": "status", "status": 503}]})
    await checker.run(cfg.targets[0])
    html = landing.render(Store(), True, "<test>", canary=checker)
    section = html.split("<h2>Canary</h2>", 1)[1].split("</table>", 1)[0]
    assert "server_error" in section and "overloaded" in section and "$0.0000" in section
    assert "not a fault of image output alone" in section
    assert "<h2>Canary</h2>" not in landing.render(Store(), True, "<test>")  # no canary configured: no section


async def test_an_image_request_without_image_config_is_still_an_image_request_on_the_simulator(simulator):
    """`extra_body: {image_config: null}` (docs/configuration.md) drops the size fields from a chat
    image probe: the simulator must still answer it with an image, not as a canary."""
    sim, base = simulator
    cfg = config_for(base, "openai_chat", extra_body={"image_config": None})
    prober = Prober()
    try:
        attempt = await prober.probe(cfg.series[0], "A red circle")
    finally:
        await prober.aclose()
    assert attempt.outcome.value == "success", attempt.message
    assert [r["text"] for r in sim.requests] == [False]


@pytest.mark.parametrize("api, fault, outcome", [
    ("openrouter", {"kind": "error_in_body", "status": 502}, "server_error"),
    ("openrouter", {"kind": "finish_error"}, "server_error"),
    ("openai_chat", {"kind": "truncated_json"}, "bad_response"),
    ("gemini", {"kind": "safety_block"}, "content_blocked"),
    ("gemini", {"kind": "not_json"}, "bad_response"),
])
async def test_faults_that_need_no_image_hit_the_canary(simulator, checker, api, fault, outcome):
    sim, base = simulator
    cfg = canary_config(base, api)
    checker.apply(cfg, run=False)
    sim.configure({"faults": [fault]})
    check = await checker.run(cfg.targets[0])
    assert check.outcome == outcome, check.message
    if outcome in ("bad_response", "content_blocked"):  # a 2xx answer was generated: billed, at the estimate without usage
        assert check.cost > 0


def test_a_partial_canary_rate_keeps_the_family_rates_for_the_rest():
    (target,) = load_text(yaml.safe_dump({"targets": [{"name": "t", "api": "gemini", "model": "gemini-3.1-flash-image",
                                                       "canary": {"per_million_tokens": {"thinking": 10}}}]})).targets
    usage = {"input": 1_000_000, "output": 1_000_000, "thinking": 1_000_000}
    # Nano Banana 2: input $0.50, text $3; thinking set to $10
    assert target.price.of_text(usage, target.canary.per_million_tokens) == pytest.approx(0.5 + 3 + 10)


async def test_only_serving_failures_trigger_image_probes(simulator):
    """A refused text-only call (client_error) or key (auth_error) is not an outage of the model."""
    sim, base = simulator
    cfg = canary_config(base, canary={"trigger_after": 2})
    triggered = []
    checker = CanaryChecker(on_failure=lambda target, check: triggered.append(check.outcome))
    checker.apply(cfg, run=False)
    try:
        for status, outcome in ((400, "client_error"), (403, "auth_error")):
            sim.configure({"faults": [{"kind": "status", "status": status}]})
            for _ in range(3):
                assert (await checker.run(cfg.targets[0])).outcome == outcome
        assert triggered == []
        sim.configure({"faults": [{"kind": "hang"}]})
        cfg_fast = canary_config(base, canary={"trigger_after": 2, "timeout": "200ms"})
        checker.apply(cfg_fast, run=False)
        await checker.run(cfg_fast.targets[0])
        assert triggered == ["timeout"]  # a streak of 7 failures, the last a serving failure
    finally:
        await checker.stop()


async def test_a_reload_that_leaves_the_canary_alone_keeps_it_running(simulator):
    sim, base = simulator
    checker = CanaryChecker()
    cfg = canary_config(base, canary={"interval": "50ms"})
    checker.apply(cfg)
    try:
        key = ("t", "gemini", "gemini-3-pro-image")
        await wait_for(lambda: sum(checker.get(key).checks.values()) >= 2, "two canaries")
        (_, task), = checker._jobs._tasks.values()
        checker.apply(canary_config(base, canary={"interval": "50ms"}, prompts=["another image prompt"]))
        assert checker._jobs._tasks[key][1] is task  # the image prompt is not the canary's: not restarted
        before = sum(checker.get(key).checks.values())
        await wait_for(lambda: sum(checker.get(key).checks.values()) >= before + 2, "the canary goes on, recorded")
        checker.apply(canary_config(base, canary={"interval": "50ms", "prompt": "Say OK."}))
        assert checker._jobs._tasks[key][1] is not task  # its own prompt changed: restarted
        await wait_for(lambda: any(r.get("prompt") == "Say OK." for r in sim.requests), "the new prompt sent")
    finally:
        await checker.stop()
