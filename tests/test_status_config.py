"""`status_sources:` in the config: defaults, what is enabled, and errors that name key and line."""

from __future__ import annotations

import pytest

from exporter.loading.config import ConfigError, load_text
from exporter.status import SOURCES
from exporter.status.google_cloud import GEMINI_PRODUCT_ID

TARGETS = "targets:\n  - {name: t, api: gemini, model: m, base_url: 'http://127.0.0.1:9'}\n"


def test_sources_are_opt_in():
    assert load_text(TARGETS, "<test>", environ={}).status_sources == ()


def test_defaults_watch_gemini_by_id_and_both_titles_and_openrouter():
    enabled = "status_sources:\n  google_cloud: {enabled: true}\n  openrouter: {enabled: true}\n"
    config = load_text(TARGETS + enabled, "<test>", environ={})
    sources = {s.kind: s.settings for s in config.status_sources}
    assert set(sources) == set(SOURCES)
    google = sources["google_cloud"]
    assert google.url == "https://status.cloud.google.com/incidents.json"
    assert google.interval == 120
    gemini = next(p for p in google.products if p.id == GEMINI_PRODUCT_ID)
    assert set(gemini.titles) == {"Vertex Gemini API", "Gemini on Agent Platform"}
    titles = {t for p in google.products for t in p.titles}
    assert {"Vertex AI Online Prediction", "Vertex Imagen API"} <= titles
    assert sources["openrouter"].interval == 300
    assert all("/" in m for m in sources["openrouter"].models)
    assert config.secrets == []


def test_a_disabled_source_is_not_run():
    config = load_text(TARGETS + "status_sources:\n  openrouter: {enabled: false}\n  google_cloud:\n    enabled: true\n    interval: 10m\n",
                       "<test>", environ={})
    assert [(s.kind, s.settings.interval) for s in config.status_sources] == [("google_cloud", 600)]


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("status_sources:\n  statuspage: {}\n", "<test>:4: status_sources.statuspage: unknown key"),
        ("status_sources:\n  google_cloud:\n    interval: soon\n",
         "<test>:5: status_sources.google_cloud.interval: expected a positive duration such as 30s, 5m or 1h, got 'soon'"),
        ("status_sources:\n  google_cloud:\n    products:\n      - {name: Gemini}\n",
         "<test>:6: status_sources.google_cloud.products[0]: a product needs an id or at least one title"),
        ("status_sources:\n  google_cloud:\n    url: status.cloud.google.com\n",
         "<test>:5: status_sources.google_cloud.url: String should match pattern '^https?://' (got 'status.cloud.google.com')"),
        ("status_sources:\n  openrouter:\n    models: [gemini-3-pro-image]\n",
         "<test>:5: status_sources.openrouter.models: model 'gemini-3-pro-image' is not author/slug"),
        ("status_sources:\n  openrouter: {api_key_env: A, api_key_file: /b}\n",
         "<test>: status_sources.openrouter.api_key_file: set api_key_env or api_key_file, not both"),
    ],
    ids=["unknown-source", "bad-interval", "unmatchable-product", "bad-url", "bad-model", "two-keys"],
)
def test_errors_name_the_key_and_line(yaml, message):
    with pytest.raises(ConfigError) as err:
        load_text(TARGETS + yaml, "<test>", environ={"A": "x"})
    assert str(err.value) == message
