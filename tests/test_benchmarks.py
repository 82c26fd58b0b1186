"""The benchmark (benchmarks/run.py, not a unit test) keeps working: its smoke mode runs every part
briefly. The simulator's realistic payload is what its memory figures rest on."""

import subprocess
import sys

import pytest

from conftest import ROOT, config_for, exporter_env
from exporter.contract.outcomes import Outcome
from exporter.probing.probe import Prober


@pytest.mark.slow  # a benchmark
def test_benchmark_smoke_runs():
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--smoke"], cwd=ROOT, env=exporter_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "### 1. Timing truth" in done.stdout and "| nanobanana-exporter |" in done.stdout
    assert "### 3. Memory" in done.stdout


@pytest.mark.slow  # a benchmark
def test_sdk_benchmark_smoke_runs():
    done = subprocess.run([sys.executable, "benchmarks/sdk.py", "--smoke"], cwd=ROOT, env=exporter_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| sdk |" in done.stdout and "| httpx |" in done.stdout
    assert "import openai + one AsyncOpenAI:" in done.stdout and "peak Python memory" in done.stdout


async def test_noise_payload_is_a_realistic_size(simulator):
    sim, base_url = simulator
    sim.configure({"payload": "noise"})
    prober = Prober()
    try:
        attempt = await prober.probe(config_for(base_url).series[0])
    finally:
        await prober.aclose()
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert attempt.image_bytes > 800_000  # a 1K image of noise; solid colour is a few KB
