"""Load figures for hostile and oversized input (issue 18): scrape latency under a flood of wrong
basic-auth passwords, and the relay's answer time and memory for very large alert groups.

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
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bcrypt  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402

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

def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # each figure as soon as it is measured
    clients, scrapes = (20, 3) if args.smoke else (150, 20)
    sizes = ((1_000, False),) if args.smoke else ((10_000, False), (100_000, True), (180_000, True))
    concurrent, concurrent_size = (4, 1_000) if args.smoke else (40, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with exporter_with_basic_auth(workdir) as (base, _):
            result = asyncio.run(scrape_under_flood(base, clients, scrapes))
        times = [seconds for _, seconds in result["scrapes"]]
        print(f"scrapes during a {clients}-client flood of wrong passwords: {len(times)} scrapes, statuses "
              f"{dict(Counter(s for s, _ in result['scrapes']))}, median {statistics.median(times) * 1000:.0f} ms, "
              f"slowest {max(times) * 1000:.0f} ms; flood answers {result['flood']}")
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
