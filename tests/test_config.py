"""Config validation: every invalid file in testdata/ maps to its exact message; --config.check."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, exporter_env
from exporter.loading.config import ConfigError, load_file
from tests.helpers import run_check

TESTDATA = Path(__file__).parent / "testdata"

# file -> the message after "<file>:" (line numbers included where the YAML has them)
INVALID = {
    "invalid-unknown-key.yml": "5: targets[0].resolution: unknown key (did you mean `resolutions`?)",
    "invalid-api.yml": "3: targets[0].api: Input should be 'gemini', 'openai_images', 'openai_chat', 'openrouter', 'openrouter_images' or 'vertex' (got 'bedrock')",
    "invalid-duration.yml": "2: defaults.interval: expected a positive duration such as 30s, 5m or 1h, got '5 minutes'",
    "invalid-timeout.yml": "5: targets[0].timeout.8K: Input should be '512', '1K', '2K' or '4K' (got '8K')",
    "invalid-resolution.yml": "5: targets[0].resolutions[1]: Input should be '512', '1K', '2K' or '4K' (got '3K')",
    "invalid-thinking.yml": "5: targets[0].thinking_levels[0]: Input should be 'default', 'minimal', 'low', 'medium' or 'high' (got 'extreme')",
    "invalid-duplicate-name.yml": "1: targets: target name 'google' is used twice",
    "invalid-name.yml": "2: targets[0].name: String should match pattern '^[a-z0-9_-]+$' (got 'Google Prod')",
    "invalid-missing-model.yml": "2: targets[0].model: missing required key",
    "invalid-key-env.yml": "5: targets[0].api_key_env: environment variable NANOBANANA_TEST_UNSET_VARIABLE is not set",
    "invalid-key-file.yml": "5: targets[0].api_key_file: cannot read /nonexistent/gemini-key: No such file or directory",
    "invalid-no-base-url.yml": "3: targets[0].api: api openai_images needs a base_url",
    "invalid-no-targets.yml": " targets: missing required key",
    "invalid-yaml.yml": "4: invalid YAML: did not find expected '-' indicator",  # libyaml's wording
    "invalid-aspect-ratio.yml": "2: defaults.aspect_ratio: Input should be '1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9', '1:4', '4:1', '1:8', '8:1' or '9:21' (got '7:3')",
    "invalid-repeated-resolution.yml": "2: targets[0].resolutions: lists a value twice",
    # what the model takes, from the catalog (exporter/models/catalog.py) or the target's family:
    "invalid-model-resolution.yml": "5: targets[0].resolutions: model gemini-3-pro-image (Nano Banana Pro) does not take 512; it takes 1K, 2K, 4K",
    "invalid-model-aspect-ratio.yml": "2: defaults.aspect_ratio: model gemini-3-pro-image (Nano Banana Pro) does not take 1:8; it takes 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9",
    "invalid-model-thinking.yml": "7: targets[0].thinking_levels: model nano-banana (Nano Banana) does not take high; it takes default (no thinking setting)",
    "invalid-family.yml": "6: targets[0].family: Input should be 'nano-banana-pro', 'nano-banana-2.1', 'nano-banana-2', 'nano-banana-2-lite' or 'nano-banana' (got 'nano-banana-3')",
    "invalid-prompts.yml": "2: targets[0]: set prompt or prompts, not both",
    # a level the dialect cannot send would be a label that lies about what was measured
    "invalid-images-thinking.yml": "6: targets[0].thinking_levels: api openai_images has no documented thinking field, so it "
                                   "sends no thinking setting: only default is measured (a gateway's own field goes in extra_body)",
}


def test_every_invalid_file_is_in_the_table():
    assert sorted(p.name for p in TESTDATA.glob("invalid-*.yml")) == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_config_message(name):
    path = TESTDATA / name
    with pytest.raises(ConfigError) as err:
        load_file(path, environ={})
    assert str(err.value) == f"{path}:{INVALID[name]}"


def test_valid_config_expands_series():
    config = load_file(TESTDATA / "valid.yml", environ={"GEMINI_API_KEY": "k1-secret", "GATEWAY_API_KEY": "k2-secret"})
    keys = [s.key for s in config.series]
    assert keys == [
        ("google", "gemini", "gemini-3-pro-image", "1K", "default"),
        ("google", "gemini", "gemini-3-pro-image", "2K", "default"),
        ("gateway", "openai_chat", "nano-banana-pro", "2K", "low"),
        ("gateway", "openai_chat", "nano-banana-pro", "2K", "high"),
    ]
    google, gateway = config.targets
    assert google.interval == 300 and gateway.interval == 600
    assert google.timeouts == {"512": 30, "1K": 45, "2K": 90, "4K": 180}
    assert gateway.timeouts == {"512": 120, "1K": 120, "2K": 120, "4K": 120}  # a single duration applies to all
    assert gateway.base_url == "https://gateway.example.com/v1"
    assert sorted(config.secrets) == ["k1-secret", "k2-secret"]
    assert "k1-secret" not in repr(config)  # keys never show in reprs or logs of the config


def test_config_check_prints_plan_and_exits_0():
    env = exporter_env(GEMINI_API_KEY="AIzaFAKE-check", GATEWAY_API_KEY="sk-FAKE-check")
    result = run_check("--config.file", str(TESTDATA / "valid.yml"), env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("valid.yml: config is valid")
    # the plan, with what it costs and how fast it detects (exporter/plan.py; tests/test_plan.py checks the sums)
    assert lines[1].split() == ["target", "api", "model", "resolution", "thinking", "interval", "timeout",
                                "probes/day", "usd/day", "usd/month", "detect", "detect-paid", "detect-slow"]
    assert lines[2].split()[:10] == ["google", "gemini", "gemini-3-pro-image", "1K", "default", "5m", "45s",
                                     "288", "$38.59", "$1,157.76"]
    assert "4 series in 2 targets" in lines
    assert lines[-1] == "catalog: not compared with the live APIs (NANOBANANA_CATALOG_CHECK=off)"  # tests/test_drift.py
    assert "FAKE-check" not in result.stdout + result.stderr


def test_config_check_fails_with_message_and_exit_1():
    result = run_check("--config.file", str(TESTDATA / "invalid-api.yml"))
    assert result.returncode == 1
    assert "targets[0].api: Input should be" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_1_without_traceback():
    result = subprocess.run([sys.executable, "-m", "exporter", "--config.file", "/nonexistent/nanobanana.yml"],
                            capture_output=True, text=True, env=exporter_env(), cwd=ROOT, timeout=60)
    assert result.returncode == 1
    assert "cannot read config file" in result.stderr and "Traceback" not in result.stderr
