"""What the openai SDK path costs: processing-phase timing error with and without the SDK (the same
`openai_images` dialect, the same fixed-delay upstream), the SDK's import time and its memory.

  python benchmarks/sdk.py            # 3 runs of 60 probes per path
  python benchmarks/sdk.py --quick    # 2 runs of 20
  python benchmarks/sdk.py --smoke    # seconds (tests/test_benchmarks.py)

The upstream (`--serve-fixed PORT`, its own process) answers an OpenAI Images JSON with a real 1K
PNG after exactly 200 ms and reports its own clock, as benchmarks/run.py's does for Gemini. The
"httpx" path is the probe as it was before the SDK (the dialect's `openai_sdk_call` unset for the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.run import errors, exporter_timings, fixed_upstream, free_port, machine, median, process  # noqa: E402

MODEL = "gemini-3-pro-image"
DELAY = 0.2


def serve_fixed(port: int) -> None:
    from aiohttp import web

    from exporter.simulator import images, wire

    ask = wire.Ask("openai_images", MODEL, "1K", "default", 1024, 1024, None, "x")
    body = json.dumps(wire.OpenAIImages().image(ask, images.png(1024, 1024), None)).encode()
    web.run_app(fixed_upstream("/v1/images/generations", body, DELAY), host="127.0.0.1", port=port, print=None,
                access_log=None)


async def timings(base: str, probes: int, sdk: bool) -> list[tuple[float, float, float]]:
    use_sdk(sdk)
    target = {"name": "fixed", "api": "openai_images", "base_url": base + "/v1", "model": MODEL}
    return await exporter_timings(base, probes, target)


def use_sdk(sdk: bool) -> None:
    """The openai_images dialect through the SDK (as shipped) or over plain httpx (as before it)."""
    from exporter.probing.dialects import DIALECTS

    type(DIALECTS["openai_images"]).openai_sdk_call = "images" if sdk else None


def import_cost(repeats: int) -> dict[str, float]:
    """Import time and resident memory of `import openai` + one AsyncOpenAI, in fresh interpreters
    that already hold what the exporter imports anyway (httpx, pydantic); medians of `repeats`."""
    code = ("import time, psutil, httpx, pydantic, exporter.probing.probe; p = psutil.Process(); r0 = p.memory_info().rss; "
            "t = time.perf_counter(); import openai; c = openai.AsyncOpenAI(api_key='x', http_client=httpx.AsyncClient()); "
            "print(time.perf_counter() - t, p.memory_info().rss - r0)")
    rows = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent.parent)
        seconds, rss = out.stdout.split()
        rows.append((float(seconds), int(rss)))
    return {"import_seconds": median([r[0] for r in rows]), "rss_bytes": median([r[1] for r in rows])}


async def peak_memory(sdk: bool, resolution: str) -> int:
    """Peak Python allocations (tracemalloc) of one openai_images probe (4K: a 16 MB PNG) with a realistic 16 MB PNG
    (the simulator's `noise` payload): what an answer in flight holds at once."""
    import tracemalloc

    from exporter.probing import probe as probe_module
    from exporter.loading.config import load_text
    from exporter.simulator import Simulator, start

    use_sdk(sdk)
    sim = Simulator(speed=0)
    sim.configure({"payload": "noise"})
    runner, base = await start(sim)
    config = load_text(yaml.safe_dump({"targets": [{"name": "big", "api": "openai_images", "base_url": base + "/v1",
                                                    "model": MODEL, "resolutions": [resolution], "timeout": "120s"}]}))
    prober = probe_module.Prober()
    try:
        await prober.probe(config.series[0])  # warm-up: the simulator makes and caches its image
        tracemalloc.start()
        attempt = await prober.probe(config.series[0])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if attempt.outcome.value != "success":
            raise RuntimeError(f"{attempt.outcome.value}: {attempt.message}")
        return peak
    finally:
        await prober.aclose()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="seconds: the test suite runs it so the script cannot rot")
    parser.add_argument("--serve-fixed", type=int)
    args = parser.parse_args(argv)
    if args.serve_fixed:
        serve_fixed(args.serve_fixed)
        return 0
    runs, probes = (1, 3) if args.smoke else (2, 20) if args.quick else (3, 60)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, list[dict]] = {"httpx": [], "sdk": []}
    with process([sys.executable, __file__, "--serve-fixed", str(port)], f"{base}/_truth"):
        for _ in range(runs):  # alternately, so both see the same machine load
            for path in results:
                results[path].append(errors(asyncio.run(timings(base, probes, path == "sdk"))))
    cost = import_cost(1 if args.smoke else 5)
    memory = {path: asyncio.run(peak_memory(path == "sdk", "1K" if args.smoke else "4K")) for path in ("httpx", "sdk")}
    info = machine()
    print(f"machine: {info}")
    print(f"{runs} runs x {probes} probes per path, upstream delay {DELAY * 1000:.0f} ms")
    print("| path | duration error p50 | duration error p99 | processing error p50 | processing error p99 |")
    print("|---|---|---|---|---|")
    for path, rows in results.items():
        m = {k: median([r[k] for r in rows]) for k in rows[0]}
        print(f"| {path} | {m['duration_p50'] * 1000:.2f} ms | {m['duration_p99'] * 1000:.2f} ms | "
              f"{m['processing_p50'] * 1000:.2f} ms | {m['processing_p99'] * 1000:.2f} ms |")
    print(f"import openai + one AsyncOpenAI: {cost['import_seconds'] * 1000:.0f} ms, "
          f"{cost['rss_bytes'] / 2**20:.1f} MiB resident")
    print(f"peak Python memory of one {'1K' if args.smoke else '4K'} probe (noise PNG): "
          + ", ".join(f"{path} {peak / 2**20:.0f} MiB" for path, peak in memory.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
