"""The one registry of chat platforms the relay can deliver to: a new platform is a module and an entry."""

from exporter.relay import dingtalk, feishu, wecom
from exporter.relay.base import Platform

PLATFORMS: dict[str, Platform] = {p.name: p for p in (feishu.PLATFORM, dingtalk.PLATFORM, wecom.PLATFORM)}
