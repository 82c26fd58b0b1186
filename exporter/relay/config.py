"""Relay configuration: named channels (a bot each), an optional bearer token, delivery limits.

    channels:
      oncall-feishu: {type: feishu, url_env: FEISHU_URL, secret_env: FEISHU_SECRET}
      ops-wecom:     {type: wecom, url_file: /run/secrets/wecom-url, severities: [critical]}
    token_file: /run/secrets/relay-token     # optional: Alertmanager's http_config.authorization
    deadline: 8s                             # per notification, retries included
    request_timeout: 5s                      # per request to a platform

Alertmanager posts to /alerts/<channel> for one channel, or to /alerts for every channel whose
`severities` (default: all three) hold the group's most severe alert: the shipped alertmanager.yml
does, so its receivers need no change when channels are added or removed here.

A channel may mention people or everyone, by the firing alerts' labels (mentions.py):
`mentions: [{match: {severity: critical}, users: [...], users_file: ..., mobiles: [...], all: false}]`.

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

from exporter.common.durations import Duration
from exporter.common.files import MAX_CONFIG_BYTES, read_bytes
from exporter.common.secrets import read_secret
from exporter.common.yamlconfig import ConfigError, Problems, read_text, validate
from exporter.relay.alerts import SEVERITY_ORDER
from exporter.relay.base import Platform
from exporter.relay.mentions import MAX_MENTIONS, MentionRule, Mentions, id_problem, parse_id_file
from exporter.relay.platforms import PLATFORMS

# Alertmanager gives one notification (its retries included) max(group_interval, 10s), then cancels
# it and hangs up (notify.MinTimeout and timeoutFunc in prometheus/alertmanager; a webhook_config
# `timeout` shortens it further). A relay deadline under that answers 5xx in time for a retry.
ALERTMANAGER_MIN_BUDGET = 10.0
PlatformName = Literal[tuple(PLATFORMS)]  # type: ignore[valid-type]
ChannelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
LabelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
# Platforms that can mention by mobile number (Feishu's custom bots mention by open_id only).
MOBILE_PLATFORMS = ("dingtalk", "wecom")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MentionModel(_Strict):
    # IDs are plain strings here and checked in load_text: a pydantic pattern error would quote them
    match: dict[LabelName, str | list[str]] = Field(default_factory=dict)
    users: list[str] = Field(default_factory=list)
    users_file: str | None = None
    mobiles: list[str] = Field(default_factory=list)
    mobiles_file: str | None = None
    all: bool = False

    @model_validator(mode="after")
    def _someone(self) -> "MentionModel":
        if not (self.users or self.users_file or self.mobiles or self.mobiles_file or self.all):
            raise ValueError("mentions no one: set users, users_file, mobiles, mobiles_file or all: true")
        return self


class ChannelModel(_Strict):
    type: PlatformName
    url_env: str | None = None
    url_file: str | None = None
    secret_env: str | None = None
    secret_file: str | None = None
    severities: list[Literal[SEVERITY_ORDER]] = Field(default=list(SEVERITY_ORDER), min_length=1)  # type: ignore[valid-type]
    mentions: list[MentionModel] = Field(default_factory=list)

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
    # not compared: a reload that changes only who is mentioned, or what it receives, keeps the bot's rate limiter
    mentions: tuple[MentionRule, ...] = field(default=(), repr=False, compare=False)
    severities: frozenset[str] = field(default=frozenset(SEVERITY_ORDER), compare=False)  # what POST /alerts sends it

    def takes(self, severity: str | None) -> bool:
        """Whether POST /alerts sends this channel a group whose most severe alert is `severity`
        (a group without a severity goes everywhere: better a message too many than a lost one)."""
        return severity is None or severity in self.severities


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
        # user IDs and mobile numbers are personal data: masked however short (the redactor's floor is 4)
        people = [i for c in self.channels.values() for rule in c.mentions for i in rule.mentions.ids]
        return [s for s in found if len(s) >= 8] + people


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
            if loc[-1] == "secret" and key == "secret_env" and problem.endswith("is not set"):
                problem += ("; the signing secret is optional: set it if the bot verifies signatures, "
                            "or delete the secret_env line if it does not")
            raise ConfigError(f"{where(*loc[:-1], key)}: {problem}") from None

    problems = Problems()  # every channel is checked, so one run names every problem
    channels = {}
    for name, c in model.channels.items():
        with problems.check():
            channels[name] = _channel(name, c, where, secret)
    token = None
    with problems.check():
        token = secret(model.token_env, model.token_file, "token")
    problems.raise_any()
    return RelayConfig(channels=channels, token=token, deadline=model.deadline,
                       request_timeout=model.request_timeout, source=source)


def _channel(name: str, c: ChannelModel, where, secret) -> Channel:
    problems = Problems()
    url = signing = None
    mentions: list[MentionRule] = []
    with problems.check():
        url = secret(c.url_env, c.url_file, "channels", name, "url")
        key = "url_env" if c.url_env else "url_file"
        if not url or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where('channels', name, key)}: the bot URL must start with http:// or https://")
        if problem := _url_problem(url):  # the URL itself is a secret: only the problem is named
            raise ConfigError(f"{where('channels', name, key)}: the bot URL is not usable: {problem}")
    with problems.check():
        signing = secret(c.secret_env, c.secret_file, "channels", name, "secret")
    for i, m in enumerate(c.mentions):
        with problems.check():
            mentions.append(_mention_rule(m, c.type, where, "channels", name, "mentions", i))
    people = {who for rule in mentions for who in rule.mentions.ids}
    if len(people) > MAX_MENTIONS:
        # 1,500 Feishu IDs cut a tag in half, 1,500 DingTalk mobiles sent no `at` at all (issue 32)
        problems.found.append(f"{where('channels', name, 'mentions')}: the rules mention {len(people)} people "
                              f"together; a message mentions at most {MAX_MENTIONS} (`all: true` mentions everyone)")
    problems.raise_any()
    return Channel(name=name, platform=PLATFORMS[c.type], url=url, secret=signing,
                   severities=frozenset(c.severities), mentions=tuple(mentions))


def _mention_rule(m: MentionModel, platform: str, where, *loc: Any) -> MentionRule:
    if (m.mobiles or m.mobiles_file) and platform not in MOBILE_PLATFORMS:
        key = "mobiles" if m.mobiles else "mobiles_file"
        raise ConfigError(f"{where(*loc, key)}: {platform} bots mention by user ID only (users, users_file); "
                          f"mobile numbers work on {' and '.join(MOBILE_PLATFORMS)}")

    def ids(listed: list[str], path: str | None, key: str, mobile: bool) -> tuple[str, ...]:
        for index, value in enumerate(listed):
            if problem := id_problem(value.strip() if isinstance(value, str) else "", mobile):
                raise ConfigError(f"{where(*loc, key, index)}: {problem}")
        found = [v.strip() for v in listed]
        if path:
            file_key = f"{key}_file"
            try:
                text = read_bytes(path, MAX_CONFIG_BYTES).decode("utf-8-sig")
            except OSError as err:
                raise ConfigError(f"{where(*loc, file_key)}: cannot read {path}: {err.strerror or err}") from None
            except UnicodeDecodeError:
                raise ConfigError(f"{where(*loc, file_key)}: {path} is not UTF-8 text") from None
            more, bad = parse_id_file(text, mobile)
            if bad:
                raise ConfigError(f"{where(*loc, file_key)}: {path}:{bad[0]}: {bad[1]}")
            if not more and not found and not m.all:
                raise ConfigError(f"{where(*loc, file_key)}: {path} lists no one")
            found += more
        return tuple(dict.fromkeys(found))

    match = tuple((label, frozenset([values] if isinstance(values, str) else values)) for label, values in m.match.items())
    return MentionRule(match=match, mentions=Mentions(users=ids(m.users, m.users_file, "users", False),
                                                      mobiles=ids(m.mobiles, m.mobiles_file, "mobiles", True),
                                                      everyone=m.all))


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
