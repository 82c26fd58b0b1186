"""WeCom (WeChat Work) group bot: markdown messages of at most 4096 bytes. No signing: the key in
the URL is the only credential."""

from __future__ import annotations

from exporter.relay import alerts
from exporter.relay.alerts import Notification
from exporter.relay.base import Blocks, Platform, Request, errcode_reply, pack

MAX_CONTENT_BYTES = 4096
RETRYABLE_CODES = {45009: "API frequency out of limit"}
COLOURS = {"critical": "warning", "warning": "comment", "info": "info"}  # WeCom's three font colours


def render(n: Notification) -> tuple[list[dict], int]:
    head = alerts.title(n, alerts.lookalikes)  # inside <font>: a '<' would end it
    colour = "info" if n.status == "resolved" else COLOURS.get(n.severity or "", "comment")

    def build(blocks: list[str], part: str, footer: str) -> dict:
        lines = [f'**<font color="{colour}">{head}{part}</font>**', *blocks] + ([footer] if footer else [])
        return {"msgtype": "markdown", "markdown": {"content": "\n\n".join(lines)}}

    blocks = Blocks(n.alerts, lambda a: "\n".join(alerts.alert_lines(n, a, alerts.lookalikes)))  # rendered as packed
    return pack(blocks, build, lambda body: len(body["markdown"]["content"].encode()), MAX_CONTENT_BYTES, more=n.not_read)


def sign(url: str, secret: str | None, body: dict, now: float) -> Request:
    return Request(url, body)


PLATFORM = Platform(name="wecom", rate_limits=((20, 60.0),), render=render, sign=sign, check_reply=errcode_reply("WeCom", RETRYABLE_CODES))
