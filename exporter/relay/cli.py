"""`nanobanana-exporter relay --config.file relay.yml --web.listen-address :9878`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from exporter import __version__, logs
from exporter.cli import common_flags
from exporter.config import ConfigError
from exporter.redact import Redactor
from exporter.relay.config import RelayConfig, load_file

log = logging.getLogger("exporter.relay")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nanobanana-exporter relay",
                                description="Relay Alertmanager webhooks to Feishu, DingTalk and WeCom bots.")
    p.add_argument("--config.file", dest="config_file", default="relay.yml", metavar="FILE")
    p.add_argument("--config.check", dest="config_check", action="store_true",
                   help="validate the config (credentials included), list the channels, exit 0 (valid) or 1")
    common_flags(p, ":9878")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    redactor = Redactor()
    logs.setup("warning" if args.log_level == "warn" else args.log_level, args.log_format, redactor)
    try:
        config = load_file(args.config_file)
    except ConfigError as err:
        if args.config_check:
            print(f"FAILED: {err}", file=sys.stderr)
        else:
            log.error("invalid config", extra={"error": str(err)})
        return 1
    redactor.update(config.secrets)
    if args.config_check:
        print(f"{config.source}: config is valid")
        for name, channel in sorted(config.channels.items()):
            print(f"  /alerts/{name}  {channel.platform.name}{'  signed' if channel.secret else ''}")
        return 0
    return asyncio.run(serve(config, args.listen, redactor))


async def serve(config: RelayConfig, listen: str, redactor: Redactor) -> int:
    from exporter import web
    from exporter.relay.delivery import Courier
    from exporter.relay.metrics import RelayMetrics
    from exporter.relay.server import make_app

    metrics = RelayMetrics(list(config.channels))
    courier = Courier(config.channels, metrics, redactor, config.deadline, config.request_timeout)
    app = make_app(config, courier, metrics, redactor)
    try:
        runner = await web.serve(app, listen)
    except (OSError, ValueError) as err:
        log.error("cannot listen", extra={"address": listen, "error": str(err)})
        await courier.aclose()
        return 1
    log.info("relay listening", extra={"address": listen, "port": web.bound_port(runner), "channels": len(config.channels),
                                       "config": config.source, "version": __version__})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
    await courier.aclose()
    return 0
