"""Feishu / Lark custom bot: interactive cards, signed when the bot has a secret.

Feishu answers HTTP 200 even when it drops a message; only `code: 0` in the body means delivered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from exporter.relay import alerts
from exporter.relay.alerts import Notification
from exporter.relay.base import Blocks, DeliveryError, Platform, Request, check_http, pack
from exporter.relay.mentions import NOBODY, Mentions

MAX_BODY_BYTES = 20 * 1024
SIGNATURE_ROOM = 128  # bytes reserved for "timestamp" and "sign", added after packing
COLOURS = {"critical": "red", "warning": "orange", "info": "blue"}
RETRYABLE_CODES = {11232: "rate limited"}  # other non-zero codes are configuration errors
KNOWN_CODES = {19021: "bad signature or stale timestamp", 19022: "IP not allowed", 19024: "keyword missing", 9499: "bad request"}


def colour(n: Notification) -> str:
    if n.status == "resolved":
        return "green"
    return COLOURS.get(n.severity or "", "blue")


def body_size(body: dict) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode()) + SIGNATURE_ROOM


def mention_line(m: Mentions) -> str | None:
    """Card markdown's @ syntax: `<at id=open_id></at>`, `<at id=all></at>` (open.feishu.cn,
    feishu-cards/card-components/content-components/rich-text; custom bots mention by open_id only).
    The IDs passed mentions.USER_ID, so they cannot close the tag."""
    if not m:
        return None
    return " ".join([f"<at id={user}></at>" for user in m.users] + (["<at id=all></at>"] if m.everyone else []))


def render(n: Notification, mentions: Mentions = NOBODY) -> tuple[list[dict], int]:
    head, template = alerts.title(n), colour(n)  # the header is plain_text: nothing to escape

    def build(blocks: list[str], part: str, footer: str) -> dict:
        elements: list[dict] = []
        for block in blocks:
            if elements:
                elements.append({"tag": "hr"})
            elements.append({"tag": "markdown", "content": block})
        if footer:
            elements.append({"tag": "markdown", "content": footer})
        return {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {"title": {"tag": "plain_text", "content": head + part}, "template": template},
                "elements": elements,
            },
        }

    blocks = Blocks(n.alerts, lambda a: "\n".join(alerts.alert_lines(n, a, alerts.entities)),  # rendered as packed
                    first=mention_line(mentions))
    return pack(blocks, build, body_size, MAX_BODY_BYTES, more=n.not_read)


def signature(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def sign(url: str, secret: str | None, body: dict, now: float) -> Request:
    if not secret:
        return Request(url, body)
    timestamp = int(now)
    return Request(url, {"timestamp": str(timestamp), "sign": signature(secret, timestamp), **body})


def check_reply(status: int, reply: object) -> None:
    check_http(status)
    if not isinstance(reply, dict):
        raise DeliveryError("Feishu answered without a JSON object", retry=True, result="http_error")
    code = reply.get("code", reply.get("StatusCode"))
    if code == 0:
        return
    if code in RETRYABLE_CODES:
        raise DeliveryError(f"Feishu code {code} ({RETRYABLE_CODES[code]})", retry=True, result="rate_limited")
    meaning = KNOWN_CODES.get(code) if isinstance(code, int) else None
    raise DeliveryError(f"Feishu code {code}" + (f" ({meaning})" if meaning else ""), retry=False, result="platform_error")


PLATFORM = Platform(name="feishu", rate_limits=((5, 1.0), (100, 60.0)), render=render, sign=sign, check_reply=check_reply)
