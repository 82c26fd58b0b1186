"""The paging tools shipped in alertmanager/alertmanager.yml (PagerDuty, Opsgenie, email): each is
the `page` receiver plus the tool, enabled as docs/alerting.md says (its secret in a file, the
critical route's receiver set to it), checked by Debian's amtool and, for PagerDuty, delivered by a
real Alertmanager to a fake Events API: one problem, one page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.documentation import room
from tests.stack import ALERTMANAGER, FakeWebhook, alertmanager_config_for_test, post_alerts, start_alertmanager

ROOT = Path(__file__).resolve().parent.parent
AM = ROOT / "alertmanager"
TOOLS = {"page-pagerduty": "pagerduty_configs", "page-opsgenie": "opsgenie_configs", "page-email": "email_configs"}
needs_amtool = pytest.mark.skipif(not shutil.which("amtool"), reason="amtool is not installed")


def config() -> dict:
    return yaml.safe_load((AM / "alertmanager.yml").read_text())


def with_page_receiver(receiver: str, directory: Path) -> Path:
    """alertmanager.yml with the one edit the docs name: the critical route's receiver."""
    text = (AM / "alertmanager.yml").read_text()
    edited, count = re.subn(r"(matchers: \['severity=\"critical\"'\]\n\s+receiver: )page\b", rf"\g<1>{receiver}", text)
    assert count == 1
    shutil.copytree(AM / "templates", directory / "templates", dirs_exist_ok=True)
    path = directory / "alertmanager.yml"
    path.write_text(edited)
    return path


def test_each_paging_tool_is_the_page_receiver_plus_the_tool_with_its_secret_in_a_file():
    receivers = {r["name"]: r for r in config()["receivers"]}
    page = receivers["page"]
    for name, key in TOOLS.items():
        receiver = receivers[name]
        assert receiver["slack_configs"] == page["slack_configs"] and receiver["webhook_configs"] == page["webhook_configs"]
        [tool] = receiver[key]
        secrets = [k for k in tool if k.endswith("_file")]
        assert secrets and not {"routing_key", "service_key", "api_key", "auth_password"} & set(tool), tool
        assert tool["send_resolved"] is True
        assert f"`{name}`" in room("alerting")


@needs_amtool
@pytest.mark.parametrize("receiver", sorted(TOOLS))
def test_the_documented_edit_routes_every_page_to_the_tool(tmp_path, receiver):
    path = with_page_receiver(receiver, tmp_path)
    check = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    for labels, expected in (({"alertname": "NanoBananaOutage", "severity": "critical", "target": "prod"}, receiver),
                             ({"alertname": "NanoBananaLatencyHigh", "severity": "warning", "target": "prod"}, "chat")):
        routed = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={path}",
                                 *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True, timeout=60)
        assert routed.stdout.strip() == expected, routed.stdout + routed.stderr


@pytest.mark.realstack
@pytest.mark.skipif(not ALERTMANAGER, reason="prometheus-alertmanager is not installed")
def test_a_page_reaches_pagerduty_once_per_problem_with_the_key_from_its_file(tmp_path):
    with FakeWebhook() as fake:
        path = alertmanager_config_for_test(with_page_receiver("page-pagerduty", tmp_path / "src"), tmp_path,
                                            slack_url=fake.url("/slack"), relay_url=fake.url())
        am_config = yaml.safe_load(path.read_text())
        key_file = tmp_path / "pagerduty-routing-key"
        key_file.write_text("R0UTINGKEY0123456789abcdef012345\n")
        for receiver in am_config["receivers"]:
            for pd in receiver.get("pagerduty_configs", []):
                pd["routing_key_file"] = str(key_file)
                pd["url"] = fake.url("/v2/enqueue")  # PagerDuty's Events API v2, faked on loopback
        path.write_text(yaml.safe_dump(am_config, sort_keys=False))
        with start_alertmanager(path, tmp_path) as alertmanager:
            labels = {"alertname": "NanoBananaOutage", "severity": "critical", "target": "prod", "api": "gemini",
                      "model": "gemini-3-pro-image", "thinking_level": "default"}
            post_alerts(alertmanager, [
                {"labels": {**labels, "resolution": resolution},
                 "annotations": {"summary": f"outage {resolution}", "description": "every probe fails"}}
                for resolution in ("1K", "2K")])
            [event] = fake.wait_for(lambda r: r.path == "/v2/enqueue", timeout=30)
    body = event.json
    assert body["routing_key"] == "R0UTINGKEY0123456789abcdef012345" and body["event_action"] == "trigger"
    assert "NanoBananaOutage" in body["payload"]["summary"]
    assert body["payload"]["custom_details"]["summary"].split() == ["outage", "1K", "outage", "2K"]  # one page, both series
    assert [r.path for r in fake.received()].count("/v2/enqueue") == 1
