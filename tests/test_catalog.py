"""The model catalog (exporter/models/catalog.py) as users meet it: config validation, prices, the plan's
warnings, the model metrics, the simulator's model-aware answers, and every shipped example naming
current model ids."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, config_for
from exporter.models import catalog
from exporter.loading.config import load_text
from exporter.exposition.metrics import ProbeCollector
from exporter.contract.outcomes import Outcome
from exporter.plan import model_warnings
from exporter.domain.state import Store
from exporter.status.openrouter import DEFAULT_MODELS
from tests.documentation import room
from tests.helpers import run_check

NB2 = """
targets:
  - {name: flash, api: gemini, model: gemini-3.1-flash-image, resolutions: ["512", 1K], aspect_ratio: "8:1",
     thinking_levels: [default, high]}
"""


def test_nano_banana_2_at_its_smallest_size_and_an_extra_ratio_passes_the_check_at_its_own_price(tmp_path):
    path = tmp_path / "nb2.yml"
    path.write_text(NB2)
    result = run_check("--config.file", str(path))
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("flash ")]
    # 96 probes a day at Nano Banana 2's $0.045 (512) and $0.067 (1K), not Nano Banana Pro's $0.134
    assert [(r[3], r[4], r[8]) for r in rows] == [("512", "default", "$4.32"), ("512", "high", "$4.32"),
                                                  ("1K", "default", "$6.43"), ("1K", "high", "$6.43")]
    assert "deprecated since 2026-10-06 (no shutdown date announced). Use gemini-nano-banana-2.1" in result.stdout


def test_a_shut_down_id_is_named_with_its_date_and_successor(tmp_path):
    path = tmp_path / "old.yml"
    path.write_text("targets: [{name: old, api: gemini, model: gemini-3-pro-image-preview}]\n")
    result = run_check("--config.file", str(path))
    assert result.returncode == 0, result.stderr
    assert ("WARNING: model gemini-3-pro-image-preview was shut down on 2026-06-25 (Google's announced date): "
            "expect 404 answers (NanoBananaModelGone). Use gemini-3-pro-image instead.") in result.stdout


def test_retiring_ids_are_warned_about_thirty_days_ahead():
    day = catalog.MODELS["gemini-2.5-flash-image"].shutdown
    assert catalog.lifecycle_warning("gemini-2.5-flash-image", day - dt.timedelta(days=31)) is None
    assert catalog.lifecycle_warning("gemini-2.5-flash-image", day - dt.timedelta(days=12)) == (
        "model gemini-2.5-flash-image shuts down on 2026-10-02, in 12 days. Use gemini-nano-banana-2.1 instead.")
    assert catalog.lifecycle_warning("gemini-3-pro-image", catalog.today()) is None


def test_openrouter_targets_for_2_1_and_lite_are_priced_as_themselves_and_2_1_refuses_512(tmp_path):
    path = tmp_path / "or.yml"
    path.write_text("targets:\n"
                    "  - {name: nb21, api: openrouter, model: google/gemini-nano-banana-2.1, resolutions: [1K, 2K]}\n"
                    "  - {name: lite, api: openrouter, model: google/gemini-3.1-flash-lite-image}\n")
    result = run_check("--config.file", str(path))
    assert result.returncode == 0, result.stderr
    assert "not in the model catalog" not in result.stdout  # no longer priced as Nano Banana Pro
    prices = {(r[0], r[3]): r[8] for r in (line.split() for line in result.stdout.splitlines()) if r[0] in ("nb21", "lite")}
    # 96 a day at $0.034 (1120 tokens at $30 / 1M, third-party figures) and $0.05 (2K, 1680 tokens)
    assert prices == {("nb21", "1K"): "$3.26", ("nb21", "2K"): "$4.80", ("lite", "1K"): "$3.26"}
    path.write_text('targets: [{name: nb21, api: openrouter, model: google/gemini-nano-banana-2.1, resolutions: ["512"]}]\n')
    refused = run_check("--config.file", str(path))
    assert refused.returncode == 1
    assert "does not take 512; it takes 1K, 2K, 4K" in refused.stderr


def test_text_rates_of_lite_and_2_1_are_their_own():
    lite, nb21 = catalog.FAMILIES["nano-banana-2-lite"], catalog.FAMILIES["nano-banana-2.1"]
    assert (lite.usd_per_million_image_tokens, lite.usd_per_million_input_tokens, lite.usd_per_million_text_tokens) == (30, 0.25, 1.5)
    assert lite.prices == {"1K": 0.034}  # not Nano Banana 2's $0.067: plans and budgets were 2x high
    assert (nb21.usd_per_million_input_tokens, nb21.usd_per_million_text_tokens) == (1.5, 7.5)
    assert catalog.MODELS["google/gemini-3.1-flash-image"].successor == "google/gemini-nano-banana-2.1"
    assert "google/gemini-nano-banana-2.1" in DEFAULT_MODELS and "google/gemini-3.1-flash-image" not in DEFAULT_MODELS


def test_9_21_passes_for_nano_banana_2_on_vertex_only():
    vertex = "{name: v, api: vertex, project: my-project, location: global, model: gemini-3.1-flash-image, aspect_ratio: '9:21'}"
    config = load_text(f"targets: [{vertex}]")
    assert config.targets[0].aspect_ratio == "9:21"
    with pytest.raises(Exception, match="does not take 9:21"):
        load_text("targets: [{name: g, api: gemini, model: gemini-3.1-flash-image, aspect_ratio: '9:21'}]")


def test_lifecycle_dates_are_per_platform():
    preview = catalog.MODELS["gemini-3.1-flash-image-preview"]
    assert preview.shutdown_on("gemini") == dt.date(2026, 6, 25) and preview.shutdown_on("vertex") == dt.date(2026, 7, 17)
    between = dt.date(2026, 7, 1)
    assert preview.stage_on(between, "gemini") == "shutdown" and preview.stage_on(between, "vertex") == "deprecated"
    assert catalog.lifecycle_warning("gemini-3.1-flash-image-preview", between, "vertex") == (
        "model gemini-3.1-flash-image-preview shuts down on vertex on 2026-07-17, in 16 days. "
        "Use gemini-3.1-flash-image instead.")


def test_the_alert_warns_as_many_days_ahead_as_the_check():
    rules = [r for g in yaml.safe_load((ROOT / "alertmanager/rules.yml").read_text())["groups"] for r in g["rules"]]
    [rule] = [r for r in rules if r.get("alert") == "NanoBananaModelRetiring"]
    assert rule["expr"].endswith(f"< {catalog.RETIRING_DAYS} * 86400")


def test_an_unknown_id_is_checked_nowhere_and_said_so():
    config = load_text("targets: [{name: gw, api: openai_images, base_url: 'https://gw.example/v1', model: nb-x}]")
    assert config.targets[0].family is catalog.UNKNOWN
    [warning] = model_warnings(config)
    assert warning.startswith("model nb-x (target gw) is not in the model catalog")
    aliased = load_text("targets: [{name: gw, api: openai_images, base_url: 'https://gw.example/v1', model: nb-x,"
                        " family: nano-banana-2.1}]")
    assert model_warnings(aliased) == [] and aliased.series[0].price == pytest.approx(0.034)


def test_model_metrics_name_family_stage_and_shutdown_per_api():
    config = load_text("targets:\n"
                       "  - {name: a, api: gemini, model: gemini-2.5-flash-image}\n"
                       "  - {name: b, api: gemini, model: gemini-3-pro-image, resolutions: [1K, 2K]}\n"
                       "  - {name: c, api: openai_chat, base_url: 'https://gw.example/v1', model: nb, family: nano-banana-2}\n"
                       "  - {name: d, api: gemini, model: gemini-3.1-flash-image-preview}\n"
                       "  - {name: e, api: vertex, project: my-project, location: global, model: gemini-3.1-flash-image-preview}\n")
    store = Store()
    store.apply(config)
    samples = [s for f in ProbeCollector(store).models() for s in f.samples]
    info = sorted(tuple(s.labels[k] for k in ("model", "api", "family", "stage"))
                  for s in samples if s.name == "nanobanana_model_info")
    assert info == [("gemini-2.5-flash-image", "gemini", "nano-banana", "shutdown"),
                    ("gemini-3-pro-image", "gemini", "nano-banana-pro", "ga"),
                    ("gemini-3.1-flash-image-preview", "gemini", "nano-banana-2", "shutdown"),
                    ("gemini-3.1-flash-image-preview", "vertex", "nano-banana-2", "shutdown"),
                    ("nb", "openai_chat", "nano-banana-2", "unknown")]
    shutdown = {(s.labels["model"], s.labels["api"]): dt.datetime.fromtimestamp(s.value, dt.timezone.utc).date()
                for s in samples if s.name == "nanobanana_model_shutdown_timestamp_seconds"}
    # each platform's own date, from the catalog: Vertex AI retired the preview id three weeks later
    preview = catalog.MODELS["gemini-3.1-flash-image-preview"]
    assert shutdown == {("gemini-2.5-flash-image", "gemini"): dt.date(2026, 10, 2),
                        ("gemini-3.1-flash-image-preview", "gemini"): preview.shutdown_on("gemini"),
                        ("gemini-3.1-flash-image-preview", "vertex"): preview.shutdown_on("vertex")}
    assert preview.shutdown_on("vertex") == dt.date(2026, 7, 17) != preview.shutdown_on("gemini")


async def test_nano_banana_2_is_probed_at_512_and_4_to_1(simulator, prober):
    sim, base = simulator
    config = config_for(base, "gemini", model="gemini-3.1-flash-image", resolutions=["512"], aspect_ratio="4:1")
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert attempt.image_size == "1024x256 png"
    assert sim.requests[-1]["body"]["generationConfig"]["imageConfig"] == {"aspectRatio": "4:1", "imageSize": "512"}


async def test_chat_gateways_are_asked_for_0_5k(simulator, prober):
    sim, base = simulator
    config = config_for(base, "openrouter", model="google/gemini-3.1-flash-image", resolutions=["512"])
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert sim.requests[-1]["body"]["image_config"] == {"aspect_ratio": "1:1", "image_size": "0.5K"}


async def test_nano_banana_gets_no_image_size_and_answers_at_its_own_size(simulator, prober):
    sim, base = simulator
    # a gateway alias of Nano Banana on the chat dialect (the Gemini id itself is past its shutdown)
    config = config_for(base, "openai_chat", model="nano-banana", family="nano-banana", aspect_ratio="16:9")
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message
    assert attempt.image_size == "1344x768 png"  # Nano Banana's table, not Pro's 1376x768
    assert sim.requests[-1]["body"]["image_config"] == {"aspect_ratio": "16:9"}


async def test_the_simulator_refuses_what_a_model_refuses_and_retired_ids_are_gone(simulator, prober):
    sim, base = simulator
    # extra_body forces a field Nano Banana refuses: the simulator answers the real 400
    config = config_for(base, "gemini", model="nano-banana", family="nano-banana",
                        extra_body={"generationConfig": {"imageConfig": {"imageSize": "2K"}}})
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.CLIENT_ERROR
    assert "image size is not supported by nano-banana" in attempt.message
    gone = await prober.probe(config_for(base, "gemini", model="gemini-3-pro-image-preview").series[0])
    assert gone.outcome is Outcome.CLIENT_ERROR and "is not found for API version v1beta" in gone.message


def shipped_model_ids() -> dict[str, set[str]]:
    """Every model id a shipped example names: demo, deploy/, the YAML of README and docs/, status defaults."""
    ids: dict[str, set[str]] = {"status_sources.openrouter default": set(DEFAULT_MODELS)}
    texts = {str(p.relative_to(ROOT)): p.read_text() for p in
             [ROOT / "exporter/demo.yml", *sorted((ROOT / "deploy").rglob("*.y*ml")), ROOT / "README.md",
              *sorted((ROOT / "docs").glob("*.md"))]}
    for name, text in texts.items():
        found = set(re.findall(r"\bmodel: ([\w./-]+)", text))
        found |= {m for line in re.findall(r"\bmodels: \[([^\]]+)\]", text) for m in re.split(r",\s*", line)}
        ids[name] = {m for m in found if m.startswith(("gemini-", "google/"))}
    return ids


def test_every_shipped_example_names_a_current_catalog_id():
    problems = [(where, model) for where, models in shipped_model_ids().items() for model in sorted(models)
                if model not in catalog.MODELS or catalog.MODELS[model].stage_on(catalog.today()) == "shutdown"]
    assert problems == []
    assert shipped_model_ids()["exporter/demo.yml"] >= {"gemini-3-pro-image", "gemini-3.1-flash-image"}


def test_shipped_production_examples_enable_the_status_sources():
    k8s = yaml.safe_load_all((ROOT / "deploy/kubernetes/exporter.yaml").read_text())
    [config_map] = [d for d in k8s if d and d["kind"] == "ConfigMap"]
    systemd = yaml.safe_load((ROOT / "deploy/systemd/nanobanana.yml").read_text())
    for config in (yaml.safe_load(config_map["data"]["nanobanana.yml"]), systemd):
        assert set(config["status_sources"]) == {"google_cloud", "openrouter"}
    load_text((ROOT / "deploy/systemd/nanobanana.yml").read_text(), environ={"GEMINI_API_KEY": "x"})


def test_the_docs_show_the_catalog_as_generated():
    assert catalog.markdown_table() in room("configuration")
