"""The landing page: every series, its last outcome and why, and its recent attempts."""

from __future__ import annotations

import base64
import datetime as dt
import time
from html import escape

from exporter import __version__
from exporter.contract.outcomes import DESCRIPTIONS, Outcome
from exporter.domain.scenes import CHECKS
from exporter.domain.scenes import DESCRIPTIONS as CHECK_DESCRIPTIONS
from exporter.domain.state import Attempt, Store

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.success{color:#1a7f37}.rate_limited{color:#9a6700}.fail{color:#cf222e;font-weight:600}.planned{color:#0550ae}
.unchecked{color:#666}ul.verdicts{list-style:none;margin:0;padding:0;font-size:.9em;white-space:nowrap}
img.thumb{max-width:96px;max-height:96px;border:1px solid #ddd}
details{margin:.3em 0}summary{cursor:pointer}code{font-size:.9em}small{color:#666}
"""


def _when(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))} ({now - ts:.0f}s ago)"


def _outcome(outcome: Outcome) -> str:
    css = outcome.value if not outcome.is_failure else "fail"
    return f'<span class="{css}" title="{escape(DESCRIPTIONS[outcome])}">{outcome.value}</span>'


def _attempt_row(a: Attempt, now: float) -> str:
    phases = " ".join(f"{k} {v:.3f}s" for k, v in a.phases.items() if v)
    early = f" <small>(confirming: {escape(a.confirmation)})</small>" if a.confirmation else ""
    return (
        f"<tr><td>{_when(a.started, now)}{early}</td><td>{_outcome(a.outcome)}</td><td>{a.duration:.3f}s</td>"
        f"<td><small>{escape(phases)}</small></td><td>{escape(a.image_size)}</td><td>${a.cost:.3f}</td>"
        f"<td>{escape(a.message)}</td></tr>"
    )


CHECK_TITLES = {  # kind -> (heading, what it is)
    "liveness": ("Free liveness checks", "Metadata calls that cost nothing: reachability, key and model id."),
    "canary": ("Canary", "A paid text-only generation on the image model: it sees a generation outage the free "
                         "check cannot, not a fault of image output alone."),
}


def _checks(checker) -> str:
    """The last check of every target of one kind (exporter.background.checks)."""
    states = list(checker or ())
    if not states:
        return ""
    now = time.time()
    rows = []
    for state in states:
        last = state.last
        cells = "".join(f"<td>{escape(v)}</td>" for v in state.key)
        if last is None:
            rows.append(f'<tr>{cells}<td colspan="6"><small>not checked yet</small></td></tr>')
            continue
        css = "success" if last.outcome == Outcome.SUCCESS else "fail"
        rows.append(f'<tr>{cells}<td><span class="{css}">{escape(last.outcome)}</span></td><td>{last.duration:.3f}s</td>'
                    f"<td>{_when(last.started, now)}</td><td>{state.consecutive_failures}</td><td>${state.cost:.4f}</td>"
                    f"<td>{escape(last.message)}</td></tr>")
    title, note = CHECK_TITLES[checker.kind]
    return (f"<h2>{title}</h2><p><small>{note}</small></p><table><tr><th>target</th><th>api</th><th>model</th>"
            "<th>last outcome</th><th>duration</th><th>finished</th><th>failures in a row</th><th>cost since start</th>"
            f"<th>error</th></tr>{''.join(rows)}</table>")


def _budget(budget) -> str:
    if budget is None:
        return ""
    rows = "".join(
        f"<tr><td>{escape(s.scope)}</td><td>${s.spent:.2f}</td>"
        f"<td>{'none' if s.limit is None else f'${s.limit:.2f}'}</td>"
        f"<td>{'<span class=fail>exhausted: paid probes paused</span>' if s.exhausted else 'ok'}</td></tr>"
        for s in budget.states()
    )
    return ("<h2>Budget today</h2><table><tr><th>scope</th><th>spent</th><th>daily limit</th><th>state</th></tr>"
            f"{rows}</table>")


def _maintenance(config, now: float) -> str:
    """Every maintenance window: open now (paid probes of its targets paused) or when it opens next."""
    if config is None or not config.maintenance.windows:
        return ""
    rows = []
    for w in config.maintenance.windows:
        local = lambda ts: dt.datetime.fromtimestamp(ts, w.zone).strftime("%Y-%m-%d %H:%M %Z")  # noqa: E731
        open_ = w.open_at(now)
        if open_:
            # planned, not a fault: blue, as the overview dashboard's maintenance strip
            state = f'<span class="planned">open until {local(open_[1])}: paid probes paused</span>'
        else:
            nxt = w.next_start(now)
            state = "closed" + (f", next opens {local(nxt)}" if nxt else ", not again")
        targets = ", ".join(sorted(w.targets)) if w.targets else "every target"
        rows.append(f"<tr><td>{escape(w.name)}</td><td>{escape(targets)}</td><td>{escape(str(w.zone))}</td>"
                    f"<td>{state}</td></tr>")
    active = [t.name for t in config.targets if config.maintenance.active(t.name, now)]
    note = (f'<p class="planned">In maintenance now: {escape(", ".join(active))} (paid probes paused, free checks go on)</p>'
            if active else "")
    return ("<h2>Maintenance windows</h2>" + note + "<table><tr><th>window</th><th>targets</th><th>time zone</th>"
            f"<th>state</th></tr>{''.join(rows)}</table>")


def _thumbnail(state, now: float) -> str:
    if state.thumbnail is None:
        return "<td></td>"
    data, when = state.thumbnail
    return (f'<td><img class="thumb" alt="last image" title="the last image that decoded, {_when(when, now)}" '
            f'src="data:image/jpeg;base64,{base64.b64encode(data).decode()}"></td>')


def _verdicts(state) -> str:
    """What served the last answer and each image check's last verdict, beside the last image."""
    served = state.served or ("", "")
    model = escape(served[0]) if served[0] else '<span class="unchecked">not named</span>'
    provider = f" <small>via {escape(served[1])}</small>" if served[1] else ""
    items = []
    for check in CHECKS:
        verdict, why = state.verdicts.get(check, ("unchecked", "no image judged yet"))
        css = {"pass": "success", "fail": "fail"}.get(verdict, "unchecked")
        items.append(f'<li title="{escape(CHECK_DESCRIPTIONS[check])}">{check}: '
                     f'<span class="{css}" title="{escape(why)}">{escape(verdict)}</span></li>')
    return f'<td>{model}{provider}</td><td><ul class="verdicts">{"".join(items)}</ul></td>'


def _reload(reloader, now: float) -> str:
    """The last reload: a failed one in red with its error (the process runs its previous config)."""
    if reloader is None or reloader.last_attempt is None:
        return ""
    if reloader.successful:
        return f"<p>Last reload: <span class=success>succeeded</span> {_when(reloader.success_time, now)}.</p>"
    return (f"<p>Last reload: <span class=fail>FAILED</span> {_when(reloader.last_attempt, now)}: "
            f"<code>{escape(reloader.last_error)}</code>. Running the config loaded {_when(reloader.success_time, now)} "
            "(NanoBananaConfigReloadFailed); fix the file and reload again.</p>")


def render(store: Store, ready: bool, config_source: str, liveness=None, budget=None, config=None, canary=None,
           reloader=None) -> str:
    now = time.time()
    rows, details = [], []
    paused = {t.name for t in config.targets if config.maintenance.active(t.name, now)} if config is not None else set()
    for state in store:
        labels = state.series.labels
        name = " / ".join(escape(v) for v in labels.values())
        last = state.last
        pause = ('<br><small class="planned">paused: maintenance window</small>'
                 if state.series.target.name in paused else "")
        rows.append(
            "<tr>"
            + "".join(f"<td>{escape(v)}</td>" for v in labels.values())
            + (f"<td>{_outcome(last.outcome)}{pause}</td><td>{last.duration:.3f}s</td><td>{_when(last.started, now)}</td>"
               f"<td>{escape(last.message)}</td>" if last else f'<td colspan="4"><small>not probed yet</small>{pause}</td>')
            + f"<td>{state.consecutive_failures}</td>{_thumbnail(state, now)}{_verdicts(state)}</tr>"
        )
        history = "".join(_attempt_row(a, now) for a in reversed(state.history))
        details.append(
            f"<details><summary>{name}: last {len(state.history)} attempts</summary>"
            "<table><tr><th>started</th><th>outcome</th><th>duration</th><th>phases</th><th>image</th><th>cost</th><th>error</th></tr>"
            f"{history}</table></details>"
        )
    header = "".join(f"<th>{k}</th>" for k in ("target", "api", "model", "resolution", "thinking"))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>nanobanana-exporter</title><style>{_STYLE}</style></head>
<body><h1>nanobanana-exporter</h1>
<p>Version {escape(__version__)} &middot; config <code>{escape(config_source)}</code> &middot;
{"ready" if ready else "not ready"} &middot; <a href="metrics">Metrics</a> &middot;
<a href="-/healthy">Health</a> &middot; <a href="-/ready">Readiness</a></p>
{_reload(reloader, now)}
{_maintenance(config, now)}
<h2>Series</h2>
<table><tr>{header}<th>last outcome</th><th>duration</th><th>finished</th><th>last error</th><th>failures in a row</th><th>last image</th><th>served by</th><th>image checks</th></tr>
{"".join(rows)}</table>
{_checks(liveness)}
{_checks(canary)}
{_budget(budget)}
<h2>Recent attempts</h2>
{"".join(details)}
<h2>Outcomes</h2>
<table>{"".join(f"<tr><td>{o.value}</td><td>{escape(d)}</td></tr>" for o, d in DESCRIPTIONS.items())}</table>
</body></html>"""
