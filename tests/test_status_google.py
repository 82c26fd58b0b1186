"""The Google Cloud status feed source, against realistic incidents.json payloads on loopback."""

from __future__ import annotations

import json

import pytest

from exporter.status.base import IMPACTS, TITLE_MAX
from status_server import Harness, StatusServer, fixture, fixture_json, status_config

SOURCE = "google_cloud"
INFO = "nanobanana_upstream_incident_info"
ACTIVE = "nanobanana_upstream_incidents_active"


def google_only(server: StatusServer, extra: str = "") -> Harness:
    return Harness(status_config(f"""
google_cloud:
  url: {server.base_url}/incidents.json
{extra}
openrouter: {{enabled: false}}
"""))


@pytest.fixture
async def harness(server):
    h = google_only(server)
    yield h
    await h.close()


def active(h: Harness, product: str, impact: str) -> float | None:
    return h.value(ACTIVE, source=SOURCE, product=product, impact=impact)


def incident_ids(h: Harness) -> set[str]:
    return {s["id"] for s in h.samples(INFO)}


async def test_ongoing_incident_is_counted_and_described(server, harness):
    feed = fixture_json("google_ongoing.json")
    ongoing, other_product, resolved = feed
    server.set_feed(fixture("google_ongoing.json"))
    await harness.poll(SOURCE)

    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 1
    assert harness.value("nanobanana_status_source_last_success_timestamp_seconds", source=SOURCE) > 0
    assert harness.value("nanobanana_status_source_fetch_duration_seconds", source=SOURCE) > 0
    assert active(harness, "Gemini", "disruption") == 1
    assert active(harness, "Gemini", "outage") == 0  # the outage in the feed ended in February
    assert active(harness, "Vertex Imagen API", "outage") == 0
    [info] = harness.samples(INFO)
    assert info["id"] == ongoing["id"]
    assert info["product"] == "Gemini" and info["impact"] == "disruption"
    first_line = ongoing["external_desc"].splitlines()[0]
    assert len(first_line) > TITLE_MAX  # the fixture's title is long: it is cut, not dropped
    assert len(info["title"]) <= TITLE_MAX and first_line.startswith(info["title"].removesuffix("\u2026"))
    assert info["url"] == f"{server.base_url}/{ongoing['uri']}"
    assert harness.value(INFO, **info) == 1
    assert other_product["id"] not in incident_ids(harness) and resolved["id"] not in incident_ids(harness)
    assert {s["product"] for s in harness.samples(ACTIVE)} == {"Gemini", "Vertex AI Online Prediction", "Vertex Imagen API"}


async def test_a_resolved_incident_disappears(server, harness):
    server.set_feed(fixture("google_ongoing.json"))
    await harness.poll(SOURCE)
    assert active(harness, "Gemini", "disruption") == 1

    server.set_feed(fixture("google_resolved.json"))
    await harness.poll(SOURCE)
    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 1
    assert active(harness, "Gemini", "disruption") == 0
    assert harness.samples(INFO) == []


async def test_one_incident_on_several_products_counts_for_each(server, harness):
    feed = fixture_json("google_multi_product.json")
    network, imagen_note, planned, ended = feed
    server.set_feed(fixture("google_multi_product.json"))
    await harness.poll(SOURCE)

    assert active(harness, "Gemini", "outage") == 1
    assert active(harness, "Vertex AI Online Prediction", "outage") == 1
    assert active(harness, "Vertex Imagen API", "outage") == 1
    assert active(harness, "Vertex Imagen API", "information") == 1
    assert active(harness, "Vertex AI Online Prediction", "disruption") == 1  # its end is still ahead
    assert active(harness, "Gemini", "disruption") == 0  # ended in March
    products_of = {}
    for s in harness.samples(INFO):
        products_of.setdefault(s["id"], set()).add(s["product"])
    assert products_of == {
        network["id"]: {"Gemini", "Vertex AI Online Prediction", "Vertex Imagen API"},  # not Cloud Run
        imagen_note["id"]: {"Vertex Imagen API"},
        planned["id"]: {"Vertex AI Online Prediction"},
    }
    assert ended["id"] not in products_of


