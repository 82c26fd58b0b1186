"""The Alertmanager webhook payload, and the per-alert text all platforms show.

Platforms differ in envelope, size limit and markdown dialect, not in what an on-call person needs
to read: what fires, where (target, model, resolution), since when, and links to act on it.

Every label and annotation value is text from outside (a status-feed incident title becomes a label,
then a summary): each platform passes an `escape` for its markup, so a value cannot mention anyone
(`<at id=all></at>`, `<@all>`), add a link or break out of ours. Mentions come only from the relay's
config. Link targets are percent-encoded, so a crafted dashboard_url cannot close its link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from exporter.contract.labels import SERIES_LABELS

# Labels shown on every alert, in this order; the rest stay in Alertmanager: the probe series'
# labels (exporter/domain/targets.py), `api` last as it follows from the target, then where it was scraped.
# `location`: where the probes run from (deploy/multi-region), so two regions' alerts differ.
KEY_LABELS = (*(label for label in SERIES_LABELS if label != "api"), "api", "location", "instance")
SEVERITY_ORDER = ("critical", "warning", "info")
DESCRIPTION_LIMIT = 600  # characters; the runbook link carries the rest
# Alerts read in full per notification. Five messages show a few hundred at most; the rest of a
# larger group (Alertmanager sends groups of any size) are counted by status, not validated.
MAX_ALERTS_READ = 1000


Escape = Callable[[str], str]

# Feishu's card markdown documents HTML character references for showing its markup characters as
# text (open.feishu.cn, feishu-cards, content-components/rich-text, "special characters").
# Only what can make markup: tags and mentions (< >), links ([ ]), emphasis and code (* _ ~ `), and
# the escapes themselves (& \).
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in "&<>[]*_~`\\"}
# DingTalk and WeCom document no escape for their markdown: their markup characters are replaced by
# look-alikes (fullwidth forms) that no parser reads as markup.
_LOOKALIKES = str.maketrans({"<": "\uff1c", ">": "\uff1e", "[": "\uff3b", "]": "\uff3d", "*": "\uff0a", "`": "\u02cb"})
_LINE_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")


def entities(text: str) -> str:
    return text.translate(_ENTITIES)


def lookalikes(text: str) -> str:
    return text.translate(_LOOKALIKES)


def one_line(text: str) -> str:
    """A value shown inside a line (a label, a name): a newline in it cannot start a heading or a quote."""
    return _LINE_BREAKS.sub(" ", text)


def link_target(url: str) -> str:
    """A URL safe inside markdown's (...): brackets, spaces, quotes and angle brackets percent-encoded."""
    return quote(url, safe=";/?:@&=+$,-_.!~*'#%")


class _Payload(BaseModel):
    # Alertmanager may add fields in later versions: ignore what we do not use.
    model_config = ConfigDict(extra="ignore")


class Alert(_Payload):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""


class Notification(_Payload):
    version: str = "4"
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupKey: str = ""
    truncatedAlerts: int = 0
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)
    # alerts past MAX_ALERTS_READ: counted, not read
    _unread: int = PrivateAttr(default=0)
    _unread_firing: int = PrivateAttr(default=0)

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def firing_count(self) -> int:
        return len(self.firing) + self._unread_firing

    @property
    def count(self) -> int:
        """Alerts in the group as received, read or not."""
        return len(self.alerts) + self._unread

    @property
    def not_read(self) -> int:
        """Alerts of the group the relay cannot show: past MAX_ALERTS_READ, or left out by
        Alertmanager itself (`max_alerts`, counted in truncatedAlerts)."""
        return self._unread + max(0, self.truncatedAlerts)

    @property
    def severity(self) -> str | None:
        """The most severe severity among firing alerts (None when all resolved or unlabelled)."""
        return _most_severe(self.firing)

    @property
    def routing_severity(self) -> str | None:
        """The most severe severity of the group, firing or resolved: which channels of POST /alerts
        get it (a resolved page goes where its page went). None when no alert names one."""
        return _most_severe(self.alerts)


def _most_severe(alerts: list[Alert]) -> str | None:
    present = {a.labels.get("severity") for a in alerts}
    return next((s for s in SEVERITY_ORDER if s in present), None)


class BadPayload(ValueError):
    """A body that is JSON but cannot be a notification we deliver; the message says why."""


