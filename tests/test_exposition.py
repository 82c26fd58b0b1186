"""The scrape's fast path (ProbeCollector and CheckCollector.render) exports exactly what the collectors do."""


import yaml
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from exporter.background.canary import CanaryChecker
from exporter.background.checks import Check
from exporter.loading.config import load_text
from exporter.background.liveness import LivenessChecker
from exporter.exposition.metrics import Exposition, make_registry
from exporter.contract.outcomes import Outcome
from exporter.domain.state import Attempt, Store

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


TARGETS = [
    {"name": "a", "api": "gemini", "base_url": "http://127.0.0.1:1", "model": 'odd "model" \\ name',
     "resolutions": ["1K", "4K"], "thinking_levels": ["default", "high"], "canary": {"enabled": True}},
    {"name": "b", "api": "openai_images", "base_url": "http://127.0.0.1:1/v1", "model": "m"},
]


def _store() -> Store:
    store = Store()
    store.apply(load_text(yaml.safe_dump({"targets": TARGETS}), "<test>"))
    for i, state in enumerate(store):
        outcome = [Outcome.SUCCESS, Outcome.TIMEOUT, Outcome.RATE_LIMITED, Outcome.SUCCESS, Outcome.BAD_IMAGE][i]
        state.record(Attempt(started=1.7e9 + i, outcome=outcome, duration=12.5 + i, response_bytes=12345678,
                             phases={"connect": 0.001, "tls": 0.0, "processing": 10.0, "transfer": 2.0, "decode": 0.3},
                             usage={"input": 10, "output": 1120}))
    next(iter(store)).skip("overlap")
    store.late(0.003)
    return store


def _ours(families) -> set:
    """Our samples (process and gc values move between two scrapes)."""
    samples = {(s.name, tuple(sorted(s.labels.items())), s.value) for f in families for s in f.samples}
    assert len(samples) > 100
    return {s for s in samples if s[0].startswith("nanobanana_")}


def test_fast_text_equals_the_collector():
    store = _store()
    expected = generate_latest(make_registry(store)).decode()
    body, content_type = Exposition(store).render("")
    assert content_type.startswith("text/plain")
    got = list(text_string_to_metric_families(body.decode()))
    want = list(text_string_to_metric_families(expected))
    assert {(f.name, f.type, f.documentation) for f in got} == {(f.name, f.type, f.documentation) for f in want}
    assert _ours(got) == _ours(want)
    start, end = "# HELP nanobanana_probe_duration_seconds ", "# HELP nanobanana_exporter_build_info "
    section = expected[expected.index(start):expected.index(end)]
    assert section in body.decode()  # byte for byte what prometheus_client writes


def test_fast_openmetrics_equals_the_collector():
    store = _store()
    expected = generate_openmetrics(make_registry(store)).decode()
    body, content_type = Exposition(store).render(OPENMETRICS)
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    got, want = list(parse_openmetrics(text)), list(parse_openmetrics(expected))
    assert {(f.name, f.type) for f in got} == {(f.name, f.type) for f in want}
    assert _ours(got) == _ours(want)


def test_lateness_histogram():
    registry = make_registry(_store())
    assert registry.get_sample_value("nanobanana_exporter_schedule_lateness_seconds_count") == 1
    assert registry.get_sample_value("nanobanana_exporter_schedule_lateness_seconds_bucket", {"le": "0.005"}) == 1
    assert registry.get_sample_value("nanobanana_exporter_schedule_lateness_seconds_bucket", {"le": "0.002"}) == 0


def test_fast_text_follows_changes():
    store = _store()
    exposition = Exposition(store)
    exposition.render("")
    state = next(iter(store))
    state.record(Attempt(started=1.8e9, outcome=Outcome.SERVER_ERROR, duration=1.0, phases={}))
    state.skip("overlap")
    body, _ = exposition.render("")
    assert _ours(text_string_to_metric_families(body.decode())) == _ours(
        text_string_to_metric_families(generate_latest(make_registry(store)).decode()))


def test_every_series_family_has_at_most_one_label_beyond_the_series_labels():
    """The fast path writes a series' labels once and one extra label per sample (exporter.exposition.text_format._Lines)."""
    from exporter.exposition.metrics import CHECK_FAMILIES, FAMILIES

    for table in (FAMILIES, *CHECK_FAMILIES.values()):
        assert all(len(table.own_labels(name)) <= 1 for name in table)


def _checkers() -> tuple[LivenessChecker, CanaryChecker]:
    """Both kinds of check, applied without running, one recorded check per target."""
    config = load_text(yaml.safe_dump({"targets": TARGETS}), "<test>")
    liveness, canary = LivenessChecker(), CanaryChecker()
    for checker in (liveness, canary):
        checker.apply(config, run=False)
        for i, state in enumerate(checker):
            state.record(Check(started=1.7e9 + i, outcome=checker.outcomes[i], duration=0.25 + i,
                               usage={"input": 7, "output": 3}, cost=0.002))
    next(iter(canary)).skip("budget")
    return liveness, canary


def test_fast_check_text_equals_the_collector_and_follows_changes():
    store, (liveness, canary) = _store(), _checkers()
    assert len(liveness) == 2 and len(canary) == 1
    exposition = Exposition(store, liveness=liveness, canary=canary)
    registry = make_registry(store, liveness=liveness, canary=canary)
    for change in (None, "record", "skip"):
        state = next(iter(canary))
        if change == "record":
            state.record(Check(started=1.8e9, outcome=Outcome.SERVER_ERROR.value, duration=1.0))
        elif change == "skip":
            state.skip("maintenance")
        body, _ = exposition.render("")
        got = _ours(text_string_to_metric_families(body.decode()))
        assert got == _ours(text_string_to_metric_families(generate_latest(registry).decode())), change
        assert {s for s in got if s[0].startswith(("nanobanana_liveness", "nanobanana_canary"))}, change
    assert ("nanobanana_canary_skipped_total", (("api", "gemini"), ("model", 'odd "model" \\ name'),
                                                ("reason", "maintenance"), ("target", "a")), 1.0) in got
    fast, _ = exposition.render(OPENMETRICS)
    assert _ours(parse_openmetrics(fast.decode())) == _ours(parse_openmetrics(generate_openmetrics(registry).decode()))
