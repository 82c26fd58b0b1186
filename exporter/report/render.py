"""The report as a self-contained HTML page (inline CSS and SVG charts drawn by pygal, no script,
nothing fetched) and as Markdown (the same tables)."""

from __future__ import annotations

import re
import time
from html import escape

import pygal
from pygal.style import Style

from exporter.report.data import Report, _human, _iso

STYLE = Style(background="white", plot_background="white", font_family="sans-serif",
              colors=("#0969da", "#8250df", "#bc4c00", "#57606a", "#9a6700", "#1b7c83"))
LINES = 8  # targets drawn per daily chart; the tables list all
MET, MISSED = "#1a7f37", "#cf222e"  # only the availability bars are green or red: met or missed the SLO
CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.bad{color:#cf222e;font-weight:600}.ok{color:#1a7f37}
.missing{background:#fff8c5;border:1px solid #d4a72c;padding:.6em 1em;margin:1em 0}
figure{margin:0 0 1.5em}figure svg{max-width:100%;height:auto}small{color:#666}
"""


def _pct(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}%}"


def _secs(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f} s"


def _day(ts: float) -> str:
    return time.strftime("%m-%d", time.gmtime(ts - 1))  # a point at midnight is the day that ended


def _causes(causes: dict[str, float] | None) -> str:
    if causes is None:
        return "not looked up"
    return ", ".join(f"{o} {v:.0f}" for o, v in sorted(causes.items(), key=lambda kv: -kv[1])) or "none counted"


def tables(r: Report) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Section title -> (header, rows): the one content both formats write."""
    out: dict[str, tuple[list[str], list[list[str]]]] = {}
    out["Availability"] = (
        ["target", "model", "resolution", "probes", "failed", "availability (time up)", f"vs SLO {r.slo:.2%}",
         "error budget used", "spend"],
        [[*row.key, f"{row.counted:.0f}", f"{row.failures:.0f}", _pct(row.availability),
          "n/a" if row.availability is None else ("met" if row.availability >= r.slo else "MISSED"),
          _pct(row.budget_used(r.slo), 0), f"${row.spend:.2f}"] for row in r.rows])
    judged = [(row, check, counts) for row in r.rows for check, counts in sorted(row.image_checks.items())
              if counts[0] >= 0.5]
    if judged:  # only where the exporter ran the image checks (docs/image-checks.md)
        out["Image checks"] = (
            ["target", "model", "resolution", "check", "images judged", "failed", "failed share"],
            [[*row.key, check, f"{counts[0]:.0f}", f"{counts[1]:.0f}", _pct(counts[1] / counts[0], 1)]
             for row, check, counts in judged])
    out["Outages"] = (
        ["target", "model", "resolution", "start", "end", "duration", "cause (failed probes by outcome)"],
        [[*o.key, _iso(o.start), "ongoing" if o.ongoing else _iso(o.end), _human(o.duration),
          _causes(o.causes) + (f" ({o.note})" if o.note else "")] for o in r.outages])
    out["Latency of successful probes"] = (
        ["resolution", "probes", "p50", "p95"],
        [[res, f"{v.get('probes') or 0:.0f}", _secs(v.get("p50")), _secs(v.get("p95"))] for res, v in r.latency.items()])
    if r.incidents is not None:
        out["Official incidents"] = (
            ["source", "product", "impact", "title", "listed", "until", "our outage began", "status page late by"],
            [[i.labels.get("source", ""), i.labels.get("product", ""), i.labels.get("impact", ""),
              i.labels.get("title", ""), _iso(i.first_seen), "ongoing" if i.ongoing else _iso(i.last_seen),
              _iso(i.outage.start) if i.outage else "no outage of ours",
              "n/a" if i.lateness is None else (_human(i.lateness) if i.lateness >= 0
                                                 else f"listed {_human(-i.lateness)} before")]
             for i in r.incidents])
    spend: dict[str, float] = {}
    for row in r.rows:
        spend[row.key[0]] = spend.get(row.key[0], 0.0) + row.spend
    out["Spend"] = (["target", "estimated spend"],
                    [[t, f"${v:.2f}"] for t, v in sorted(spend.items())] + [["all", f"${r.spend:.2f}"]])
    return out


def _chart(kind, title: str, **options):
    options = {"width": 900, "height": 340, "legend_at_bottom": True, "truncate_legend": 40, "truncate_label": -1,
               **options}
    # js=[]: no tooltip script fetched from the web, the page stays self-contained
    config = pygal.Config(js=[], style=STYLE, title=title, disable_xml_declaration=True, **options)
    return kind(config)


SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def _svg(chart) -> str:
    # pygal writes an inline <script> with the config of its tooltip script, which the report does
    # not load (js=[]): without it the page has no script at all
    return SCRIPT.sub("", chart.render(is_unicode=True))


def charts(r: Report) -> dict[str, str]:
    """Section title -> inline SVG."""
    out = {}
    if r.rows:
        # an honest axis: 0 to 100 %, the SLO a guide line of its own (a 33 % bar looks like a third)
        c = _chart(pygal.HorizontalBar, f"Availability per series, share of time up (SLO {r.slo:.2%}: the line; "
                   "green met, red missed)",
                   value_formatter=lambda v: f"{v:.2f} %", height=max(200, 80 + 34 * len(r.rows)),
                   show_legend=False, range=(0, 100), zero=0, y_labels=_percent_axis(r.slo))
        c.x_labels = [" / ".join(row.key) for row in r.rows]
        c.add("availability", [{"value": round(row.availability * 100, 3),
                                "color": MET if row.availability >= r.slo else MISSED}
                               if row.availability is not None else None for row in r.rows])
        out["Availability"] = _svg(c)
    if r.daily_availability:
        days = next(iter(r.daily_availability.values()))
        c = _chart(pygal.Line, "Availability per day" + (f" (the {LINES} targets lowest over the period)"
                                                          if len(r.daily_availability) > LINES else ""),
                   value_formatter=lambda v: f"{v:.2f} %", show_dots=len(days) < 3, dots_size=5,
                   range=(0, 100), y_labels=_percent_axis(r.slo))
        c.x_labels = [_day(t) for t, _ in days]
        c.x_labels_major_every, c.show_minor_x_labels = 7, False
        for target in _worst(r, r.daily_availability):
            c.add(target, [None if v is None else round(v * 100, 3) for _, v in r.daily_availability[target]])
        c.add(f"SLO {r.slo:.2%}", [r.slo * 100] * len(days), stroke_style={"dasharray": "6,4"})
        out["Availability per day"] = _svg(c)
    if r.latency:
        c = _chart(pygal.Bar, "Latency of successful probes", value_formatter=lambda v: f"{v:.1f} s")
        c.x_labels = list(r.latency)
        for q in ("p50", "p95"):
            c.add(q, [v.get(q) for v in r.latency.values()])
        out["Latency of successful probes"] = _svg(c)
    if r.daily_spend:
        c = _chart(pygal.StackedBar, "Estimated spend per day", value_formatter=lambda v: f"${v:.2f}")
        days = next(iter(r.daily_spend.values()))
        c.x_labels = [_day(t) for t, _ in days]
        c.x_labels_major_every, c.show_minor_x_labels = 7, False
        ranked = sorted(r.daily_spend, key=lambda t: -sum(v or 0.0 for _, v in r.daily_spend[t]))
        for target in sorted(ranked[:LINES]):
            c.add(target, [v or 0.0 for _, v in r.daily_spend[target]])
        if ranked[LINES:]:
            c.add(f"{len(ranked) - LINES} others", [sum(r.daily_spend[t][i][1] or 0.0 for t in ranked[LINES:])
                                                    for i in range(len(days))])
        out["Spend"] = _svg(c)
    return out


def _percent_axis(slo: float) -> list[float]:
    """0 to 80 % in fifths, then the SLO instead of 100 % (the two labels would overlap): its guide
    line is drawn, the axis still ends at 100 %."""
    return [0.0, 20.0, 40.0, 60.0, 80.0, round(slo * 100, 3)]


def _worst(r: Report, daily: dict) -> list[str]:
    """The targets of `daily`, at most LINES of them: those with the lowest availability over the period."""
    lowest: dict[str, float] = {}
    for row in r.rows:
        if row.availability is not None:
            lowest[row.key[0]] = min(lowest.get(row.key[0], 1.0), row.availability)
    return sorted(sorted(daily, key=lambda t: lowest.get(t, 1.0))[:LINES])


def _period(r: Report) -> str:
    return f"{_iso(r.start)} to {_iso(r.end)} ({_human(r.end - r.start)})"


def _summary(r: Report) -> list[str]:
    met = sum(1 for row in r.rows if row.availability is not None and row.availability >= r.slo)
    return [f"Period: {_period(r)}" + (f", series matching {{{r.selector}}}" if r.selector else ""),
            f"SLO objective: {r.slo:.2%} ({r.slo_source})",
            f"Series meeting it: {met} of {len(r.rows)}; outages: {len(r.outages)}, "
            f"{_human(sum(o.duration for o in r.outages))} in all; estimated spend ${r.spend:.2f}",
            f"Generated {_iso(time.time())} from {r.queries} Prometheus queries in {r.seconds:.1f} s; "
            "availability is the share of time up (the alerts' SLI); outages run from the first failed probe "
            "to the first successful one"]


def html(r: Report) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Nano Banana report {escape(_period(r))}</title>"
             f"<style>{CSS}</style></head><body><h1>Nano Banana availability report</h1>",
             "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in _summary(r)) + "</ul>"]
    if r.missing:
        parts.append("<div class='missing'><b>What this report cannot say</b><ul>"
                     + "".join(f"<li>{escape(m)}</li>" for m in r.missing) + "</ul></div>")
    svgs = charts(r)
    for title, (header, rows) in tables(r).items():
        parts.append(f"<h2>{escape(title)}</h2>")
        if title in svgs:
            parts.append(f"<figure>{svgs[title]}</figure>")
        if title == "Availability" and "Availability per day" in svgs:
            parts.append(f"<figure>{svgs['Availability per day']}</figure>")
        if not rows:
            parts.append("<p><small>none in the period</small></p>")
            continue
        head = "".join(f"<th>{escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _cell(text: str) -> str:
    numeric = text[:1].isdigit() or text[:1] == "$"
    css = " class='bad'" if text == "MISSED" else " class='ok'" if text == "met" else " class='n'" if numeric else ""
    return f"<td{css}>{escape(text)}</td>"


# The Markdown that can make markup from text: HTML (< >), links and images ([ ]), code, emphasis and
# strikethrough (` * ~), table cells (|), and the escape itself. A label value or incident title is
# shown as text, never as markup, a link or a new table row (issue 32). `_` is left: inside a word
# (metric names) it is no emphasis, and next to one it can only make italics.
_MARKUP = re.compile(r"([\\`*\[\]<>|~])")


def _md(text: str) -> str:
    """`text` as literal Markdown on one line: every markup character escaped by a backslash."""
    return _MARKUP.sub(r"\\\1", " ".join(text.split()))


def markdown(r: Report) -> str:
    lines = ["# Nano Banana availability report", ""] + [f"- {_md(line)}" for line in _summary(r)] + [""]
    if r.missing:
        lines += ["**What this report cannot say:**", ""] + [f"- {_md(m)}" for m in r.missing] + [""]
    for title, (header, rows) in tables(r).items():
        lines += [f"## {_md(title)}", ""]
        if not rows:
            lines += ["None in the period.", ""]
            continue
        lines += ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows] + [""]
    lines += ["Charts are in the HTML report.", ""]
    return "\n".join(lines)
