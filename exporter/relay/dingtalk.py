"""DingTalk custom robot: markdown messages, signed in the query string when a secret is set."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

from exporter.relay import alerts
from exporter.relay.alerts import Notification
from exporter.relay.base import Blocks, Platform, Request, errcode_reply, pack
from exporter.relay.mentions import NOBODY, Mentions

MAX_TEXT_BYTES = 20000
RETRYABLE_CODES = {130101: "sending too fast"}
LINE_BREAK = "  \n"  # DingTalk's markdown joins single newlines; two trailing spaces break the line


def mention_line(m: Mentions) -> str | None:
    """DingTalk mentions whom `at` names only when the text also says @mobile / @userid
    (open.dingtalk.com, robot message types: markdown with `at`); the `at` object itself goes
    with the message that holds this line."""
    if not m:
        return None
    return " ".join([f"@{who}" for who in (*m.mobiles, *m.users)] + (["@all"] if m.everyone else []))


def render(n: Notification, mentions: Mentions = NOBODY) -> tuple[list[dict], int]:
    head = alerts.title(n, alerts.lookalikes)  # also the markdown heading
    line = mention_line(mentions)
    at = {"atMobiles": list(mentions.mobiles), "atUserIds": list(mentions.users), "isAtAll": mentions.everyone}

    def build(blocks: list[str], part: str, footer: str) -> dict:
        text = "\n\n---\n\n".join([f"### {head}{part}", *blocks] + ([footer] if footer else []))
        body = {"msgtype": "markdown", "markdown": {"title": head + part, "text": text}}
        if line and blocks[:1] == [line]:  # alert blocks start with "**FIRING": never equal to it
            body["at"] = at
        return body

    blocks = Blocks(n.alerts, lambda a: LINE_BREAK.join(alerts.alert_lines(n, a, alerts.lookalikes)),  # rendered as packed
                    first=line)
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
