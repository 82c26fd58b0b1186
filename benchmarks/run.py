"""Benchmarks, side by side with Debian's prometheus-blackbox-exporter (issue 8, "Performance").

    python benchmarks/run.py            # full run, a few minutes; rewrites BENCHMARKS.md
    python benchmarks/run.py --quick    # fewer and shorter runs, under two minutes
    python benchmarks/run.py --smoke    # seconds, checks the machinery only (the test suite runs it)

Everything runs on 127.0.0.1: a fixed-delay upstream, the simulator and the exporter as their own
processes, and blackbox_exporter. Every figure is the median over several runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
import yaml  # noqa: E402

from exporter.common import aio  # noqa: E402

BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
DELAY = 0.2  # the fixed upstream's answer time, seconds
MODEL = "gemini-3-pro-image"
# Many series per target need every thinking level: an id the catalog does not know takes them all
# (priced and sized as Nano Banana Pro)
ANY_LEVEL_MODEL = "bench-any-level"

# run sizes: (timing probes per run, runs, scale seconds per size, memory probes in flight)
MODES = {
    "full": {"probes": 60, "runs": 3, "scale_seconds": 15.0, "interval": 15.0, "sizes": (10, 100, 1000), "inflight": 4},
    "quick": {"probes": 25, "runs": 2, "scale_seconds": 6.0, "interval": 10.0, "sizes": (10, 100, 1000), "inflight": 3},
    "smoke": {"probes": 3, "runs": 1, "scale_seconds": 2.0, "interval": 1.0, "sizes": (10,), "inflight": 1},
}


# ---------------------------------------------------------------------------------------------
# helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": str(ROOT)}
    out.pop("PYTHONWARNINGS", None)
    return out


@contextlib.contextmanager
def process(args: list[str], ready_url: str, timeout: float = 30.0):
    """A child process, yielded once ready_url answers 200; stopped (TERM, then KILL) afterwards."""
    proc = subprocess.Popen(args, env=env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[:3]} exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args[:3]} not ready after {timeout:g}s")
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (p99 of 60 values is the largest but one)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile over cumulative (le, count) buckets, +Inf last."""
    total = buckets[-1][1]
    if total == 0:
        return float("nan")
    rank, prev_le, prev_count = q * total, 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_count) / max(count - prev_count, 1e-12)
        prev_le, prev_count = le, count
    return prev_le


