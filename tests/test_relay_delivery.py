"""The relay end to end against fake Feishu / DingTalk / WeCom bots on loopback: signing, rate
limits, retries of platform errors (Feishu's HTTP 200 with an error code included), 5xx to
Alertmanager when delivery finally fails, 400 on bad input, bearer auth, metrics without secrets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest

from exporter.relay.limiter import RateLimiter
from tests.relay_support import (BEARER, DINGTALK_SECRET, DINGTALK_TOKEN, FEISHU_HOOK, FEISHU_SECRET, SECRETS, WECOM_KEY,
                                 alert, payload, running_relay)
from tests.stack import FakeWebhook

AUTH = {"Authorization": f"Bearer {BEARER}"}


@pytest.fixture
def bots():
    with FakeWebhook() as fake:
        yield fake


async def post(base: str, channel: str, body, headers=AUTH, **kw) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        if isinstance(body, (bytes, str)):
            return await client.post(f"{base}/alerts/{channel}", content=body, headers=headers, **kw)
        return await client.post(f"{base}/alerts/{channel}", json=body, headers=headers, **kw)


def sample(metrics, name, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_feishu_gets_a_signed_card(bots):
    async with running_relay(bots.url()) as (base, metrics, _):
        before = time.time()
        response = await post(base, "fs", payload(alert()))
        assert response.status_code == 200, response.text
        assert response.text == "delivered 1 alerts in 1 messages to fs\n"
    [request] = bots.received()
    assert request.path == f"/open-apis/bot/v2/hook/{FEISHU_HOOK}"
    body = request.json
    timestamp = int(body["timestamp"])
    assert before - 1 <= timestamp <= time.time() + 1
    expected = base64.b64encode(hmac.new(f"{timestamp}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == expected
    assert body["card"]["header"]["template"] == "red"
    assert "NanoBananaOutage summary #0" in body["card"]["elements"][0]["content"]
    assert sample(metrics, "nanobanana_relay_notifications_total", channel="fs", outcome="delivered") == 1
    assert sample(metrics, "nanobanana_relay_delivery_duration_seconds_count", channel="fs") == 1


async def test_dingtalk_is_signed_in_the_query_and_wecom_carries_its_key(bots):
    async with running_relay(bots.url()) as (base, _, _):
        assert (await post(base, "dt", payload(alert()))).status_code == 200
        assert (await post(base, "wc", payload(alert(severity="warning")))).status_code == 200
    ding, wecom = bots.received()
    assert ding.path == "/robot/send" and ding.query["access_token"] == DINGTALK_TOKEN
    ms = int(ding.query["timestamp"])
    assert abs(ms / 1000 - time.time()) < 5
    digest = hmac.new(DINGTALK_SECRET.encode(), f"{ms}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
    assert ding.query["sign"] == base64.b64encode(digest).decode()
    assert ding.json["msgtype"] == "markdown" and "NanoBananaOutage summary #0" in ding.json["markdown"]["text"]
    assert wecom.path == "/cgi-bin/webhook/send" and wecom.query == {"key": WECOM_KEY}
    assert len(wecom.json["markdown"]["content"].encode()) <= 4096


async def test_feishu_error_code_in_a_200_is_retried_until_delivered(bots):
    bots.fail(reply={"code": 11232, "msg": "frequency limited"}, times=2)
    async with running_relay(bots.url()) as (base, metrics, _):
        response = await post(base, "fs", payload(alert()))
        assert response.status_code == 200, response.text
        assert sample(metrics, "nanobanana_relay_requests_total", channel="fs", result="rate_limited") == 2
        assert sample(metrics, "nanobanana_relay_requests_total", channel="fs", result="ok") == 1
    attempts = bots.received(delivered_only=False)
    assert [r.failed for r in attempts] == [True, True, False]
    assert attempts[1].at - attempts[0].at >= 0.4  # backoff between attempts


async def test_a_rejected_message_answers_502_at_once(bots):
    bots.fail(reply={"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"})
    async with running_relay(bots.url()) as (base, metrics, _):
        response = await post(base, "fs", payload(alert()))
        assert response.status_code == 502
        assert "Feishu code 19021 (bad signature or stale timestamp)" in response.text
        assert sample(metrics, "nanobanana_relay_notifications_total", channel="fs", outcome="failed") == 1
    assert len(bots.received(delivered_only=False)) == 1  # a configuration error is not retried here


async def test_a_platform_down_until_the_deadline_answers_503(bots):
    bots.fail(500)
    async with running_relay(bots.url(), deadline="2s") as (base, metrics, _):
        started = time.monotonic()
        response = await post(base, "wc", payload(alert()))
        elapsed = time.monotonic() - started
    assert response.status_code == 503 and "HTTP 500 from the platform" in response.text
    assert 1.0 <= elapsed <= 3.5
    assert len(bots.received(delivered_only=False)) >= 2  # it did retry
    assert not any(secret in response.text for secret in SECRETS)


async def test_an_unreachable_platform_answers_503_without_leaking_the_url():
    with FakeWebhook() as fake:
        dead = fake.url()  # nothing listens here once the fake is stopped
    async with running_relay(dead, deadline="1500ms") as (base, metrics, _):
        response = await post(base, "dt", payload(alert()))
        assert response.status_code == 503
        assert "ConnectError" in response.text
        assert not any(secret in response.text for secret in SECRETS)
        assert sample(metrics, "nanobanana_relay_requests_total", channel="dt", result="network_error") >= 1


async def test_feishu_rate_limit_of_5_per_second_is_respected(bots):
    alerts = [alert(index=i, description="First: " + "x" * 4000) for i in range(40)]
    many, others = payload(*alerts), payload(*alerts, name="NanoBananaLatencyHigh")  # two groups: the same twice is one
    async with running_relay(bots.url(), deadline="20s") as (base, _, _):
        first, second = await asyncio.gather(post(base, "fs", many), post(base, "fs", others))
    assert first.status_code == second.status_code == 200
    arrivals = sorted(r.at for r in bots.received())
    assert len(arrivals) >= 6, len(arrivals)
    # any 6 consecutive sends span at least a second (5 per second per bot)
    assert min(b - a for a, b in zip(arrivals, arrivals[5:])) >= 0.95
    assert all(len(r.body) <= 20 * 1024 for r in bots.received())


async def test_limiter_spaces_sends_and_refuses_past_the_deadline():
    limiter = RateLimiter(((2, 0.3),))
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(6):
        assert await limiter.acquire(deadline=time.monotonic() + 5)
        times.append(loop.time())
    # at most 2 in any 0.3 s: sends come in pairs, 0.3 s apart
    assert all(later - earlier >= 0.29 for earlier, later in zip(times, times[2:]))
    # both slots of the window are taken: the next one is 0.3 s away, past this deadline
    assert not await limiter.acquire(deadline=time.monotonic() + 0.05)


@pytest.mark.parametrize("body, message", [
    (b"not json", "body is not JSON"),
    (b"\xff\xfe", "body is not"),
    (json.dumps({"status": "firing"}), "alerts: Field required"),
    (json.dumps({"status": "firing", "alerts": []}), "alerts: List should have at least 1 item"),
    (json.dumps({"status": "burning", "alerts": [alert()]}), "status: Input should be 'firing' or 'resolved'"),
    (json.dumps({"status": "firing", "alerts": [{"labels": {}}]}), "alerts.0.status: Field required"),
    (json.dumps([1, 2]), "Input should be a valid dictionary"),
])
async def test_bad_input_gets_400_with_a_message(bots, body, message):
    async with running_relay(bots.url()) as (base, metrics, _):
        response = await post(base, "fs", body)
        assert response.status_code == 400
        assert message in response.text
        assert sample(metrics, "nanobanana_relay_notifications_total", channel="fs", outcome="bad_request") == 1
    assert not bots.received(delivered_only=False)


async def test_bearer_token_is_required_when_configured(bots):
    async with running_relay(bots.url()) as (base, metrics, _):
        assert (await post(base, "fs", payload(), headers={})).status_code == 401
        assert (await post(base, "fs", payload(), headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await post(base, "fs", payload(), headers={"Authorization": f"Basic {BEARER}"})).status_code == 401
        assert (await post(base, "fs", payload())).status_code == 200
        assert sample(metrics, "nanobanana_relay_notifications_total", channel="fs", outcome="unauthorized") == 3
        unknown = await post(base, "nope", payload())
        assert unknown.status_code == 404 and "fs" not in unknown.text  # the channels are not listed
    assert len(bots.received()) == 1


async def test_metrics_and_health_never_show_secrets(bots):
    bots.fail(500, times=1)
    async with running_relay(bots.url()) as (base, _, _):
        await post(base, "fs", payload())
        await post(base, "dt", payload())
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {BEARER}"}) as client:
            metrics = (await client.get(f"{base}/metrics")).text
            healthy = await client.get(f"{base}/-/healthy")
            index = (await client.get(f"{base}/")).text
    assert healthy.status_code == 200
    assert 'nanobanana_relay_notifications_total{channel="fs",outcome="delivered"} 1.0' in metrics
    assert 'nanobanana_relay_requests_total{channel="fs",result="http_error"} 1.0' in metrics
    assert "nanobanana_relay_delivery_duration_seconds_bucket" in metrics
    assert "/alerts/fs" in index
    for text in (metrics, index):
        assert not any(secret in text for secret in SECRETS)


async def test_a_huge_bot_reply_is_read_no_further_than_the_cap_and_retried(bots):
    """A bot (or whatever answers at its URL) that replies with megabytes: the relay reads 64 KiB, treats
    it as an unreadable reply (retried) and delivers on the next attempt."""
    from exporter.relay.delivery import MAX_REPLY_BYTES
    bots.fail(reply={"code": 0, "pad": "x" * (4 * MAX_REPLY_BYTES)}, times=1)
    async with running_relay(bots.url()) as (base, metrics, _):
        response = await post(base, "fs", payload(alert()))
        assert response.status_code == 200, response.text
        assert sample(metrics, "nanobanana_relay_requests_total", channel="fs", result="http_error") == 1
        assert sample(metrics, "nanobanana_relay_requests_total", channel="fs", result="ok") == 1
    assert len(bots.received(delivered_only=False)) == 2
