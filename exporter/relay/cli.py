"""`nanobanana-exporter relay --config.file relay.yml --web.listen-address :9878`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from exporter import __version__, logs
from exporter.cli import common_flags, describe_web_config, load_web_config, web_config_flag
from exporter.config import ConfigError
from exporter.redact import Redactor
from exporter.relay.config import RelayConfig, deadline_warning, load_file
from exporter.webconfig import WebConfig

log = logging.getLogger("exporter.relay")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nanobanana-exporter relay",
                                description="Relay Alertmanager webhooks to Feishu, DingTalk and WeCom bots.")
    p.add_argument("--config.file", dest="config_file", default="relay.yml", metavar="FILE")
    p.add_argument("--config.check", dest="config_check", action="store_true",
                   help="validate the config (credentials included), list the channels, exit 0 (valid) or 1")
    common_flags(p, ":9878")
    web_config_flag(p)
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
            rules = f"  {count} mention rule{'s' if count > 1 else ''}" if count else ""  # counted, never listed
            print(f"  /alerts/{name}  {channel.platform.name}{'  signed' if channel.secret else ''}{rules}")
        return 0
    return asyncio.run(serve(config, args.listen, redactor, web_config=web_config, config_file=args.config_file,
                             web_config_file=args.web_config_file))


async def serve(config: RelayConfig, listen: str, redactor: Redactor, web_config: WebConfig | None = None,
                config_file: str | None = None, web_config_file: str | None = None) -> int:
    from exporter import web
    from exporter.relay.delivery import Courier
    from exporter.relay.metrics import RelayMetrics
    from exporter.relay.server import make_app
    from exporter.reload import Reloader

    web_config = web_config or WebConfig()
    secrets = set(config.secrets)  # old credentials stay masked after a reload
    metrics = RelayMetrics(list(config.channels))
    courier = Courier(config.channels, metrics, redactor, config.deadline, config.request_timeout)
    current = {"config": config}

    async def reload() -> str:
        if config_file is None:
            raise ConfigError("this relay was started without a config file: nothing to reload")
        # both checked before anything changes; parsed off the event loop, which goes on serving
        new, new_web = await asyncio.to_thread(load, config_file, web_config_file)
        await server.apply(new_web)
        secrets.update(new.secrets)
        redactor.update(secrets)
        courier.apply(new.channels, new.deadline, new.request_timeout)
        metrics.apply(list(new.channels))
        current["config"] = new
        return f"{new.source}, {len(new.channels)} channels, {describe_web_config(new_web)}"

    reloader = Reloader("nanobanana_relay", reload, redactor)
    metrics.registry.register(reloader)
    app = make_app(lambda: current["config"], courier, metrics, redactor)
    reloader.add_route(app, echo_errors=False)  # an error may quote the config (a token pasted into token_env)
    server = web.Server(app, listen, web_config)
    try:
        await server.start()
    except (OSError, ValueError) as err:
        log.error("cannot listen", extra={"address": listen, "error": str(err)})
        await courier.aclose()
        return 1
    log.info("relay listening", extra={"address": listen, "port": server.port, "scheme": web_config.scheme,
                                       "channels": len(config.channels), "config": config.source, "version": __version__})
    await reloader.serve_until_stopped()
    await server.stop()
    await courier.aclose()
    return 0
