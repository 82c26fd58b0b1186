"""The real-stack helpers work: Debian's Prometheus loads and evaluates the project's rules, and
Debian's Alertmanager runs the project's routing (inhibitions, Slack template, relay webhooks)
against fake chat webhooks that can fail."""

from __future__ import annotations

import time

import httpx
import pytest
import yaml

from tests.stack import (ALERTMANAGER, ALERTMANAGER_CONFIG, PROMETHEUS, RULES, FakeWebhook, alertmanager_config_for_test,
                         post_alerts, start_alertmanager, start_prometheus)

pytestmark = [
    pytest.mark.realstack,
    pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER), reason="prometheus / prometheus-alertmanager not installed"),
]


def poll(fetch, accept, timeout=30.0, every=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout}s; last value: {value!r}"[:3000])
        time.sleep(every)


def sibling(held: dict, **changed) -> dict:
    """An alert of `held`'s notification group (group_by: alertname, target, model, location) that no rule
    inhibits. Its message is a positive event to wait for: a flushed group carries every alert the rules do
    not hold back, so `held` must be missing from that message and from every other."""
    labels = {k: v for k, v in {**held["labels"], **changed}.items() if v is not None}
    return {**held, "labels": labels}


def assert_held_back(chat: FakeWebhook, held: dict, shown: dict) -> None:
    name = held["labels"]["alertname"]
    in_group = lambda r: (r.json.get("groupLabels", {}).get("alertname") == name if r.path == "/alerts"  # noqa: E731
                          else f"] {name} " in r.json["attachments"][0]["title"])
    for path in ("/slack", "/alerts"):
        chat.wait_for(lambda r, p=path: r.path == p and in_group(r), timeout=30)
    relayed = [a["labels"] for r in chat.received("/alerts") if in_group(r) for a in r.json["alerts"]]
    assert shown["labels"] in relayed and held["labels"] not in relayed, relayed
    titles = [r.json["attachments"][0]["title"] for r in chat.received("/slack") if in_group(r)]
    assert titles and all(t.startswith("[FIRING:1] ") for t in titles), titles


