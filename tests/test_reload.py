"""Reload without restart (SIGHUP, POST /-/reload) on real processes: the exporter against the
simulator, the relay against fake bots. Kept series keep counting, removed ones vanish, new ones
start; an invalid config is refused, named, and the old one keeps running."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from conftest import FAKE_KEY, ROOT, exporter_env, free_port, running_exporter, running_simulator
from exporter.loading.reload import SUCCESS_TIMESTAMP, SUCCESSFUL
from tests.captured import CAPTURED
from tests.documentation import room
from tests.relay_support import BEARER, CONFIG, SECRETS, environ, payload
from tests.stack import FakeWebhook, start_service

OK = SUCCESSFUL.format(prefix="nanobanana_exporter")
WHEN = SUCCESS_TIMESTAMP.format(prefix="nanobanana_exporter")


def value(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in an exposition, or None when there is no such sample."""
    for line in text.splitlines():
        match = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return None


def probes(text: str, target: str) -> float | None:
    return value(text, "nanobanana_probes_total", target=target, outcome="success")


def wait_until(check, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


TARGET = '  - {{name: {name}, api: gemini, base_url: "{sim}", model: gemini-3-pro-image{extra}}}\n'


def exporter_config(sim: str, *names: str, extra: dict[str, str] | None = None) -> str:
    extra = extra or {}
    return "defaults: {interval: 200ms}\ntargets:\n" + "".join(
        TARGET.format(name=n, sim=sim, extra=extra.get(n, "")) for n in names)


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_exporter_reload_keeps_adds_and_drops_series(tmp_path):
    sim_config = tmp_path / "sim.yml"
    sim_config.write_text("keys: [only-this-key-works]\n")  # the simulator echoes a wrong key back
    with running_simulator(str(sim_config)) as (sim, _):
        config = tmp_path / "nanobanana.yml"
        config.write_text(exporter_config(sim, "kept", "dropped"))
        with running_exporter("--config.file", str(config)) as (base, proc):
            scrape = lambda: httpx.get(f"{base}/metrics", timeout=5).text  # noqa: E731
            # auth_error, not success: no key; count every outcome of "kept"
            total = lambda text, t: sum(  # noqa: E731
                float(m) for m in re.findall(rf'nanobanana_probes_total\{{[^}}]*target="{t}"[^}}]*\}} (\S+)', text))
            wait_until(lambda: total(scrape(), "kept") >= 3, what="kept probed")
            first = scrape()
            assert value(first, OK) == 1
            started_at = value(first, WHEN)

            # 1. POST /-/reload: "dropped" goes, "added" comes (with a key the simulator echoes), "kept" stays
            key_file = tmp_path / "added.key"
            key_file.write_text(FAKE_KEY)
            config.write_text(exporter_config(sim, "kept", "added", extra={"added": f", api_key_file: {key_file}"}))
            before = total(scrape(), "kept")
            response = httpx.post(f"{base}/-/reload", timeout=10)
            assert response.status_code == 200, response.text
            assert "2 series in 2 targets" in response.text
            after = scrape()
            assert 'target="dropped"' not in after
            assert total(after, "kept") >= before  # never reset
            wait_until(lambda: total(scrape(), "added") >= 2, what="added probed")
            assert value(scrape(), OK) == 1 and value(scrape(), WHEN) > started_at

            # 2. an invalid config is refused with its error; the old one keeps probing
            config.write_text(exporter_config(sim, "kept") + "  - {name: broken, api: bedrock, model: m}\n")
            response = httpx.post(f"{base}/-/reload", timeout=10)
            assert response.status_code == 500
            assert f"failed to reload config: {config}:4: targets[1].api: Input should be" in response.text
            failed = scrape()
            assert value(failed, OK) == 0
            reloaded_at = value(failed, WHEN)
            page = httpx.get(f"{base}/", timeout=5).text  # the landing page says it, with the error
            assert "Last reload: <span class=fail>FAILED</span>" in page and "targets[1].api: Input should be" in page
            count = total(failed, "kept")
            wait_until(lambda: total(scrape(), "kept") > count and total(scrape(), "added") > 0, what="old config running")

            # 3. SIGHUP with a valid config: success again, "added" dropped
            config.write_text(exporter_config(sim, "kept"))
            proc.send_signal(signal.SIGHUP)
            wait_until(lambda: value(scrape(), OK) == 1, what="SIGHUP reload")
            text = scrape()
            assert value(text, WHEN) > reloaded_at
            assert 'target="added"' not in text and total(text, "kept") >= count
            page = httpx.get(f"{base}/", timeout=5).text
            assert "Last reload: <span class=success>succeeded</span>" in page
    assert 'msg="reload failed, the running config stays"' in proc.logs and "trigger=SIGHUP" in proc.logs
    for text in (proc.logs, page):
        assert FAKE_KEY not in text  # the key that arrived with the reload is masked too


def test_demo_reload_rereads_the_built_in_config():
    with running_exporter("--demo") as (base, proc):
        response = httpx.post(f"{base}/-/reload", timeout=10)
        assert response.status_code == 200 and response.text.startswith("config reloaded: <demo>"), response.text
        assert httpx.get(f"{base}/-/reload").status_code == 405  # POST only


RELAY_OK = SUCCESSFUL.format(prefix="nanobanana_relay")
AUTH_HEADER = {"Authorization": f"Bearer {BEARER}"}


def test_relay_reload_keeps_adds_and_drops_channels(tmp_path):
    config = tmp_path / "relay.yml"
    config.write_text(CONFIG.replace("DEADLINE", "3s"))
    with FakeWebhook() as fake:
        env = environ(fake.url())
        address = f"127.0.0.1:{free_port()}"
        argv = [sys.executable, "-m", "exporter", "relay", "--config.file", str(config), "--web.listen-address", address]
        relay = start_service("relay", argv, address, tmp_path, timeout=20, env=exporter_env(**env))
        try:
            metrics = lambda: httpx.get(f"{relay.url}/metrics", headers=AUTH_HEADER, timeout=5).text  # noqa: E731
            delivered = lambda ch: value(metrics(), "nanobanana_relay_notifications_total", channel=ch, outcome="delivered")  # noqa: E731
            assert httpx.post(f"{relay.url}/alerts/fs", json=payload(), headers=AUTH_HEADER, timeout=10).status_code == 200
            assert delivered("fs") == 1 and value(metrics(), RELAY_OK) == 1

            # dt removed, "fs2" added (its URL must be masked as well)
            new_secret = "fs2hook-NEW-SECRET-0123456789"
            CAPTURED.secret(new_secret)
            new_config = CONFIG.replace("DEADLINE", "3s").replace("  dt: {type: dingtalk, url_env: DT_URL, secret_env: DT_SECRET}\n", "")
            url_file = tmp_path / "fs2-url"
            url_file.write_text(f"{fake.url()}/open-apis/bot/v2/hook/{new_secret}")
            config.write_text(new_config.replace("channels:\n", f"channels:\n  fs2: {{type: feishu, url_file: {url_file}}}\n"))
            response = httpx.post(f"{relay.url}/-/reload", headers=AUTH_HEADER, timeout=10)
            assert response.status_code == 200 and "3 channels" in response.text, response.text
            assert delivered("fs") == 1  # kept its count
            assert 'channel="dt"' not in metrics()
            assert httpx.post(f"{relay.url}/alerts/dt", json=payload(), headers=AUTH_HEADER, timeout=10).status_code == 404
            assert delivered("fs2") == 0
            assert httpx.post(f"{relay.url}/alerts/fs2", json=payload(), headers=AUTH_HEADER, timeout=10).status_code == 200
            assert delivered("fs2") == 1
            assert any(new_secret in r.path for r in fake.received())

            # invalid: refused, named, the running config stays
            config.write_text("channels:\n  fs: {type: feishu, url_env: FS_URL}\nretries: 3\n")
            response = httpx.post(f"{relay.url}/-/reload", headers=AUTH_HEADER, timeout=10)
            # the relay answers without the error (it may quote the config); the log has it
            assert response.status_code == 500 and "error is in the log" in response.text
            assert f"{config}:3: retries: unknown key" in relay.logs()
            assert value(metrics(), RELAY_OK) == 0
            assert httpx.post(f"{relay.url}/alerts/fs2", json=payload(), headers=AUTH_HEADER, timeout=10).status_code == 200

            # SIGHUP with a valid config
            config.write_text(new_config)
            relay.process.send_signal(signal.SIGHUP)
            wait_until(lambda: value(metrics(), RELAY_OK) == 1, what="relay SIGHUP reload")
            assert 'channel="fs2"' not in metrics() and delivered("fs") == 1
            logs = relay.logs()
        finally:
            relay.stop()
    assert "config reloaded" in logs and "reload failed" in logs
    leaked = [s for s in (*SECRETS, new_secret) if s in logs]
    assert not leaked, f"secrets {leaked} leaked"


def test_reload_metrics_and_web_config_flag_are_documented():
    docs = room("metrics") + room("operations")
    for name in (OK, WHEN, RELAY_OK, SUCCESS_TIMESTAMP.format(prefix="nanobanana_relay")):
        assert f"`{name}`" in docs, name
    for command in ([], ["relay"]):
        help_text = subprocess.run([sys.executable, "-m", "exporter", *command, "--help"], capture_output=True,
                                   text=True, cwd=ROOT, env=exporter_env()).stdout
        assert "--web.config.file" in help_text
