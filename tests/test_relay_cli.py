"""`nanobanana-exporter relay` as a real process: config validation and exit codes, logs without
secrets, and any request body answered 200 or 400, never 500."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.loading.config import ConfigError
from exporter.relay.config import load_text
from conftest import ROOT, exporter_env, free_port
from tests.relay_support import BEARER, CONFIG, SECRETS, alert, environ, payload
from tests.stack import FakeWebhook, start_service


def relay_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "exporter", "relay", *args]


@pytest.mark.parametrize("text, error", [
    ("channels:\n  fs: {type: feishu, url_env: FS_URL, colour: red}\n", "<t>:2: channels.fs.colour: unknown key"),
    ("channels:\n  fs: {type: slack, url_env: FS_URL}\n", "<t>:2: channels.fs.type: Input should be 'feishu', 'dingtalk' or 'wecom'"),
    ("channels:\n  fs: {type: feishu}\n", "<t>:2: channels.fs: set exactly one of url_env and url_file"),
    ("channels: {}\n", "<t>:1: channels: Dictionary should have at least 1 item"),
    ("channels:\n  fs: {type: feishu, url_env: NOPE}\n", "<t>:2: channels.fs.url_env: environment variable NOPE is not set"),
    ("channels:\n  fs: {type: feishu, url_env: FS_URL, secret_file: /nonexistent/s}\n",
     "<t>:2: channels.fs.secret_file: cannot read /nonexistent/s: No such file or directory"),
    ("channels:\n  fs: {type: feishu, url_env: BAD_URL}\n", "<t>:2: channels.fs.url_env: the bot URL must start with http:// or https://"),
    ("channels:\n  fs: {type: feishu, url_env: FS_URL}\ndeadline: soon\n", "<t>:3: deadline: expected a positive duration"),
    ("channels:\n  fs: {type: feishu, url_env: FS_URL}\ntoken_env: NOPE\n", "<t>:3: token_env: environment variable NOPE is not set"),
    ("channels:\n  fs: {type: feishu, url_env: FS_URL}\ntoken_env: FS_URL\ntoken_file: /t\n",
     "<t>:4: token_file: set token_env or token_file, not both"),
])
def test_config_errors_name_the_key(text, error):
    with pytest.raises(ConfigError) as caught:
        load_text(text, "<t>", environ={"FS_URL": "https://open.feishu.cn/x", "BAD_URL": "ftp://x"})
    assert str(caught.value).startswith(error)


def test_secret_values_never_appear_in_config_errors():
    env = {**environ("http://127.0.0.1:1"), "FS_URL": "not-a-url-" + SECRETS[0]}
    with pytest.raises(ConfigError) as caught:
        load_text(CONFIG.replace("DEADLINE", "5s"), "<t>", environ=env)
    assert SECRETS[0] not in str(caught.value)


def test_config_check_exit_codes(tmp_path):
    good = tmp_path / "relay.yml"
    good.write_text(CONFIG.replace("DEADLINE", "30s"))
    env = exporter_env(**environ("http://127.0.0.1:1"))
    ok = subprocess.run(relay_cmd("--config.file", str(good), "--config.check"), env=env, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[1:] == ["  /alerts/dt  dingtalk  signed", "  /alerts/fs  feishu  signed", "  /alerts/wc  wecom"]
    bad = tmp_path / "bad.yml"
    bad.write_text("channels:\n  fs: {type: feishu, url_env: FS_URL}\nretries: 3\n")
    failed = subprocess.run(relay_cmd("--config.file", str(bad)), env=env, capture_output=True, text=True, cwd=ROOT)
    assert failed.returncode == 1
    assert f"{bad}:3: retries: unknown key" in failed.stderr


@pytest.fixture(scope="module")
def relay_process(tmp_path_factory):
    """(relay Service, FakeWebhook) with the relay as a subprocess at debug log level."""
    workdir = tmp_path_factory.mktemp("relay")
    config = workdir / "relay.yml"
    config.write_text(CONFIG.replace("DEADLINE", "3s"))
    with FakeWebhook() as fake:
        address = f"127.0.0.1:{free_port()}"
        argv = relay_cmd("--config.file", str(config), "--web.listen-address", address, "--log.level", "debug")
        service = start_service("relay", argv, address, workdir, timeout=20, env=exporter_env(**environ(fake.url())))
        try:
            yield service, fake
        finally:
            service.stop()


AUTH = {"Authorization": f"Bearer {BEARER}"}


def test_process_delivers_and_logs_no_secret(relay_process):
    relay, fake = relay_process
    fake.fail(500, times=1)
    assert httpx.post(f"{relay.url}/alerts/fs", json=payload(alert()), headers=AUTH, timeout=30).status_code == 200
    fake.fail(reply={"code": 19021, "msg": "sign match fail"}, times=1)
    # another alert: the same one again would be a retry of a delivered message, not sent twice
    assert httpx.post(f"{relay.url}/alerts/fs", json=payload(alert(index=1)), headers=AUTH, timeout=30).status_code == 502
    fake.fail(reply={"errcode": 310000, "errmsg": "keywords not in content"}, times=1)
    assert httpx.post(f"{relay.url}/alerts/dt", json=payload(alert()), headers=AUTH, timeout=30).status_code == 502
    assert httpx.post(f"{relay.url}/alerts/wc", json=payload(alert()), headers={"Authorization": "Bearer x"}).status_code == 401
    metrics = httpx.get(f"{relay.url}/metrics", headers=AUTH).text
    logs = relay.logs()  # stderr is line-buffered: every line so far is in the file
    assert "delivery failed, retrying" in logs and 'msg="delivery failed"' in logs and "msg=delivered" in logs
    for text in (logs, metrics):
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"secrets {leaked} leaked"


# Strings that have broken relays: a lone surrogate (valid JSON "\ud800", not encodable), dates at the
# ends of the calendar with offsets that push them past it, markdown and control characters.
odd_strings = st.sampled_from(["\ud800", "a\udfffb", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
                               "0001-01-01T00:00:00Z", "http://x\n", "**[x](javascript:1)**", "\u0000", "\u202e"])
dates = odd_strings | st.datetimes().map(lambda d: d.isoformat()) \
    | st.tuples(st.datetimes(), st.sampled_from(["Z", "+23:59", "-23:59", "+00:00"])).map(lambda t: t[0].isoformat() + t[1])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | odd_strings,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
string_maps = st.dictionaries(st.sampled_from(["alertname", "severity", "target", "model", "summary", "description",
                                               "runbook_url"]) | st.text(max_size=5), st.text(max_size=30) | odd_strings,
                              max_size=5)
payload_like = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved", "other", 3])},
    optional={"alerts": st.lists(st.fixed_dictionaries({"status": st.sampled_from(["firing", "resolved"])},
                                                       optional={"labels": json_values | string_maps,
                                                                 "annotations": string_maps,
                                                                 "startsAt": json_values | dates, "endsAt": dates,
                                                                 "generatorURL": st.text(max_size=20) | odd_strings}),
                                 max_size=3),
              "externalURL": json_values | odd_strings, "groupLabels": json_values | string_maps},
)
deeply_nested = st.integers(100, 200_000).map(lambda n: "[" * n + "]" * n) \
    | st.integers(100, 20_000).map(lambda n: '{"status": "firing", "alerts": [{"status": "firing", "labels": '
                                   + '{"a": ' * n + "1" + "}" * n + "}]}")


@pytest.mark.slow  # 150 bodies against a relay process
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values.map(json.dumps), payload_like.map(json.dumps), st.binary(max_size=64), deeply_nested))
def test_any_body_gets_200_or_400_never_500(relay_process, body):
    relay, fake = relay_process
    fake.heal()
    response = httpx.post(f"{relay.url}/alerts/wc", content=body, headers=AUTH, timeout=30)
    assert response.status_code in (200, 400), (response.status_code, response.text)
    assert relay.process.poll() is None, "the relay died"


def test_the_example_config_is_valid(tmp_path):
    (tmp_path / "wecom-url").write_text("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K")
    (tmp_path / "token").write_text("t0ken-value")
    text = (ROOT / "alertmanager" / "relay.yml").read_text()
    text = text.replace("/etc/nanobanana-relay/wecom-url", str(tmp_path / "wecom-url"))
    text = text.replace("/etc/alertmanager/secrets/relay-token", str(tmp_path / "token"))
    config = load_text(text, "relay.yml", environ={"FEISHU_WEBHOOK_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/h",
                                                   "FEISHU_SECRET": "s3cret", "DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=a",
                                                   "DINGTALK_SECRET": "SECx"})
    assert sorted(config.channels) == ["dingtalk", "feishu", "wecom"]
    # Alertmanager posts to /alerts only (no receiver names a channel); pages reach all three, warnings Feishu
    am = (ROOT / "alertmanager" / "alertmanager.yml").read_text()
    assert set(re.findall(r"url: http://[\d.:]+(/alerts\S*)", am)) == {"/alerts"}
    assert [n for n, c in sorted(config.channels.items()) if c.takes("critical")] == ["dingtalk", "feishu", "wecom"]
    assert [n for n, c in sorted(config.channels.items()) if c.takes("warning")] == ["feishu"]