def test_prometheus_loads_and_evaluates_the_rules(tmp_path):
    rule_names = {r.get("alert") or r.get("record") for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    # No exporter at this address: the job has a target that is down.
    with start_prometheus(tmp_path, targets=["127.0.0.1:1"], rule_files=[RULES]) as prom:
        groups = poll(lambda: prom.get("/api/v1/rules")["data"]["groups"],
                      lambda gs: gs and all(r.get("lastEvaluation", "").startswith("2") and not r["lastEvaluation"].startswith("0001")
                                            for g in gs for r in g["rules"]))
        loaded = {r["name"] for g in groups for r in g["rules"]}
        assert loaded == rule_names
        assert all(r["health"] == "ok" for g in groups for r in g["rules"]), [r for g in groups for r in g["rules"] if r["health"] != "ok"]
        objective = prom.get("/api/v1/query", query="nanobanana:slo_objective:ratio")["data"]["result"]
        assert float(objective[0]["value"][1]) == 0.995
        # The scrape fails, so the exporter-down alert is on its way (for: 2m keeps it pending).
        # Before the first scrape it comes from absent(up), without an instance; then from up == 0.
        def summary():
            alerts = prom.get("/api/v1/alerts")["data"]["alerts"]
            return [(a["labels"]["alertname"], a["state"], a["labels"].get("instance")) for a in alerts]

        poll(summary, lambda found: found == [("NanoBananaExporterDown", "pending", "127.0.0.1:1")])


SERIES = {"target": "prod", "api": "gemini", "model": "gemini-3-pro-image", "resolution": "2K", "thinking_level": "low",
          "job": "nanobanana", "instance": "exporter:9877"}


def alert(name, severity, **extra):
    return {"labels": {"alertname": name, "severity": severity, **SERIES, **extra},
            "annotations": {"summary": f"{name} summary for prod", "description": "First: check things.",
                            "runbook_url": "https://example.test/runbook.md#x"},
            "generatorURL": "http://prometheus.test/graph"}


def test_alertmanager_runs_the_project_config(tmp_path):
    with FakeWebhook() as chat:
        config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=chat.url("/slack"),
                                              relay_url=chat.url(), token="test-relay-token")
        with start_alertmanager(config, tmp_path) as am:
            status = am.get("/api/v2/status")
            receivers = {r["name"] for r in yaml.safe_load(status["config"]["original"])["receivers"]}
            assert receivers == {"page", "chat", "low-noise", "location-input", "page-pagerduty", "page-opsgenie", "page-email"}

            # The fake fails twice: Alertmanager must retry until it gets through.
            chat.fail(500, times=2)
            warning = alert("NanoBananaErrorRateHigh", "warning")
            other_resolution = sibling(warning, resolution="4K")  # its group's message proves the group flushed
            post_alerts(am, [alert("NanoBananaOutage", "critical"), warning, other_resolution])

            # critical -> Slack and the relay once (it fans out to its channels), with the bearer token
            for path in ("/slack", "/alerts"):
                [received] = chat.wait_for(lambda r, p=path: r.path == p and "NanoBananaOutage" in r.body.decode(), timeout=30)
            [relayed] = [r for r in chat.received("/alerts") if "NanoBananaOutage" in r.body.decode()]
            assert relayed.headers["Authorization"] == "Bearer test-relay-token"
            assert relayed.json["receiver"] == "page"
            assert relayed.json["status"] == "firing" and relayed.json["alerts"][0]["labels"]["target"] == "prod"
            assert len(chat.received(delivered_only=False)) > len(chat.received()), "the fake never failed"

            [slack] = [r.json for r in chat.received("/slack") if "NanoBananaOutage" in r.body.decode()]
            attachment = slack["attachments"][0]
            assert attachment["title"] == "[FIRING:1] NanoBananaOutage prod gemini-3-pro-image"
            assert attachment["color"] == "danger"
            assert "NanoBananaOutage summary for prod" in attachment["text"]
            assert attachment["title_link"] == "http://prometheus.test/graph"  # no dashboard_url: the alert's source
            assert f"{am.url}/#/silences/new?filter=" in attachment["text"]

            # The warning of the same series is inhibited by the critical: it reaches no one.
            alerts = poll(lambda: am.get("/api/v2/alerts"), lambda a: len(a) == 3 and any(x["status"]["inhibitedBy"] for x in a))
            inhibited = [a["labels"] for a in alerts if a["status"]["inhibitedBy"]]
            assert inhibited == [warning["labels"]]
            assert_held_back(chat, warning, shown=other_resolution)



