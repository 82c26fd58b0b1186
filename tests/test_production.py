"""docs/operations.md "Running in production": its commands, run as written where this machine can (openssl,
the bcrypt one-liner, the exporter with the web config, curl, kill -HUP). Only the port changes (a
free one instead of 9877/9878), and `nanobanana-exporter` is this checkout's console script."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from conftest import ROOT, exporter_env, free_port
from tests.relay_support import BEARER, CONFIG, environ
from tests.documentation import room, section
from tests.stack import FakeWebhook

SECTION = section(room("operations"), "Running in production")
PASSWORD = "s3cret-Pa55"
pytestmark = pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl")


def blocks(heading: str, language: str) -> list[str]:
    """The fenced blocks of one language under a ### heading of the section."""
    part = SECTION[SECTION.index(f"### {heading}"):]
    part = part[:part.find("\n### ", 4)] if "\n### " in part[4:] else part
    return re.findall(rf"```{language}\n(.*?)```", part, re.S)


def commands(block: str) -> list[str]:
    return [line.split("  #")[0].strip() for line in block.replace("\\\n", " ").splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.fixture
def shell(tmp_path):
    """A bash that finds `nanobanana-exporter` (this checkout) on PATH, working in tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "nanobanana-exporter"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom exporter.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    env = exporter_env(PATH=f"{bin_dir}:{os.environ['PATH']}")

    def run(command: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", command], cwd=tmp_path, env={**env, **kw.pop("env", {})},
                              capture_output=True, text=True, timeout=60, **kw)

    run.env, run.cwd = env, tmp_path
    return run


@contextlib.contextmanager
def background(shell, command: str, ready_url: str, **client):
    proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=shell.cwd, env=shell.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stdout.read()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=1, **client).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"{command} did not become ready"
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_tls_and_auth_commands_work_as_written(shell):
    make, run = blocks("TLS and authentication", "sh")
    *openssl, hash_command = commands(make)
    for command in openssl:
        result = shell(command)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
    result = shell(hash_command, input=PASSWORD + "\n")  # getpass reads stdin when there is no terminal
    assert result.returncode == 0, result.stderr
    hashed = result.stdout.strip().splitlines()[-1]
    assert hashed.startswith("$2b$")
    (web_yml,) = [b for b in blocks("TLS and authentication", "yaml") if "tls_server_config" in b]
    placeholder = re.search(r"\$2b\$12\$REPLACE\S*", web_yml).group(0)
    (shell.cwd / "web.yml").write_text(web_yml.replace(placeholder, hashed))

    start, *curls = commands(run)
    port = free_port()
    ssl_context = __import__("ssl").create_default_context(cafile=str(shell.cwd / "ca.crt"))
    ssl_context.load_cert_chain(str(shell.cwd / "client.crt"), str(shell.cwd / "client.key"))
    with background(shell, f"{start} --web.listen-address 127.0.0.1:{port}",
                    f"https://localhost:{port}/-/healthy", verify=ssl_context):
        outputs = []
        for command in curls:
            result = shell(command.replace("localhost:9877", f"localhost:{port}").replace("PASSWORD", PASSWORD))
            assert result.returncode == 0, f"{command}\n{result.stderr}"
            outputs.append(result.stdout)
        # and without the password, or without the client certificate
        no_auth = shell(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert ca.crt --cert client.crt --key client.key "
                        f"https://localhost:{port}/metrics")
        no_cert = shell(f"curl -s --cacert ca.crt -u prometheus:{PASSWORD} https://localhost:{port}/metrics")
    assert "nanobanana_exporter_config_last_reload_successful 1.0" in outputs[0]
    assert outputs[1].startswith("config reloaded: <demo>")
    assert no_auth.stdout == "401" and no_cert.returncode != 0


def test_reload_commands_work_as_written(shell, tmp_path):
    (block,) = blocks("Reload", "sh")
    systemctl, curl_exporter, curl_relay = commands(block)
    # systemctl runs the unit's ExecReload with $MAINPID, the service's one process: run that line here
    unit = systemctl.split()[-1]
    exec_reload = re.search(r"^ExecReload=(.+)$", (ROOT / f"deploy/systemd/{unit}.service").read_text(), re.M).group(1)
    assert "$MAINPID" in exec_reload, "the reload signals the service's main process, not a pattern"
    config = tmp_path / "nanobanana.yml"
    config.write_text("defaults: {interval: 1h}\ntargets:\n  - {name: a, api: gemini, base_url: 'http://127.0.0.1:1', model: m}\n")
    port = free_port()
    metrics_url = f"http://localhost:{port}/metrics"

    def reload_time() -> float:
        text = httpx.get(metrics_url).text
        return float(re.search(r"^nanobanana_exporter_config_last_reload_success_timestamp_seconds (\S+)", text, re.M).group(1))

    with background(shell, f"nanobanana-exporter --config.file {config} --web.listen-address 127.0.0.1:{port}",
                    f"http://127.0.0.1:{port}/-/ready") as proc:
        before = reload_time()
        assert shell(exec_reload, env={"MAINPID": str(proc.pid)}).returncode == 0
        deadline = time.monotonic() + 10
        while reload_time() == before:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.1)
        result = shell(curl_exporter.replace("localhost:9877", f"localhost:{port}"))
        assert result.stdout.startswith("config reloaded: "), result.stdout + result.stderr
        # the failure shown in docs/operations.md, with this file's name
        config.write_text(config.read_text() + "  - {name: broken, api: bedrock, model: m}\n")
        failed = shell(curl_exporter.replace("localhost:9877", f"localhost:{port}")).stdout.strip()
    (shown,) = [line.strip() for line in SECTION.splitlines() if line.strip().startswith("failed to reload config: nanobanana.yml")]
    assert failed.replace(str(config), "nanobanana.yml") == shown

    relay_config = tmp_path / "relay.yml"
    relay_config.write_text(CONFIG.replace("DEADLINE", "5s"))
    (tmp_path / "relay-token").write_text(BEARER)  # the documented command reads it: the relay's reload needs it
    relay_port = free_port()
    with FakeWebhook() as fake:
        shell.env.update(environ(fake.url()))
        with background(shell, f"nanobanana-exporter relay --config.file {relay_config} --web.listen-address 127.0.0.1:{relay_port}",
                        f"http://127.0.0.1:{relay_port}/-/ready"):
            result = shell(curl_relay.replace("localhost:9878", f"localhost:{relay_port}"))
    assert result.stdout.startswith("config reloaded: ") and "3 channels" in result.stdout, result.stdout
    assert BEARER not in result.stdout



def test_no_documented_command_signals_by_pattern():
    """pkill/killall/pgrep -f match every process with that name or command line (other exporters on the host,
    the relay): documented commands signal one process, by its id, systemd's $MAINPID or POST /-/reload."""
    def commands_in(path):  # Markdown: its fenced blocks; deploy files: all of them
        text = path.read_text(errors="replace")
        return "".join(re.findall(r"```\w*\n(.*?)```", text, re.S)) if path.suffix == ".md" else text
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(p for p in (ROOT / "deploy").rglob("*") if p.is_file())]
    found = [f"{path.relative_to(ROOT)}: {line.strip()}" for path in files
             for line in commands_in(path).splitlines() if re.search(r"\b(pkill|killall|pgrep)\b", line)]
    assert not found, found
