"""A bounded, accelerated soak: a real exporter runs thousands of probes against a real simulator
whose faults change at random every few seconds, through several config reloads that add and remove
targets. Open file descriptors, asyncio tasks (nanobanana_exporter_asyncio_tasks) and RSS, measured
with the same config and no faults after a warm-up and at the end, must be back within a small margin."""

from __future__ import annotations

import random
import re
import time

import httpx
import psutil
import pytest

from conftest import FAKE_KEY, exporter_env, running_exporter, running_simulator
from exporter.probing.dialects import DIALECTS
from exporter.simulator.server import BASE_PATHS
from tests import google_sa
from tests.helpers import FAULTS

pytestmark = pytest.mark.slow  # soak: minutes of faults and reloads

TARGETS = 4  # x 2 resolutions x 2 thinking levels (1 where the API has no thinking field): 14 series
TIMEOUT = 1.0
WARM_UP = 8.0  # seconds, one reload included
# The soak ends by count, not by time: a slower machine takes longer to reach the same work.
RELOADS = 6  # config reloads during the soak (one every other fault round)
PROBES = 2000  # probes finished after the baseline
DEADLINE = 240.0  # seconds: generous, only to stop a soak that makes no progress
SCRAPES_PER_ROUND = 5
FDS_MARGIN = 4
TASKS_MARGIN = 4
RSS_MARGIN = 0.10  # relative, plus RSS_SLACK: allocator arenas grow in steps
RSS_SLACK = 8 << 20


def config(sim: str, names: list[str], rng: random.Random | None) -> str:
    """The soak's config; without rng the quiet one the measurements are taken at (the same series,
    probed hourly, no liveness checks: nothing in flight, so the readings do not depend on timing)."""
    apis = sorted(DIALECTS)
    liveness = "{interval: 500ms, timeout: 1s}" if rng else "{enabled: false}"
    lines = [f"defaults: {{timeout: {TIMEOUT:g}s, resolutions: [1K, 2K], thinking_levels: [default, low],"
             f" liveness: {liveness}}}", "targets:"]
    for name in names:
        api = apis[int(name.rsplit("-", 1)[1]) % len(apis)]
        interval = f"{rng.randint(60, 120)}ms" if rng else "1h"
        auth = (f"project: {google_sa.PROJECT}, location: us-central1, credentials_file: {google_sa.key_file(sim)}"
                if api == "vertex" else "api_key_env: TEST_KEY")
        # an API without a documented thinking field measures the default level only (config refuses others)
        levels = "" if DIALECTS[api].thinking_field else ", thinking_levels: [default]"
        lines.append(f'  - {{name: {name}, api: {api}, base_url: "{sim}{BASE_PATHS[api]}", model: gemini-3-pro-image,'
                     f" {auth}, interval: {interval}{levels}}}")
    return "\n".join(lines) + "\n"


def random_faults(rng: random.Random) -> list[dict]:
    faults = []
    for fault, _ in rng.sample(FAULTS, 3):
        fault = {**fault, "rate": round(rng.uniform(0.1, 0.4), 2)}
        if fault["kind"] == "slow_drip":
            fault["seconds"] = 3
        faults.append(fault)
    return faults


def measure(base: str, pid: int) -> dict[str, float]:
    """The lowest of several readings (probes in flight come and go), each figure on its own."""
    process = psutil.Process(pid)
    readings = []
    for _ in range(8):
        text = httpx.get(f"{base}/metrics", timeout=5).text
        tasks = float(re.search(r"^nanobanana_exporter_asyncio_tasks (\S+)$", text, re.M).group(1))
        readings.append({"fds": process.num_fds(), "tasks": tasks, "rss": process.memory_info().rss})
        time.sleep(0.1)
    return {key: min(r[key] for r in readings) for key in readings[0]}