def test_one_failing_series_pages_once_per_channel(tmp_path):
    """ProbeFailing, Outage and BurnFast of one series are one problem: the failure streak pages,
    the other two are held back; the resolved message says resolved, not the firing summary."""
    with FakeWebhook() as chat:
        config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=chat.url("/slack"),
                                              relay_url=chat.url(), token="test-relay-token")
        with start_alertmanager(config, tmp_path) as am:
            streak = alert("NanoBananaProbeFailing", "critical")
            streak["annotations"]["dashboard_url"] = "https://grafana.test/d/nanobanana-overview"
            outage, burn = alert("NanoBananaOutage", "critical"), alert("NanoBananaErrorBudgetBurnFast", "critical")
            # other series of the same groups, not held back (an Outage holds back its own series' BurnFast)
            siblings = {"NanoBananaOutage": sibling(outage, resolution="4K"),
                        "NanoBananaErrorBudgetBurnFast": sibling(burn, resolution="1K")}
            post_alerts(am, [streak, outage, burn, *siblings.values()])
            alerts = poll(lambda: am.get("/api/v2/alerts"),
                          lambda a: len(a) == 5 and sum(bool(x["status"]["inhibitedBy"]) for x in a) == 2)
            assert sorted((a["labels"] for a in alerts if a["status"]["inhibitedBy"]), key=str) == sorted(
                [outage["labels"], burn["labels"]], key=str)
            [slack] = chat.wait_for(lambda r: r.path == "/slack" and "NanoBananaProbeFailing" in r.body.decode(), timeout=30)
            assert slack.json["attachments"][0]["title_link"] == "https://grafana.test/d/nanobanana-overview"
            for held in (outage, burn):
                assert_held_back(chat, held, shown=siblings[held["labels"]["alertname"]])
            for path in ("/slack", "/alerts"):
                bodies = [r.body.decode() for r in chat.received(path) if "NanoBananaProbeFailing" in r.body.decode()]
                assert len(bodies) == 1, (path, bodies)
            ended = "2020-01-01T00:00:00Z"
            post_alerts(am, [{**a, "endsAt": ended} for a in (streak, outage, burn, *siblings.values())])
            [done] = chat.wait_for(lambda r: r.path == "/slack" and "] NanoBananaProbeFailing " in r.json["attachments"][0]["title"]
                                   and r.json["attachments"][0]["color"] == "good", timeout=30)
            text = done.json["attachments"][0]["text"]
            assert "Resolved: NanoBananaProbeFailing prod gemini-3-pro-image 2K" in text
            assert "The condition is over" in text and "summary for prod" not in text  # it reads as still failing


def test_an_official_incident_holds_back_probe_warnings_but_not_the_budget(tmp_path):
    """While Google reports an outage, our probe warnings add nothing; a spent budget and a stale
    series (our own scheduler) are ours, not Google's."""
    incident = alert("NanoBananaUpstreamIncident", "warning")
    incident["labels"] = {"alertname": "NanoBananaUpstreamIncident", "severity": "warning", "source": "google_cloud",
                          "product": "Gemini", "impact": "outage", "id": "mXzRkt3rQ7yHmT9bJ8cK", "title": "Outage",
                          "url": "https://status.cloud.google.com/incidents/mXzRkt3rQ7yHmT9bJ8cK"}
    budget = alert("NanoBananaBudgetExhausted", "warning")
    budget["labels"] = {"alertname": "NanoBananaBudgetExhausted", "severity": "warning", "scope": "global",
                        "job": "nanobanana", "instance": "exporter:9877"}
    with FakeWebhook() as chat:
        config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=chat.url("/slack"),
                                              relay_url=chat.url(), token="test-relay-token")
        with start_alertmanager(config, tmp_path) as am:
            latency = alert("NanoBananaLatencyHigh", "warning")
            without_api = sibling(latency, api=None)  # the incident holds back warnings that name an API
            post_alerts(am, [incident, latency, without_api, budget, alert("NanoBananaProbeStale", "warning")])
            alerts = poll(lambda: am.get("/api/v2/alerts"), lambda a: len(a) == 5 and any(x["status"]["inhibitedBy"] for x in a))
            inhibited = [a["labels"] for a in alerts if a["status"]["inhibitedBy"]]
            assert inhibited == [latency["labels"]]
            chat.wait_for(lambda r: r.path == "/slack" and "NanoBananaBudgetExhausted" in r.body.decode(), timeout=30)
            chat.wait_for(lambda r: r.path == "/slack" and "NanoBananaProbeStale" in r.body.decode(), timeout=30)
            assert_held_back(chat, latency, shown=without_api)


