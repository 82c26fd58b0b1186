"""POST /alerts: one webhook for every channel (issue 12: the shipped `page` receiver posted to
/alerts/wecom, and a relay without a wecom channel answered 404 to every page). Each channel takes
the severities its config names; a retry after one channel failed sends only that channel's message
again (the courier's per-channel dedup)."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from tests.relay_support import BEARER, alert, environ, payload, running_relay
from tests.stack import FakeWebhook

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"Bearer {BEARER}"}
PATHS = {"fs": "/open-apis/bot/v2/hook/", "dt": "/robot/send", "wc": "/cgi-bin/webhook/send"}
CONFIG = """
channels:
  fs: {type: feishu, url_env: FS_URL, secret_env: FS_SECRET}
  dt: {type: dingtalk, url_env: DT_URL, secret_env: DT_SECRET, severities: [critical]}
  wc: {type: wecom, url_env: WC_URL, severities: [critical]}
token_env: RELAY_TOKEN
deadline: DEADLINE
request_timeout: 2s
"""


def per_channel(fake: FakeWebhook) -> dict[str, int]:
    """Messages the bots got, by channel."""
    got = fake.received()
    return {name: sum(1 for r in got if r.path.startswith(prefix)) for name, prefix in PATHS.items()}


async def post(base: str, body: dict) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.post(f"{base}/alerts", json=body, headers=AUTH)


async def test_a_page_reaches_every_channel_once_and_a_warning_only_those_that_take_it():
    with FakeWebhook() as bots:
        async with running_relay(bots.url(), config_text=CONFIG) as (base, _, _):
            page = await post(base, payload(alert(severity="critical")))
            assert page.status_code == 200, page.text
            assert per_channel(bots) == {"fs": 1, "dt": 1, "wc": 1}
            warning = await post(base, payload(alert("NanoBananaErrorRateHigh", severity="warning"),
                                               name="NanoBananaErrorRateHigh"))
            assert warning.status_code == 200, warning.text
            assert per_channel(bots) == {"fs": 2, "dt": 1, "wc": 1}
            # the page's resolved message goes where the page went, though no alert of it fires
            resolved = await post(base, payload(alert(severity="critical", status="resolved")))
            assert resolved.status_code == 200, resolved.text
            assert per_channel(bots) == {"fs": 3, "dt": 2, "wc": 2}


async def test_a_relay_without_the_other_channels_answers_a_page_with_its_one_channel():
    only_feishu = "channels:\n  fs: {type: feishu, url_env: FS_URL, secret_env: FS_SECRET}\ntoken_env: RELAY_TOKEN\n" \
                  "deadline: DEADLINE\n"
    with FakeWebhook() as bots:
        async with running_relay(bots.url(), config_text=only_feishu) as (base, _, _):
            answer = await post(base, payload(alert(severity="critical")))
            assert answer.status_code == 200, answer.text
            assert per_channel(bots) == {"fs": 1, "dt": 0, "wc": 0}
    pages_only = "channels:\n  fs: {type: feishu, url_env: FS_URL, secret_env: FS_SECRET, severities: [critical]}\n" \
                 "token_env: RELAY_TOKEN\n"
    with FakeWebhook() as bots:
        async with running_relay(bots.url(), config_text=pages_only) as (base, _, _):
            answer = await post(base, payload(alert("NanoBananaProbeStale", severity="info"), name="NanoBananaProbeStale"))
            assert answer.status_code == 200 and "no channel takes severity info" in answer.text, answer.text
            assert per_channel(bots) == {"fs": 0, "dt": 0, "wc": 0}


async def test_a_retry_after_one_channel_failed_sends_only_that_channels_message_again():
    with FakeWebhook() as healthy, FakeWebhook() as broken:
        env = environ(healthy.url()) | {"WC_URL": environ(broken.url())["WC_URL"]}
        async with running_relay(healthy.url(), deadline="2s", env=env, config_text=CONFIG) as (base, _, _):
            broken.fail(500)
            first = await post(base, payload(alert(severity="critical")))
            assert first.status_code >= 500, first.text  # Alertmanager retries a 5xx
            assert "delivery to wc failed" in first.text and "to fs" in first.text and "to dt" in first.text
            assert per_channel(healthy) == {"fs": 1, "dt": 1, "wc": 0}
            broken.heal()
            retry = await post(base, payload(alert(severity="critical")))
            assert retry.status_code == 200, retry.text
            assert per_channel(healthy) == {"fs": 1, "dt": 1, "wc": 0}  # not sent twice
            assert per_channel(broken) == {"fs": 0, "dt": 0, "wc": 1}


def test_the_shipped_receivers_post_to_the_relay_once_each():
    """alertmanager.yml's page and chat receivers reach the relay through /alerts only: which chat
    channels get what is the relay's config (severities), so no receiver names a channel."""
    config = yaml.safe_load((ROOT / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        urls = [w["url"] for w in receiver.get("webhook_configs", [])]
        if receiver["name"] in ("page", "chat"):
            assert urls == ["http://127.0.0.1:9878/alerts"], (receiver["name"], urls)
        assert all(not url.rsplit("/", 1)[-1] in ("feishu", "dingtalk", "wecom") for url in urls), urls
