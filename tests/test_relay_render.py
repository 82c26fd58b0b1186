"""What each platform renders: card colours, markdown, signatures (recomputed here from the
platforms' documented algorithms), size limits, splitting and the "and N more" line."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from exporter.relay import dingtalk, feishu, wecom
from exporter.relay.alerts import Notification
from exporter.relay.base import pack
from exporter.relay.platforms import PLATFORMS
from tests.relay_support import alert, payload

LONG = "First: " + "look at the probe-detail dashboard and the official status page. " * 8


def notification(*alerts, **kw) -> Notification:
    return Notification.model_validate(payload(*alerts, **kw))


@pytest.mark.parametrize("status, severity, colour", [
    ("firing", "critical", "red"), ("firing", "warning", "orange"), ("firing", "info", "blue"), ("resolved", "critical", "green"),
])
def test_feishu_header_colour_follows_severity_and_status(status, severity, colour):
    [body], omitted = feishu.render(notification(alert(severity=severity, status=status)))
    assert body["card"]["header"]["template"] == colour and omitted == 0


def test_feishu_card_lists_what_the_on_call_person_needs():
    [body], _ = feishu.render(notification(alert(index=0), alert(index=1, status="resolved")))
    card = body["card"]
    assert body["msg_type"] == "interactive"
    assert card["header"]["title"] == {"tag": "plain_text", "content": "[FIRING:1] NanoBananaOutage prod gemini-3-pro-image"}
    texts = [e["content"] for e in card["elements"] if e["tag"] == "markdown"]
    firing, resolved = texts
    assert firing.startswith("**FIRING NanoBananaOutage** (critical)\nNanoBananaOutage summary #0\nFirst: check the status page.")
    assert "target: prod · model: gemini-3-pro-image · resolution: 2K · thinking_level: low · api: gemini" in firing
    assert "started 2025-06-01 12:00:00 UTC" in firing
    assert "[source](http://prometheus.test/graph?g0.expr=up&i=0)" in firing
    assert "[dashboard](http://grafana.test/d/nanobanana-overview?var-target=prod)" in firing
    assert "[runbook](https://github.com/OWNER/nanobanana-exporter/blob/main/docs/runbook.md#nanobananaoutage)" in firing
    silence = firing.split("[silence](")[1].rstrip(")")
    assert silence.startswith("http://alertmanager.test:9093/#/silences/new?filter=")
    assert unquote(silence.split("filter=")[1]).startswith('{alertname="NanoBananaOutage", target="prod", model="gemini-3-pro-image"')
    assert resolved.startswith("**RESOLVED NanoBananaOutage**") and "resolved 2025-06-01 13:00:00 UTC" in resolved
    assert "First:" not in resolved and "[silence]" not in resolved  # nothing to do, nothing to silence
    # it says resolved, not the summary written while it fired (which reads as still failing)
    assert "Resolved: the condition is over after 59m 59s." in resolved and "summary #1" not in resolved


def test_the_location_is_shown_in_the_title_the_labels_and_the_silence():
    n = payload(alert(location="europe-west4"))
    n["groupLabels"]["location"] = "europe-west4"
    [body], _ = feishu.render(Notification.model_validate(n))
    card = body["card"]
    assert card["header"]["title"]["content"] == "[FIRING:1] NanoBananaOutage prod gemini-3-pro-image europe-west4"
    [text] = [e["content"] for e in card["elements"] if e["tag"] == "markdown"]
    assert "api: gemini · location: europe-west4" in text
    assert 'location="europe-west4"' in unquote(text.split("[silence](")[1])
    [ding], _ = dingtalk.render(Notification.model_validate(n))
    assert "location: europe-west4" in ding["markdown"]["text"]


def test_feishu_signature_matches_the_documented_algorithm():
    secret, now = "test-secret-value", 1_717_243_200.7
    request = feishu.sign("https://open.feishu.cn/open-apis/bot/v2/hook/x", secret, {"msg_type": "text"}, now)
    assert request.body["timestamp"] == "1717243200"
    expected = base64.b64encode(hmac.new(f"1717243200\n{secret}".encode(), digestmod=hashlib.sha256).digest()).decode()
    assert request.body["sign"] == expected and request.body["msg_type"] == "text"
    assert feishu.sign("u", None, {"a": 1}, now).body == {"a": 1}


def test_dingtalk_signature_matches_the_documented_algorithm():
    secret, now = "SECtest", 1_717_243_200.123
    request = dingtalk.sign("https://oapi.dingtalk.com/robot/send?access_token=T", secret, {}, now)
    query = parse_qs(urlsplit(request.url).query)
    assert query["access_token"] == ["T"] and query["timestamp"] == ["1717243200123"]
    expected = base64.b64encode(hmac.new(secret.encode(), f"1717243200123\n{secret}".encode(), hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]  # parse_qs undoes the URL encoding


def test_dingtalk_and_wecom_render_markdown():
    [ding], _ = dingtalk.render(notification(alert(severity="warning", name="NanoBananaLatencyHigh"), name="NanoBananaLatencyHigh"))
    assert ding["msgtype"] == "markdown" and ding["markdown"]["title"] == "[FIRING:1] NanoBananaLatencyHigh prod gemini-3-pro-image"
    assert "**FIRING NanoBananaLatencyHigh** (warning)  \nNanoBananaLatencyHigh summary #0" in ding["markdown"]["text"]
    [wc], _ = wecom.render(notification(alert()))
    assert wc["msgtype"] == "markdown"
    assert wc["markdown"]["content"].startswith('**<font color="warning">[FIRING:1] NanoBananaOutage prod gemini-3-pro-image</font>**')


def shown(texts: list[str]) -> set[str]:
    return {line.split("summary #")[1].split()[0] for text in texts for line in text.splitlines() if "summary #" in line}


@pytest.mark.parametrize("platform, limit, size, text_of", [
    ("wecom", wecom.MAX_CONTENT_BYTES, lambda b: len(b["markdown"]["content"].encode()), lambda b: [b["markdown"]["content"]]),
    ("dingtalk", dingtalk.MAX_TEXT_BYTES, lambda b: len(b["markdown"]["text"].encode()), lambda b: [b["markdown"]["text"]]),
    ("feishu", feishu.MAX_BODY_BYTES, lambda b: len(json.dumps(b, ensure_ascii=False).encode()) + 120,
     lambda b: [e["content"] for e in b["card"]["elements"] if e["tag"] == "markdown"]),
])
@pytest.mark.parametrize("count", [1, 12, 300])
def test_long_groups_are_split_within_the_limit_and_never_lose_count(platform, limit, size, text_of, count):
    n = notification(*(alert(index=i, description=LONG + "中文说明" * 20) for i in range(count)))
    bodies, omitted = PLATFORMS[platform].render(n)
    assert 1 <= len(bodies) <= 5
    assert all(size(b) <= limit for b in bodies), [size(b) for b in bodies]
    texts = [t for b in bodies for t in text_of(b)]
    listed = shown(texts)
    assert len(listed) + omitted == count  # every alert is either shown or counted
    if omitted:
        assert texts[-1].endswith(f"… and {omitted} more alerts not shown")
    if len(bodies) > 1:
        titles = [json.dumps(b, ensure_ascii=False) for b in bodies]
        assert all(f"({i}/{len(bodies)})" in t for i, t in enumerate(titles, 1))


def test_a_block_too_large_alone_is_cut_not_rejected():
    blocks = ["x" * 50, "y" * 500, "z" * 50]
    bodies, omitted = pack(blocks, lambda chunk, part, footer: {"t": "|".join(chunk) + part + footer},
                           lambda body: len(body["t"]), limit=200)
    assert omitted == 0 and all(len(b["t"]) <= 200 for b in bodies)
    assert any(b["t"].startswith("yyyy") and "…" in b["t"] for b in bodies)
    assert any("z" * 50 in b["t"] for b in bodies)


@pytest.mark.parametrize("platform, status, reply, retry, result", [
    ("feishu", 200, {"code": 0, "msg": "success"}, None, None),
    ("feishu", 200, {"StatusCode": 0}, None, None),
    ("feishu", 200, {"code": 11232, "msg": "frequency limited"}, True, "rate_limited"),
    ("feishu", 200, {"code": 19021, "msg": "sign match fail"}, False, "platform_error"),
    ("feishu", 502, None, True, "http_error"),
    ("feishu", 200, None, True, "http_error"),
    ("dingtalk", 200, {"errcode": 0}, None, None),
    ("dingtalk", 200, {"errcode": 130101}, True, "rate_limited"),
    ("dingtalk", 200, {"errcode": 310000}, False, "platform_error"),
    ("wecom", 200, {"errcode": 45009}, True, "rate_limited"),
    ("wecom", 200, {"errcode": 93000}, False, "platform_error"),
    ("wecom", 429, None, True, "rate_limited"),
    ("wecom", 404, None, False, "http_error"),
])
def test_replies_are_read_per_platform(platform, status, reply, retry, result):
    from exporter.relay.base import DeliveryError

    check = PLATFORMS[platform].check_reply
    if retry is None:
        check(status, reply)
        return
    with pytest.raises(DeliveryError) as caught:
        check(status, reply)
    assert (caught.value.retry, caught.value.result) == (retry, result)
