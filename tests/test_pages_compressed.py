"""An incident's whole life through the real stack, compressed: the shipped rules generated with every
duration scaled by SCALE (alertmanager/generate.py rules_yml(time_scale); 1 h of the rules lasts 1 min,
BurnFast's 35 min hold 35 s, AvailabilityLow's 6 h 6 min), Prometheus scraping and evaluating every
STEP, Alertmanager with the shipped routes' timings scaled alike (group_wait 30s -> 500ms, group_interval
5m -> 5s, repeat_interval 30m -> 30s), the exporter probing the simulator at the default cadence scaled
(every 15 min -> 15 s, confirmations 30 s -> 0.5 s after a failure), fake Slack and the relay's
signature-checking Feishu, DingTalk and WeCom.

A short outage (the probe and its two confirmations fail, the next probe succeeds), then the stack is
watched for the longest window that could still start an alert on its failures. Per channel: one
firing and one resolved message, nothing else. tests/test_pages.py runs the same stack at the shipped
timings, but can only watch 90 s of the hours after the recovery.

The second test proves the compression exercises the windows: with BurnFast's after-page hold of
10 min (before issue 30; its 30 min short window outlives it) the same run pages again.
"""

from __future__ import annotations

import contextlib
import json
import time

import httpx
import pytest
import yaml

from alertmanager.generate import rules_yml, scale_duration
from exporter.loading.config import DEFAULT_INTERVAL
from exporter.contract.rules import AFTER_BURN_PAGE, AVAILABILITY_WINDOW, ERROR_WINDOWS, PAGES, alert
from exporter.common.durations import parse_duration
from exporter.domain.targets import ConfirmSettings
from tests.helpers import FEISHU_SECRET, RELAY_TOKEN, python_service, relay_channels, wait
from tests.stack import ALERTMANAGER, ALERTMANAGER_CONFIG, PROMETHEUS, FakeWebhook, alertmanager_config_for_test, \
    start_alertmanager, start_prometheus

from conftest import exporter_env

pytestmark = [
    pytest.mark.realstack,
    pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER), reason="prometheus / prometheus-alertmanager not installed"),
]

SCALE = 1 / 60  # one hour of the shipped rules lasts one minute
# Scrape and evaluation: the shipped 15 s scaled would be 250 ms; at 1 s the shortest window (5m -> 5 s)
# still holds five samples, and a busy machine keeps up.
STEP = 1.0
INTERVAL = DEFAULT_INTERVAL * SCALE  # the default cadence, every 15 min -> every 15 s
CONFIRM_AFTER = ConfirmSettings().after * SCALE
CHANNELS = {"feishu": "/open-apis/", "dingtalk": "/robot/send", "wecom": "/cgi-bin/webhook/send"}
GROUP_INTERVAL = parse_duration(yaml.safe_load(ALERTMANAGER_CONFIG.read_text())["route"]["group_interval"]) * SCALE
# After the recovery an alert can start on the outage's failures only while a window of its rule still holds
# them. The longest of a rule that can fire here is AvailabilityLow's (held back exactly as long), then its
# `for:`. BurnSlow's 1d and 3d pairs fire only on a series probed for their whole long window (24 and 72
# compressed minutes): a run of minutes never has one (tests/test_lifecycle.py covers them).
assert parse_duration(AVAILABILITY_WINDOW) >= max(
    parse_duration(w) for w in (*ERROR_WINDOWS, *(w for p in PAGES for w in (p.long_window, p.short_window))))
REFIRE_WINDOW = (parse_duration(AVAILABILITY_WINDOW) + parse_duration(alert("NanoBananaAvailabilityLow").for_)) * SCALE
OLD_BURN_HOLD = "10m"  # BurnFast's after-page hold before issue 30


def _slack_titles(slack: FakeWebhook) -> list[tuple[str, str]]:
    return [(a["title"], a["color"]) for r in slack.received("/slack") for a in r.json["attachments"]]


def _messages(slack: FakeWebhook, chat: FakeWebhook) -> dict[str, list]:
    found = {"slack": slack.received("/slack")}
    for name, prefix in CHANNELS.items():
        found[name] = [r for r in chat.received() if r.path.startswith(prefix)]
    return found


