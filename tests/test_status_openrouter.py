"""OpenRouter endpoint statistics, against realistic /endpoints payloads on loopback."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client import generate_latest

from exporter.loading.config import ConfigError
from exporter.common.redact import Redactor
from exporter.status.base import LATENCY_QUANTILES, UPTIME_WINDOWS
from status_server import Harness, StatusServer, fixture, fixture_json, status_config
from tests.captured import CAPTURED

SOURCE = "openrouter"
MODEL = "google/gemini-3-pro-image"
FLASH = "google/gemini-3.1-flash-image"
KEY = "sk-or-v1-FAKE-status-key-0123456789abcdef"
CAPTURED.secret(KEY)
UPTIME = "nanobanana_openrouter_endpoint_uptime_ratio"
LATENCY = "nanobanana_openrouter_endpoint_latency_seconds"
STATUS = "nanobanana_openrouter_endpoint_status"


def openrouter_only(server: StatusServer, extra: str = "", environ: dict[str, str] | None = None,
                    models: tuple[str, ...] = (MODEL,)) -> Harness:
    config = status_config(f"""
google_cloud: {{enabled: false}}
openrouter:
  base_url: {server.base_url}/api/v1
  models: [{", ".join(models)}]
{extra}
""", environ)
    return Harness(config, Redactor(config.secrets))


@pytest.fixture
async def harness(server):
    h = openrouter_only(server)
    yield h
    await h.close()


async def test_uptime_and_status_per_provider_endpoint(server, harness):
    server.endpoints[MODEL] = fixture("openrouter_endpoints.json")
    await harness.poll(SOURCE)

    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 1
    endpoints = fixture_json("openrouter_endpoints.json")["data"]["endpoints"]
    for endpoint in endpoints:
        provider = endpoint["provider_name"]
        for window in UPTIME_WINDOWS:
            ratio = harness.value(UPTIME, model=MODEL, provider=provider, window=window)
            assert ratio == pytest.approx(endpoint[f"uptime_last_{window}"] / 100)
            assert 0 <= ratio <= 1
        assert harness.value(STATUS, model=MODEL, provider=provider) == endpoint["status"]
    assert {s["provider"] for s in harness.samples(STATUS)} == {e["provider_name"] for e in endpoints}
    assert harness.samples(LATENCY) == []  # null without an API key: absent, not zero
    assert "Authorization" not in server.requests_to(f"/api/v1/models/{MODEL}/endpoints")[0].headers


async def test_with_an_api_key_latency_is_exported_in_seconds(server):
    server.endpoints[MODEL] = fixture("openrouter_endpoints_keyed.json")
    h = openrouter_only(server, "  api_key_env: OPENROUTER_KEY", {"OPENROUTER_KEY": KEY})
    try:
        await h.poll(SOURCE)
    finally:
        await h.close()
    [request] = server.requests_to(f"/api/v1/models/{MODEL}/endpoints")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    for endpoint in fixture_json("openrouter_endpoints_keyed.json")["data"]["endpoints"]:
        for key, quantile in LATENCY_QUANTILES.items():
            milliseconds = endpoint["latency_last_30m"][key]
            value = h.value(LATENCY, model=MODEL, provider=endpoint["provider_name"], quantile=quantile)
            assert value == (None if milliseconds is None else pytest.approx(milliseconds / 1000))
    assert KEY not in generate_latest(h.registry).decode()


async def test_a_removed_endpoint_disappears(server, harness):
    payload = fixture_json("openrouter_endpoints.json")
    server.endpoints[MODEL] = json.dumps(payload).encode()
    await harness.poll(SOURCE)
    removed = payload["data"]["endpoints"].pop()["provider_name"]
    assert harness.value(STATUS, model=MODEL, provider=removed) is not None

    server.endpoints[MODEL] = json.dumps(payload).encode()
    await harness.poll(SOURCE)
    assert harness.value(STATUS, model=MODEL, provider=removed) is None
    assert all(s["provider"] != removed for s in harness.samples(UPTIME))
    assert len(harness.samples(STATUS)) == len(payload["data"]["endpoints"])


async def test_every_configured_model_is_polled(server):
    server.endpoints[MODEL] = fixture("openrouter_endpoints.json")
    flash = fixture_json("openrouter_endpoints.json")
    flash["data"]["id"] = FLASH
    flash["data"]["endpoints"] = flash["data"]["endpoints"][:1]
    server.endpoints[FLASH] = json.dumps(flash).encode()
    h = openrouter_only(server, models=(MODEL, FLASH))
    try:
        await h.poll(SOURCE)
        assert {(s["model"], s["provider"]) for s in h.samples(STATUS)} == {
            (MODEL, "Google Vertex"), (MODEL, "Google AI Studio"), (FLASH, "Google Vertex")}
    finally:
        await h.close()


@pytest.mark.parametrize("failure", ["http-401", "unknown-model", "not-json", "no-endpoints-list"])
async def test_a_failed_fetch_keeps_the_last_values_and_never_leaks_the_key(server, failure, caplog):
    caplog.set_level(logging.INFO)
    server.endpoints[MODEL] = fixture("openrouter_endpoints_keyed.json")
    h = openrouter_only(server, "  api_key_env: OPENROUTER_KEY", {"OPENROUTER_KEY": KEY})
    try:
        await h.poll(SOURCE)
        before = {tuple(sorted(s.items())) for s in h.samples(UPTIME)}
        last = h.value("nanobanana_status_source_last_success_timestamp_seconds", source=SOURCE)

        if failure == "http-401":
            server.endpoints_status = 401
        elif failure == "unknown-model":
            del server.endpoints[MODEL]
        elif failure == "not-json":
            server.endpoints[MODEL] = b"<html>Bad gateway</html>"
        else:
            server.endpoints[MODEL] = b'{"data": {"id": "x"}}'
        await h.poll(SOURCE)

        assert h.value("nanobanana_status_source_up", source=SOURCE) == 0
        assert h.value("nanobanana_status_source_last_success_timestamp_seconds", source=SOURCE) == last
        assert {tuple(sorted(s.items())) for s in h.samples(UPTIME)} == before
        error = h.poller.get(SOURCE).error
        assert MODEL in error  # says which model failed
        assert KEY not in error and KEY not in caplog.text and KEY not in generate_latest(h.registry).decode()
    finally:
        await h.close()


def test_the_key_joins_the_secrets_and_a_missing_one_is_a_config_error(tmp_path):
    key_file = tmp_path / "openrouter.key"
    key_file.write_text(KEY + "\n")
    config = status_config(f"openrouter: {{api_key_file: {key_file}}}")
    assert KEY in config.secrets
    assert KEY not in repr(config)
    with pytest.raises(ConfigError) as err:
        status_config("openrouter: {api_key_env: OPENROUTER_KEY}", {})
    assert str(err.value) == "<test>: status_sources.openrouter.api_key_env: environment variable OPENROUTER_KEY is not set"
