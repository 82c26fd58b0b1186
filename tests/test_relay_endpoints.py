"""The relay's endpoints under a hostile caller (issue 18, cases 5, 7 and 8): with a token, every
endpoint but the health checks needs it; an unknown channel is not a list of the known ones; a
reload error quotes no config; a cross-site form cannot reload; an Authorization header that is not
ASCII is a 401, not a 500; a bot URL with an impossible port is refused by the config check."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from exporter.relay.config import load_text
from exporter.common.yamlconfig import ConfigError
from conftest import ROOT, exporter_env, free_port
from tests.relay_support import BEARER, CONFIG, SECRETS, environ, payload
from tests.stack import FakeWebhook, start_service

AUTH = {"Authorization": f"Bearer {BEARER}"}
GUARDED = [("GET", "/"), ("GET", "/metrics"), ("POST", "/-/reload"), ("POST", "/alerts/fs"), ("POST", "/alerts/nope"),
           ("GET", "/nope")]


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    """(relay Service, its config file, FakeWebhook)."""
    workdir = tmp_path_factory.mktemp("relay-endpoints")
    config = workdir / "relay.yml"
    config.write_text(CONFIG.replace("DEADLINE", "3s"))
    with FakeWebhook() as fake:
        address = f"127.0.0.1:{free_port()}"
        argv = [sys.executable, "-m", "exporter", "relay", "--config.file", str(config), "--web.listen-address", address]
        service = start_service("relay", argv, address, workdir, timeout=20, env=exporter_env(**environ(fake.url())))
        try:
            yield service, config, fake
        finally:
            service.stop()


@pytest.mark.parametrize("method, path", GUARDED)
def test_every_endpoint_but_health_needs_the_token(relay, method, path):
    service, _, fake = relay
    before = len(fake.received(delivered_only=False))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {BEARER}"}):
        answer = httpx.request(method, f"{service.url}{path}", headers=headers, json=payload(), timeout=30)
        assert answer.status_code == 401, (method, path, headers, answer.status_code)
        assert "fs" not in answer.text and "dingtalk" not in answer.text
    assert len(fake.received(delivered_only=False)) == before


def test_health_checks_stay_open(relay):
    service, _, _ = relay
    for path in ("/-/healthy", "/-/ready"):
        assert httpx.get(f"{service.url}{path}").status_code == 200


def test_with_the_token_an_unknown_channel_is_404_without_the_list(relay):
    service, _, _ = relay
    answer = httpx.post(f"{service.url}/alerts/nope", json=payload(), headers=AUTH, timeout=30)
    assert answer.status_code == 404 and "fs" not in answer.text and "wc" not in answer.text
    assert httpx.get(f"{service.url}/metrics", headers=AUTH).status_code == 200


@pytest.mark.parametrize("raw", [b"Bearer \xc3\xa9t\xc3\xa9", b"Bearer \xff\xfe", "Basic ñ".encode()])
def test_a_non_ascii_authorization_header_is_401(relay, raw):
    service, _, _ = relay
    status = raw_request(service.address, b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: " + raw
                         + b"\r\nConnection: close\r\n\r\n")
    assert status == b"HTTP/1.1 401 Unauthorized", status


def raw_request(address: str, data: bytes) -> bytes:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        return sock.makefile("rb").readline().rstrip()


def test_a_cross_site_form_cannot_reload(relay):
    service, _, _ = relay
    form = {"Origin": "http://evil.test", "Content-Type": "application/x-www-form-urlencoded", **AUTH}
    assert httpx.post(f"{service.url}/-/reload", headers=form, content=b"x=1").status_code == 403
    assert httpx.post(f"{service.url}/-/reload", headers={**AUTH, "Origin": service.url}).status_code == 200


def test_a_reload_error_quotes_no_config(relay):
    service, config, _ = relay
    good = config.read_text()
    # an operator pasted the token itself where the variable's name belongs
    config.write_text(good.replace("token_env: RELAY_TOKEN", f"token_env: {BEARER}"))
    try:
        answer = httpx.post(f"{service.url}/-/reload", headers=AUTH, timeout=30)
        assert answer.status_code == 500 and answer.text == "failed to reload config; the error is in the log\n"
        assert BEARER not in service.logs()  # the log names the problem with the value masked
        assert "token_env: environment variable" in service.logs()
    finally:
        config.write_text(good)
    assert httpx.post(f"{service.url}/-/reload", headers=AUTH, timeout=30).status_code == 200


@pytest.mark.parametrize("url, problem", [
    ("https://open.feishu.cn:99999/open-apis/bot/v2/hook/h", "port 99999 is out of range"),
    ("https://open.feishu.cn:https/open-apis/bot/v2/hook/h", "the port is not a number"),
    ("https:///open-apis/bot/v2/hook/h", "no host"),
])
def test_a_bot_url_that_cannot_be_reached_is_a_config_error(url, problem):
    with pytest.raises(ConfigError) as caught:
        load_text("channels:\n  fs: {type: feishu, url_env: FS_URL}\n", "<t>", environ={"FS_URL": url})
    assert str(caught.value) == f"<t>:2: channels.fs.url_env: the bot URL is not usable: {problem}"


def test_config_check_refuses_an_invalid_port(tmp_path):
    config = tmp_path / "relay.yml"
    config.write_text("channels:\n  fs: {type: feishu, url_env: FS_URL}\n")
    env = exporter_env(FS_URL="https://open.feishu.cn:99999/open-apis/bot/v2/hook/" + SECRETS[0])
    result = subprocess.run([sys.executable, "-m", "exporter", "relay", "--config.file", str(config), "--config.check"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert result.returncode == 1 and "port 99999 is out of range" in result.stderr
    assert SECRETS[0] not in result.stderr + result.stdout


async def test_a_bot_url_that_slips_through_fails_delivery_cleanly():
    """An invalid port raised OverflowError inside httpx: a bare 500 with no metric. Now it is a
    failed request (network_error) and a 502 for Alertmanager."""
    from exporter.common.redact import Redactor
    from exporter.relay.alerts import Notification
    from exporter.relay.config import Channel
    from exporter.relay.delivery import Courier, DeliveryFailed
    from exporter.relay.metrics import RelayMetrics
    from exporter.relay.platforms import PLATFORMS

    channel = Channel("fs", PLATFORMS["feishu"], "http://127.0.0.1:99999/open-apis/bot/v2/hook/" + SECRETS[0], None)
    metrics = RelayMetrics(["fs"])
    courier = Courier({"fs": channel}, metrics, Redactor([channel.url, SECRETS[0]]), 3.0, 1.0)
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await courier.deliver(channel, Notification.model_validate(payload()))
    finally:
        await courier.aclose()
    assert failed.value.status == 502 and SECRETS[0] not in str(failed.value)
    assert metrics.registry.get_sample_value("nanobanana_relay_requests_total",
                                             {"channel": "fs", "result": "network_error"}) == 1