def test_inhibitions_stay_within_one_exporter_and_one_location(tmp_path):
    """ExporterDown (no series labels) silences only its own exporter in its own location: not the
    warnings of another region (every region scrapes the same exporter address), and, being a
    critical without `target`, not every warning without series labels either."""
    def down(location):
        return {"labels": {"alertname": "NanoBananaExporterDown", "severity": "critical", "job": "nanobanana",
                           "instance": "exporter:9877", "location": location},
                "annotations": {"summary": "down", "description": "First: check things."}}

    same_region = alert("NanoBananaLatencyHigh", "warning", location="eu")
    other_region = alert("NanoBananaErrorRateHigh", "warning", location="us", model="gemini-2.5-flash-image")
    budget_elsewhere = {"labels": {"alertname": "NanoBananaBudgetExhausted", "severity": "warning", "scope": "global",
                                   "job": "nanobanana", "instance": "other-exporter:9877", "location": "eu"},
                        "annotations": {"summary": "budget", "description": "First: check things."}}
    # A series' critical still silences the same series' warning, in its own location only.
    outage_us = alert("NanoBananaOutage", "critical", location="us", instance="other:9877")
    latency_us = alert("NanoBananaAvailabilityLow", "warning", location="us", instance="other:9877")
    latency_ap = alert("NanoBananaAvailabilityLow", "warning", location="ap", instance="other:9877")
    with FakeWebhook() as chat:
        config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=chat.url("/slack"),
                                              relay_url=chat.url(), token="test-relay-token")
        with start_alertmanager(config, tmp_path) as am:
            post_alerts(am, [down("eu"), same_region, other_region, budget_elsewhere, outage_us, latency_us, latency_ap])
            # Alertmanager computes an alert's inhibition when asked (api/v2 alertFilter -> inhibitor.Mutes): once
            # both sources hold back what they should, every wrong inhibition shows in the same answer too
            expected = {("NanoBananaLatencyHigh", "eu"), ("NanoBananaAvailabilityLow", "us")}
            alerts = poll(lambda: am.get("/api/v2/alerts"), lambda a: len(a) == 7 and expected <= {
                (x["labels"]["alertname"], x["labels"].get("location")) for x in a if x["status"]["inhibitedBy"]})
            inhibited = {(a["labels"]["alertname"], a["labels"].get("location")) for a in alerts if a["status"]["inhibitedBy"]}
            assert inhibited == expected


def test_each_location_gets_its_own_notification_naming_it(tmp_path):
    """A warning about the same series in two regions: two groups, each titled and labelled with its
    location. (Pages about a model from several regions are one page: tests/test_locations.py.)"""
    with FakeWebhook() as chat:
        config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=chat.url("/slack"),
                                              relay_url=chat.url(), token="test-relay-token")
        with start_alertmanager(config, tmp_path) as am:
            post_alerts(am, [alert("NanoBananaErrorRateHigh", "warning", location="europe-west4"),
                             alert("NanoBananaErrorRateHigh", "warning", location="us-central1")])
            slack = chat.wait_for(lambda r: r.path == "/slack", count=2, timeout=30)
            attachments = [r.json["attachments"][0] for r in slack]
            assert sorted(a["title"] for a in attachments) == [
                "[FIRING:1] NanoBananaErrorRateHigh prod gemini-3-pro-image europe-west4",
                "[FIRING:1] NanoBananaErrorRateHigh prod gemini-3-pro-image us-central1"]
            for a in attachments:
                location = a["title"].rsplit(" ", 1)[1]
                assert f"location `{location}`" in a["text"]
                assert "location%3D%22" + location in a["text"]  # the silence link
            relayed = chat.wait_for(lambda r: r.path == "/alerts", count=2, timeout=30)
            assert sorted(r.json["groupLabels"]["location"] for r in relayed) == ["europe-west4", "us-central1"]


def test_fake_webhook_answers_feishu_style_errors_then_recovers():
    with FakeWebhook() as hook:
        hook.fail(reply={"code": 11232, "msg": "frequency limited"}, times=1)
        first = httpx.post(hook.url("/open-apis/bot/v2/hook/x"), json={"a": 1})
        second = httpx.post(hook.url("/open-apis/bot/v2/hook/x"), json={"a": 2})
        assert (first.status_code, first.json()["code"]) == (200, 11232)
        assert (second.status_code, second.json()["code"]) == (200, 0)
        assert [r.json for r in hook.received()] == [{"a": 2}]
        assert [r.failed for r in hook.received(delivered_only=False)] == [True, False]
