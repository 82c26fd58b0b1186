"""Mention and markdown injection (issue 18, case 3): label and annotation values are text from
outside (a status-feed incident title becomes a label, then a rule's summary). Rendered for each
platform, no value can mention anyone, add a link or an image, or break out of the relay's own
links; the relay's links are the only ones."""

from __future__ import annotations

import re

import pytest

from exporter.relay import dingtalk, feishu, wecom
from exporter.relay.alerts import Notification
from tests.relay_support import DINGTALK_MOBILE, FEISHU_USER, WECOM_USER, alert, payload

EVIL = "https://elsewhere.test/phish"
HOSTILE = {
    "summary": "Incident <at id=all></at> [click here](" + EVIL + ") ![x](" + EVIL + ".png)",
    "description": "<@all> <at user_id=\"ou_123\">boss</at> **bold** `code` <font color=red>x</font>\n# heading",
    "dashboard_url": "http://grafana.test/d/x) [evil](" + EVIL,
}
LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
OUR_LINKS = {"source", "dashboard", "runbook", "silence"}


def hostile() -> Notification:
    bad = alert(target="prod <at id=all></at>\n# not a heading", model="[m](" + EVIL + ")")
    bad["annotations"].update(HOSTILE)
    data = payload(bad)
    data["groupLabels"]["target"] = "<at id=all></at> [g](" + EVIL + ")"
    return Notification.model_validate(data)


def texts(platform: str) -> list[str]:
    if platform == "feishu":
        [body], _ = feishu.render(hostile())
        return [e["content"] for e in body["card"]["elements"] if e["tag"] == "markdown"]
    if platform == "dingtalk":
        [body], _ = dingtalk.render(hostile())
        return [body["markdown"]["text"]]
    [body], _ = wecom.render(hostile())
    return [body["markdown"]["content"].split("\n\n", 1)[1]]  # after our <font> header


@pytest.mark.parametrize("platform", ["feishu", "dingtalk", "wecom"])
def test_values_cannot_mention_link_or_break_out(platform):
    for text in texts(platform):
        assert "<" not in text and ">" not in text, text  # no <at>, <@all>, <font> from a value
        links = LINK.findall(text)
        assert {name for name, _ in links} <= OUR_LINKS, links
        assert all(not re.search(r"[\s\[\]()<>]", target) for _, target in links), links
        assert "**bold**" not in text and "`code`" not in text
        assert not any(line.lstrip().startswith("# not") for line in text.splitlines())


@pytest.mark.parametrize("platform", ["feishu", "dingtalk", "wecom"])
def test_the_crafted_dashboard_link_stays_one_link(platform):
    [text] = [t for t in texts(platform) if "dashboard" in t]
    dashboards = [target for name, target in LINK.findall(text) if name == "dashboard"]
    assert dashboards == ["http://grafana.test/d/x%29%20%5Bevil%5D%28https://elsewhere.test/phish"]


def test_the_text_is_still_readable():
    [feishu_text] = texts("feishu")
    assert "Incident &#60;at id=all&#62;&#60;/at&#62; &#91;click here&#93;(https://elsewhere.test/phish)" in feishu_text
    [wecom_text] = texts("wecom")
    assert "Incident ＜at id=all＞＜/at＞ ［click here］(https://elsewhere.test/phish)" in wecom_text


def test_titles_escape_group_labels_where_they_are_markup():
    [ding], _ = dingtalk.render(hostile())
    assert ding["markdown"]["text"].startswith("### [FIRING:1] NanoBananaOutage ＜at id=all＞＜/at＞ ［g］(")
    [wc], _ = wecom.render(hostile())
    header = wc["markdown"]["content"].split("\n\n", 1)[0]
    assert header.count("<") == 2 and header.startswith('**<font color="warning">[FIRING:1] NanoBananaOutage ＜at')
    [fs], _ = feishu.render(hostile())
    assert fs["card"]["header"]["title"]["tag"] == "plain_text"  # Feishu renders no markup there


