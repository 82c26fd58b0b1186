"""One hostile answer must never take down /metrics, the page, the budget or other targets (issue 32).

Each case of the red-team run, reproduced on loopback with the hostile answer served by a small
aiohttp app (or given as a fixture): the shared endpoints keep answering, the numbers stay bounded
and the attempt is kept.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import time

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from benchmarks.hostile import huge_png, incidents
from exporter.exposition import web as exporter_web
from exporter.domain.budget import GLOBAL, Budget, BudgetSettings
from exporter.loading.config import load_text
from exporter.probing.credentials import MAX_TOKEN_ANSWER_BYTES, Credentials, HttpxRequest
from exporter.probing.dialects import DIALECTS
from exporter.probing.dialects.base import MAX_ANSWER_TOKENS, ProbeFailure
from exporter.common.logs import Formatter
from exporter.exposition.metrics import Exposition
from exporter.contract.outcomes import Outcome
from exporter.probing.probe import THUMBNAIL_MAX_PIXELS, Prober, thumbnail
from exporter.simulator.images import png  # a faithful answer: the blank check passes it
from exporter.domain.state import Attempt, Store
from google_sa import key_file
from status_server import Harness, StatusServer, status_config

ENV = {"KEY": "FAKE-hostile-key-0123"}
LONE = "\ud800"  # what JSON's "\ud800" escape decodes to: no UTF-8 writer takes it


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def one_target(base_url: str, **extra) -> tuple[Store, object]:
    target = {"name": "hostile", "api": "gemini", "base_url": base_url, "model": "m", "api_key_env": "KEY",
              "resolutions": ["1K"], **extra}
    config = load_text(yaml.safe_dump({"targets": [target]}), "<test>", environ=ENV)
    store = Store()
    store.apply(config)
    return store, config


def gemini_answer(image: bytes, usage: dict) -> dict:
    import base64

    return {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png",
                                                                  "data": base64.b64encode(image).decode()}}]},
                            "finishReason": "STOP"}],
            "usageMetadata": usage}


# ---------------------------------------------------------------------------------------------
# 1. huge token counts


def test_token_counts_beyond_any_real_answer_are_dropped(caplog):
    usage = DIALECTS["gemini"].usage({"usageMetadata": {
        "promptTokenCount": 1.7e308, "candidatesTokenCount": 1290, "thoughtsTokenCount": float("inf")}})
    assert usage == {"output": 1290}
    assert "token count rejected" in caplog.text
    chat = DIALECTS["openai_chat"].usage({"usage": {"prompt_tokens": 10 ** 400, "completion_tokens": MAX_ANSWER_TOKENS}})
    assert chat == {"output": MAX_ANSWER_TOKENS}


async def test_a_huge_usage_answer_leaves_metrics_and_the_budget_working(tmp_path):
    image = png(1024, 1024)

    async def generate(request):
        return web.json_response(gemini_answer(image, {"promptTokenCount": 1.7e308, "candidatesTokenCount": 1.7e308}))

    app = web.Application()
    app.router.add_post("/v1beta/models/{model}", generate)
    runner, base = await serve(app)
    store, config = one_target(base)
    [state] = list(store)
    budget = Budget(BudgetSettings(daily_limit_usd=5.0, state_file=str(tmp_path / "budget.json")), ["hostile"])
    prober = Prober()
    try:
        for _ in range(2):  # twice: the second sum overflowed before
            attempt = await prober.probe(state.series)
            attempt.cost = state.series.target.price.cost("1K", attempt.outcome, attempt.usage, attempt.image_bytes)
            state.record(attempt)
            budget.record("hostile", attempt.cost)
    finally:
        await prober.aclose()
        await runner.cleanup()
    assert attempt.outcome == Outcome.SUCCESS and attempt.usage == {}
    assert 0 < attempt.cost < 1  # priced at the estimate
    body, _ = Exposition(store, budget=budget).render("")
    assert b'nanobanana_probes_total{' in body
    assert budget.refusal("other") is None  # other targets still probe
    budget.record("hostile", float("inf"))
    budget.record("hostile", float("nan"))
    assert budget.refusal("other") is None
    saved = json.loads((tmp_path / "budget.json").read_text())
    assert all(0 <= v < 1 for v in saved["spent"].values())


def test_an_infinite_spend_in_the_state_file_is_not_restored(tmp_path):
    path = tmp_path / "budget.json"
    budget = Budget(BudgetSettings(daily_limit_usd=5.0, state_file=str(path)), ["t"])
    day = budget.today().isoformat()
    path.write_text(f'{{"version": 1, "day": "{day}", "spent": {{"global": Infinity, "target:t": 0.5}}}}')
    restored = Budget(BudgetSettings(daily_limit_usd=5.0, state_file=str(path)), ["t"])
    assert GLOBAL not in restored.spent and restored.refusal("t") is None


# ---------------------------------------------------------------------------------------------
# 2. lone surrogates


async def test_lone_surrogates_in_a_feed_and_an_error_keep_metrics_and_the_page_answering():
    server = StatusServer()
    from status_server import start_server

    status_runner = await start_server(server)
    title = f"Gemini {LONE} degraded"
    server.set_feed(json.dumps([{
        "id": "x1", "external_desc": title, "status_impact": "SERVICE_OUTAGE", "uri": "incidents/x1",
        "affected_products": [{"id": "Z0FZJAMvEB4j3NbCJs6B", "title": "Gemini"}]}]))
    h = Harness(status_config(f"google_cloud:\n  url: {server.base_url}/incidents.json\nopenrouter: {{enabled: false}}\n"))
    store, config = one_target("http://127.0.0.1:9")
    [state] = list(store)
    state.record(Attempt(started=time.time(), outcome=Outcome.SERVER_ERROR, duration=1.0, phases={},
                         message=f"HTTP 500: broken {LONE} text"))
    app = exporter_web.make_app(Exposition(store, status=h.poller), store, lambda: True, lambda: "<test>")
    try:
        await h.poll("google_cloud")
        assert h.poller.get("google_cloud").up
        async with TestClient(TestServer(app)) as client:
            metrics = await client.get("/metrics")
            assert metrics.status == 200
            text = await metrics.text()
            assert 'title="Gemini \ufffd degraded"' in text
            page = await client.get("/")
            assert page.status == 200 and "broken \ufffd text" in await page.text()
    finally:
        await h.close()
        await status_runner.cleanup()


def test_a_lone_surrogate_in_a_log_line_is_written():
    record = logging.makeLogRecord({"msg": "status source failed", "levelname": "WARNING", "error": f"bad {LONE}"})
    for fmt in ("logfmt", "json"):
        line = Formatter(fmt, str).format(record)
        assert line.encode("utf-8") and "\ufffd" in line


# ---------------------------------------------------------------------------------------------
# 3, 4. a token endpoint that trickles or answers 500 MB


def trickling_app(seconds: float) -> web.Application:
    async def trickle(request):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(int(seconds * 5)):
            await response.write(b" ")
            await asyncio.sleep(0.2)
        return response

    app = web.Application()
    app.router.add_post("/token", trickle)
    return app


def flooding_app() -> web.Application:
    async def flood(request):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b" " * 65536
        for _ in range(8000):  # 500 MB, unless the client stops reading
            await response.write(chunk)
        return response

    app = web.Application()
    app.router.add_post("/token", flood)
    return app


@pytest.mark.parametrize("app, expected", [(trickling_app(60), "no complete answer within 1s"),
                                           (flooding_app(), f"larger than {MAX_TOKEN_ANSWER_BYTES} bytes")])
async def test_a_token_request_has_a_whole_deadline_and_a_size_cap(app, expected):
    from google.auth import exceptions

    runner, base = await serve(app)
    request = HttpxRequest()
    try:
        started = time.monotonic()
        with pytest.raises(exceptions.TransportError, match=expected):
            await asyncio.to_thread(request, base + "/token", "POST", b"grant", None, 1.0)
        assert time.monotonic() - started < 8
    finally:
        request.close()
        await runner.cleanup()


async def test_scrapes_and_health_go_on_while_token_refreshes_trickle(tmp_path, monkeypatch):
    import exporter.probing.credentials as credentials_module

    monkeypatch.setattr(credentials_module, "TOKEN_TIMEOUT", 2.0)
    runner, base = await serve(trickling_app(60))
    store, config = one_target("http://127.0.0.1:9")
    app = exporter_web.make_app(Exposition(store), store, lambda: True, lambda: "<test>")
    credentials = Credentials()
    vertex = load_text(yaml.safe_dump({"targets": [{
        "name": "v", "api": "vertex", "model": "m", "project": "nb-probe-test", "location": "global",
        "credentials_file": key_file(base, tmp_path)}]}), "<test>").targets[0]
    try:
        for _ in range(8):  # more than the default executor's threads, each abandoned at a probe's deadline
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(credentials.secret(vertex), 0.1)
        async with TestClient(TestServer(app)) as client:
            for _ in range(3):
                started = time.monotonic()
                assert (await client.get("/metrics")).status == 200
                assert (await client.get("/-/healthy")).status == 200
                assert time.monotonic() - started < 5  # the old exporter hung here for good
        started = time.monotonic()
        with pytest.raises(ProbeFailure) as failed:  # the one refresh still running, awaited again
            await credentials.secret(vertex)
        assert failed.value.outcome == Outcome.AUTH_ERROR and "no complete answer within 2s" in failed.value.message
        assert time.monotonic() - started < 10
    finally:
        await runner.cleanup()


async def test_health_says_so_when_scrapes_cannot_start(monkeypatch):
    monkeypatch.setattr(exporter_web, "SCRAPE_STALL", 0.5)
    store, config = one_target("http://127.0.0.1:9")
    app = exporter_web.make_app(Exposition(store), store, lambda: True, lambda: "<test>")
    loop = asyncio.get_running_loop()
    gate = threading.Event()
    stuck = [loop.run_in_executor(exporter_web.SCRAPES, gate.wait, 30) for _ in range(exporter_web.SCRAPES._max_workers)]
    try:
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/-/healthy")
            assert response.status == 503 and "scrapes cannot start" in await response.text()
            gate.set()
            await asyncio.gather(*stuck)
            assert (await client.get("/-/healthy")).status == 200
    finally:
        gate.set()


# ---------------------------------------------------------------------------------------------
# 5. the thumbnail of a huge image


def test_the_thumbnail_refuses_an_image_far_beyond_4k_before_decoding_it(monkeypatch):
    # the red team's was 13000x13000 (657 KB, 1,350 MB decoded); this one is over the limit too, and quick to make
    huge = huge_png(6000, 6000)
    assert 6000 * 6000 > THUMBNAIL_MAX_PIXELS and len(huge) < 4 * 1024 * 1024
    real = thumbnail(png(2048, 2048))
    assert real[:2] == b"\xff\xd8"  # a real size still gets one

    from PIL import ImageFile

    def decoded(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decoded)
    assert thumbnail(huge) == b""


def test_the_thumbnail_survives_memory_error(monkeypatch):
    import exporter.probing.probe as probe

    def out_of_memory(data):
        raise MemoryError

    monkeypatch.setattr(probe, "_thumbnail", out_of_memory)
    assert thumbnail(png(64, 64)) == b""


async def test_a_probe_whose_thumbnail_runs_out_of_memory_is_still_counted(monkeypatch):
    import exporter.probing.probe as probe

    image = png(1024, 1024)

    async def generate(request):
        return web.json_response(gemini_answer(image, {"promptTokenCount": 10, "candidatesTokenCount": 1290}))

    def out_of_memory(data):
        raise MemoryError

    monkeypatch.setattr(probe, "_thumbnail", out_of_memory)
    app = web.Application()
    app.router.add_post("/v1beta/models/{model}", generate)
    runner, base = await serve(app)
    store, config = one_target(base)
    [state] = list(store)
    prober = Prober()
    try:
        attempt = await prober.probe(state.series)
    finally:
        await prober.aclose()
        await runner.cleanup()
    state.record(attempt)
    assert attempt.outcome == Outcome.SUCCESS and attempt.thumbnail == b""
    assert state.probes[Outcome.SUCCESS] == 1


# ---------------------------------------------------------------------------------------------
# 6, 7. a status feed of many incidents, or one that trickles


async def test_a_feed_of_many_incidents_keeps_the_newest_and_counts_the_rest():
    from exporter.status.base import MAX_INCIDENTS
    from status_server import start_server

    server = StatusServer()
    runner = await start_server(server)
    server.set_feed(incidents(2000))
    h = Harness(status_config(f"google_cloud:\n  url: {server.base_url}/incidents.json\nopenrouter: {{enabled: false}}\n"))
    try:
        await h.poll("google_cloud")
        info = h.samples("nanobanana_upstream_incident_info")
        assert len(info) == MAX_INCIDENTS
        assert {s["id"] for s in info} == {f"i{n}" for n in range(MAX_INCIDENTS)}  # the feed lists the newest first
        assert h.value("nanobanana_upstream_incidents_active", source="google_cloud", product="Gemini",
                       impact="disruption") == 2000
    finally:
        await h.close()
        await runner.cleanup()


async def test_a_big_feed_does_not_hold_the_event_loop():
    from status_server import start_server

    server = StatusServer()
    runner = await start_server(server)
    server.set_feed(incidents(60000))  # ~ 10 MB
    h = Harness(status_config(f"google_cloud:\n  url: {server.base_url}/incidents.json\n  timeout: 60s\n"
                              "openrouter: {enabled: false}\n"))
    gaps = []

    async def tick():
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        started = time.perf_counter()
        await h.poll("google_cloud")
        assert h.poller.get("google_cloud").up
        parse_seconds = time.perf_counter() - started
    finally:
        ticker.cancel()
        await h.close()
        await runner.cleanup()
    # the parse runs in a thread, an entry at a time: the loop keeps turning meanwhile
    assert len(gaps) > 3 and max(gaps) < max(1.0, parse_seconds / 2)


async def test_a_trickling_feed_ends_at_the_sources_timeout():
    app = web.Application()

    async def trickle(request):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b"[")
        for _ in range(300):
            await response.write(b" ")
            await asyncio.sleep(0.2)
        return response

    app.router.add_get("/incidents.json", trickle)
    runner, base = await serve(app)
    h = Harness(status_config(f"google_cloud:\n  url: {base}/incidents.json\n  timeout: 1s\nopenrouter: {{enabled: false}}\n"))
    try:
        started = time.monotonic()
        await h.poll("google_cloud")
        assert time.monotonic() - started < 8
        state = h.poller.get("google_cloud")
        assert state.up is False and "no complete answer within 1s" in state.error
    finally:
        await h.close()
        await runner.cleanup()


# ---------------------------------------------------------------------------------------------
# 8, 11. dates and durations from the config


def test_a_maintenance_window_ending_in_year_9999_is_refused():
    from exporter.common.yamlconfig import ConfigError

    text = yaml.safe_dump({"targets": [{"name": "t", "api": "gemini", "model": "m", "api_key_env": "KEY"}],
                           "maintenance": [{"name": "forever", "start": "2026-01-01T00:00:00",
                                            "end": "9999-12-31T23:59:00", "time_zone": "America/Los_Angeles"}]})
    with pytest.raises(ConfigError, match="from the year 1970 to 8999"):
        load_text(text, "<t>", environ=ENV)


def test_a_duration_of_310_nines_is_refused():
    from exporter.common.yamlconfig import ConfigError

    text = yaml.safe_dump({"targets": [{"name": "t", "api": "gemini", "model": "m", "api_key_env": "KEY",
                                        "interval": "9" * 310 + "s"}]})
    with pytest.raises(ConfigError, match="a duration of at most 366d"):
        load_text(text, "<t>", environ=ENV)


# ---------------------------------------------------------------------------------------------
# 14. image URLs an answer names


def url_answering_app(image_url: str, image_status: int = 200) -> tuple[web.Application, list[str]]:
    fetched: list[str] = []

    async def generate(request):
        return web.json_response({"created": 1, "data": [{"url": image_url.replace("BASE", f"http://{request.host}")}]})

    async def image(request):
        fetched.append(str(request.url))
        if image_status != 200:
            return web.json_response({"error": {"message": "Forbidden", "code": image_status}}, status=image_status)
        return web.Response(body=png(1024, 1024), content_type="image/png")

    app = web.Application()
    app.router.add_post("/v1/images/generations", generate)
    app.router.add_get("/img.png", image)
    return app, fetched


async def probe_once(base: str, **extra) -> Attempt:
    store, config = one_target(base + "/v1", api="openai_images", **extra)
    [state] = list(store)
    prober = Prober()
    try:
        return await prober.probe(state.series)
    finally:
        await prober.aclose()


async def test_an_image_url_elsewhere_over_http_is_not_fetched():
    app, fetched = url_answering_app("unused")
    runner, base = await serve(app)
    app_url = f"http://localhost:{base.rsplit(':', 1)[1]}/img.png"  # another host: the answer's base_url is 127.0.0.1
    try:
        url_app, url_fetched = url_answering_app(app_url)
        url_runner, url_base = await serve(url_app)
        try:
            refused = await probe_once(url_base)
            allowed = await probe_once(url_base, image_urls="any")
        finally:
            await url_runner.cleanup()
    finally:
        await runner.cleanup()
    assert refused.outcome == Outcome.BAD_RESPONSE and "image_urls: https" in refused.message
    assert allowed.outcome == Outcome.SUCCESS
    assert fetched == [app_url]  # only the allowed probe fetched it


async def test_a_403_from_the_image_url_is_no_auth_error():
    app, fetched = url_answering_app("BASE/img.png", image_status=403)
    runner, base = await serve(app)
    try:
        attempt = await probe_once(base, image_urls="same_host")
    finally:
        await runner.cleanup()
    assert len(fetched) == 1
    assert attempt.outcome == Outcome.BAD_RESPONSE and "image download answered HTTP 403" in attempt.message


# ---------------------------------------------------------------------------------------------
# 13. an OTLP collector that never answers


async def test_shutdown_is_bounded_when_the_otlp_collector_never_answers():
    from exporter.exposition.otel import SHUTDOWN_TIMEOUT, OtelExport

    accepted = []

    async def silent(reader, writer):  # takes the connection and the request, never answers
        accepted.append(writer)
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store, config = one_target("http://127.0.0.1:9")
    [state] = list(store)
    state.record(Attempt(started=time.time(), outcome=Outcome.SUCCESS, duration=20.0, phases={}, usage={"output": 1290}))
    otel = OtelExport(store, f"http://127.0.0.1:{port}/v1/metrics", interval=3600, timeout=30)
    otel.start()
    try:
        started = time.monotonic()
        await otel.stop()
        assert time.monotonic() - started < SHUTDOWN_TIMEOUT + 4  # it took 17.8 s
        assert accepted  # the export was tried
    finally:
        for writer in accepted:
            writer.close()
        server.close()


# ---------------------------------------------------------------------------------------------
# 12. mentions by the thousand


@pytest.mark.parametrize("platform, url, key, make", [
    ("feishu", "FS_URL", "users_file", lambda n: f"ou_{n:032x}"),
    ("dingtalk", "DT_URL", "mobiles_file", lambda n: f"+86-138{n:08d}"),
])
def test_a_channel_mentioning_more_people_than_a_message_holds_is_refused(tmp_path, platform, url, key, make):
    from exporter.relay.config import load_text as load_relay
    from exporter.relay.mentions import MAX_MENTIONS
    from exporter.common.yamlconfig import ConfigError
    from tests.relay_support import environ

    people = tmp_path / "people"
    people.write_text("".join(make(n) + "\n" for n in range(1500)))
    text = (f"channels:\n  c:\n    type: {platform}\n    url_env: {url}\n    mentions:\n"
            f"      - {{match: {{severity: critical}}, {key}: {people}}}\n")
    with pytest.raises(ConfigError) as err:
        load_relay(text, "relay.yml", environ=environ("http://127.0.0.1:1"))
    assert f"the rules mention 1500 people together; a message mentions at most {MAX_MENTIONS}" in str(err.value)
    assert make(7) not in str(err.value)  # personal data: never quoted
    people.write_text("".join(make(n) + "\n" for n in range(MAX_MENTIONS)))
    load_relay(text, "relay.yml", environ=environ("http://127.0.0.1:1"))


# ---------------------------------------------------------------------------------------------
# 10. room for idle connections


def test_the_service_raises_its_open_files_limit_to_the_hard_one():
    import resource
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import resource; from exporter.exposition.service import raise_open_files_limit; "
            "limit = raise_open_files_limit(); print(limit, resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard)))
    limit, in_force = map(int, done.stdout.split())
    assert limit == in_force == min(hard, 1 << 20) > low or hard == low


# ---------------------------------------------------------------------------------------------
# 9. the period report against a broken or hostile Prometheus


def prometheus_app(answer) -> web.Application:
    """A fake Prometheus: `answer(query, is_range)` gives the body (bytes or JSON) of each query; an
    async `answer(request)` writes the response itself."""
    async def query(request):
        q = request.query.get("query", "")
        if asyncio.iscoroutinefunction(answer):
            return await answer(request)
        body = answer(q, request.path.endswith("_range"))
        return web.Response(body=body if isinstance(body, bytes) else json.dumps(body).encode(),
                            content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    app.router.add_get("/api/v1/query_range", query)
    return app


def ok(result) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


async def run_report(tmp_path, base: str, *args: str) -> tuple[int, str, str]:
    import contextlib

    from exporter.report.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = await asyncio.to_thread(main, ["--prometheus.url", base, "--month", "2026-11",
                                              "--out", str(tmp_path / "r"), *args])
    md = tmp_path / "r.md"
    return code, err.getvalue(), md.read_text(encoding="utf-8") if md.exists() else ""


NOV = 1796083200.0  # 2026-12-01T00:00Z, the end of --month 2026-11


@pytest.mark.parametrize("answer, problem", [
    (lambda q, r: b"{" * 100000, "without JSON"),  # nesting past the recursion limit
    (lambda q, r: [1, 2], "refused the query"),
    (lambda q, r: {"status": "success", "data": {"result": "x"}}, "without a data.result list"),
    (lambda q, r: ok([{"value": [NOV, "1"]}]), "a series without a metric mapping"),
    (lambda q, r: ok([{"metric": {"a": 1}, "value": [NOV, "1"]}]), "a label that is not a string"),
    (lambda q, r: ok([{"metric": {}, "value": [1.7e308, "1"]}]), "a sample time outside the period"),
    (lambda q, r: ok([{"metric": {}, "value": [NOV, "many"]}]), "a sample value that is not a number"),
    (lambda q, r: ok([{"metric": {}, "value": [NOV, "1"]}]) if not r else ok([{"metric": {}, "values": []}]),
     "a series without values"),
    (lambda q, r: {"status": "error", "errorType": "bad_data", "error": "line one\nline two"}, "line one line two"),
])
async def test_a_broken_answer_is_one_line_naming_the_query(tmp_path, answer, problem):
    runner, base = await serve(prometheus_app(answer))
    try:
        code, err, md = await run_report(tmp_path, base)
    finally:
        await runner.cleanup()
    assert code == 1 and problem in err and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("report: ")
    assert "query" in err or "without JSON" in err


async def test_a_huge_or_trickling_answer_ends_at_the_cap_or_the_timeout(tmp_path, monkeypatch):
    import exporter.report.prom as prom

    monkeypatch.setattr(prom, "MAX_ANSWER_BYTES", 1 << 20)

    async def flood(request):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            for _ in range(40):  # 2.6 MB, past the cap
                await response.write(b" " * 65536)
        except ConnectionError:
            pass
        return response

    async def trickle(request):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            for _ in range(100):
                await response.write(b" ")
                await asyncio.sleep(0.1)
        except ConnectionError:
            pass
        return response

    for handler, args, problem in ((flood, (), "with more than 1048576 bytes"),
                                   (trickle, ("--timeout", "1"), "did not answer the query")):
        runner, base = await serve(prometheus_app(handler))
        try:
            started = time.monotonic()
            code, err, md = await run_report(tmp_path, base, *args)
            assert time.monotonic() - started < 8
        finally:
            await runner.cleanup()
        assert code == 1 and problem in err and err.count("\n") == 1, err


async def test_markdown_shows_hostile_values_as_text(tmp_path):
    hostile = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) a|b\nnew row"

    def answer(query, is_range):
        if not is_range and query.startswith("sum by (target, model, resolution, outcome)"):
            return ok([{"metric": {"target": hostile, "model": "m", "resolution": "1K", "outcome": "success"},
                        "value": [NOV, "100"]}])
        return ok([])

    runner, base = await serve(prometheus_app(answer))
    try:
        code, err, md = await run_report(tmp_path, base)
    finally:
        await runner.cleanup()
    assert code == 0, err
    row = next(line for line in md.splitlines() if "img" in line)
    assert "\\<img src=x onerror=alert(1)\\> \\[x\\](javascript:alert(1)) a\\|b new row" in row
    assert "<img" not in md.replace("\\<img", "") and "](javascript" not in md.replace("\\](javascript", "")
    assert row.count(" | ") == 8  # nine cells: the value split no row and no cell


@pytest.mark.parametrize("args, message", [(["--month", "9999-12"], "expected YYYY-MM from 1970 to 9998"),
                                           (["--end", "9" * 400], "expected an ISO date-time"),
                                           (["--timeout", "inf"], "expected seconds")])
def test_report_flags_out_of_range_are_refused(args, message, capsys):
    from exporter.report.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--prometheus.url", "http://127.0.0.1:9", *args])
    assert exited.value.code == 2 and message in capsys.readouterr().err
