"""Relay configuration: named channels (a bot each), an optional bearer token, delivery limits.

    channels:
      oncall-feishu: {type: feishu, url_env: FEISHU_URL, secret_env: FEISHU_SECRET}
      ops-wecom:     {type: wecom, url_file: /run/secrets/wecom-url}
    token_file: /run/secrets/relay-token     # optional: Alertmanager's http_config.authorization
    deadline: 8s                             # per notification, retries included
    request_timeout: 5s                      # per request to a platform

Bot URLs carry credentials (Feishu's token in the path, DingTalk's access_token, WeCom's key), so
they, like secrets, come from the environment or a file, never from this file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from exporter.config import Duration
from exporter.secrets import read_secret
from exporter.yamlconfig import ConfigError, read_text, validate
from exporter.relay.base import Platform
from exporter.relay.platforms import PLATFORMS

# Alertmanager gives one notification (its retries included) max(group_interval, 10s), then cancels
# it and hangs up (notify.MinTimeout and timeoutFunc in prometheus/alertmanager; a webhook_config
# `timeout` shortens it further). A relay deadline under that answers 5xx in time for a retry.
ALERTMANAGER_MIN_BUDGET = 10.0
PlatformName = Literal[tuple(PLATFORMS)]  # type: ignore[valid-type]
ChannelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelModel(_Strict):
    type: PlatformName
    url_env: str | None = None
    url_file: str | None = None
    secret_env: str | None = None
    secret_file: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> "ChannelModel":
        if bool(self.url_env) == bool(self.url_file):
            raise ValueError("set exactly one of url_env and url_file")
        if self.secret_env and self.secret_file:
            raise ValueError("set secret_env or secret_file, not both")
        return self


class RelayModel(_Strict):
    channels: dict[ChannelName, ChannelModel] = Field(min_length=1)
    token_env: str | None = None
    token_file: str | None = None
    deadline: Duration = 8.0  # under ALERTMANAGER_MIN_BUDGET, so Alertmanager gets an answer, not a hang-up
    request_timeout: Duration = 5.0  # token_env and token_file together: read_secret names the key


@dataclass(frozen=True)
class Channel:
    name: str
    platform: Platform
    url: str = field(repr=False)
    secret: str | None = field(repr=False)


@dataclass(frozen=True)
class RelayConfig:
    channels: dict[str, Channel]
    token: str | None = field(repr=False)
    deadline: float
    request_timeout: float
    source: str = "<config>"

    @property
    def secrets(self) -> list[str]:
        """Everything that must never reach a log line, a metric or a response."""
        found = [self.token or ""]
        for channel in self.channels.values():
            found += [channel.url, channel.secret or ""]
            parts = urlsplit(channel.url)
            found += [value for _, value in parse_qsl(parts.query)]  # DingTalk access_token, WeCom key
            found.append(parts.path.rstrip("/").rsplit("/", 1)[-1])  # Feishu's hook token
        return [s for s in found if len(s) >= 8]


def load_file(path: str | Path, environ: dict[str, str] | None = None) -> RelayConfig:
    return load_text(read_text(path), str(path), environ)


def load_text(text: str, source: str = "<config>", environ: dict[str, str] | None = None) -> RelayConfig:
    model, where = validate(text, source, RelayModel, "a mapping with a 'channels:' mapping")
    environ = os.environ if environ is None else environ

    def secret(env: str | None, file: str | None, *loc: Any) -> str | None:
        try:
            return read_secret(env, file, loc[-1], environ)
        except ValueError as err:
            key, _, problem = str(err).partition(": ")
            raise ConfigError(f"{where(*loc[:-1], key)}: {problem}") from None

    channels = {}
    for name, c in model.channels.items():
        url = secret(c.url_env, c.url_file, "channels", name, "url")
        key = "url_env" if c.url_env else "url_file"
        if not url or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where('channels', name, key)}: the bot URL must start with http:// or https://")
        if problem := _url_problem(url):  # the URL itself is a secret: only the problem is named
            raise ConfigError(f"{where('channels', name, key)}: the bot URL is not usable: {problem}")
        channels[name] = Channel(name=name, platform=PLATFORMS[c.type], url=url,
                                 secret=secret(c.secret_env, c.secret_file, "channels", name, "secret"))
    token = secret(model.token_env, model.token_file, "token")
    return RelayConfig(channels=channels, token=token, deadline=model.deadline,
                       request_timeout=model.request_timeout, source=source)


def _url_problem(url: str) -> str | None:
    """What makes a bot URL unusable, found now rather than at every delivery (":99999" used to pass)."""
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        port = parts.netloc.rpartition(":")[2]
        return f"port {port} is out of range" if port.isdigit() else "the port is not a number"
    if not parts.hostname:
        return "no host"
    return None


def deadline_warning(config: RelayConfig) -> str | None:
    """A note when the deadline can outlast Alertmanager's budget (valid, but worth knowing)."""
    if config.deadline < ALERTMANAGER_MIN_BUDGET:
        return None
    return (f"{config.source}: deadline: {config.deadline:g}s is not under Alertmanager's notify budget when its "
            f"group_interval is {config.deadline:g}s or less (the budget is max(group_interval, "
            f"{ALERTMANAGER_MIN_BUDGET:g}s)): Alertmanager would hang up before the relay answers, and retry")