async def test_an_incident_whose_end_passes_leaves_without_a_new_fetch(server, harness):
    planned = fixture_json("google_multi_product.json")[2]
    server.set_feed(fixture("google_multi_product.json"))
    await harness.poll(SOURCE)
    assert planned["id"] in incident_ids(harness)

    from datetime import datetime

    harness.now = datetime.fromisoformat(planned["end"]).timestamp() + 1
    assert planned["id"] not in incident_ids(harness)
    assert active(harness, "Vertex AI Online Prediction", "disruption") == 0


@pytest.mark.parametrize(
    ("products", "expected"),
    [
        # the defaults: id and both titles
        ("", {"Rn1Am2Ed3Pr4Od5Uc6Tx", "Id7On8Ly9Ma0Tc1Hs2Qw", "Ti3Tl4Eo5Nl6Yx7Zq8Wv"}),
        # titles only: the entry renamed again under the same id is missed
        ("  products: [{name: Gemini, titles: [Vertex Gemini API, Gemini on Agent Platform]}]",
         {"Rn1Am2Ed3Pr4Od5Uc6Tx", "Ti3Tl4Eo5Nl6Yx7Zq8Wv"}),
        # the old title only: nothing after the rename
        ("  products: [{name: Gemini, titles: [Vertex Gemini API]}]", set()),
        # id only: every entry under the id, whatever it is called
        ("  products: [{name: Gemini, id: Z0FZJAMvEB4j3NbCJs6B}]", {"Rn1Am2Ed3Pr4Od5Uc6Tx", "Id7On8Ly9Ma0Tc1Hs2Qw"}),
    ],
    ids=["defaults", "titles-only", "old-title-only", "id-only"],
)
async def test_a_renamed_product_is_matched_by_id_or_either_title(server, products, expected):
    feed_ids = {i["id"] for i in fixture_json("google_renamed.json")}
    assert expected <= feed_ids
    server.set_feed(fixture("google_renamed.json"))
    h = google_only(server, products)
    try:
        await h.poll(SOURCE)
        assert incident_ids(h) == expected
        assert sum(h.value(ACTIVE, source=SOURCE, product="Gemini", impact=i) for i in IMPACTS.values()) == len(expected)
    finally:
        await h.close()


async def test_malformed_entries_are_skipped_and_the_rest_is_read(server, harness):
    feed = fixture_json("google_malformed_entries.json")
    good = feed[-1]
    server.set_feed(fixture("google_malformed_entries.json"))
    await harness.poll(SOURCE)
    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 1
    assert incident_ids(harness) == {good["id"]}
    # an impact the feed did not have before is still counted, under a bounded label value
    assert active(harness, "Vertex Imagen API", "unknown") == 1
    assert active(harness, "Gemini", "outage") == 0


async def test_an_empty_feed_means_no_incidents(server, harness):
    server.set_feed(fixture("google_empty.json"))
    await harness.poll(SOURCE)
    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 1
    assert harness.samples(INFO) == []
    values = [harness.value(ACTIVE, **labels) for labels in harness.samples(ACTIVE)]
    assert len(values) == 3 * len(IMPACTS) and set(values) == {0}


async def test_before_the_first_fetch_there_is_no_data_rather_than_zero(server, harness):
    server.feed_status = 503
    await harness.poll(SOURCE)
    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 0
    assert harness.value("nanobanana_status_source_last_success_timestamp_seconds", source=SOURCE) is None
    assert harness.samples(ACTIVE) == []