def parse_metrics(text: str) -> dict[tuple[str, tuple], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    version = subprocess.run([BLACKBOX, "--version"], capture_output=True, text=True)
    blackbox = re.search(r"version (\S+)", version.stdout + version.stderr)
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "blackbox_exporter": blackbox.group(1) if blackbox else "not found",
        "load": load_average(),
        "event_loop": aio.loop_factory()[0],
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: a run on a loaded machine shows itself."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------------------------------------
# 1. timing truth: a fixed-delay upstream that reports its own clock


def serve_fixed(port: int, delay: float) -> None:
    """The fixed upstream (run as `run.py --serve-fixed PORT`): a Gemini-shaped answer with a real
    1K PNG after exactly `delay` s. `truth` is its own clock, request handed to the handler (headers
    and body read) to the answer written to the socket; GET /_truth returns the last one."""
    from aiohttp import web

    from exporter.simulator import images, wire

    ask = wire.Ask("gemini", MODEL, "1K", "default", 1024, 1024, None, "x")
    body = json.dumps(wire.Gemini().image(ask, images.png(1024, 1024), None)).encode()
    web.run_app(fixed_upstream("/v1beta/models/{action}", body, delay), host="127.0.0.1", port=port, print=None,
                access_log=None)


def fixed_upstream(route: str, body: bytes, delay: float):
    """An aiohttp app answering POST `route` with `body` after exactly `delay` s, and GET /_truth."""
    from aiohttp import web

    last = {"truth": None}

    async def generate(request: web.Request) -> web.StreamResponse:
        received = time.perf_counter()
        await request.read()
        target = received + delay
        await asyncio.sleep(max(0.0, target - time.perf_counter() - 0.002))
        while time.perf_counter() < target:  # the last 2 ms spun, so the delay is exact
            pass
        response = web.Response(body=body, content_type="application/json")
        await response.prepare(request)
        await response.write_eof()
        last["truth"] = time.perf_counter() - received
        return response

    async def truth(request: web.Request) -> web.Response:
        return web.json_response(last)

    app = web.Application()
    app.router.add_post(route, generate)
    app.router.add_get("/_truth", truth)
    return app


async def exporter_timings(base: str, probes: int, target: dict | None = None) -> list[tuple[float, float, float]]:
    """(truth, duration, processing) per probe, the exporter's Prober as the scheduler runs it
    (`target`: another dialect's target against the fixed upstream, benchmarks/sdk.py)."""
    from exporter.loading.config import load_text
    from exporter.probing.probe import Prober

    target = target or {"name": "fixed", "api": "gemini", "base_url": base, "model": MODEL}
    config = load_text(yaml.safe_dump({"targets": [target]}))
    series = config.series[0]
    prober = Prober()
    out = []
    async with httpx.AsyncClient() as control:
        try:
            await prober.probe(series)  # warm-up (lazy imports, first connection), not counted
            for _ in range(probes):
                attempt = await prober.probe(series)
                if attempt.outcome.value != "success":
                    raise RuntimeError(f"exporter probe of the fixed upstream: {attempt.outcome.value} {attempt.message}")
                truth = (await control.get(f"{base}/_truth")).json()["truth"]
                out.append((truth, attempt.duration, attempt.phases["processing"]))
                await asyncio.sleep(0.02)
        finally:
            await prober.aclose()
    return out


def blackbox_timings(base: str, probes: int) -> list[tuple[float, float, float]]:
    """(truth, probe_duration_seconds, processing phase) per probe of blackbox_exporter's http prober."""
    from exporter.loading.config import load_text
    from exporter.probing.dialects import DIALECTS

    config = load_text(yaml.safe_dump({"targets": [{"name": "fixed", "api": "gemini", "base_url": base, "model": MODEL}]}))
    request = DIALECTS["gemini"].build(config.series[0], None, config.targets[0].prompts[0])
    module = {"modules": {"gemini": {"prober": "http", "timeout": "10s", "http": {
        "method": "POST", "headers": {"Content-Type": "application/json"}, "body": json.dumps(request.body),
        "valid_status_codes": [200], "preferred_ip_protocol": "ip4"}}}}
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        config_file = Path(tmp) / "blackbox.yml"
        config_file.write_text(yaml.safe_dump(module))
        port = free_port()
        with process([BLACKBOX, f"--config.file={config_file}", f"--web.listen-address=127.0.0.1:{port}"],
                     f"http://127.0.0.1:{port}/-/healthy"):
            with httpx.Client(timeout=15) as client:
                client.get(f"http://127.0.0.1:{port}/probe", params={"module": "gemini", "target": request.url})  # warm-up
                for _ in range(probes):
                    text = client.get(f"http://127.0.0.1:{port}/probe",
                                      params={"module": "gemini", "target": request.url}).text
                    samples = parse_metrics(text)
                    if samples.get(("probe_success", ())) != 1:
                        raise RuntimeError(f"blackbox_exporter probe failed:\n{text[:2000]}")
                    truth = client.get(f"{base}/_truth").json()["truth"]
                    out.append((truth, samples[("probe_duration_seconds", ())],
                                samples[("probe_http_duration_seconds", (("phase", "processing"),))]))
                    time.sleep(0.02)
    return out


def errors(rows: list[tuple[float, float, float]]) -> dict[str, float]:
    duration = [abs(d - t) for t, d, _ in rows]
    processing = [abs(p - t) for t, _, p in rows]
    return {"duration_p50": median(duration), "duration_p99": quantile(duration, 0.99),
            "processing_p50": median(processing), "processing_p99": quantile(processing, 0.99)}


@contextlib.contextmanager
def pinned(upstream_pid: int):
    """Both probers on the same CPU, the upstream on another, so a noisy neighbour or the scheduler
    moving a prober between cores does not decide the comparison. Ours runs in this process and
    blackbox_exporter is started from it (a child inherits the affinity; Go sizes GOMAXPROCS from it).
    Yields what was pinned where, or None on a machine with one CPU."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        yield None
        return
    before = set(cpus)
    os.sched_setaffinity(upstream_pid, {cpus[0]})
    os.sched_setaffinity(0, {cpus[1]})
    try:
        yield f"upstream on CPU {cpus[0]}, both probers on CPU {cpus[1]}"
    finally:
        os.sched_setaffinity(0, before)


def bench_timing(mode: dict) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runs: dict[str, list[dict]] = {"exporter": [], "blackbox": []}
    with process([sys.executable, __file__, "--serve-fixed", str(port)], f"{base}/_truth") as upstream:
        with pinned(upstream.pid) as where:
            for _ in range(mode["runs"]):
                runs["exporter"].append(errors(asyncio.run(exporter_timings(base, mode["probes"]))))
                runs["blackbox"].append(errors(blackbox_timings(base, mode["probes"])))
    timing = {who: {k: median([r[k] for r in rs]) for k in rs[0]} for who, rs in runs.items()}
    return {**timing, "pinned": where or "not pinned (one CPU)"}


# ---------------------------------------------------------------------------------------------
# 2. scale: 10, 100, 1,000 series against the simulator, exporter and simulator as processes


def scale_config(base: str, series: int, interval: float) -> dict:
    levels = ["default", "minimal", "low", "medium", "high"]
    targets = []
    for i in range(0, series, len(levels)):
        n = min(len(levels), series - i)
        targets.append({"name": f"t{i // len(levels):04d}", "api": "gemini", "base_url": base, "model": ANY_LEVEL_MODEL,
                        "thinking_levels": levels[:n], "max_concurrency": len(levels)})
    return {"defaults": {"interval": f"{int(interval * 1000)}ms", "timeout": "10s"}, "targets": targets}


def lateness_buckets(samples: dict) -> list[tuple[float, float]]:
    name = "nanobanana_exporter_schedule_lateness_seconds_bucket"
    return sorted((float(dict(labels)["le"]), value) for (n, labels), value in samples.items() if n == name)


def probes_done(samples: dict) -> float:
    return sum(v for (n, _), v in samples.items() if n == "nanobanana_probes_total")


def bench_scale_once(sim_base: str, series: int, mode: dict, tmp: Path) -> dict:
    config_file = tmp / f"scale-{series}.yml"
    config_file.write_text(yaml.safe_dump(scale_config(sim_base, series, mode["interval"])))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "exporter", "--config.file", str(config_file), "--web.listen-address",
            f"127.0.0.1:{port}", "--log.level", "error"]
    with process(args, f"{base}/-/ready") as proc, httpx.Client(timeout=30) as client:
        ps = psutil.Process(proc.pid)
        time.sleep(1.5)  # first runs are spread over the interval: the steady rate starts at once
        before = parse_metrics(client.get(f"{base}/metrics").text)
        cpu_before, window_started = sum(ps.cpu_times()[:2]), time.monotonic()
        scrapes, sizes, gzipped, gunzips = [], [], [], []
        deadline = time.monotonic() + mode["scale_seconds"]
        while time.monotonic() < deadline:
            # the exporter's part: request sent to the last compressed byte in; the gunzip is the
            # scraper's work (timed apart: 13-33 ms for 10 MB in this process)
            started = time.perf_counter()
            with client.stream("GET", f"{base}/metrics", headers={"Accept-Encoding": "gzip"}) as response:
                raw = b"".join(response.iter_raw())
            scrapes.append(time.perf_counter() - started)
            started = time.perf_counter()
            sizes.append(len(gzip.decompress(raw)))
            gunzips.append(time.perf_counter() - started)
            gzipped.append(len(raw))
            time.sleep(1.0)
        cpu = sum(ps.cpu_times()[:2]) - cpu_before
        after = parse_metrics(client.get(f"{base}/metrics").text)
        elapsed = time.monotonic() - window_started
        rss = ps.memory_info().rss
    late_before, late_after = lateness_buckets(before), lateness_buckets(after)
    window = [(le, a - b) for (le, a), (_, b) in zip(late_after, late_before)]
    probes = probes_done(after) - probes_done(before)
    return {"series": series, "probes": probes, "probes_per_s": probes / elapsed,
            "late_p50": histogram_quantile(0.5, window), "late_p99": histogram_quantile(0.99, window),
            "cpu_per_probe": cpu / probes if probes else float("nan"), "cpu_share": cpu / elapsed,
            "scrape_p50": median(scrapes), "scrape_max": max(scrapes), "scrape_gunzip_p50": median(gunzips),
            "scrape_bytes": median(sizes),
            "scrape_gzip_bytes": median(gzipped), "rss": rss}


def bench_scale(mode: dict) -> list[dict]:
    port = free_port()
    sim_base = f"http://127.0.0.1:{port}"
    out = []
    with tempfile.TemporaryDirectory() as tmp, process(
            [sys.executable, "-m", "exporter", "simulator", "--speed", "0.01", "--log.level", "error",
             "--web.listen-address", f"127.0.0.1:{port}"], f"{sim_base}/_sim/config"):
        for series in mode["sizes"]:
            runs = [bench_scale_once(sim_base, series, mode, Path(tmp)) for _ in range(mode["runs"])]
            out.append({k: median([r[k] for r in runs]) for k in runs[0]})
    return out


# ---------------------------------------------------------------------------------------------
# 3. memory: idle RSS, and peak RSS with several 4K answers in flight


def rss_now() -> int:
    return psutil.Process().memory_info().rss


def peak_rss() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024


def reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


async def memory_worker(base: str, inflight: int) -> dict:
    """In its own process (run.py --memory-worker): the exporter's Prober with `inflight` 4K probes
    started together, the event loop's worst stall measured meanwhile."""
    from exporter.common import malloc
    from exporter.loading.config import load_text
    from exporter.probing.probe import Prober

    malloc.return_large_buffers()  # as the exporter's main() does: without it the worst stall with 3 x 4K is ~34 ms
    levels = ["default", "minimal", "low", "medium", "high"][:inflight]
    config = load_text(yaml.safe_dump({"targets": [{"name": "big", "api": "gemini", "base_url": base, "model": ANY_LEVEL_MODEL,
                                                    "resolutions": ["4K"], "thinking_levels": levels,
                                                    "timeout": "60s"}]}))
    prober = Prober()
    await prober.probe(config.series[0])  # warm up: imports, first connection, simulator's image cache
    await asyncio.sleep(0.2)
    idle = rss_now()
    reset_peak()
    stalls = []

    async def ticker():
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.005)
            stalls.append(loop.time() - started - 0.005)

    tick = asyncio.create_task(ticker())
    attempts = await asyncio.gather(*(prober.probe(s) for s in config.series))
    await asyncio.sleep(0.05)  # lets the ticker see the last stall before it stops
    tick.cancel()
    await prober.aclose()
    bad = [f"{a.outcome.value}: {a.message}" for a in attempts if a.outcome.value != "success"]
    if bad:
        raise RuntimeError(f"4K probes failed: {bad}")
    return {"idle": idle, "peak": peak_rss(), "response_bytes": [a.response_bytes for a in attempts],
            "image_bytes": attempts[0].image_bytes, "stall_max": max(stalls, default=0.0),
            "decode": median([a.phases["decode"] for a in attempts])}


