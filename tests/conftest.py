"""Shared test fixtures: the simulator on loopback, configs, and the exporter as a real process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from exporter.config import load_text
from exporter.simulator import Simulator, start

ROOT = Path(__file__).resolve().parent.parent
# Recognisable fake secrets: every test that can leak one checks the output for these.
FAKE_KEY = "AIzaFAKE-test-key-0123456789abcdefXYZ"
FAKE_BEARER = "sk-FAKE-bearer-secret-0123456789"


@pytest.fixture
async def simulator():
    """(Simulator, base_url) on 127.0.0.1, fast enough for tests."""
    sim = Simulator(speed=0.001)
    runner, base_url = await start(sim)
    yield sim, base_url
    await runner.cleanup()


def config_for(base_url: str, api: str = "gemini", **target) -> object:
    """A one-target config against the simulator, as a loaded Config."""
    base = {"gemini": base_url, "openrouter": f"{base_url}/api/v1"}.get(api, f"{base_url}/v1")
    fields = {"name": "t", "api": api, "base_url": base, "model": "gemini-3-pro-image", **target}
    return load_text(yaml.safe_dump({"targets": [fields]}), "<test>", environ={"TEST_KEY": FAKE_KEY})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exporter_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    env.pop("PYTHONWARNINGS", None)
    return env


@contextlib.contextmanager
def running_process(args: list[str], ready_path: str = "/-/ready", env: dict[str, str] | None = None,
                    ready_timeout: float = 20.0, scheme: str = "http", **client):
    """Start `python -m exporter ARGS --web.listen-address 127.0.0.1:PORT`; yields (base_url, process)
    once ready_path answers 200. The process's output is in process.logs after exit.
    scheme="https" and httpx options (verify=, cert=, auth=) fit a process behind --web.config.file."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", *args, "--web.listen-address", f"127.0.0.1:{port}"],
        env=env or exporter_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"process exited with {proc.returncode}: {proc.stdout.read()}")
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
        proc.logs = proc.stdout.read()


def running_exporter(*args: str, env: dict[str, str] | None = None, ready_timeout: float = 20.0, **client):
    """The exporter as a real process (see running_process)."""
    return running_process(list(args), env=env, ready_timeout=ready_timeout, **client)


def running_simulator(config_file: str | None = None, speed: float = 0.001):
    """The simulator as a real process; PUT /_sim/config changes its faults while it runs."""
    args = ["simulator", "--speed", str(speed)] + (["--simulator.config", config_file] if config_file else [])
    return running_process(args, ready_path="/_sim/config")