@contextlib.contextmanager
def _compressed_stack(tmp_path, rules: str):
    """Simulator, exporter, relay, Prometheus with `rules`, Alertmanager; yields (sim, prom, am, slack, chat)."""
    env = exporter_env(FEISHU_SECRET=FEISHU_SECRET, RELAY_TOKEN=RELAY_TOKEN)
    rules_path = tmp_path / "rules-compressed.yml"
    rules_path.write_text("groups: []\n")  # the rules come once the exporter is scraped (below)
    with FakeWebhook() as slack, FakeWebhook() as chat:
        (tmp_path / "relay.yml").write_text(relay_channels(env, chat))
        sim = python_service("simulator", ["simulator", "--speed", "0.001"], tmp_path, env, "/_sim/config")
        (tmp_path / "nanobanana.yml").write_text(f"""
defaults:
  interval: {INTERVAL:g}s
  timeout: 3s
  confirm: {{after: {CONFIRM_AFTER * 1000:g}ms}}
  liveness: {{enabled: false}}
targets:
  - {{name: google, api: gemini, base_url: "{sim.url}", model: gemini-3-pro-image}}
""")
        with sim, \
             python_service("exporter", ["--config.file", str(tmp_path / "nanobanana.yml")], tmp_path, env, "/-/ready") as exporter, \
             python_service("relay", ["relay", "--config.file", str(tmp_path / "relay.yml")], tmp_path, env, "/-/healthy") as relay:
            am_config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=slack.url("/slack"),
                                                     relay_url=relay.url, token=RELAY_TOKEN, time_scale=SCALE)
            with start_alertmanager(am_config, tmp_path) as am, \
                 start_prometheus(tmp_path, targets=[exporter.address], rule_files=[rules_path], alertmanagers=[am.address],
                                  scrape_interval=f"{STEP:g}s", evaluation_interval=f"{STEP:g}s") as prom:
                # Prometheus applies its scrape targets on a 5 s tick: up to 5 compressed minutes without
                # `up`, longer than ExporterDown's compressed `for:` (2 s), which then paged at start (1 run
                # in 2). A real Prometheus starts within its 2 minutes; this one gets the rules once it scrapes.
                wait(lambda: prom.get("/api/v1/query", query='up{job="nanobanana"} == 1')["data"]["result"], 60,
                     "the exporter scraped")
                rules_path.write_text(rules)
                httpx.post(f"{prom.url}/-/reload", timeout=30).raise_for_status()
                wait(lambda: prom.get("/api/v1/rules")["data"]["groups"], 30, "the compressed rules loaded")
                yield sim, prom, am, slack, chat


def _firing(prom) -> set[str]:
    return {a["labels"]["alertname"] for a in prom.get("/api/v1/alerts")["data"]["alerts"] if a["state"] == "firing"}


