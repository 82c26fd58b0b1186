"""Load figures for hostile and oversized input (issue 18): scrape latency under a flood of wrong
basic-auth passwords, and the relay's answer time and memory for very large alert groups; and
(issue 32) what /metrics, /, /-/healthy and /-/reload do while one upstream floods or trickles.

    python benchmarks/hostile.py            # the figures of docs/operations.md's "Reliability" section
    python benchmarks/hostile.py --smoke    # seconds, checks the machinery only

Everything runs on 127.0.0.1 against real processes (the exporter with --demo, the relay with a
fake bot). tests/test_hostile_load.py runs the same functions at bounded sizes and asserts on them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bcrypt  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402
from aiohttp import web  # noqa: E402

PASSWORD = "bench-FAKE-password-0123"
TOKEN = "bench-relay-FAKE-token-0123456789"


# ---------------------------------------------------------------------------------------------
# processes

@contextlib.contextmanager
def process(args: list[str], workdir: Path, env: dict | None = None, ready: str = "/-/healthy", auth=None):
    """`python -m exporter ARGS` on a free port; yields (base URL, psutil.Process)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (workdir / f"{args[0]}-{port}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "exporter", *args, "--web.listen-address", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                            env={**(env or {}), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited: {(workdir / log.name).read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + ready, timeout=1, auth=auth).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} not ready")
            time.sleep(0.1)
        yield base, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@contextlib.contextmanager
def exporter_with_basic_auth(workdir: Path, rounds: int = 10):
    web = workdir / "web.yml"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds)).decode()
    web.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    with process(["--demo", "--web.config.file", str(web)], workdir, ready="/-/ready",
                 auth=("prometheus", PASSWORD)) as running:
        yield running


# ---------------------------------------------------------------------------------------------
# 1. scrapes during a flood of wrong passwords