def parse(body: bytes) -> Notification:
    """The notification in a webhook body. ValueError (UnicodeDecodeError, BadPayload, pydantic's
    ValidationError) for anything else, so the caller answers 400."""
    try:
        raw = json.loads(body)
        # A lone surrogate ("\ud800") is valid JSON but no platform can be sent it: refuse it here.
        json.dumps(raw, ensure_ascii=False).encode()
    except RecursionError:
        raise BadPayload("body is nested too deeply") from None
    except UnicodeEncodeError:
        raise BadPayload("body has a lone UTF-16 surrogate escape (\\ud800-\\udfff)") from None
    rest: list = []
    if isinstance(raw, dict) and isinstance(raw.get("alerts"), list) and len(raw["alerts"]) > MAX_ALERTS_READ:
        rest = raw["alerts"][MAX_ALERTS_READ:]
        raw = {**raw, "alerts": raw["alerts"][:MAX_ALERTS_READ]}
    notification = Notification.model_validate(raw)
    notification._unread = len(rest)
    notification._unread_firing = sum(1 for a in rest if isinstance(a, dict) and a.get("status") == "firing")
    return notification


def title(n: Notification, escape: Escape = str) -> str:
    """'[FIRING:2] NanoBananaOutage prod gemini-3-pro-image europe-west4', like Alertmanager's
    default title (the location only when the group has one), on one line, the values escaped."""
    count = f":{n.firing_count}" if n.status == "firing" else ""
    name = n.groupLabels.get("alertname") or n.commonLabels.get("alertname") or "alerts"
    rest = [n.groupLabels[k] for k in ("target", "model", "location") if n.groupLabels.get(k)]
    return " ".join([f"[{n.status.upper()}{count}]", *(escape(one_line(value)) for value in (name, *rest))])


def silence_url(n: Notification, alert: Alert) -> str | None:
    if not n.externalURL:
        return None
    names = ["alertname", *KEY_LABELS]
    matchers = ", ".join(f'{k}="{alert.labels[k]}"' for k in names if alert.labels.get(k))
    return f"{n.externalURL.rstrip('/')}/#/silences/new?filter={quote('{' + matchers + '}', safe='')}"


def when(moment: datetime | None) -> str:
    if moment is None or moment.year < 2000:  # Alertmanager sends 0001-01-01 for "not ended"
        return "-"
    try:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except OverflowError:  # 9999-12-31T23:59-23:59 is past the calendar in UTC: show it as sent
        return moment.isoformat()


def lasted(alert: Alert) -> str:
    """' after 4m 30s' from the alert's start to its end, or nothing when either is unknown."""
    if alert.startsAt is None or alert.endsAt is None or alert.endsAt.year < 2000 or alert.startsAt.year < 2000:
        return ""
    try:
        seconds = round((alert.endsAt - alert.startsAt).total_seconds())
    except (OverflowError, TypeError):
        return ""
    if seconds < 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    return " after " + " ".join(part for part in (f"{hours}h" if hours else "", f"{rest // 60}m" if rest >= 60 else "",
                                                   f"{rest % 60}s" if rest % 60 or seconds < 60 else "") if part)


def alert_lines(n: Notification, alert: Alert, escape: Escape) -> list[str]:
    """The lines of one alert in the markdown subset Feishu, DingTalk and WeCom all render; every
    value from the alert passes through the platform's `escape`."""
    def inline(value: str) -> str:
        return escape(one_line(value))

    name = inline(alert.labels.get("alertname", "alert"))
    severity = inline(alert.labels.get("severity", ""))
    state = "RESOLVED" if alert.status == "resolved" else "FIRING"
    lines = [f"**{state} {name}**" + (f" ({severity})" if severity else "")]
    if alert.status == "resolved":
        # not the summary: written while it fired ("probe failing 4 times in a row"), it reads as
        # still failing under a resolved header
        lines.append(f"Resolved: the condition is over{lasted(alert)}.")
    elif alert.annotations.get("summary"):
        lines.append(escape(alert.annotations["summary"]))
    if alert.status == "firing" and alert.annotations.get("description"):
        description = alert.annotations["description"]
        if len(description) > DESCRIPTION_LIMIT:
            description = description[: DESCRIPTION_LIMIT - 1] + "…"  # cut before escaping: never mid-escape
        lines.append(escape(description))
    labels = [f"{k}: {inline(alert.labels[k])}" for k in KEY_LABELS if alert.labels.get(k)]
    if labels:
        lines.append(" · ".join(labels))
    times = f"started {when(alert.startsAt)}"
    if alert.status == "resolved":
        times += f", resolved {when(alert.endsAt)}"
    lines.append(times)
    links = [
        (text, url)
        for text, url in (
            ("source", alert.generatorURL),
            ("dashboard", alert.annotations.get("dashboard_url", "")),
            ("runbook", alert.annotations.get("runbook_url", "")),
            ("silence", silence_url(n, alert) if alert.status == "firing" else None),
        )
        if url and url.startswith(("http://", "https://"))
    ]
    if links:
        lines.append(" · ".join(f"[{text}]({link_target(url)})" for text, url in links))
    return lines