def settle(sim: str, config_file, text: str, base: str) -> None:
    """Back to the reference config without faults, and wait out the probes still in flight."""
    httpx.put(f"{sim}/_sim/config", json={"faults": []}, timeout=5).raise_for_status()
    config_file.write_text(text)
    response = httpx.post(f"{base}/-/reload", timeout=10)
    assert response.status_code == 200, response.text
    time.sleep(TIMEOUT + 1.0)


@pytest.mark.timeout(DEADLINE + 120)
def test_soak_returns_to_its_baseline(tmp_path):
    rng = random.Random(8)
    names = [f"t-{i}" for i in range(TARGETS)]
    reference = None
    with running_simulator(speed=0.0005) as (sim, _):
        httpx.put(f"{sim}/_sim/config", json={"service_accounts": google_sa.public_accounts()}, timeout=5).raise_for_status()
        config_file = tmp_path / "nanobanana.yml"
        reference = config(sim, names, None)  # measured at: the same series, quiet
        config_file.write_text(config(sim, names, rng))
        env = exporter_env(TEST_KEY=FAKE_KEY)
        with running_exporter("--config.file", str(config_file), env=env) as (base, proc):
            started = time.monotonic()
            next_extra, reloads, fault_sets = TARGETS, 0, 0
            # warm-up: faults and a reload, so every code path has run once before the baseline
            httpx.put(f"{sim}/_sim/config", json={"faults": random_faults(rng)}, timeout=5).raise_for_status()
            time.sleep(WARM_UP / 2)
            config_file.write_text(config(sim, names[1:] + ["t-99"], rng))
            assert httpx.post(f"{base}/-/reload", timeout=10).status_code == 200
            time.sleep(WARM_UP / 2)
            settle(sim, config_file, reference, base)
            baseline = measure(base, proc.pid)
            probes_at_baseline = proc.output().count('msg="probe finished"')

            deadline = time.monotonic() + DEADLINE
            current = list(names)
            soaked = 0
            while reloads < RELOADS or soaked < PROBES:
                assert time.monotonic() < deadline, f"no progress: {reloads} reloads, {soaked} probes"
                httpx.put(f"{sim}/_sim/config", json={"faults": random_faults(rng)}, timeout=5).raise_for_status()
                fault_sets += 1
                if fault_sets % 2 == 0:  # a reload every other round: one target leaves, one comes
                    current.remove(rng.choice(current))
                    current.append(f"t-{next_extra}")
                    next_extra += 1
                    config_file.write_text(config(sim, current, rng))
                    response = httpx.post(f"{base}/-/reload", timeout=10)
                    assert response.status_code == 200, response.text
                    reloads += 1
                for _ in range(SCRAPES_PER_ROUND):  # scrape meanwhile, as Prometheus would
                    assert httpx.get(f"{base}/metrics", timeout=5).status_code == 200
                    time.sleep(0.1)
                soaked = proc.output().count('msg="probe finished"') - probes_at_baseline
            settle(sim, config_file, reference, base)
            end = measure(base, proc.pid)
            probes = proc.output().count('msg="probe finished"')
            elapsed = time.monotonic() - started
    soaked = probes - probes_at_baseline
    print(f"\nsoak: {probes} probes ({soaked} after the baseline) in {elapsed:.0f} s, {reloads + 2} reloads, "
          f"{fault_sets} random fault sets\n"
          f"  open fds {baseline['fds']:.0f} -> {end['fds']:.0f}, asyncio tasks {baseline['tasks']:.0f} -> "
          f"{end['tasks']:.0f}, RSS {baseline['rss'] / 2**20:.1f} -> {end['rss'] / 2**20:.1f} MiB")
    assert soaked >= PROBES, soaked
    assert reloads >= RELOADS
    assert end["fds"] <= baseline["fds"] + FDS_MARGIN, (baseline, end)
    assert end["tasks"] <= baseline["tasks"] + TASKS_MARGIN, (baseline, end)
    assert end["rss"] <= baseline["rss"] * (1 + RSS_MARGIN) + RSS_SLACK, (baseline, end)
