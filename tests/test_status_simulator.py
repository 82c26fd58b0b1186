"""The simulator's status feed and endpoint stats, and the demo wired to them."""

from __future__ import annotations

import time

import httpx
import pytest
import yaml

from conftest import running_exporter
from exporter.demo import demo_text, start_demo
from exporter.simulator import Simulator, start
from status_server import Harness, status_config

MODEL = "google/gemini-3-pro-image"


def demo_outage() -> tuple[float, float]:
    """The demo's scheduled outage window, in seconds of simulator clock."""
    from exporter.common.durations import parse_duration

    faults = yaml.safe_load(demo_text())["simulator"]["faults"]
    [outage] = [f for f in faults if f["kind"] == "status" and "start" in f]
    return parse_duration(outage["start"]), parse_duration(outage["end"])


@pytest.fixture
async def demo_simulator():
    sim = Simulator()
    sim.configure(yaml.safe_load(demo_text())["simulator"])
    runner, base_url = await start(sim)
    yield sim, base_url
    await runner.cleanup()


def at(sim: Simulator, seconds: float) -> None:
    """Move the simulator clock to `seconds` after its start."""
    sim.clock_zero = time.monotonic() - seconds


async def test_the_demo_outage_shows_as_an_official_incident_and_then_ends(demo_simulator):
    sim, base_url = demo_simulator
    start_s, end_s = demo_outage()
    h = Harness(status_config(f"""
google_cloud: {{url: "{base_url}/incidents.json"}}
openrouter: {{base_url: "{base_url}/api/v1", models: [{MODEL}]}}
"""))

    async def state_at(seconds: float) -> tuple[float, float, set[str]]:
        at(sim, seconds)
        await h.poll("google_cloud")
        await h.poll("openrouter")
        assert h.value("nanobanana_status_source_up", source="google_cloud") == 1
        assert h.value("nanobanana_status_source_up", source="openrouter") == 1
        outage = h.value("nanobanana_upstream_incidents_active", source="google_cloud", product="Gemini", impact="outage")
        uptime = min(h.value("nanobanana_openrouter_endpoint_uptime_ratio", model=MODEL, provider=s["provider"], window="5m")
                     for s in h.samples("nanobanana_openrouter_endpoint_status"))
        return outage, uptime, {s["id"] for s in h.samples("nanobanana_upstream_incident_info")}

    try:
        before = await state_at(start_s - 30)
        during = await state_at((start_s + end_s) / 2)
        after = await state_at(end_s + 30)
    finally:
        await h.close()
    assert before[0] == 0 and before[2] == set() and before[1] == 1
    assert during[0] == 1 and len(during[2]) == 1 and during[1] < 0.5
    assert after[0] == 0 and after[2] == set() and after[1] == 1


async def test_the_simulator_feed_answers_conditional_requests(demo_simulator):
    sim, base_url = demo_simulator
    start_s, end_s = demo_outage()
    url = f"{base_url}/incidents.json"
    async with httpx.AsyncClient() as client:
        first = await client.get(url)
        assert first.status_code == 200 and isinstance(first.json(), list)
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304
        assert (await client.get(url, headers={"If-Modified-Since": modified})).status_code == 304
        at(sim, start_s + 1)  # the outage begins: a new version of the feed
        changed = await client.get(url, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
        assert (await client.get(url, headers={"If-Modified-Since": modified})).status_code == 200
        unknown = await client.get(f"{base_url}/api/v1/models/nobody/nothing/endpoints")
        assert unknown.status_code == 404


async def test_the_demo_config_points_the_sources_at_the_simulator():
    runner, config = await start_demo()
    try:
        kinds = {s.kind for s in config.status_sources}
        assert kinds == {"google_cloud", "openrouter"}
        h = Harness(config)
        try:
            for kind in kinds:
                await h.poll(kind)
                assert h.value("nanobanana_status_source_up", source=kind) == 1, h.poller.get(kind).error
        finally:
            await h.close()
    finally:
        await runner.cleanup()


def test_the_demo_exporter_exports_status_metrics():
    with running_exporter("--demo") as (base, _proc):
        deadline = time.monotonic() + 15
        while True:
            text = httpx.get(f"{base}/metrics", timeout=5).text
            if 'nanobanana_status_source_up{source="google_cloud"} 1.0' in text and \
                    'nanobanana_status_source_up{source="openrouter"} 1.0' in text:
                break
            assert time.monotonic() < deadline, "status sources never came up in the demo"
            time.sleep(0.2)
        assert 'nanobanana_upstream_incidents_active{impact="outage",product="Gemini",source="google_cloud"} 0.0' in text
        assert "nanobanana_openrouter_endpoint_uptime_ratio{" in text
