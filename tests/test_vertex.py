"""api: vertex end to end: google-auth's real service-account flow (a JWT signed with a key made for
the test, verified by the simulator's token endpoint), ADC, token expiry and refresh, a revoked
account, a region that does not serve the model beside the global endpoint, the free check, config
errors, and no access token anywhere a person or Prometheus could read."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import yaml

from conftest import config_for, exporter_env, running_exporter, running_simulator
from exporter.loading.config import ConfigError, load_text
from exporter.background.liveness import LivenessChecker
from exporter.contract.outcomes import MODEL_MISSING, Outcome
from exporter.probing.probe import Prober
from exporter.common.redact import MASK, Redactor
from exporter.simulator.google_auth import TOKEN_PREFIX
from tests import google_sa


@pytest.fixture
async def prober():
    p = Prober(Redactor())
    yield p
    await p.aclose()


def grants(sim) -> int:
    return sum(1 for r in sim.requests if r.get("path") == "/token")


def vertex_config(base: str, **target) -> object:
    return config_for(base, "vertex", **target)


async def test_service_account_file_signs_in_through_google_auth(simulator, prober):
    sim, base = simulator
    attempt = await prober.probe(vertex_config(base).series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert attempt.image_size == "1024x1024 png"
    assert sim.tokens.issued == 1 and grants(sim) == 1
    seen = [r for r in sim.requests if r.get("api") == "vertex"][-1]
    assert seen["path"] == ("/v1/projects/nb-probe-test/locations/us-central1/publishers/google/models/"
                            "gemini-3-pro-image:generateContent")
    assert seen["authenticated"] and seen["location"] == "us-central1"
    assert seen["body"]["contents"][0]["role"] == "user"
    assert seen["body"]["generationConfig"]["imageConfig"] == {"aspectRatio": "1:1", "imageSize": "1K"}
    # the token is reused while fresh
    assert (await prober.probe(vertex_config(base).series[0])).outcome is Outcome.SUCCESS
    assert sim.tokens.issued == 1


async def test_application_default_credentials(simulator, prober, monkeypatch):
    sim, base = simulator
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", google_sa.key_file(base))
    config = load_text(yaml.safe_dump({"targets": [{
        "name": "adc", "api": "vertex", "base_url": base, "model": "gemini-3-pro-image",
        "project": google_sa.PROJECT, "location": "global"}]}), "<test>")
    assert config.targets[0].google.file is None  # ADC
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert sim.tokens.issued == 1
    assert [r for r in sim.requests if r.get("api") == "vertex"][-1]["location"] == "global"


async def test_an_expired_token_is_refreshed_before_the_probe(simulator, prober):
    sim, base = simulator
    sim.configure({"token_lifetime": 4})  # upstream: 3600 s; refreshed with 1 s left
    config = vertex_config(base)
    assert (await prober.probe(config.series[0])).outcome is Outcome.SUCCESS
    first = next(iter(sim.tokens.tokens))
    deadline = time.monotonic() + 30
    while sim.tokens.account_of(first) is not None:  # until the simulator itself refuses it
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    url = ("/v1/projects/nb-probe-test/locations/us-central1/publishers/google/models/"
           "gemini-3-pro-image:generateContent")
    async with httpx.AsyncClient() as client:
        stale = await client.post(base + url, json={"contents": [{"parts": [{"text": "x"}]}]},
                                  headers={"Authorization": f"Bearer {first}"})
    assert stale.status_code == 401 and stale.json()["error"]["status"] == "UNAUTHENTICATED"
    for _ in range(3):  # each probe after expiry gets a fresh token first; none fails
        attempt = await prober.probe(config.series[0])
        assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert sim.tokens.issued >= 2


async def test_revoked_account_is_auth_error_naming_the_credentials(simulator, prober):
    sim, base = simulator
    sim.configure({"faults": [{"kind": "revoked_account"}]})
    attempt = await prober.probe(vertex_config(base).series[0])
    assert attempt.outcome is Outcome.AUTH_ERROR
    assert attempt.message.startswith("Google credentials failed, not the model")
    assert "invalid_grant" in attempt.message and "service-account" in attempt.message
    assert attempt.duration < 5


async def test_a_revoked_account_also_loses_its_issued_tokens(simulator, prober):
    sim, base = simulator
    config = vertex_config(base)
    assert (await prober.probe(config.series[0])).outcome is Outcome.SUCCESS
    sim.configure({"faults": [{"kind": "revoked_account"}]})
    attempt = await prober.probe(config.series[0])  # the cached token is now refused by Vertex
    assert attempt.outcome is Outcome.AUTH_ERROR
    assert "HTTP 401 UNAUTHENTICATED" in attempt.message


async def test_unknown_account_and_foreign_key_are_refused_by_the_token_endpoint(simulator, prober, tmp_path):
    sim, base = simulator
    sim.configure({"service_accounts": google_sa.public_accounts("someone-else@x.iam.gserviceaccount.com")})
    attempt = await prober.probe(vertex_config(base).series[0])
    assert attempt.outcome is Outcome.AUTH_ERROR and "account not found" in attempt.message
    # the right account, but the key file holds a different key: the signature does not verify
    sim.configure({"service_accounts": {google_sa.EMAIL: _other_public_key()}})
    fresh = Prober(Redactor())
    try:
        attempt = await fresh.probe(vertex_config(base).series[0])
    finally:
        await fresh.aclose()
    assert attempt.outcome is Outcome.AUTH_ERROR and "Invalid JWT Signature" in attempt.message


def _other_public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


async def test_global_and_a_region_side_by_side(simulator, prober):
    sim, base = simulator
    sim.configure({"faults": [{"kind": "model_not_in_region"}]})
    key = google_sa.key_file(base)
    targets = [{"name": name, "api": "vertex", "base_url": base, "model": "gemini-3-pro-image",
                "project": google_sa.PROJECT, "location": location, "credentials_file": key}
               for name, location in (("vertex-global", "global"), ("vertex-europe", "europe-west4"))]
    config = load_text(yaml.safe_dump({"targets": targets}), "<test>")
    glob, region = config.series
    assert (await prober.probe(glob)).outcome is Outcome.SUCCESS
    attempt = await prober.probe(region)
    assert attempt.outcome is Outcome.CLIENT_ERROR
    assert "HTTP 404 NOT_FOUND" in attempt.message and "locations/europe-west4" in attempt.message
    assert sim.tokens.issued == 1  # one credentials file, one token for both targets
    checker = LivenessChecker(Redactor())
    try:
        assert (await checker.check(config.targets[0])).outcome == Outcome.SUCCESS.value
        check = await checker.check(config.targets[1])
    finally:
        await checker.stop()
    assert check.outcome == MODEL_MISSING, check.message


async def test_free_check_is_count_tokens_with_the_token(simulator):
    sim, base = simulator
    checker = LivenessChecker(Redactor())
    try:
        check = await checker.check(vertex_config(base).targets[0])
        assert check.outcome == Outcome.SUCCESS.value, check.message
        sim.configure({"faults": [{"kind": "status", "status": 403, "metadata": True}]})
        denied = await checker.check(vertex_config(base).targets[0])
    finally:
        await checker.stop()
    assert denied.outcome == Outcome.AUTH_ERROR.value and "PERMISSION_DENIED" in denied.message
    paths = [r["path"] for r in sim.requests if r.get("metadata")]
    assert paths and all(p.endswith("/publishers/google/models/gemini-3-pro-image:countTokens") for p in paths)
    assert sim.max_in_flight == 0  # no generation: the check costs nothing


async def test_tokens_are_learned_by_the_redactor(simulator):
    sim, base = simulator
    redactor = Redactor()
    prober = Prober(redactor)
    try:
        assert (await prober.probe(vertex_config(base).series[0])).outcome is Outcome.SUCCESS
    finally:
        await prober.aclose()
    (token,) = sim.tokens.tokens
    assert token.startswith(TOKEN_PREFIX)
    assert redactor(f"echoed {token} back") == f"echoed {MASK} back"
    redactor.update([])  # a reload replaces the config's secrets; learned tokens stay masked
    assert token not in redactor(token)


@pytest.mark.parametrize("target,error", [
    ({"api": "vertex"}, "targets[0].api: api vertex needs a project"),
    ({"api": "vertex", "project": "nb-probe-test", "api_key_env": "K"},
     "targets[0].api_key_env: api vertex takes Google credentials"),
    ({"api": "gemini", "project": "nb-probe-test"}, "targets[0].project: only api: vertex takes project"),
    ({"api": "vertex", "project": "nb-probe-test", "location": "Mars"}, "targets[0].location"),
    ({"api": "vertex", "project": "nb-probe-test", "credentials_file": "{missing}"}, "cannot read"),
    ({"api": "vertex", "project": "nb-probe-test", "credentials_file": "{external}"},
     "has type 'external_account'; it takes service_account or authorized_user"),
    ({"api": "vertex", "project": "nb-probe-test", "credentials_file": "{huge}"}, "is larger than 65536 bytes"),
    ({"api": "vertex", "project": "nb-probe-test", "credentials_file": "{directory}"}, "Is a directory"),
    ({"api": "vertex", "project": "nb-probe-test", "credentials_file": "{binary}"}, "is not JSON"),
])
def test_config_errors(tmp_path, target, error):
    external = tmp_path / "external.json"
    external.write_text(json.dumps({"type": "external_account", "audience": "x"}))
    (tmp_path / "huge.json").write_text(" " * 100_000)
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    files = {"missing": tmp_path / "none.json", "external": external, "huge": tmp_path / "huge.json",
             "directory": tmp_path, "binary": tmp_path / "binary.json"}
    values = {k: str(v).format(**files) for k, v in target.items()}
    text = yaml.safe_dump({"targets": [{"name": "t", "model": "gemini-3-pro-image", **values}]})
    with pytest.raises(ConfigError) as err:
        load_text(text, "<test>", environ={"K": "x" * 20})
    assert error in str(err.value)


def test_default_endpoints_follow_the_location():
    for location, host in (("global", "https://aiplatform.googleapis.com"),
                           ("us-central1", "https://us-central1-aiplatform.googleapis.com")):
        config = load_text(yaml.safe_dump({"targets": [{"name": "t", "api": "vertex", "model": "gemini-3-pro-image",
                                                        "project": "nb-probe-test", "location": location}]}))
        assert config.targets[0].base_url == host


@pytest.mark.slow  # over 10 s on a busy 2-core machine
@pytest.mark.timeout(90)
def test_exporter_process_probes_vertex_and_never_shows_a_token(tmp_path):
    with running_simulator() as (sim, _):
        httpx.put(f"{sim}/_sim/config", json={"service_accounts": google_sa.public_accounts(), "token_lifetime": 4},
                  timeout=5).raise_for_status()
        config = tmp_path / "nanobanana.yml"
        config.write_text(yaml.safe_dump({
            "defaults": {"interval": "300ms", "liveness": {"interval": "300ms"}},
            "targets": [{"name": "vertex-global", "api": "vertex", "base_url": sim, "model": "gemini-3-pro-image",
                         "project": google_sa.PROJECT, "location": "global",
                         "credentials_file": google_sa.key_file(sim, tmp_path)}]}))
        with running_exporter("--config.file", str(config), "--log.level", "debug", env=exporter_env()) as (base, proc):
            deadline = time.monotonic() + 60
            while True:
                metrics = httpx.get(f"{base}/metrics", timeout=5).text
                issued = sum(1 for r in httpx.get(f"{sim}/_sim/requests", timeout=5).json() if r.get("path") == "/token")
                if _count(metrics, "success") >= 4 and issued >= 2:
                    break
                assert time.monotonic() < deadline, (issued, _count(metrics, "success"), proc.output()[-2000:])
                time.sleep(0.3)
            assert _count(metrics, "auth_error") == 0  # tokens expired and were refreshed: no probe failed
            page = httpx.get(base, timeout=5).text
        assert TOKEN_PREFIX not in metrics + page + proc.logs


def _count(metrics: str, outcome: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("nanobanana_probes_total{") and f'outcome="{outcome}"' in line
               and 'api="vertex"' in line)


def test_config_check_knows_vertex(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    key = google_sa.key_file("http://127.0.0.1:9", tmp_path)
    config = tmp_path / "nanobanana.yml"
    config.write_text(yaml.safe_dump({"targets": [
        {"name": "vertex-global", "api": "vertex", "model": "gemini-3-pro-image", "project": google_sa.PROJECT,
         "credentials_file": key},
        {"name": "vertex-us", "api": "vertex", "model": "gemini-3-pro-image", "project": google_sa.PROJECT,
         "location": "us-central1"}]}))
    env = {**exporter_env(), "GOOGLE_APPLICATION_CREDENTIALS": key}
    result = subprocess.run([sys.executable, "-m", "exporter", "--config.check", "--config.file", str(config)],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "vertex-global  vertex  gemini-3-pro-image  1K" in out  # the plan
    assert "2880 free liveness checks/day" in out  # countTokens, every 60 s for each of the two targets
    assert (f"credentials: vertex-global: Vertex AI project nb-probe-test, location global "
            f"(https://aiplatform.googleapis.com), service_account {google_sa.EMAIL} from {key}") in out
    assert (f"credentials: vertex-us: Vertex AI project nb-probe-test, location us-central1 "
            f"(https://us-central1-aiplatform.googleapis.com), Application Default Credentials: "
            f"GOOGLE_APPLICATION_CREDENTIALS={key}") in out
    assert "PRIVATE KEY" not in out


@pytest.mark.slow  # over 10 s on a busy 2-core machine
@pytest.mark.timeout(90)
def test_adc_on_the_metadata_server_as_on_gke_or_cloud_run(tmp_path):
    """No key file anywhere: ADC falls back to the metadata server (the simulator plays it), as on
    GKE with workload identity, Cloud Run or GCE; its tokens expire and are fetched again."""
    with running_simulator() as (sim, _):
        httpx.put(f"{sim}/_sim/config", json={"token_lifetime": 4}, timeout=5).raise_for_status()
        config = tmp_path / "nanobanana.yml"
        config.write_text(yaml.safe_dump({
            "defaults": {"interval": "300ms", "liveness": {"enabled": False}},
            "targets": [{"name": "vertex-adc", "api": "vertex", "base_url": sim, "model": "gemini-3-pro-image",
                         "project": google_sa.PROJECT}]}))
        host = sim.removeprefix("http://")
        env = {k: v for k, v in exporter_env().items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
        env.update(GCE_METADATA_HOST=host, GCE_METADATA_IP=host, CLOUDSDK_CONFIG=str(tmp_path / "no-gcloud"))
        with running_exporter("--config.file", str(config), env=env) as (base, proc):
            deadline = time.monotonic() + 60
            while True:
                metrics = httpx.get(f"{base}/metrics", timeout=5).text
                seen = httpx.get(f"{sim}/_sim/requests", timeout=5).json()
                tokens = [r for r in seen if r["path"].endswith("/token")]
                if _count(metrics, "success") >= 3 and len(tokens) >= 2:
                    break
                assert time.monotonic() < deadline, (tokens, _count(metrics, "success"), proc.output()[-2000:])
                time.sleep(0.3)
        assert all(r["path"].startswith("/computeMetadata/v1/instance/service-accounts/") for r in tokens)
        assert _count(metrics, "auth_error") == 0
    assert TOKEN_PREFIX not in metrics + proc.logs


async def test_a_replaced_key_file_is_used_after_a_reload(simulator, prober, tmp_path):
    sim, base = simulator
    other = "replacement@nb-probe-test.iam.gserviceaccount.com"
    sim.configure({"service_accounts": {**google_sa.public_accounts(), **google_sa.public_accounts(other)}})
    text = yaml.safe_dump({"targets": [{"name": "v", "api": "vertex", "base_url": base, "model": "gemini-3-pro-image",
                                        "project": google_sa.PROJECT, "credentials_file": str(tmp_path / "sa.json")}]})
    google_sa.key_file(base, tmp_path)  # writes service-account-<n>.json: give it the configured name
    written = sorted(tmp_path.glob("service-account-*.json"))[-1]
    written.rename(tmp_path / "sa.json")
    assert (await prober.probe(load_text(text).series[0])).outcome is Outcome.SUCCESS
    same = load_text(text)  # a reload with the file unchanged keeps the token
    assert (await prober.probe(same.series[0])).outcome is Outcome.SUCCESS
    assert sim.tokens.issued == 1
    google_sa.key_file(base, tmp_path, email=other)
    sorted(tmp_path.glob("service-account-*.json"))[-1].rename(tmp_path / "sa.json")
    assert (await prober.probe(load_text(text).series[0])).outcome is Outcome.SUCCESS
    assert sim.tokens.issued == 2
    assert list(sim.tokens.tokens.values())[-1][0] == other


async def test_series_probing_at_once_share_one_refresh(simulator, prober):
    sim, base = simulator
    config = vertex_config(base, resolutions=["1K", "2K"], thinking_levels=["default", "high"])
    attempts = await asyncio.gather(*(prober.probe(series) for series in config.series))
    assert [a.outcome for a in attempts] == [Outcome.SUCCESS] * 4, [a.message for a in attempts]
    assert sim.tokens.issued == 1 and grants(sim) == 1


async def test_the_quota_project_of_the_credentials_is_sent(simulator, prober, monkeypatch):
    """google-auth gives ADC the quota project of GOOGLE_CLOUD_QUOTA_PROJECT (gcloud's user credentials
    carry one in their file): it goes out as x-goog-user-project, as google-auth's own apply() sends it."""
    sim, base = simulator
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", google_sa.key_file(base))
    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "billing-project")
    config = load_text(yaml.safe_dump({"targets": [{
        "name": "adc", "api": "vertex", "base_url": base, "model": "gemini-3-pro-image", "project": google_sa.PROJECT}]}))
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert [r for r in sim.requests if r.get("api") == "vertex"][-1]["quota_project"] == "billing-project"
    monkeypatch.delenv("GOOGLE_CLOUD_QUOTA_PROJECT")
    plain = Prober(Redactor())
    try:
        assert (await plain.probe(vertex_config(base).series[0])).outcome is Outcome.SUCCESS
    finally:
        await plain.aclose()
    assert [r for r in sim.requests if r.get("api") == "vertex"][-1]["quota_project"] is None
