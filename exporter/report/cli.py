"""nanobanana-exporter report --prometheus.url URL [--range 30d | --month 2026-11] [--out PREFIX]

Writes PREFIX.html (self-contained: inline CSS and SVG) and PREFIX.md. Exit 0 when written,
1 when Prometheus cannot be asked (nothing written) or holds no probe data for the period
(a report saying so is written), 2 on bad flags.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import sys
import time
from pathlib import Path

from exporter.common.durations import parse_duration
from exporter.report.data import Builder
from exporter.report.prom import Prometheus, ReportError
from exporter.report.render import html, markdown
from exporter.common.text import utf8


# The years a period may fall in: every date in them can be written (--month 9999-12 was a traceback)
FIRST_YEAR, LAST_YEAR = 1970, 9998
LATEST = dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=dt.UTC).timestamp()


def _month(text: str) -> tuple[float, float]:
    try:
        year, month = (int(p) for p in text.split("-"))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError
        start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM from {FIRST_YEAR} to {LAST_YEAR}, got {text[:40]!r}") from None
    days = calendar.monthrange(year, month)[1]
    return start.timestamp(), (start + dt.timedelta(days=days)).timestamp()


def _end(text: str) -> float:
    """An ISO date-time (UTC unless it has an offset) or epoch seconds, from 1970 to LAST_YEAR."""
    try:
        if text.replace(".", "", 1).isdigit():
            end = float(text)
        else:
            when = dt.datetime.fromisoformat(text)
            end = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
        if not 0 < end < LATEST:
            raise ValueError
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"expected an ISO date-time (UTC) or epoch seconds from {FIRST_YEAR} "
                                         f"to {LAST_YEAR}, got {text[:40]!r}") from None
    return end


def _range(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _timeout(text: str) -> float:
    try:
        seconds = float(text)
        if not 0 < seconds <= 3600:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds from 0 to 3600, got {text[:40]!r}") from None
    return seconds


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nanobanana-exporter report", description=__doc__.splitlines()[0])
    p.add_argument("--prometheus.url", dest="url", required=True, metavar="URL",
                   help="base URL of the Prometheus that scrapes the exporter (http://localhost:9090)")
    period = p.add_mutually_exclusive_group()
    period.add_argument("--range", dest="range", type=_range, default=None, metavar="DURATION",
                        help="the period ending at --end: 30d (default), 7d, 24h")
    period.add_argument("--month", dest="month", type=_month, default=None, metavar="YYYY-MM",
                        help="a calendar month (UTC)")
    p.add_argument("--end", dest="end", type=_end, default=None, metavar="TIME",
                   help="end of a --range period: ISO date-time in UTC or epoch seconds (default now)")
    p.add_argument("--selector", default="", metavar="MATCHERS",
                   help='label matchers every exporter series has, e.g. job="nanobanana",location="eu"')
    p.add_argument("--slo", type=float, default=None, metavar="RATIO",
                   help="availability objective, e.g. 0.999 (default: the rules' nanobanana:slo_objective:ratio)")
    p.add_argument("--out", default="nanobanana-report", metavar="PREFIX",
                   help="writes PREFIX.html and PREFIX.md (default nanobanana-report)")
    p.add_argument("--timeout", type=_timeout, default=60.0,
                   help="seconds per Prometheus query, the whole answer included (default 60)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.month:
        start, end = args.month
    else:
        end = args.end or time.time()
        start = end - (args.range or 30 * 86400.0)
    if args.slo is not None and not 0 < args.slo < 1:
        print("--slo: expected a ratio between 0 and 1, e.g. 0.999", file=sys.stderr)
        return 2
    prom = Prometheus(args.url, args.timeout)
    try:
        report = Builder(prom, start, end, args.selector, args.slo).build()
    except ReportError as err:
        print(f"report: {err}", file=sys.stderr)
        return 1
    finally:
        prom.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out.with_name(out.name + ".html"), out.with_name(out.name + ".md")
    html_path.write_bytes(utf8(html(report)))  # label values come from outside: see exporter/common/text.py
    md_path.write_bytes(utf8(markdown(report)))
    for line in report.missing:
        print(f"report: missing: {line}", file=sys.stderr)
    print(f"wrote {html_path} and {md_path}: {len(report.rows)} series, {len(report.outages)} outages, "
          f"{report.queries} queries in {report.seconds:.1f} s")
    return 0 if report.has_data else 1
