"""Benchmark (not a unit test): how long `nanobanana-exporter report` takes for a month at N series.

    python benchmarks/report.py [--series 100] [--scrape 3600] [--runs 3]

Writes a month of history (tests/report_history.py: the exporter's own collector, two outages, an
incident, a gap, extra targets up to --series) as one OpenMetrics file per day, backfills it into a
real Prometheus with `promtool tsdb create-blocks-from openmetrics`, then runs the report command
--runs times and prints the generation time (the CLI's own figure: every Prometheus query plus the
HTML/Markdown/SVG rendering) and the wall time of the whole command (Python start included).

--scrape is the sample spacing: a month at 100 series every 240 s would be 38 million samples to
backfill, hours on two cores; hourly samples (with Prometheus' lookback widened to match) keep it to
minutes. The report's range queries run at a 5-minute step either way; only its `increase(...[30d])`
queries read every sample, so denser data costs those more.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import report_history as h  # noqa: E402
from exporter.report import render  # noqa: E402
from exporter.report.data import Builder  # noqa: E402
from exporter.report.prom import Prometheus  # noqa: E402
from stack import start_prometheus  # noqa: E402


def wait_for_compaction(prom, quiet: float = 150.0, limit: float = 900.0) -> tuple[int, float]:
    """Wait until Prometheus has compacted the backfilled two-hour blocks (the loaded block count holds
    still for `quiet` seconds), as a month of real data would be: (blocks, seconds waited)."""
    began, last, since = time.monotonic(), None, time.monotonic()
    while time.monotonic() - began < limit:
        text = httpx.get(prom.url + "/metrics", timeout=10).text
        blocks = int(float(re.search(r"^prometheus_tsdb_blocks_loaded (\S+)$", text, re.M).group(1)))
        if blocks != last:
            last, since = blocks, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(2)
    return last, time.monotonic() - began


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", type=int, default=100)
    p.add_argument("--scrape", type=int, default=3600, help="seconds between samples (default 3600)")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "prom" / "prometheus-data"
        data.mkdir(parents=True)
        began = time.perf_counter()
        paths = h.write_openmetrics(tmp, series=args.series, scrape=args.scrape)
        size = sum(path.stat().st_size for path in paths)
        written = time.perf_counter() - began
        for path in paths:
            subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(path), str(data)],
                           check=True, capture_output=True)
            path.unlink()
        backfilled = time.perf_counter() - began - written
        lookback = f"{args.scrape + 300}s"
        with start_prometheus(tmp / "prom", ready_timeout=300,
                              extra_args=["--storage.tsdb.retention.time=100y", f"--query.lookback-delta={lookback}"]) as prom:
            blocks, compacted = wait_for_compaction(prom)
            generation, wall, line = [], [], ""
            for run in range(args.runs):
                t0 = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "exporter", "report", "--prometheus.url", prom.url,
                                       "--month", "2026-11", "--out", str(tmp / f"report{run}")], cwd=ROOT,
                                      capture_output=True, text=True)
                wall.append(time.perf_counter() - t0)
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return 1
                line = done.stdout.strip()
                generation.append(float(line.rsplit(" in ", 1)[1].rstrip(" s")))
            html = (tmp / "report0.html").stat().st_size
            client = Prometheus(prom.url)
            began = time.perf_counter()
            report = Builder(client, h.START, h.END).build()
            rendered = time.perf_counter()
            render.html(report), render.markdown(report)
            rendering = time.perf_counter() - rendered
            slowest = sorted(client.timings, reverse=True)[:4]
    print(f"### Report for a month (November 2026) at {args.series} series, samples every {args.scrape} s\n")
    print(f"history: {size / 1e6:.0f} MB of OpenMetrics written in {written:.0f} s, backfilled in {backfilled:.0f} s")
    print(f"last run: {line}")
    print("| figure | median | min | max |\n|---|---|---|---|")
    for name, values in (("generation (queries + rendering), s", generation), ("whole command, s", wall)):
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    print(f"\nPrometheus compacted the backfilled blocks first: {blocks} blocks, {compacted:.0f} s.")
    print(f"HTML report: {html / 1e3:.0f} KB; rendering HTML + Markdown + charts: {rendering:.2f} s; slowest queries:")
    for seconds, query in slowest:
        print(f"- {seconds:.2f} s `{query[:110]}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
