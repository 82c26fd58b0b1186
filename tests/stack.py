"""Helpers for real-stack tests: Debian's `prometheus` and `prometheus-alertmanager` as subprocesses
on loopback with free ports and temporary storage, and fake chat webhooks that record what they
receive and can be told to fail.

    with FakeWebhook() as chat:
        am_config = alertmanager_config_for_test(ROOT / "alertmanager/alertmanager.yml", tmp_path,
                                                 slack_url=chat.url("/slack"), relay_url=chat.url())
        with start_alertmanager(am_config, tmp_path) as am, \\
             start_prometheus(tmp_path, targets=["127.0.0.1:9877"], rule_files=[RULES],
                              alertmanagers=[am.address]) as prom:
            chat.wait_for(lambda r: r.path == "/slack", timeout=60)

Everything is synchronous; FakeWebhook serves from its own thread, so it answers while a test
polls, whether the test is sync or async.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from aiohttp import web

from alertmanager.generate import scale_duration
from tests.captured import CAPTURED

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "alertmanager" / "rules.yml"
ALERTMANAGER_CONFIG = ROOT / "alertmanager" / "alertmanager.yml"
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Fake chat webhooks


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival
    answered: int  # HTTP status the fake answered
    failed: bool  # True when the fake was told to fail this one (HTTP error or error code)

    @property
    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class _Failure:
    status: int = 500
    reply: dict | None = None  # answered with HTTP 200 and this body when set (Feishu-style)
    times: int | None = None  # fail this many requests...
    until: float | None = None  # ...or until this monotonic time
    slow: float = 0.0  # seconds to wait before answering (to exceed a client timeout)


@dataclass
class FakeWebhook:
    """An HTTP server on 127.0.0.1 that accepts any POST path, records it, and answers success
    (`{"code": 0, "errcode": 0}`, which Feishu, DingTalk, WeCom and Slack clients all accept) or,
    when told to, a failure."""

    requests: list[Received] = field(default_factory=list)
    _failure: _Failure | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> "FakeWebhook":
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-webhook", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("fake webhook did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def __enter__(self) -> "FakeWebhook":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self._stop = asyncio.Event()
        self._started.set()
        await self._stop.wait()
        await runner.cleanup()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # behaviour -----------------------------------------------------------------------------
    def fail(self, status: int = 500, *, reply: dict | None = None, times: int | None = None,
             seconds: float | None = None, slow: float = 0.0) -> None:
        """Fail the next `times` requests, or all for `seconds`, or all until heal().
        reply={"code": 11232, "msg": "rate limited"} answers HTTP 200 with that body, like Feishu."""
        until = time.monotonic() + seconds if seconds is not None else None
        with self._lock:
            self._failure = _Failure(status=200 if reply is not None else status, reply=reply,
                                     times=times, until=until, slow=slow)

    def heal(self) -> None:
        with self._lock:
            self._failure = None

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            f = self._failure
            if f is None:
                return None
            if f.until is not None and time.monotonic() >= f.until:
                self._failure = None
                return None
            if f.times is not None:
                if f.times <= 0:
                    self._failure = None
                    return None
                f.times -= 1
            return f

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        CAPTURED.add("relay message", body.decode(errors="replace"), f"{request.method} {request.path}")
        failure = self._take_failure()
        if failure and failure.slow:
            await asyncio.sleep(failure.slow)
        if failure is None:
            status, reply = 200, {"code": 0, "msg": "success", "errcode": 0, "errmsg": "ok"}
        elif failure.reply is not None:
            status, reply = 200, failure.reply
        else:
            status, reply = failure.status, {"error": "told to fail"}
        with self._lock:
            self.requests.append(Received(request.method, request.path, dict(request.query), dict(request.headers),
                                          body, time.monotonic(), status, failure is not None))
        return web.json_response(reply, status=status)

    # reading -------------------------------------------------------------------------------
    def received(self, path: str | None = None, delivered_only: bool = True) -> list[Received]:
        with self._lock:
            found = list(self.requests)
        return [r for r in found if (path is None or r.path == path) and not (delivered_only and r.failed)]

    def wait_for(self, predicate: Callable[[Received], bool] = lambda r: True, count: int = 1,
                 timeout: float = 30.0, delivered_only: bool = True) -> list[Received]:
        """Poll until `count` recorded requests match; returns them, or raises AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            matches = [r for r in self.received(delivered_only=delivered_only) if predicate(r)]
            if len(matches) >= count:
                return matches
            if time.monotonic() > deadline:
                seen = [(r.path, r.answered) for r in self.received(delivered_only=False)]
                raise AssertionError(f"fake webhook: {len(matches)}/{count} matching requests after {timeout}s; saw {seen}")
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# Prometheus and Alertmanager


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    address: str  # host:port
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, **params) -> dict:
        response = httpx.get(self.url + path, params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            CAPTURED.add("log", self.logs(), self.name)

    def __enter__(self) -> "Service":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_service(name: str, argv: list[str], address: str, workdir: Path, timeout: float = 30.0,
                  env: dict[str, str] | None = None, ready_path: str = "/-/ready") -> Service:
    """Run argv (which must listen on `address`) with output in workdir/NAME.log; return once
    GET ready_path answers 200. Also fits the exporter, the simulator and the relay."""
    log_path = workdir / f"{name}.log"
    log = log_path.open("w")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    log.close()
    service = Service(name, process, address, log_path)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}:\n{service.logs()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{service.url}{ready_path}", timeout=1).status_code == 200:
                return service
        if time.monotonic() > deadline:
            service.stop()
            raise AssertionError(f"{name} not ready after {timeout}s:\n{service.logs()[-3000:]}")
        time.sleep(0.1)


def start_prometheus(workdir: Path, *, targets: list[str] = (), job: str = "nanobanana",
                     rule_files: list[Path] = (), alertmanagers: list[str] = (),
                     scrape_interval: str = "1s", evaluation_interval: str = "1s",
                     extra_scrape_configs: list[dict] = (), extra_args: list[str] = (),
                     ready_timeout: float = 60.0) -> Service:
    """Prometheus on a free loopback port, scraping `targets` (host:port) as job `job`, with the
    rule files and Alertmanagers (host:port) given. Data lives in workdir/prometheus-data."""
    if not PROMETHEUS:
        raise RuntimeError("prometheus is not installed (tests/run.sh installs Debian's package)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval,
                   "scrape_timeout": scrape_interval},
        "rule_files": [str(Path(f).resolve()) for f in rule_files],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}, *extra_scrape_configs],
    }
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    address = f"127.0.0.1:{free_port()}"
    argv = [PROMETHEUS, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'prometheus-data'}",
            f"--web.listen-address={address}", "--web.enable-lifecycle",
            # resend firing alerts every second (default 1m) so tests see state changes quickly
            "--rules.alert.resend-delay=1s", *extra_args]
    return start_service("prometheus", argv, address, workdir, ready_timeout)


