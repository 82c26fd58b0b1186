"""Several locations, one page: Debian's Alertmanager with the project's routing receives what the
regional Prometheus servers (rules.yml, with `location`) and the global one (rules-global.yml) send
when a model fails in two locations, and the on-call person gets one notification."""

from __future__ import annotations

import time

import pytest

from tests.stack import ALERTMANAGER, ALERTMANAGER_CONFIG, FakeWebhook, alertmanager_config_for_test, post_alerts, \
    start_alertmanager

pytestmark = [
    pytest.mark.realstack,
    pytest.mark.skipif(not ALERTMANAGER, reason="prometheus-alertmanager not installed"),
]

MODEL = {"target": "prod", "api": "gemini", "model": "gemini-3-pro-image"}


def alert(name: str, severity: str, **labels: str) -> dict:
    return {"labels": {"alertname": name, "severity": severity, **MODEL, **labels},
            "annotations": {"summary": f"{name} summary", "description": "First: check things."},
            "generatorURL": "http://prometheus.test/graph"}


def regional(location: str) -> list[dict]:
    """What one regional Prometheus sends while the model fails there: pages and a warning."""
    series = {"resolution": "1K", "thinking_level": "low", "job": "nanobanana", "instance": "exporter:9877",
              "location": location}
    return [alert("NanoBananaProbeFailing", "critical", **series), alert("NanoBananaOutage", "critical", **series),
            alert("NanoBananaLatencyHigh", "warning", **series)]


def wait_for_alerts(am, count: int, deadline: float = 60.0) -> list[dict]:
    end = time.monotonic() + deadline
    while True:
        alerts = am.get("/api/v2/alerts")
        if len(alerts) >= count and all(a["status"]["state"] != "unprocessed" for a in alerts):
            return alerts
        assert time.monotonic() < end, f"{len(alerts)}/{count} alerts after {deadline}s"
        time.sleep(0.1)


def test_a_model_failing_in_two_locations_is_one_notification(tmp_path):
    with FakeWebhook() as chat:
        config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=chat.url("/slack"),
                                              relay_url=chat.url())
        with start_alertmanager(config, tmp_path) as am:
            post_alerts(am, regional("europe-west4") + regional("us-central1")
                        + [alert("NanoBananaFailingInSeveralLocations", "critical")])  # the global Prometheus's
            alerts = wait_for_alerts(am, 7)
            by_name = {}
            for a in alerts:
                by_name.setdefault(a["labels"]["alertname"], []).append(a)
            # the regional pages reach a receiver with no integration: they can never notify anyone
            for name in ("NanoBananaProbeFailing", "NanoBananaOutage"):
                assert [a["receivers"] for a in by_name[name]] == [[{"name": "location-input"}]] * 2, by_name[name]
            [page] = by_name["NanoBananaFailingInSeveralLocations"]
            assert page["receivers"] == [{"name": "page"}] and not page["status"]["inhibitedBy"]
            # the regional warnings are held back by the one page, in both locations
            assert all(a["status"]["inhibitedBy"] for a in by_name["NanoBananaLatencyHigh"]), by_name
            # one notification to Slack and one to the relay (which fans out), about the global alert
            for path in ("/slack", "/alerts"):
                [received] = chat.wait_for(lambda r, p=path: r.path == p, timeout=60)
                assert "NanoBananaFailingInSeveralLocations" in received.body.decode()
            assert received.json["receiver"] == "page"
            notified = [r for r in chat.received() if "NanoBananaProbeFailing" in r.body.decode()
                        or "NanoBananaOutage" in r.body.decode() or "NanoBananaLatencyHigh" in r.body.decode()]
            assert not notified


def test_one_location_failing_is_a_warning_in_chat_not_a_page(tmp_path):
    with FakeWebhook() as chat:
        config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=chat.url("/slack"),
                                              relay_url=chat.url())
        with start_alertmanager(config, tmp_path) as am:
            post_alerts(am, regional("asia-northeast1")
                        + [alert("NanoBananaFailingInOneLocation", "warning", location="asia-northeast1")])
            alerts = wait_for_alerts(am, 4)
            [warning] = [a for a in alerts if a["labels"]["alertname"] == "NanoBananaFailingInOneLocation"]
            assert warning["receivers"] == [{"name": "chat"}] and not warning["status"]["inhibitedBy"]
            pages = [a for a in alerts if a["labels"]["severity"] == "critical"]
            assert {r["name"] for a in pages for r in a["receivers"]} == {"location-input"}
            [slack] = chat.wait_for(lambda r: r.path == "/slack", timeout=60)
            assert "NanoBananaFailingInOneLocation" in slack.body.decode()
            [relayed] = chat.wait_for(lambda r: r.path == "/alerts", timeout=60)
            assert "NanoBananaFailingInOneLocation" in relayed.body.decode()
            assert relayed.json["receiver"] == "chat"  # the relay's warning channels, no page
