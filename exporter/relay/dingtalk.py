"""DingTalk custom robot: markdown messages, signed in the query string when a secret is set."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

from exporter.relay import alerts
from exporter.relay.alerts import Notification
from exporter.relay.base import Blocks, Platform, Request, errcode_reply, pack

MAX_TEXT_BYTES = 20000
RETRYABLE_CODES = {130101: "sending too fast"}
LINE_BREAK = "  \n"  # DingTalk's markdown joins single newlines; two trailing spaces break the line


def render(n: Notification) -> tuple[list[dict], int]:
    head = alerts.title(n, alerts.lookalikes)  # also the markdown heading

    def build(blocks: list[str], part: str, footer: str) -> dict:
        text = "\n\n---\n\n".join([f"### {head}{part}", *blocks] + ([footer] if footer else []))
        return {"msgtype": "markdown", "markdown": {"title": head + part, "text": text}}

    blocks = Blocks(n.alerts, lambda a: LINE_BREAK.join(alerts.alert_lines(n, a, alerts.lookalikes)))  # rendered as packed
    return pack(blocks, build, lambda body: len(body["markdown"]["text"].encode()), MAX_TEXT_BYTES, more=n.not_read)


def signature(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def sign(url: str, secret: str | None, body: dict, now: float) -> Request:
    if not secret:
        return Request(url, body)
    timestamp_ms = int(now * 1000)
    separator = "&" if "?" in url else "?"
    return Request(f"{url}{separator}timestamp={timestamp_ms}&sign={signature(secret, timestamp_ms)}", body)


PLATFORM = Platform(name="dingtalk", rate_limits=((20, 60.0),), render=render, sign=sign, check_reply=errcode_reply("DingTalk", RETRYABLE_CODES))
