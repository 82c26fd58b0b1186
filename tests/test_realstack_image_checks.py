"""The image faults through the real stack: simulator -> exporter -> Debian's Prometheus with the
shipped rules. Each fault fires its image-check warning on its own series and nothing else fires
there; the faithful series fires nothing (the blank series also pages: a blank image is bad_image)."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import exporter_env
from exporter.simulator.server import BASE_PATHS
from tests.helpers import python_service, wait
from tests.stack import ALERTMANAGER, PROMETHEUS, RULES, start_prometheus

pytestmark = [
    pytest.mark.realstack,
    pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER), reason="prometheus / prometheus-alertmanager not installed"),
]

# (target, api, resolution) -> the alert its fault must fire; the faults filter by api and resolution
EXPECTED = {
    ("google", "gemini", "1K"): "NanoBananaImageBlank",
    ("google", "gemini", "2K"): "NanoBananaImageOffPrompt",
    ("google", "gemini", "4K"): "NanoBananaImageUpscaled",
    ("openrouter", "openrouter", "1K"): "NanoBananaModelSubstituted",
    ("faithful", "openai_chat", "1K"): None,
}
FAULTS = [{"kind": "blank", "api": "gemini", "resolution": "1K"},
          {"kind": "off_prompt", "api": "gemini", "resolution": "2K"},
          {"kind": "upscaled", "api": "gemini", "resolution": "4K"},
          {"kind": "substituted", "api": "openrouter"}]


def firing(prom) -> dict[tuple[str, str, str], set[str]]:
    out: dict[tuple[str, str, str], set[str]] = {}
    for a in prom.get("/api/v1/alerts")["data"]["alerts"]:
        labels = a["labels"]
        if a["state"] == "firing" and "target" in labels:
            key = (labels["target"], labels.get("api", ""), labels.get("resolution", ""))
            out.setdefault(key, set()).add(labels["alertname"])
    return out


def test_each_image_fault_fires_its_warning_and_nothing_else_on_its_series(tmp_path):
    env = exporter_env()
    with python_service("simulator", ["simulator", "--speed", "0.001"], tmp_path, env, "/_sim/config") as sim:
        httpx.put(f"{sim.url}/_sim/config", json={"faults": FAULTS}, timeout=5).raise_for_status()
        (tmp_path / "nanobanana.yml").write_text(f"""
defaults: {{interval: 1s, timeout: 10s}}
targets:
  - {{name: google, api: gemini, base_url: "{sim.url}{BASE_PATHS['gemini']}", model: gemini-3-pro-image, resolutions: [1K, 2K, 4K]}}
  - {{name: openrouter, api: openrouter, base_url: "{sim.url}{BASE_PATHS['openrouter']}", model: google/gemini-3-pro-image}}
  - {{name: faithful, api: openai_chat, base_url: "{sim.url}{BASE_PATHS['openai_chat']}", model: gemini-3-pro-image}}
""")
        with python_service("exporter", ["--config.file", str(tmp_path / "nanobanana.yml")], tmp_path, env,
                            "/-/ready") as exporter, \
             start_prometheus(tmp_path, targets=[exporter.address], rule_files=[RULES]) as prom:
            wanted = {key: name for key, name in EXPECTED.items() if name}
            wait(lambda: all(name in firing(prom).get(key, set()) for key, name in wanted.items()), 120,
                 f"every image fault's warning fires: {wanted}")
            time.sleep(5)  # a few more evaluations: nothing else joins them
            now = firing(prom)
            for key, name in EXPECTED.items():
                if key == ("google", "gemini", "1K"):  # blank images are bad_image: the failure pages too
                    assert name in now[key] and "NanoBananaProbeFailing" in now[key], now[key]
                    continue
                assert now.get(key, set()) == ({name} if name else set()), (key, now.get(key))