def _short_outage(sim, prom, slack: FakeWebhook, chat: FakeWebhook) -> float:
    """Steady state, then a 503 fault until the series' three pages fire, then none. Returns the monotonic
    time the resolved message reached Slack (the series recovered before it)."""
    def successes() -> float:
        result = prom.get("/api/v1/query", query="sum(nanobanana_probes_total{outcome='success'})")["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    # Two successful probes first (15 compressed minutes of an up series): a failed-probe counter that
    # appears with the outage is then the only new series.
    wait(lambda: successes() >= 2, 6 * INTERVAL + 60, "two successful probes, scraped")
    httpx.put(f"{sim.url}/_sim/config", json={"faults": [{"kind": "status", "status": 503}]}).raise_for_status()
    faulted = time.monotonic()
    slack.wait_for(lambda r: "NanoBananaProbeFailing" in r.body.decode(), timeout=INTERVAL + 120)
    for prefix in CHANNELS.values():
        chat.wait_for(lambda r, p=prefix: r.path.startswith(p), timeout=120)
    # Outage and BurnFast fire too while it lasts (held back by Alertmanager's inhibition, then by the rules).
    wait(lambda: {"NanoBananaProbeFailing", "NanoBananaOutage", "NanoBananaErrorBudgetBurnFast"} <= _firing(prom),
         120, "Outage and BurnFast fire during the outage", every=0.2)
    httpx.put(f"{sim.url}/_sim/config", json={"faults": []}).raise_for_status()
    cleared = time.monotonic()
    resolved = slack.wait_for(lambda r: r.json["attachments"][0]["color"] == "good" and "NanoBananaProbeFailing" in r.body.decode(),
                              timeout=INTERVAL + GROUP_INTERVAL + 120)
    print(f"\nfault {cleared - faulted:.1f} s; cleared -> resolved on Slack {resolved[0].at - cleared:.1f} s")
    return resolved[0].at


@pytest.mark.timeout(1200)
def test_a_short_outage_pages_once_and_nothing_else_fires_for_its_longest_window(tmp_path):
    with _compressed_stack(tmp_path, rules_yml(SCALE)) as (sim, prom, am, slack, chat):
        recovered = _short_outage(sim, prom, slack, chat)
        for prefix in CHANNELS.values():
            chat.wait_for(lambda r, p=prefix: r.path.startswith(p), count=2, timeout=120)
        # The watch is the window itself: until REFIRE_WINDOW after the resolved message, a rule could
        # still start on the outage's failures (they are in its window) and Alertmanager would deliver it
        # within a group_wait. So for that long we ask Alertmanager for any alert it holds (firing,
        # inhibited or not, and not yet notified) and the sinks for any message; a third message fails at
        # once. After it no window holds the failures: nothing can start on them any more.
        seen_in_alertmanager: set[str] = set()
        watched_until = recovered + REFIRE_WINDOW + 10 * STEP  # plus a scrape, an evaluation and a group_wait
        while time.monotonic() < watched_until:
            seen_in_alertmanager |= {a["labels"]["alertname"] for a in am.get("/api/v2/alerts")}
            counts = {name: len(found) for name, found in _messages(slack, chat).items()}
            assert max(counts.values()) <= 2, (counts, _slack_titles(slack))
            time.sleep(STEP)
        watched = time.monotonic() - recovered
        messages = _messages(slack, chat)
    counts = {name: len(found) for name, found in messages.items()}
    print(f"watched {watched:.0f} s after the resolved message ({AVAILABILITY_WINDOW} + for, compressed: "
          f"{REFIRE_WINDOW:g} s); messages per channel: {counts}; in Alertmanager meanwhile: {sorted(seen_in_alertmanager)}")
    assert seen_in_alertmanager == set()  # nothing started, not even held back
    for name, found in messages.items():
        bodies = [json.dumps(r.json) for r in found]
        assert len(found) == 2, (name, _slack_titles(slack))  # firing, then resolved
        assert all("NanoBananaProbeFailing" in b and "NanoBananaOutage" not in b
                   and "NanoBananaErrorBudgetBurnFast" not in b for b in bodies), (name, bodies)
    assert [color for _, color in _slack_titles(slack)] == ["danger", "good"]


def _with_burn_hold(rules: str, hold: str) -> str:
    """The compressed rules with BurnFast held back `hold` (unscaled) after a paged outage, not AFTER_BURN_PAGE."""
    document = yaml.safe_load(rules)
    rule = next(r for g in document["groups"] for r in g["rules"] if r.get("alert") == "NanoBananaErrorBudgetBurnFast")
    shipped = f"[{scale_duration(AFTER_BURN_PAGE, SCALE)}]"
    assert rule["expr"].count(shipped) == 1
    rule["expr"] = rule["expr"].replace(shipped, f"[{scale_duration(hold, SCALE)}]")
    return yaml.safe_dump(document, sort_keys=False)


@pytest.mark.timeout(900)
def test_the_compressed_run_pages_again_with_a_burn_hold_shorter_than_its_short_window(tmp_path):
    """Negative check of the test above: BurnFast's 30m short window still holds the outage when a 10m hold
    ends, so a second critical page comes after the recovery, within that window (compressed)."""
    longest_short = max(parse_duration(p.short_window) for p in PAGES)
    assert parse_duration(OLD_BURN_HOLD) < longest_short
    with _compressed_stack(tmp_path, _with_burn_hold(rules_yml(SCALE), OLD_BURN_HOLD)) as (sim, prom, am, slack, chat):
        recovered = _short_outage(sim, prom, slack, chat)
        again = slack.wait_for(lambda r: "NanoBananaErrorBudgetBurnFast" in r.body.decode(),
                               timeout=longest_short * SCALE + 60)
        print(f"BurnFast paged {again[0].at - recovered:.1f} s after the resolved message "
              f"(hold {OLD_BURN_HOLD} -> {scale_duration(OLD_BURN_HOLD, SCALE)})")
        assert again[0].at > recovered and again[0].json["attachments"][0]["color"] == "danger"
