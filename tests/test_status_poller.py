"""The status poller: each source on its own interval in the background, never crashing, reloadable."""

from __future__ import annotations

from exporter.status.poller import StatusPoller
from status_server import Harness, StatusServer, fixture, status_config
from tests.helpers import wait_for


def both(server: StatusServer, google_interval: str = "100ms", openrouter_interval: str = "1h") -> object:
    return status_config(f"""
google_cloud: {{url: "{server.base_url}/incidents.json", interval: {google_interval}}}
openrouter: {{base_url: "{server.base_url}/api/v1", models: [google/gemini-3-pro-image], interval: {openrouter_interval}}}
""")


async def test_each_source_runs_on_its_own_interval(server):
    server.set_feed(fixture("google_ongoing.json"))
    server.endpoints["google/gemini-3-pro-image"] = fixture("openrouter_endpoints.json")
    poller = StatusPoller()
    try:
        poller.apply(both(server).status_sources)
        await wait_for(lambda: len(server.requests_to("/incidents.json")) >= 4)
        # the fast source went round several times, the hourly one once (right at the start)
        assert len(server.requests_to("/api/v1/models/google/gemini-3-pro-image/endpoints")) == 1
        assert all(state.up for state in poller)
        # after the first full answer, every poll is conditional
        assert {s.status for s in server.requests_to("/incidents.json")[1:]} == {304}
    finally:
        await poller.stop()


async def test_a_source_that_keeps_failing_never_stops_the_poller(server):
    config = status_config("""
google_cloud: {url: "http://[::1/incidents.json", interval: 50ms}
openrouter: {enabled: false}
""")
    poller = StatusPoller()
    polls, poll = [], poller.poll

    async def counted(kind: str) -> None:
        await poll(kind)
        polls.append(kind)

    poller.poll = counted
    try:
        poller.apply(config.status_sources)
        (_, task), = poller._jobs._tasks.values()
        await wait_for(lambda: len(polls) >= 4)  # failed four times, and went on
        assert not task.done(), "the source's loop died"
        assert poller.get("google_cloud").up is False and poller.get("google_cloud").error
    finally:
        await poller.stop()


async def test_reapplying_keeps_unchanged_sources_and_drops_removed_ones(server):
    server.set_feed(fixture("google_ongoing.json"))
    server.endpoints["google/gemini-3-pro-image"] = fixture("openrouter_endpoints.json")
    h = Harness(both(server))
    try:
        await h.poll("google_cloud")
        await h.poll("openrouter")
        google_state = h.poller.get("google_cloud")
        assert h.samples("nanobanana_openrouter_endpoint_status")

        h.poller.apply(both(server).status_sources, run=False)  # a reload with the same settings
        assert h.poller.get("google_cloud") is google_state

        h.poller.apply(status_config(f"""
google_cloud: {{url: "{server.base_url}/incidents.json", interval: 100ms}}
openrouter: {{enabled: false}}
""").status_sources, run=False)
        assert h.poller.get("google_cloud") is google_state
        assert h.samples("nanobanana_openrouter_endpoint_status") == []
        assert {s["source"] for s in h.samples("nanobanana_status_source_up")} == {"google_cloud"}

        h.poller.apply(both(server, google_interval="5m").status_sources, run=False)  # changed: starts afresh
        assert h.poller.get("google_cloud") is not google_state
        assert h.samples("nanobanana_upstream_incidents_active") == []
    finally:
        await h.close()
