"""Slow and abusive clients against the exporter's and the relay's listeners (real processes): idle
connections, slowloris (headers trickled byte by byte), huge headers, huge and stalled bodies. Each is
cut off by a limit of exporter/exposition/web.py, and scrapes of both keep answering quickly all the while."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest

from conftest import exporter_env, free_port, running_exporter
from exporter.exposition import web
from exporter.relay.server import MAX_BODY
from tests.relay_support import BEARER, CONFIG, environ
from tests.stack import FakeWebhook, start_service

IDLE = 20  # idle connections per server
SLOWLORIS = 5  # connections per server trickling headers
SCRAPE_BOUND = 5.0  # seconds: a starved scrape waits out the abuse (tens of seconds); a busy machine takes ~1 s
CUT_SLACK = 2.5  # seconds past a limit for the server to cut a connection (a loaded 2-core machine)


async def connect(address: tuple[str, int]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*address)


async def closed_after(reader: asyncio.StreamReader, started: float, limit: float) -> float | None:
    """Seconds from `started` until the server closed the connection (EOF or reset), or None if it
    was still open `limit` seconds after `started`. Whatever the server sends meanwhile is drained."""
    try:
        async with asyncio.timeout(max(0.0, started + limit - time.monotonic())):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return None
    except (ConnectionError, OSError):
        pass
    return round(time.monotonic() - started, 2)


async def idle(address) -> float | None:
    started = time.monotonic()
    reader, writer = await connect(address)
    try:
        return await closed_after(reader, started, web.IDLE_TIMEOUT + CUT_SLACK)
    finally:
        writer.close()


async def slowloris(address) -> float | None:
    """A request line, then one header byte every 0.2 s, never finishing the headers."""
    started = time.monotonic()
    reader, writer = await connect(address)
    closed = asyncio.create_task(closed_after(reader, started, web.IDLE_TIMEOUT + CUT_SLACK))
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        for i in range(int((web.IDLE_TIMEOUT + CUT_SLACK) / 0.2)):
            if closed.done():
                break
            writer.write(b"X")  # a header name that never ends, well under the size limits
            try:
                await writer.drain()
            except (ConnectionError, OSError):
                break
            await asyncio.sleep(0.2)
        return await closed
    finally:
        writer.close()


async def one_request(address, head: bytes, body: bytes = b"", then_send: int = 0) -> tuple[bytes, float]:
    """Send head (+ body, + then_send more bytes while the server keeps reading), return the status
    line and the seconds until it came."""
    started = time.monotonic()
    reader, writer = await connect(address)
    try:
        writer.write(head + body)
        sending = asyncio.create_task(_send_zeros(writer, then_send))
        try:
            async with asyncio.timeout(web.BODY_TIMEOUT + CUT_SLACK + 2):
                status = await reader.readline()
        except TimeoutError:
            status = b"no answer"
        except (ConnectionError, OSError) as err:
            status = repr(err).encode()
        sending.cancel()
        return status.strip(), round(time.monotonic() - started, 2)
    finally:
        writer.close()


async def _send_zeros(writer: asyncio.StreamWriter, count: int) -> None:
    chunk = b"0" * 65536
    try:
        while count > 0:
            writer.write(chunk[:count])
            count -= len(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass


def request(method: str, path: str, *headers: str, length: int | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def scrape_meanwhile(urls: list[str], stop: asyncio.Event) -> list[tuple[str, int, float]]:
    results = []
    # the relay's token guards its /metrics too; the exporter (no web config) ignores it
    async with httpx.AsyncClient(timeout=5, headers={"Authorization": f"Bearer {BEARER}"}) as client:
        for _ in range(1000):  # bounded: at most ~1000 rounds
            if stop.is_set():
                break
            for url in urls:
                started = time.monotonic()
                try:
                    status = (await client.get(url)).status_code
                except httpx.HTTPError as err:
                    status = repr(err)
                results.append((url, status, time.monotonic() - started))
            await asyncio.sleep(0.1)
    return results


def test_limits_are_one_table_used_by_every_listener():
    assert web.LIMITS["keepalive_timeout"] == web.IDLE_TIMEOUT
    assert {"max_line_size", "max_field_size", "max_headers"} <= set(web.LIMITS)


@pytest.mark.slow  # load, with timing bounds
@pytest.mark.timeout(90)
def test_abusive_clients_are_cut_off_while_scrapes_go_on(tmp_path):
    config = tmp_path / "relay.yml"
    config.write_text(CONFIG.replace("DEADLINE", "3s"))
    with FakeWebhook() as fake, running_exporter("--demo") as (exporter, _):
        address = f"127.0.0.1:{free_port()}"
        argv = [sys.executable, "-m", "exporter", "relay", "--config.file", str(config), "--web.listen-address", address]
        relay = start_service("relay", argv, address, tmp_path, timeout=20, env=exporter_env(**environ(fake.url())))
        try:
            results = asyncio.run(abuse(exporter, relay.url))
        finally:
            relay.stop()
    report(results)


async def abuse(exporter: str, relay: str) -> dict:
    servers = {"exporter": exporter, "relay": relay}
    addresses = {name: ("127.0.0.1", int(url.rsplit(":", 1)[1])) for name, url in servers.items()}
    stop = asyncio.Event()
    scrapes = asyncio.create_task(scrape_meanwhile([f"{url}/metrics" for url in servers.values()], stop))
    huge_header = request("GET", "/metrics", "X-Huge: " + "a" * 100_000)
    many_headers = request("GET", "/metrics", *(f"X-H{i}: v" for i in range(500)))
    auth = f"Authorization: Bearer {BEARER}"
    jobs = {}
    for name, address in addresses.items():
        jobs[f"{name} idle"] = [idle(address) for _ in range(IDLE)]
        jobs[f"{name} slowloris"] = [slowloris(address) for _ in range(SLOWLORIS)]
        jobs[f"{name} huge header"] = [one_request(address, huge_header)]
        jobs[f"{name} 500 headers"] = [one_request(address, many_headers)]
    jobs["exporter huge reload body"] = [one_request(addresses["exporter"], request("POST", "/-/reload", length=50 << 20),
                                                     then_send=8 << 20)]
    jobs["relay huge webhook body"] = [one_request(addresses["relay"], request("POST", "/alerts/fs", auth, length=50 << 20),
                                                   then_send=8 << 20)]
    jobs["relay stalled webhook body"] = [one_request(addresses["relay"], request("POST", "/alerts/fs", auth, length=1000),
                                                      body=b'{"status": "fi')]
    names = [(name, i) for name, coros in jobs.items() for i in range(len(coros))]
    done = await asyncio.gather(*(c for coros in jobs.values() for c in coros))
    stop.set()
    results: dict = {"scrapes": await scrapes}
    for (name, _), value in zip(names, done):
        results.setdefault(name, []).append(value)
    return results


def report(results: dict) -> None:
    scrapes = results.pop("scrapes")
    slowest = max(seconds for _, _, seconds in scrapes)
    print(f"\n{len(scrapes)} scrapes during the abuse, slowest {slowest * 1000:.0f} ms")
    for name, values in results.items():
        print(f"  {name}: {values[:3]}{' ...' if len(values) > 3 else ''}")
    assert len(scrapes) >= 40, len(scrapes)
    failed = [(url, status, round(s, 2)) for url, status, s in scrapes if status != 200 or s > SCRAPE_BOUND]
    assert not failed, failed[:5]
    for server in ("exporter", "relay"):
        for kind in ("idle", "slowloris"):
            cut = results[f"{server} {kind}"]
            assert None not in cut, f"{server}: {kind} connections still open after {web.IDLE_TIMEOUT + CUT_SLACK}s"
            assert all(web.IDLE_TIMEOUT - 1 <= s <= web.IDLE_TIMEOUT + CUT_SLACK for s in cut), (server, kind, cut)
        for kind in ("huge header", "500 headers"):
            [(status, seconds)] = results[f"{server} {kind}"]
            assert status.split(b" ")[1] in (b"400", b"431") and seconds < 2, (server, kind, status, seconds)
    [(status, seconds)] = results["exporter huge reload body"]
    assert status.startswith(b"HTTP/1.1 200") and seconds < 5, (status, seconds)  # the body is not read at all
    [(status, seconds)] = results["relay huge webhook body"]
    assert status == b"HTTP/1.1 413 Request Entity Too Large" and seconds < 5, (status, seconds)
    assert MAX_BODY < 50 << 20
    [(status, seconds)] = results["relay stalled webhook body"]
    assert status == b"HTTP/1.1 408 Request Timeout", status
    assert web.BODY_TIMEOUT - 1 <= seconds <= web.BODY_TIMEOUT + CUT_SLACK, seconds
