"""What the on-call person receives, with the shipped timings: simulator -> exporter -> Debian's
Prometheus (rules.yml as shipped, 15 s scrape and evaluation) -> Debian's Alertmanager
(alertmanager.yml as shipped: group_wait 30 s, group_interval 5 m, not shortened) -> fake Slack,
and -> the relay -> fake Feishu, DingTalk and WeCom.

One series fails until all three of its pages fire, then recovers. One problem: one firing message and one
resolved message per channel, the resolved one within one group_interval of the recovery and
saying it is resolved. Slow by design (about fifteen minutes, five of them steady state): these are the timings users live with.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
import yaml

from tests.stack import ALERTMANAGER, ALERTMANAGER_CONFIG, PROMETHEUS, RULES, FakeWebhook, alertmanager_config_for_test, \
    start_alertmanager, start_prometheus
from tests.helpers import FEISHU_SECRET, RELAY_TOKEN, python_service, relay_channels, wait

from conftest import exporter_env

pytestmark = [
    pytest.mark.realstack,
    pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER), reason="prometheus / prometheus-alertmanager not installed"),
]

CHANNELS = {"feishu": "/open-apis/", "dingtalk": "/robot/send", "wecom": "/cgi-bin/webhook/send"}
GROUP_INTERVAL = 300.0  # alertmanager.yml route.group_interval, as shipped
INTERVAL = 20.0  # the series' probe interval


@pytest.mark.timeout(1500)
def test_one_failing_series_pages_once_per_channel_and_resolves_within_a_group_interval(tmp_path):
    shipped = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())["route"]
    assert shipped["group_interval"] == "5m" and shipped["group_wait"] == "30s"
    env = exporter_env(FEISHU_SECRET=FEISHU_SECRET, RELAY_TOKEN=RELAY_TOKEN)
    with FakeWebhook() as slack, FakeWebhook() as chat:
        relay_yml = relay_channels(env, chat)
        sim = python_service("simulator", ["simulator", "--speed", "0.001"], tmp_path, env, "/_sim/config")
        (tmp_path / "nanobanana.yml").write_text(f"""
defaults: {{interval: {INTERVAL:g}s, timeout: 3s, liveness: {{enabled: false}}}}
targets:
  - {{name: google, api: gemini, base_url: "{sim.url}", model: gemini-3-pro-image}}
""")
        (tmp_path / "relay.yml").write_text(relay_yml)
        with sim, \
             python_service("exporter", ["--config.file", str(tmp_path / "nanobanana.yml")], tmp_path, env, "/-/ready") as exporter, \
             python_service("relay", ["relay", "--config.file", str(tmp_path / "relay.yml")], tmp_path, env, "/-/healthy") as relay:
            am_config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=slack.url("/slack"),
                                                     relay_url=relay.url, token=RELAY_TOKEN,
                                                     group_wait=None, group_interval=None)  # as shipped
            with start_alertmanager(am_config, tmp_path) as am, \
                 start_prometheus(tmp_path, targets=[exporter.address], rule_files=[RULES], alertmanagers=[am.address],
                                  scrape_interval="15s", evaluation_interval="15s") as prom:
                def successes() -> float:
                    result = prom.get("/api/v1/query", query="sum(nanobanana_probes_total{outcome='success'})")["data"]["result"]
                    return float(result[0]["value"][1]) if result else 0.0

                # Steady state first: with less than the Outage window (5 m) of probes behind it, a
                # rate() over a fresh counter lets NanoBananaOutage fire a probe or two before the
                # failure streak (seen: Outage 30 s before ProbeFailing), and it pages on its own.
                wait(lambda: successes() >= 300 / INTERVAL + 1, 600, "5 minutes of successful probes, scraped")
                httpx.put(f"{sim.url}/_sim/config", json={"faults": [{"kind": "status", "status": 503}]}).raise_for_status()
                slack.wait_for(lambda r: "NanoBananaProbeFailing" in r.body.decode(), timeout=240)
                for prefix in CHANNELS.values():
                    chat.wait_for(lambda r, p=prefix: r.path.startswith(p), timeout=120)
                wait(lambda: {"NanoBananaOutage", "NanoBananaErrorBudgetBurnFast"} <= {
                    a["labels"]["alertname"] for a in prom.get("/api/v1/alerts")["data"]["alerts"] if a["state"] == "firing"},
                     300, "Outage and BurnFast fire too (and must stay held back)")
                httpx.put(f"{sim.url}/_sim/config", json={"faults": []}).raise_for_status()
                healed = time.monotonic()
                resolved = slack.wait_for(lambda r: r.json["attachments"][0]["color"] == "good",
                                          timeout=INTERVAL + GROUP_INTERVAL + 60)
                after = time.monotonic() - healed
                print(f"\nrecovery -> resolved message: {after:.0f} s (group_interval {GROUP_INTERVAL:g} s)")
                assert after <= INTERVAL + GROUP_INTERVAL + 45  # the next probe, a scrape and evaluation, the flush
                assert "Resolved: NanoBananaProbeFailing google gemini-3-pro-image 1K" in resolved[0].json["attachments"][0]["text"]
                for prefix in CHANNELS.values():
                    chat.wait_for(lambda r, p=prefix: r.path.startswith(p), count=2, timeout=60)
                time.sleep(90)  # nothing held back may surface after the recovery

            messages = {"slack": slack.received("/slack")}
            for name, prefix in CHANNELS.items():
                messages[name] = [r for r in chat.received() if r.path.startswith(prefix)]
            counts = {name: len(found) for name, found in messages.items()}
            print("messages per channel for one problem:", counts)
            slack_seen = [(a["title"], a["color"], a["text"][:300]) for r in messages["slack"] for a in r.json["attachments"]]
            for name, found in messages.items():
                bodies = [json.dumps(r.json) for r in found]
                assert len(found) == 2, (name, slack_seen)  # firing, then resolved
                assert all("NanoBananaProbeFailing" in b and "NanoBananaOutage" not in b
                           and "NanoBananaErrorBudgetBurnFast" not in b for b in bodies), (name, bodies)
