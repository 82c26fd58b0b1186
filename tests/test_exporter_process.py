"""The exporter as users run it: a real process, scraped over HTTP."""

import re
import signal
import subprocess
import time

import httpx
import pytest

from conftest import FAKE_BEARER, FAKE_KEY, exporter_env, running_exporter, running_simulator
from exporter.exposition.metrics import FAMILIES
from exporter.contract.outcomes import OUTCOMES
from tests.helpers import DEADLINE, wait


def scrape(base: str) -> str:
    response = httpx.get(f"{base}/metrics", timeout=5)
    assert response.status_code == 200
    return response.text


def families_with_samples(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def sample_names(family: str, kind: str) -> set[str]:
    if kind == "histogram":
        return {f"{family}_bucket", f"{family}_sum", f"{family}_count"}
    return {f"{family}_total"} if kind == "counter" else {family}


def test_demo_end_to_end_every_family_and_promtool_clean(tmp_path):
    with running_exporter("--demo") as (base, proc):
        expected = set().union(*(sample_names(f.name, f.type) for f in FAMILIES.values()))
        expected.add("nanobanana_exporter_build_info")
        deadline = time.monotonic() + 40
        while True:
            text = scrape(base)
            missing = expected - families_with_samples(text)
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert not missing, f"families without samples after 40 s: {sorted(missing)}"
        # every outcome is pre-created at 0 for every series
        for outcome in OUTCOMES:
            assert f'outcome="{outcome.value}"' in text
        assert 'nanobanana_probes_total{api="gemini",model="gemini-3-pro-image",outcome="success"' in text
        (tmp_path / "scrape.txt").write_text(text)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0 and check.stdout.strip() == "" and check.stderr.strip() == "", check.stdout + check.stderr
        page = httpx.get(base + "/", timeout=5).text
        assert "gateway-images" in page and "Recent attempts" in page
        assert "Free liveness checks" in page and "Budget today" in page and "target:openrouter" in page
        assert httpx.get(base + "/-/healthy").status_code == 200


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_openmetrics_negotiation():
    with running_exporter("--demo") as (base, _):
        response = httpx.get(f"{base}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert response.headers["content-type"].startswith("application/openmetrics-text")
        assert response.text.rstrip().endswith("# EOF")


@pytest.fixture
def echoing_simulator(tmp_path):
    """A simulator that rejects our keys and echoes them back in its error messages."""
    config = tmp_path / "sim.yml"
    config.write_text("keys: [only-this-key-works]\n")
    with running_simulator(str(config)) as (base, proc):
        yield base


AUTH_ERROR_COUNTED = r'nanobanana_probes_total\{[^}]*outcome="auth_error"[^}]*target="gateway"[^}]*\} [1-9]'


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_secrets_never_reach_metrics_page_or_logs(tmp_path, echoing_simulator):
    base_sim = echoing_simulator
    key_file = tmp_path / "gateway.key"
    key_file.write_text(FAKE_BEARER + "\n")
    config = tmp_path / "nanobanana.yml"
    config.write_text(f"""
defaults: {{interval: 200ms}}
targets:
  - {{name: google, api: gemini, base_url: "{base_sim}", model: gemini-3-pro-image, api_key_env: GEMINI_API_KEY}}
  - {{name: gateway, api: openai_images, base_url: "{base_sim}/v1", model: nano-banana-pro, api_key_file: "{key_file}"}}
""")
    env = exporter_env(GEMINI_API_KEY=FAKE_KEY)
    with running_exporter("--config.file", str(config), "--log.level", "debug", env=env) as (base, proc):
        seen = {}

        def refused_and_shown() -> bool:  # the gateway's refused probe, counted and on the page
            seen["metrics"], seen["page"] = scrape(base), httpx.get(base + "/", timeout=5).text
            return (re.search(AUTH_ERROR_COUNTED, seen["metrics"]) is not None
                    and "Incorrect API key provided: &lt;redacted&gt;" in seen["page"])

        wait(refused_and_shown, DEADLINE, "the gateway's auth error in the metrics and on the page", every=0.2)
        metrics, page = seen["metrics"], seen["page"]
    assert 'outcome="auth_error",resolution="1K",target="gateway"' in metrics
    assert re.search(AUTH_ERROR_COUNTED, metrics)
    assert "Incorrect API key provided: &lt;redacted&gt;" in page  # the echoed key, masked
    assert "auth_error" in proc.logs
    for text in (metrics, page, proc.logs):
        assert FAKE_KEY not in text and FAKE_BEARER not in text


def test_sigterm_stops_in_flight_probes_within_5_seconds(tmp_path):
    config = tmp_path / "sim.yml"
    config.write_text("faults: [{kind: hang}]\n")
    with running_simulator(str(config)) as (sim, _):
        exporter_config = tmp_path / "nanobanana.yml"
        exporter_config.write_text(f"""
defaults: {{interval: 1s, timeout: 5m}}
targets:
  - {{name: google, api: gemini, base_url: "{sim}", model: m, resolutions: [1K, 2K, 4K], max_concurrency: 3}}
""")
        with running_exporter("--config.file", str(exporter_config)) as (base, proc):
            def hanging() -> int:  # series whose probe the simulator holds (max_concurrency 3: all at once)
                requests = httpx.get(f"{sim}/_sim/requests", timeout=5).json()
                return len({r["resolution"] for r in requests if not r.get("metadata") and r.get("fault") == "hang"})

            wait(lambda: hanging() == 3, DEADLINE, "a probe of every series hanging", every=0.2)  # then stop
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(10)
            elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 5, f"took {elapsed:.1f}s to stop"


def test_ready_and_landing_page_explain_failures(tmp_path):
    config = tmp_path / "sim.yml"
    config.write_text("faults: [{kind: status, status: 503}]\n")
    with running_simulator(str(config)) as (sim, _):
        exporter_config = tmp_path / "nanobanana.yml"
        exporter_config.write_text(f"""
defaults: {{interval: 300ms}}
targets:
  - {{name: google, api: gemini, base_url: "{sim}", model: gemini-3-pro-image}}
""")
        with running_exporter("--config.file", str(exporter_config)) as (base, _):
            assert httpx.get(base + "/-/ready").status_code == 200
            seen = {}

            def failing_and_explained() -> bool:  # 3 failures in a row, and the page says why
                seen["metrics"], seen["page"] = scrape(base), httpx.get(base + "/", timeout=5).text
                streak = re.search(r'nanobanana_probe_consecutive_failures\{[^}]*\} (\d+)', seen["metrics"])
                return (streak is not None and int(float(streak.group(1))) >= 3 and "server_error" in seen["page"]
                        and "HTTP 503 UNAVAILABLE: The model is overloaded" in seen["page"])

            wait(failing_and_explained, DEADLINE, "a streak of 3 failures, explained on the page", every=0.2)
            page, metrics = seen["page"], seen["metrics"]
    assert "server_error" in page and "HTTP 503 UNAVAILABLE: The model is overloaded" in page
    streak = re.search(r'nanobanana_probe_consecutive_failures\{[^}]*\} (\d+)', metrics)
    assert int(float(streak.group(1))) >= 3
