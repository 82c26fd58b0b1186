"""Shared test fixtures: the simulator on loopback, configs, and the exporter as a real process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from exporter.loading.config import load_text
from exporter.simulator import Simulator, start
from exporter.simulator.server import BASE_PATHS
from tests import google_sa
from tests.captured import CAPTURED, install_httpx_hook

# no test reaches the internet: --config.check compares the catalog only where a test asks (exporter/background/drift.py)
os.environ.setdefault("NANOBANANA_CATALOG_CHECK", "off")

ROOT = Path(__file__).resolve().parent.parent
# Recognisable fake secrets: every test that can leak one checks the output for these.
FAKE_KEY = "FAKE-gemini-test-key-0123456789abcdefXYZ"
FAKE_BEARER = "sk-FAKE-bearer-secret-0123456789"
CAPTURED.secret(FAKE_KEY, FAKE_BEARER)


def pytest_configure(config):
    install_httpx_hook()  # every /metrics, landing page and relay answer a test reads is kept for the check


def pytest_collection_modifyitems(session, config, items):
    """The secrets check (tests/test_zz_secrets.py) scans what every other test captured: it runs last.
    Real-stack tests are slow tests too (`-m "not slow"` leaves them out)."""
    for item in items:
        if item.get_closest_marker("realstack"):
            item.add_marker(pytest.mark.slow)
    last = [item for item in items if item.module.__name__.endswith("test_zz_secrets")]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture
async def simulator():
    """(Simulator, base_url) on 127.0.0.1, fast enough for tests."""
    sim = Simulator(speed=0.001)
    sim.configure({"service_accounts": google_sa.public_accounts()})  # api: vertex targets sign in as it
    runner, base_url = await start(sim)
    yield sim, base_url
    await runner.cleanup()


@pytest.fixture
async def prober():
    """A Prober without a redactor (tests that check redaction build their own)."""
    from exporter.probing.probe import Prober

    p = Prober()
    yield p
    await p.aclose()


def config_for(base_url: str, api: str = "gemini", **target) -> object:
    """A one-target config against the simulator, as a loaded Config."""
    base = base_url + BASE_PATHS[api]
    fields = {"name": "t", "api": api, "base_url": base, "model": "gemini-3-pro-image", **target}
    if api == "vertex":  # a regional endpoint, signed in with the test service account
        fields = {"project": google_sa.PROJECT, "location": "us-central1",
                  "credentials_file": google_sa.key_file(base_url), **fields}
    return load_text(yaml.safe_dump({"targets": [fields]}), "<test>", environ={"TEST_KEY": FAKE_KEY})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exporter_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    env.pop("PYTHONWARNINGS", None)
    return env


class _Output:
    """Reads a process's output as it comes, so a chatty process never blocks on a full pipe
    (a blocked stderr write stalls its event loop, and every scrape with it)."""

    def __init__(self, proc: subprocess.Popen, name: str):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc.stdout,), name=f"output of {name}", daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


@contextlib.contextmanager
def running_process(args: list[str], ready_path: str = "/-/ready", env: dict[str, str] | None = None,
                    ready_timeout: float = 20.0, scheme: str = "http", **client):
    """Start `python -m exporter ARGS --web.listen-address 127.0.0.1:PORT`; yields (base_url, process)
    once ready_path answers 200. The output so far is process.output(), all of it process.logs after
    exit (and the secrets check reads it). scheme="https" and httpx options (verify=, cert=, auth=) fit
    a process behind --web.config.file."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", *args, "--web.listen-address", f"127.0.0.1:{port}"],
        env=env or exporter_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )
    output = _Output(proc, args[0])
    proc.output = output.text
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                output.thread.join(5)
                raise AssertionError(f"process exited with {proc.returncode}: {output.text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + ready_path, timeout=1, **client).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"{args} did not become ready")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        output.thread.join(5)
        proc.logs = output.text()
        CAPTURED.add("log", proc.logs)


def running_exporter(*args: str, env: dict[str, str] | None = None, ready_timeout: float = 20.0, **client):
    """The exporter as a real process (see running_process)."""
    return running_process(list(args), env=env, ready_timeout=ready_timeout, **client)


def running_simulator(config_file: str | None = None, speed: float = 0.001):
    """The simulator as a real process; PUT /_sim/config changes its faults while it runs."""
    args = ["simulator", "--speed", str(speed)] + (["--simulator.config", config_file] if config_file else [])
    return running_process(args, ready_path="/_sim/config")


@pytest.fixture
async def server():
    """A loopback server of status feeds (tests/status_server.py) for the status-source tests."""
    from status_server import StatusServer, start_server

    status = StatusServer()
    runner = await start_server(status)
    yield status
    await runner.cleanup()