def start_alertmanager(config_path: Path, workdir: Path, *, extra_args: list[str] = (),
                       ready_timeout: float = 30.0) -> Service:
    """Alertmanager on a free loopback port, alone (gossip off), storage in workdir/alertmanager-data."""
    if not ALERTMANAGER:
        raise RuntimeError("prometheus-alertmanager is not installed (tests/run.sh installs Debian's package)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    argv = [ALERTMANAGER, f"--config.file={config_path}", f"--storage.path={workdir / 'alertmanager-data'}",
            f"--web.listen-address={address}", "--cluster.listen-address=", f"--web.external-url=http://{address}",
            *extra_args]
    return start_service("alertmanager", argv, address, workdir, ready_timeout)


def alertmanager_config_for_test(source: Path, workdir: Path, *, slack_url: str, relay_url: str,
                                 token: str | None = "test-relay-token", group_wait: str | None = "1s",
                                 group_interval: str | None = "2s", repeat_interval: str | None = None,
                                 time_scale: float | None = None) -> Path:
    """A copy of the project's Alertmanager config pointed at local fakes, with short timings.

    Slack's api_url_file gets a file holding `slack_url`; every webhook URL keeps its path
    (/alerts/<channel>) on `relay_url`; the bearer token file holds `token` (None drops auth);
    templates are made absolute. With `time_scale`, every route keeps its own timings scaled by it
    (30s x 1/60 -> 500ms) instead of the given ones. Returns the path of the new config in workdir."""
    source, workdir = Path(source), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(source.read_text())  # anchors come out expanded
    slack_file = workdir / "slack-webhook-url"
    slack_file.write_text(slack_url)
    token_file = workdir / "relay-token"
    if token:
        token_file.write_text(token)
    for receiver in config.get("receivers", []):
        for slack in receiver.get("slack_configs", []):
            slack["api_url_file"] = str(slack_file)
        for hook in receiver.get("webhook_configs", []):
            path = httpx.URL(hook["url"]).raw_path.decode()
            hook["url"] = relay_url.rstrip("/") + path
            if token:
                hook["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}}
            else:
                hook.pop("http_config", None)
    config["templates"] = [str((source.parent / t).resolve()) for t in config.get("templates", [])]

    def shorten(route: dict) -> None:
        for key, value in (("group_wait", group_wait), ("group_interval", group_interval), ("repeat_interval", repeat_interval)):
            if time_scale is not None:
                if key in route:
                    route[key] = scale_duration(route[key], time_scale)
            elif value is not None and (key in route or route is config["route"]):
                route[key] = value
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    out = workdir / "alertmanager.yml"
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def post_alerts(alertmanager: Service, alerts: list[dict]) -> None:
    """Push alerts straight into Alertmanager's API, as Prometheus would."""
    response = httpx.post(f"{alertmanager.url}/api/v2/alerts", json=alerts, timeout=10)
    response.raise_for_status()