async def scrape_under_flood(base: str, clients: int, scrapes: int, interval: float = 0.25) -> dict:
    """`clients` connections sending random users and passwords as fast as answers come, while an
    authenticated scraper scrapes `scrapes` times. Returns the scrapes' (status, seconds) and the
    flood's status counts."""
    stop = asyncio.Event()
    flood: Counter = Counter()

    async def attacker(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            try:
                answer = await client.get(f"{base}/metrics", auth=(secrets.token_hex(4), secrets.token_hex(8)))
                flood[answer.status_code] += 1
            except httpx.HTTPError as err:
                flood[type(err).__name__] += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as attackers, \
            httpx.AsyncClient(timeout=30, auth=("prometheus", PASSWORD)) as scraper:
        assert (await scraper.get(f"{base}/metrics")).status_code == 200  # a scraper already running
        tasks = [asyncio.create_task(attacker(attackers)) for _ in range(clients)]
        await asyncio.sleep(1.0)  # the flood under way
        results = []
        for _ in range(scrapes):
            started = time.monotonic()
            try:
                status = (await scraper.get(f"{base}/metrics", timeout=10)).status_code
            except httpx.HTTPError as err:
                status = type(err).__name__
            results.append((status, time.monotonic() - started))
            await asyncio.sleep(interval)
        stop.set()
        await asyncio.gather(*tasks)
    return {"scrapes": results, "flood": dict(flood)}


# ---------------------------------------------------------------------------------------------
# 2. large alert groups at the relay

def group(alerts: int, minimal: bool = False, key: int = 0) -> bytes:
    """An Alertmanager webhook body with `alerts` firing alerts: realistic ones (labels, annotations,
    times; about 390 bytes each), or minimal ones ({"status": "firing"}, 20 bytes: 180,000 of them fit
    under the relay's 4 MiB body limit)."""
    if minimal:
        items = [{"status": "firing"}] * alerts
    else:
        items = [{"status": "firing",
                  "labels": {"alertname": "NanoBananaOutage", "severity": "critical", "target": "prod",
                             "model": "gemini-3-pro-image", "resolution": "2K", "series": str(i)},
                  "annotations": {"summary": "outage", "description": "check the status page"},
                  "startsAt": "2025-06-01T12:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                  "generatorURL": "http://prometheus.test/graph", "fingerprint": f"{i:016x}"} for i in range(alerts)]
    return json.dumps({"version": "4", "status": "firing", "receiver": "r", "groupKey": f"{{}}:{{group={key}}}",
                       "groupLabels": {"alertname": "NanoBananaOutage"}, "commonLabels": {}, "commonAnnotations": {},
                       "externalURL": "http://alertmanager.test", "alerts": items}, separators=(",", ":")).encode()


RELAY_CONFIG = """channels:
  fs: {type: feishu, url_env: FS_URL}
  wc: {type: wecom, url_env: WC_URL}
token_env: RELAY_TOKEN
"""


@contextlib.contextmanager
def relay(workdir: Path):
    """(relay base URL, psutil.Process, fake bot) with a fake bot that answers at once."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tests.stack import FakeWebhook

    config = workdir / "relay.yml"
    config.write_text(RELAY_CONFIG)
    with FakeWebhook() as bot:
        env = {"FS_URL": bot.url("/open-apis/bot/v2/hook/bench-FAKE-hook-0123456789"),
               "WC_URL": bot.url("/cgi-bin/webhook/send?key=bench-FAKE-key-0123456789"), "RELAY_TOKEN": TOKEN}
        with process(["relay", "--config.file", str(config)], workdir, env=env) as (base, proc):
            yield base, proc, bot


async def post_groups(base: str, proc: psutil.Process, bodies: list[bytes], channel: str = "fs") -> dict:
    """The bodies posted at once, health checks meanwhile. Returns answer statuses and times, the
    slowest health check, and the relay's peak RSS."""
    done = asyncio.Event()
    health: list[float] = []
    peak = proc.memory_info().rss

    async def watch() -> None:
        nonlocal peak
        async with httpx.AsyncClient(timeout=30) as client:
            while not done.is_set():
                started = time.monotonic()
                with contextlib.suppress(httpx.HTTPError):
                    await client.get(f"{base}/-/healthy")
                health.append(time.monotonic() - started)
                with contextlib.suppress(psutil.Error):
                    peak = max(peak, proc.memory_info().rss)
                await asyncio.sleep(0.05)

    async def post(client: httpx.AsyncClient, body: bytes) -> tuple[object, float]:
        started = time.monotonic()
        try:
            status = (await client.post(f"{base}/alerts/{channel}", content=body, timeout=60,
                                        headers={"Authorization": f"Bearer {TOKEN}",
                                                 "Content-Type": "application/json"})).status_code
        except httpx.HTTPError as err:
            status = type(err).__name__
        return status, time.monotonic() - started

    watcher = asyncio.create_task(watch())
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=len(bodies))) as client:
        answers = await asyncio.gather(*(post(client, body) for body in bodies))
    done.set()
    await watcher
    return {"answers": answers, "slowest_health": max(health, default=0.0), "peak_rss": peak}


# ---------------------------------------------------------------------------------------------
# 3. hostile upstreams (issue 32): a feed, a token endpoint or an answer that floods or trickles

def huge_png(width: int, height: int) -> bytes:
    """A valid black RGB PNG, its rows compressed as they are made: the test never holds the pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row, idat = zlib.compressobj(1), bytes(1 + 3 * width), []
    for _ in range(height):
        idat.append(packer.compress(row))
    idat.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(idat)) + chunk(b"IEND", b"")


def incidents(count: int) -> list[dict]:
    """`count` ongoing Gemini incidents in the Google Cloud feed's shape, newest first, as short as
    the feed allows (about 100 bytes each: 600,000 make 61 MB, under the source's 64 MiB cap)."""
    return [{"id": f"i{n}", "status_impact": "SERVICE_DISRUPTION", "affected_products": [{"id": "Z0FZJAMvEB4j3NbCJs6B"}]}
            for n in range(count)]


class HostileUpstream:
    """One loopback server playing every upstream at once, hostile in one way (`mode`): the status
    feed (/incidents.json), Google's token endpoint (/token) and a Gemini API (/v1beta/...)."""

    def __init__(self, mode: str, size: int):
        self.mode, self.size = mode, size
        self.url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    def __enter__(self) -> "HostileUpstream":
        self._thread.start()
        if not self._ready.wait(120):
            raise RuntimeError(f"the hostile upstream ({self.mode}) did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _trickle(self, request, first: bytes = b"") -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(first)
            for _ in range(3600):
                await response.write(b" ")
                await asyncio.sleep(1)
        return response

    async def _flood(self, request, total: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b" " * (1 << 20)
        with contextlib.suppress(ConnectionError):
            for _ in range(total >> 20):
                await response.write(chunk)
        return response

    async def _feed(self, request):
        if self.mode == "feed_trickle":
            return await self._trickle(request, b"[")
        body = b"[]"
        if self.mode == "feed_flood":
            body = self._feed_body
        return web.Response(body=body, content_type="application/json")

    async def _token(self, request):
        if self.mode == "token_trickle":
            return await self._trickle(request)
        if self.mode == "token_flood":
            return await self._flood(request, self.size)
        return web.json_response({"access_token": "ya29.FAKE-bench-" + secrets.token_hex(8), "expires_in": 3600,
                                  "token_type": "Bearer"})

    async def _generate(self, request):
        usage = {"promptTokenCount": 1.7e308, "candidatesTokenCount": 1.7e308} if self.mode == "huge_image" \
            else {"promptTokenCount": 12, "candidatesTokenCount": 1290}
        data = self._image
        return web.json_response({"candidates": [{"content": {"parts": [{"inlineData": {
            "mimeType": "image/png", "data": data}}]}, "finishReason": "STOP"}], "usageMetadata": usage})

    async def _serve(self) -> None:
        import base64

        side = self.size if self.mode == "huge_image" else 1024
        self._image = base64.b64encode(huge_png(side, side)).decode()
        self._feed_body = (json.dumps(incidents(self.size), separators=(",", ":")).encode()
                           if self.mode == "feed_flood" else b"[]")
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application()
        app.router.add_get("/incidents.json", self._feed)
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1beta/models/{model}", self._generate)
        app.router.add_post("/v1/projects/{rest:.*}", self._generate)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()


def hostile_config(mode: str, upstream: str, workdir: Path) -> str:
    """A config with one target the hostile upstream serves, and its status feed."""
    if mode.startswith("token"):
        from tests.google_sa import key_file

        target = (f"{{name: vertex, api: vertex, model: gemini-3-pro-image, project: nb-probe-test, location: global, "
                  f"base_url: '{upstream}', credentials_file: '{key_file(upstream, workdir)}', interval: 1s, timeout: 2s}}")
    else:
        target = (f"{{name: gemini, api: gemini, model: gemini-3-pro-image, base_url: '{upstream}', "
                  f"api_key_env: BENCH_KEY, interval: 2s, timeout: 30s}}")
    return (f"targets:\n  - {target}\nbudget: {{daily_limit_usd: 100, state_file: null}}\n"
            f"status_sources:\n  google_cloud: {{url: '{upstream}/incidents.json', interval: 2s, timeout: 5s}}\n"
            "  openrouter: {enabled: false}\n")


async def endpoints_meanwhile(base: str, proc: psutil.Process, seconds: float) -> dict:
    """/metrics, /, /-/healthy and POST /-/reload asked in turn for `seconds`: the slowest answer
    and the statuses of each, the peak RSS, and the last /metrics body."""
    slowest: dict[str, float] = {}
    statuses: dict[str, Counter] = {}
    peak, body = proc.memory_info().rss, b""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=20) as client:
        while time.monotonic() < deadline:
            for method, path in (("GET", "/metrics"), ("GET", "/"), ("GET", "/-/healthy"), ("POST", "/-/reload")):
                started = time.monotonic()
                try:
                    answer = await client.request(method, base + path)
                    status = answer.status_code
                    if path == "/metrics" and status == 200:
                        body = answer.content
                except httpx.HTTPError as err:
                    status = type(err).__name__
                slowest[path] = max(slowest.get(path, 0.0), time.monotonic() - started)
                statuses.setdefault(path, Counter())[status] += 1
                with contextlib.suppress(psutil.Error):
                    peak = max(peak, proc.memory_info().rss)
            await asyncio.sleep(0.25)
    return {"slowest": slowest, "statuses": statuses, "peak_rss": peak, "metrics": body,
            "rss": proc.memory_info().rss}


def sample(body: bytes, name: str, **labels: str) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(body.decode("utf-8", "replace")):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def hostile_upstream(mode: str, size: int, seconds: float, workdir: Path) -> str:
    """One figure line: what the shared endpoints did while one upstream was hostile in one way."""
    with HostileUpstream(mode, size) as upstream:
        config = workdir / f"{mode}.yml"
        config.write_text(hostile_config(mode, upstream.url, workdir))
        env = {"BENCH_KEY": "bench-FAKE-key-0123456789"}
        with process(["--config.file", str(config)], workdir, env=env) as (base, proc):
            result = asyncio.run(endpoints_meanwhile(base, proc, seconds))
    body = result["metrics"]
    probes = sum(v for o in ("success", "bad_image", "bad_response", "auth_error", "timeout", "server_error",
                             "network_error", "client_error", "rate_limited")
                 if (v := sample(body, "nanobanana_probes_total", outcome=o)) is not None) if body else None
    slowest = ", ".join(f"{path} {t * 1000:.0f} ms" for path, t in result["slowest"].items())
    bad = {path: dict(c) for path, c in result["statuses"].items() if set(c) != {200}}
    return (f"{mode} ({size:,}): slowest {slowest}; not 200: {bad or 'none'}; peak RSS "
            f"{result['peak_rss'] / 2**20:.0f} MiB, after {result['rss'] / 2**20:.0f} MiB; /metrics "
            f"{len(body) / 1e6:.2f} MB, probes counted {probes}, feed up "
            f"{sample(body, 'nanobanana_status_source_up', source='google_cloud') if body else None}, budget spent "
            f"{sample(body, 'nanobanana_budget_spent_usd', scope='global') if body else None}")


HOSTILE_CASES = {  # mode -> (full size, smoke size)
    "feed_flood": (600_000, 20_000),  # incidents in the feed (600,000: 61 MB, under the 64 MiB cap)
    "feed_trickle": (1, 1),
    "token_trickle": (1, 1),
    "token_flood": (100 << 20, 8 << 20),  # bytes of token answer
    "huge_image": (13_000, 6_000),  # PNG side, with token counts of 1.7e308
}


# ---------------------------------------------------------------------------------------------

def relay_figures(workdir: Path, sizes, concurrent: int, concurrent_size: int) -> None:
    with relay(workdir) as (base, proc, _):
        for key, (size, minimal) in enumerate(sizes):
            body = group(size, minimal, key)
            result = asyncio.run(post_groups(base, proc, [body]))
            [(status, seconds)] = result["answers"]
            print(f"one group of {size:,} {'minimal' if minimal else 'realistic'} alerts ({len(body) / 1e6:.1f} MB): "
                  f"{status} in {seconds:.2f} s, "
                  f"slowest /-/healthy {result['slowest_health'] * 1000:.0f} ms, peak RSS {result['peak_rss'] / 2**20:.0f} MiB")
        bodies = [group(concurrent_size, key=100 + i) for i in range(concurrent)]  # distinct groups
        result = asyncio.run(post_groups(base, proc, bodies))
        statuses = Counter(status for status, _ in result["answers"])
        slowest = max(seconds for _, seconds in result["answers"])
        print(f"{concurrent} concurrent groups of {concurrent_size:,} alerts: {dict(statuses)}, slowest answer "
              f"{slowest:.2f} s, slowest /-/healthy {result['slowest_health'] * 1000:.0f} ms, "
              f"peak RSS {result['peak_rss'] / 2**20:.0f} MiB")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", choices=["auth", "relay", "upstreams"], default=None, help="run one part")
    parser.add_argument("--seconds", type=float, default=None, help="upstreams: seconds per case (30; smoke 4)")
    parser.add_argument("--case", action="append", choices=list(HOSTILE_CASES), help="upstreams: only these cases")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # each figure as soon as it is measured
    clients, scrapes = (20, 3) if args.smoke else (150, 20)
    sizes = ((1_000, False),) if args.smoke else ((10_000, False), (100_000, True), (180_000, True))
    concurrent, concurrent_size = (4, 1_000) if args.smoke else (40, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.only in (None, "upstreams"):
            seconds = args.seconds or (4.0 if args.smoke else 30.0)
            for mode, (full, smoke) in HOSTILE_CASES.items():
                if args.case and mode not in args.case:
                    continue
                print(hostile_upstream(mode, smoke if args.smoke else full, seconds, workdir))
        if args.only == "upstreams":
            return 0
        if args.only in (None, "auth"):
            with exporter_with_basic_auth(workdir) as (base, _):
                result = asyncio.run(scrape_under_flood(base, clients, scrapes))
            times = [seconds for _, seconds in result["scrapes"]]
            print(f"scrapes during a {clients}-client flood of wrong passwords: {len(times)} scrapes, statuses "
                  f"{dict(Counter(s for s, _ in result['scrapes']))}, median {statistics.median(times) * 1000:.0f} ms, "
                  f"slowest {max(times) * 1000:.0f} ms; flood answers {result['flood']}")
        if args.only in (None, "relay"):
            relay_figures(workdir, sizes, concurrent, concurrent_size)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