def exporter_idle_rss(sim_base: str, tmp: Path) -> int:
    """RSS of the exporter process with the demo-sized config (4 series), after their first probes."""
    config_file = tmp / "idle.yml"
    config_file.write_text(yaml.safe_dump({"defaults": {"interval": "1s"}, "targets": [
        {"name": "idle", "api": "gemini", "base_url": sim_base, "model": MODEL, "resolutions": ["1K", "2K"],
         "thinking_levels": ["default", "high"]}]}))
    port = free_port()
    args = [sys.executable, "-m", "exporter", "--config.file", str(config_file), "--web.listen-address",
            f"127.0.0.1:{port}", "--log.level", "error"]
    with process(args, f"http://127.0.0.1:{port}/-/ready") as proc:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            samples = parse_metrics(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
            if probes_done(samples) >= 8:
                break
            time.sleep(0.25)
        return psutil.Process(proc.pid).memory_info().rss


def bench_memory(mode: dict) -> dict:
    port = free_port()
    sim_base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        sim_config = Path(tmp) / "sim.yml"
        sim_config.write_text(yaml.safe_dump({"speed": 0.0, "payload": "noise"}))
        with process([sys.executable, "-m", "exporter", "simulator", "--simulator.config", str(sim_config),
                      "--log.level", "error", "--web.listen-address", f"127.0.0.1:{port}"], f"{sim_base}/_sim/config"):
            idle = [exporter_idle_rss(sim_base, Path(tmp)) for _ in range(mode["runs"])]
            runs = {}
            for inflight in sorted({1, mode["inflight"]}):
                results = []
                for _ in range(mode["runs"]):
                    done = subprocess.run([sys.executable, __file__, "--memory-worker", sim_base, str(inflight)],
                                          env=env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
                    if done.returncode:
                        raise RuntimeError(f"memory worker failed: {done.stderr[-2000:]}")
                    results.append(json.loads(done.stdout.strip().splitlines()[-1]))
                payload = median([sum(r["response_bytes"]) for r in results])
                growth = median([r["peak"] - r["idle"] for r in results])
                runs[inflight] = {"inflight": inflight, "payload_bytes": payload,
                                  "body_bytes": results[0]["response_bytes"][0], "image_bytes": results[0]["image_bytes"],
                                  "peak_growth": growth, "copies": growth / payload,
                                  "stall_max": median([r["stall_max"] for r in results]),
                                  "decode": median([r["decode"] for r in results])}
    return {"idle_rss": median(idle), "inflight": list(runs.values())}


# ---------------------------------------------------------------------------------------------
# report

# issue 16's goals: timing against blackbox_exporter in the same run, the rest absolute
TARGETS = {"duration_vs_blackbox": 2.0, "lateness_p99": 0.1, "scrape": 0.05, "stall": 0.02, "idle_rss": 60 * 2**20,
           "copies": 2.0}


def met(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def mb(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def report(info: dict, timing: dict, scale: list[dict], memory: dict, mode_name: str, mode: dict, took: float) -> str:
    lines = [
        f"Machine: {info['cores']} cores, {info['cpu']}, Python {info['python']}, {info['os']}, "
        f"blackbox_exporter {info['blackbox_exporter']}.",
        f"Mode `{mode_name}`: medians of {mode['runs']} runs; took {took:.0f} s. Event loop: {info['event_loop']}. "
        f"Load average (1 / 5 / 15 min) at the start: {info['load']}; at the end: {load_average()}.",
        "",
        f"### 1. Timing truth (upstream answers after exactly {DELAY * 1000:.0f} ms; error = |measured - truth|, "
        f"{mode['probes']} probes per run; {timing['pinned']})",
        "",
        "| prober | duration error p50 | duration error p99 | processing error p50 | processing error p99 |",
        "|---|---|---|---|---|",
    ]
    for who, label in (("exporter", "nanobanana-exporter"), ("blackbox", "blackbox_exporter")):
        t = timing[who]
        lines.append(f"| {label} | {ms(t['duration_p50'])} | {ms(t['duration_p99'])} | "
                     f"{ms(t['processing_p50'])} | {ms(t['processing_p99'])} |")
    e, b = timing["exporter"], timing["blackbox"]
    lines += ["", f"Targets: processing error p99 no worse than blackbox_exporter's "
                  f"{met(e['processing_p99'] <= b['processing_p99'])}; duration error p50 and p99 within "
                  f"{TARGETS['duration_vs_blackbox']:g}x blackbox_exporter's "
                  f"{met(all(e[k] <= TARGETS['duration_vs_blackbox'] * b[k] for k in ('duration_p50', 'duration_p99')))}.", ""]
    lines += [
        f"### 2. Scale (simulator in its own process at speed 0.01: 1K images in ~175-375 ms; interval "
        f"{mode['interval']:g} s; {mode['scale_seconds']:g} s measured after one interval)",
        "",
        "Scrapes once a second, gzip; scrape p50 and max: request sent to the last compressed byte in (the "
        "exporter's part); gunzip: the scraper's own work on that body, apart.",
        "",
        "| series | probes/s | lateness p50 | lateness p99 | CPU per probe | exporter CPU | scrape p50 | scrape max "
        "| gunzip p50 | scrape size (gzip) | RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in scale:
        lines.append(
            f"| {r['series']:.0f} | {r['probes_per_s']:.1f} | {ms(r['late_p50'])} | {ms(r['late_p99'])} | "
            f"{ms(r['cpu_per_probe'])} | {r['cpu_share'] * 100:.0f} % of a core | {ms(r['scrape_p50'])} | "
            f"{ms(r['scrape_max'])} | {ms(r['scrape_gunzip_p50'])} | {mb(r['scrape_bytes'])} ({r['scrape_gzip_bytes'] / 1024:.0f} KiB) | {mb(r['rss'])} |")
    top = scale[-1]
    lines += ["", f"Targets at {top['series']:.0f} series: lateness p99 under 100 ms "
                  f"{met(top['late_p99'] < TARGETS['lateness_p99'])}; scrape median under 50 ms "
                  f"{met(top['scrape_p50'] < TARGETS['scrape'])}.", ""]
    lines += [
        "### 3. Memory (simulator `payload: noise`: realistic 4K PNGs)",
        "",
        f"Idle RSS of the exporter process (4 series, after their first probes): **{mb(memory['idle_rss'])}** "
        f"(target under {TARGETS['idle_rss'] / 2**20:.0f} MiB: {met(memory['idle_rss'] < TARGETS['idle_rss'])}).",
        "",
        "| 4K answers in flight | answer body each | image each | payload in flight | peak RSS growth "
        "| growth / payload | worst event-loop stall | decode phase |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in memory["inflight"]:
        lines.append(f"| {r['inflight']} | {mb(r['body_bytes'])} | {mb(r['image_bytes'])} | {mb(r['payload_bytes'])} | "
                     f"{mb(r['peak_growth'])} | {r['copies']:.2f} | {ms(r['stall_max'])} | {ms(r['decode'])} |")
    worst = max(r["copies"] for r in memory["inflight"])
    stall = max(r["stall_max"] for r in memory["inflight"])
    lines += ["", f"Targets: no more than about two copies of a payload at once "
                  f"{met(worst <= TARGETS['copies'] * 1.1)} (worst {worst:.2f}); worst event-loop stall under "
                  f"{TARGETS['stall'] * 1000:.0f} ms {met(stall < TARGETS['stall'])} (worst {ms(stall)})."]
    return "\n".join(lines) + "\n"


def write_benchmarks_md(table: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else ""
    start, end = "<!-- figures: start -->", "<!-- figures: end -->"
    if start in text and end in text:
        text = text[: text.index(start) + len(start)] + "\n" + table + text[text.index(end):]
    else:
        text += f"\n{start}\n{table}{end}\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="fewer, shorter runs (under two minutes)")
    group.add_argument("--smoke", action="store_true", help="seconds: checks the machinery, writes nothing")
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md as it is")
    parser.add_argument("--only", choices=("timing", "scale", "memory"),
                        help="one part, its figures printed as JSON (BENCHMARKS.md is left as it is)")
    parser.add_argument("--serve-fixed", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", nargs=2, metavar=("BASE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fixed:
        serve_fixed(args.serve_fixed, DELAY)
        return 0
    if args.memory_worker:
        print(json.dumps(asyncio.run(memory_worker(args.memory_worker[0], int(args.memory_worker[1])))))
        return 0
    mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    mode = MODES[mode_name]
    started = time.monotonic()
    info = machine()
    print(f"machine: {info}", flush=True)
    if args.only:
        part = {"timing": bench_timing, "scale": bench_scale, "memory": bench_memory}[args.only](mode)
        print(json.dumps({"load_average": load_average(), args.only: part}, indent=1, default=str))
        return 0
    print("1/3 timing truth ...", flush=True)
    timing = bench_timing(mode)
    print("2/3 scale ...", flush=True)
    scale = bench_scale(mode)
    print("3/3 memory ...", flush=True)
    memory = bench_memory(mode) if not args.smoke else bench_memory({**mode, "inflight": 1})
    table = report(info, timing, scale, memory, mode_name, mode, time.monotonic() - started)
    print()
    print(table)
    if not (args.smoke or args.no_write):
        write_benchmarks_md(table)
        print("written to BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
