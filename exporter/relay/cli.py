"""`nanobanana-exporter relay --config.file relay.yml --web.listen-address :9878`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from exporter import __version__
from exporter.common import logs
from exporter.common.redact import Redactor
from exporter.exposition.service import counted, describe_web_config, load_web_config, service_flags
from exporter.common.yamlconfig import ConfigError
from exporter.relay.config import RelayConfig, deadline_warning, load_file
from exporter.common.webconfig import WebConfig

log = logging.getLogger("exporter.relay")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nanobanana-exporter relay",
                                description="Relay Alertmanager webhooks to Feishu, DingTalk and WeCom bots.")
    p.add_argument("--config.file", dest="config_file", default="relay.yml", metavar="FILE")
    p.add_argument("--config.check", dest="config_check", action="store_true",
                   help="validate the config (credentials included), list the channels, exit 0 (valid) or 1")
    service_flags(p, ":9878")
    return p


def load(config_file: str, web_config_file: str | None) -> tuple[RelayConfig, WebConfig]:
    """Both files, checked together: at start and on every reload."""
    config = load_file(config_file)
    web_config = load_web_config(web_config_file)
    if config.token and web_config.users:
        # one Authorization header cannot carry both a bearer token and basic auth
        raise ConfigError(f"{config.source}: token_env/token_file: {web_config.source} sets basic_auth_users, which "
                          "already guard /alerts/*; Alertmanager sends one Authorization header, so use one of them "
                          "(basic auth: Alertmanager's http_config.basic_auth)")
    return config, web_config


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    redactor = Redactor()
    logs.setup("warning" if args.log_level == "warn" else args.log_level, args.log_format, redactor)
    try:
        config, web_config = load(args.config_file, args.web_config_file)
    except ConfigError as err:
        if args.config_check:
            print(f"FAILED: {err}", file=sys.stderr)
        else:
            log.error("invalid config", extra={"error": str(err)})
        return 1
    redactor.update(config.secrets)
    if warning := deadline_warning(config):
        if args.config_check:
            print(f"WARNING: {warning}", file=sys.stderr)
        else:
            log.warning("deadline above Alertmanager's minimum notify budget", extra={"detail": warning})
    if args.config_check:
        print(f"{config.source}: config is valid")
        if args.web_config_file:
            print(f"{web_config.source}: web config is valid ({describe_web_config(web_config)})")
        for name, channel in sorted(config.channels.items()):
            count = len(channel.mentions)
            rules = f"  {counted(count, 'mention rule')}" if count else ""  # counted, never listed
            print(f"  /alerts/{name}  {channel.platform.name}{'  signed' if channel.secret else ''}{rules}")
        return 0
    try:
        return asyncio.run(serve(config, args, redactor, web_config))
    except ConfigError as err:  # a flag the service host refuses
        log.error("invalid flags", extra={"error": str(err)})
        return 1


async def serve(config: RelayConfig, args: argparse.Namespace, redactor: Redactor, web_config: WebConfig) -> int:
    from exporter.relay.delivery import Courier
    from exporter.relay.metrics import RelayMetrics
    from exporter.relay.server import make_app
    from exporter.exposition.service import Service

    secrets = set(config.secrets)  # old credentials stay masked after a reload
    metrics = RelayMetrics(list(config.channels))
    courier = Courier(config.channels, metrics, redactor, config.deadline, config.request_timeout)
    current = {"config": config}

    async def apply(new: RelayConfig) -> str:
        secrets.update(new.secrets)
        redactor.update(secrets)
        courier.apply(new.channels, new.deadline, new.request_timeout)
        metrics.apply(list(new.channels))
        current["config"] = new
        return f"{new.source}, {counted(len(new.channels), 'channel')}"

    # an error may quote the config (a token pasted into token_env): POST /-/reload does not echo it
    service = Service("nanobanana_relay", args, web_config, lambda: load(args.config_file, args.web_config_file),
                      apply, redactor, files=[args.config_file, args.web_config_file], echo_errors=False)
    metrics.registry.register(service.reloader)
    app = make_app(lambda: current["config"], courier, metrics, redactor)
    if not await service.start(app):
        await courier.aclose()
        return 1
    log.info("relay listening", extra={**service.listening, "channels": len(config.channels), "config": config.source,
                                       "version": __version__})
    await service.run()
    await service.stop()
    await courier.aclose()
    return 0