# the on-call people of each bot, mentioned for critical alerts: the hostile values must add no one
RELAY_FOR_ALERTMANAGER = f"""
channels:
  feishu: {{type: feishu, url_env: FS_URL, mentions: [{{match: {{severity: critical}}, users: [{FEISHU_USER}]}}]}}
  dingtalk: {{type: dingtalk, url_env: DT_URL, mentions: [{{match: {{severity: critical}}, mobiles: ["{DINGTALK_MOBILE}"]}}]}}
  wecom: {{type: wecom, url_env: WC_URL, mentions: [{{match: {{severity: critical}}, users: [{WECOM_USER}]}}]}}
token_env: RELAY_TOKEN
"""


@pytest.mark.realstack
def test_a_hostile_status_feed_title_reaches_every_bot_as_text(tmp_path):
    """End to end through Debian's Alertmanager with the project's routing and the relay process:
    an official incident's product name (a status-feed string, which the rules copy into other
    alerts' descriptions) and a title that try to mention everyone and add a link."""
    import sys

    from conftest import exporter_env, free_port
    from tests.relay_support import BEARER
    from tests.stack import (ALERTMANAGER, ALERTMANAGER_CONFIG, FakeWebhook, alertmanager_config_for_test,
                             post_alerts, start_alertmanager, start_service)

    if not ALERTMANAGER:
        pytest.skip("prometheus-alertmanager is not installed")
    hostile = "Gemini <at id=all></at> [status](" + EVIL + ")"
    incident = {"labels": {"alertname": "NanoBananaOutage", "severity": "critical", "target": "prod", "model": "m",
                           "title": hostile, "product": hostile},
                "annotations": {"summary": f"Official incident open: {hostile} (outage)",
                                "description": "<@all> " + hostile,
                                "dashboard_url": "http://grafana.test/d/x) [evil](" + EVIL},
                "generatorURL": "http://prometheus.test/graph"}
    config = tmp_path / "relay.yml"
    config.write_text(RELAY_FOR_ALERTMANAGER)
    with FakeWebhook() as bot:
        env = exporter_env(FS_URL=bot.url("/open-apis/bot/v2/hook/fake-hook-0123456789"),
                           DT_URL=bot.url("/robot/send?access_token=fake-dt-0123456789"),
                           WC_URL=bot.url("/cgi-bin/webhook/send?key=fake-wc-0123456789"), RELAY_TOKEN=BEARER)
        address = f"127.0.0.1:{free_port()}"
        relay = start_service("relay", [sys.executable, "-m", "exporter", "relay", "--config.file", str(config),
                                        "--web.listen-address", address], address, tmp_path, timeout=20, env=env)
        try:
            am_config = alertmanager_config_for_test(ALERTMANAGER_CONFIG, tmp_path, slack_url=bot.url("/slack"),
                                                     relay_url=relay.url, token=BEARER)
            with start_alertmanager(am_config, tmp_path) as am:
                post_alerts(am, [incident])
                for path in ("/open-apis/bot/v2/hook/fake-hook-0123456789", "/robot/send", "/cgi-bin/webhook/send"):
                    bot.wait_for(lambda r, p=path: r.path == p, timeout=60)
        finally:
            relay.stop()
    [card] = [r.json for r in bot.received("/open-apis/bot/v2/hook/fake-hook-0123456789")][:1]
    [ding] = [r.json for r in bot.received("/robot/send")][:1]
    [wc] = [r.json for r in bot.received("/cgi-bin/webhook/send")][:1]
    texts = [e["content"] for e in card["card"]["elements"] if e["tag"] == "markdown"]
    texts += [ding["markdown"]["text"], wc["markdown"]["content"].split("\n\n", 1)[1]]
    mentions = f"<at id={FEISHU_USER}></at>"
    assert texts[0] == mentions and card["card"]["elements"][1] == {"tag": "hr"}  # the configured mention, first
    assert ding["at"] == {"atMobiles": [DINGTALK_MOBILE], "atUserIds": [], "isAtAll": False}
    assert ding["markdown"]["text"].count(f"\n\n@{DINGTALK_MOBILE}\n\n") == 1
    wc_text = texts[-1]
    assert wc_text.startswith(f"<@{WECOM_USER}>\n\n") and wc.get("msgtype") == "markdown"
    texts[-1] = wc_text.removeprefix(f"<@{WECOM_USER}>\n\n")
    for text in texts[1:]:
        assert "Gemini" in text or "FIRING" in text
        assert "<" not in text, text
        assert {name for name, _ in LINK.findall(text)} <= OUR_LINKS, text