def _truncated() -> bytes:
    body = fixture("google_ongoing.json")
    return body[: len(body) // 2]


FAILURES = {
    "truncated": lambda s: s.set_feed(_truncated()),
    "html-error-page": lambda s: s.set_feed(fixture("google_not_a_feed.html")),
    "not-a-list": lambda s: s.set_feed(b'{"error": {"code": 503, "message": "Backend Error"}}'),
    "http-503": lambda s: setattr(s, "feed_status", 503),
}


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_failed_fetch_keeps_the_last_values(server, harness, failure, caplog):
    server.set_feed(fixture("google_ongoing.json"))
    await harness.poll(SOURCE)
    before = {labels["id"]: labels for labels in harness.samples(INFO)}
    last_success = harness.value("nanobanana_status_source_last_success_timestamp_seconds", source=SOURCE)
    assert before and last_success

    FAILURES[failure](server)
    await harness.poll(SOURCE)
    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 0
    assert harness.value("nanobanana_status_source_last_success_timestamp_seconds", source=SOURCE) == last_success
    assert {labels["id"]: labels for labels in harness.samples(INFO)} == before
    assert active(harness, "Gemini", "disruption") == 1
    assert "status source failed" in caplog.text

    server.feed_status = 200  # and it recovers
    server.set_feed(fixture("google_resolved.json"))
    await harness.poll(SOURCE)
    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 1
    assert harness.samples(INFO) == []


async def test_an_unreachable_feed_marks_the_source_down(harness):
    h = Harness(status_config("""
google_cloud: {url: "http://127.0.0.1:9/incidents.json", timeout: 2s}
openrouter: {enabled: false}
"""))
    try:
        await h.poll(SOURCE)
        assert h.value("nanobanana_status_source_up", source=SOURCE) == 0
        assert "ConnectError" in h.poller.get(SOURCE).error
    finally:
        await h.close()


async def test_the_feed_is_fetched_conditionally_with_its_etag(server, harness):
    server.set_feed(fixture("google_ongoing.json"))
    await harness.poll(SOURCE)
    first_success = harness.value("nanobanana_status_source_last_success_timestamp_seconds", source=SOURCE)
    await harness.poll(SOURCE)

    first, second = server.requests_to("/incidents.json")
    assert "If-None-Match" not in first.headers and first.status == 200
    assert second.headers["If-None-Match"] and second.status == 304
    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 1
    assert harness.value("nanobanana_status_source_last_success_timestamp_seconds", source=SOURCE) >= first_success
    assert active(harness, "Gemini", "disruption") == 1  # values kept through the 304

    server.set_feed(fixture("google_resolved.json"))  # a new version: a full answer again
    await harness.poll(SOURCE)
    assert server.requests_to("/incidents.json")[-1].status == 200
    assert active(harness, "Gemini", "disruption") == 0


async def test_the_feed_is_fetched_conditionally_with_last_modified(server, harness):
    server.etag = False
    server.set_feed(fixture("google_ongoing.json"))
    await harness.poll(SOURCE)
    await harness.poll(SOURCE)
    first, second = server.requests_to("/incidents.json")
    assert "If-Modified-Since" not in first.headers
    assert second.headers["If-Modified-Since"] and "If-None-Match" not in second.headers
    assert second.status == 304
    assert active(harness, "Gemini", "disruption") == 1


async def test_a_broken_body_is_not_cached(server, harness):
    server.set_feed(_truncated())
    await harness.poll(SOURCE)
    server.set_feed(fixture("google_ongoing.json"))
    await harness.poll(SOURCE)
    await harness.poll(SOURCE)
    statuses = [(bool(s.headers.get("If-None-Match")), s.status) for s in server.requests_to("/incidents.json")]
    assert statuses == [(False, 200), (False, 200), (True, 304)]
    assert active(harness, "Gemini", "disruption") == 1


def huge_feed(megabytes: int, matched: dict) -> bytes:
    """A feed the size of the real one: years of incidents on other products, one on ours at the end."""
    filler = fixture_json("google_ongoing.json")[1]  # a Cloud Storage incident
    filler = {**filler, "end": "2025-01-01T00:00:00+00:00", "updates": [filler["most_recent_update"]] * 6}
    one = len(json.dumps(filler))
    count = megabytes * 1024 * 1024 // one
    entries = [{**filler, "id": f"filler{n:08d}"} for n in range(count)] + [matched]
    return json.dumps(entries).encode()


async def test_a_huge_feed_is_read_and_only_the_matches_are_kept(server, harness):
    import tracemalloc

    matched = fixture_json("google_ongoing.json")[0]
    server.set_feed(huge_feed(12, matched))
    assert len(server.feed) > 10 * 1024 * 1024
    tracemalloc.start()
    try:
        await harness.poll(SOURCE)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert harness.value("nanobanana_status_source_up", source=SOURCE) == 1, harness.poller.get(SOURCE).error
    assert incident_ids(harness) == {matched["id"]}
    assert kept < 1024 * 1024, "the body or the decoded feed outlived the fetch"
    assert peak < 8 * len(server.feed), "more copies of the feed than one body and its decoded form"


async def test_a_feed_over_max_bytes_is_refused(server):
    server.set_feed(huge_feed(3, fixture_json("google_ongoing.json")[0]))
    h = google_only(server, "  max_bytes: 1048576")
    try:
        await h.poll(SOURCE)
        assert h.value("nanobanana_status_source_up", source=SOURCE) == 0
        assert "max_bytes" in h.poller.get(SOURCE).error
    finally:
        await h.close()
