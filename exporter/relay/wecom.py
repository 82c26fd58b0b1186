"""WeCom (WeChat Work) group bot: markdown messages of at most 4096 bytes. No signing: the key in
the URL is the only credential."""

from __future__ import annotations

from exporter.relay import alerts
from exporter.relay.alerts import Notification
from exporter.relay.base import Blocks, Platform, Request, errcode_reply, pack
from exporter.relay.mentions import NOBODY, Mentions

MAX_CONTENT_BYTES = 4096
MAX_TEXT_BYTES = 2048  # a text message's content
RETRYABLE_CODES = {45009: "API frequency out of limit"}
COLOURS = {"critical": "warning", "warning": "comment", "info": "info"}  # WeCom's three font colours


# WeCom's group bot documentation (developer.work.weixin.qq.com/document/path/91770, "群机器人配置说明"):
# text and markdown content may mention a member with `<@userid>`; mentioning everyone (`@all`) and
# mentioning by mobile number exist only as a text message's mentioned_list / mentioned_mobile_list.
def mention_line(m: Mentions) -> str | None:
    return " ".join(f"<@{user}>" for user in m.users) or None


def mention_message(head: str, m: Mentions) -> dict | None:
    """The text message that follows the markdown ones when everyone or mobile numbers are mentioned."""
    if not (m.everyone or m.mobiles):
        return None
    text: dict = {"content": head.encode()[:MAX_TEXT_BYTES].decode(errors="ignore")}
    if m.everyone:
        text["mentioned_list"] = ["@all"]
    if m.mobiles:
        text["mentioned_mobile_list"] = list(m.mobiles)
    return {"msgtype": "text", "text": text}


def render(n: Notification, mentions: Mentions = NOBODY) -> tuple[list[dict], int]:
    head = alerts.title(n, alerts.lookalikes)  # inside <font>: a '<' would end it
    colour = "info" if n.status == "resolved" else COLOURS.get(n.severity or "", "comment")

    def build(blocks: list[str], part: str, footer: str) -> dict:
        lines = [f'**<font color="{colour}">{head}{part}</font>**', *blocks] + ([footer] if footer else [])
        return {"msgtype": "markdown", "markdown": {"content": "\n\n".join(lines)}}

    blocks = Blocks(n.alerts, lambda a: "\n".join(alerts.alert_lines(n, a, alerts.lookalikes)),  # rendered as packed
                    first=mention_line(mentions))
    bodies, omitted = pack(blocks, build, lambda body: len(body["markdown"]["content"].encode()), MAX_CONTENT_BYTES,
                           more=n.not_read)
    if extra := mention_message(head, mentions):
        bodies.append(extra)
    return bodies, omitted


def sign(url: str, secret: str | None, body: dict, now: float) -> Request:
    return Request(url, body)


PLATFORM = Platform(name="wecom", rate_limits=((20, 60.0),), render=render, sign=sign, check_reply=errcode_reply("WeCom", RETRYABLE_CODES))
