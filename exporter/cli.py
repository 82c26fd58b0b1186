"""Command line, in the Prometheus exporters' style.

  nanobanana-exporter [--config.file F] [--web.listen-address :9877] [--demo] [--config.check] ...
  nanobanana-exporter simulator [--web.listen-address :9879] [--simulator.config F]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from exporter import __version__, logs
from exporter.config import Config, ConfigError, load_file
from exporter.redact import Redactor

log = logging.getLogger("exporter")

STOP_GRACE = 4.0  # seconds in-flight probes get to stop after SIGTERM


def common_flags(parser: argparse.ArgumentParser, listen: str) -> None:
    parser.add_argument("--web.listen-address", dest="listen", default=listen, metavar="ADDR",
                        help=f"address to listen on for HTTP (default {listen})")
    parser.add_argument("--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"])
    parser.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"])
    parser.add_argument("--version", action="version", version=f"nanobanana-exporter {__version__}")


def exporter_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanobanana-exporter",
        description="Probe Nano Banana image models end to end and export the results to Prometheus. "
        "Subcommands: 'simulator' runs the upstream simulator alone.",
    )
    parser.add_argument("--config.file", dest="config_file", default="nanobanana.yml", metavar="FILE")
    parser.add_argument("--config.check", dest="config_check", action="store_true",
                        help="validate the config, print the expanded probe plan, exit 0 (valid) or 1")
    parser.add_argument("--demo", action="store_true",
                        help="probe the built-in simulator with the built-in demo config (no API key, no network)")
    common_flags(parser, ":9877")
    return parser


SUBCOMMANDS: dict[str, str] = {
    "simulator": "exporter.simulator.cli",
    "relay": "exporter.relay.cli",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        from importlib import import_module

        return import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    args = exporter_parser().parse_args(argv)
    redactor = Redactor()
    logs.setup("warning" if args.log_level == "warn" else args.log_level, args.log_format, redactor)
    if args.config_check:
        return check(args.config_file, args.demo)
    try:
        return asyncio.run(run_exporter(args, redactor))
    except ConfigError as err:
        log.error("invalid config", extra={"error": str(err)})
        return 1


def check(path: str, demo: bool) -> int:
    try:
        if demo:
            config = asyncio.run(_demo_config_only())
        else:
            config = load_file(path)
    except ConfigError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    from exporter.plan import print_plan

    print(f"{config.source}: config is valid")
    print_plan(config)
    return 0


async def _demo_config_only() -> Config:
    from exporter.demo import start_demo

    runner, config = await start_demo()
    await runner.cleanup()
    return config


async def run_exporter(args: argparse.Namespace, redactor: Redactor) -> int:
    from exporter import web
    from exporter.budget import Budget
    from exporter.liveness import LivenessChecker
    from exporter.metrics import Exposition
    from exporter.probe import Prober
    from exporter.scheduler import Scheduler
    from exporter.state import Store
    from exporter.status.poller import StatusPoller

    cleanups = []
    if args.demo:
        from exporter.demo import start_demo

        sim_runner, config = await start_demo()
        cleanups.append(sim_runner.cleanup)
    else:
        config = load_file(args.config_file)
    redactor.update(config.secrets)

    store = Store()
    prober = Prober(redactor)
    budget = Budget()
    scheduler = Scheduler(store, prober, budget)
    liveness = LivenessChecker(redactor, on_failure=scheduler.liveness_failed)
    status = StatusPoller(redactor)
    app = web.make_app(Exposition(store, status, liveness, budget), store, lambda: scheduler.running,
                       lambda: config.source)
    try:
        runner = await web.serve(app, args.listen)
    except (OSError, ValueError) as err:
        log.error("cannot listen", extra={"address": args.listen, "error": str(err)})
        return 1
    scheduler.apply(config)
    liveness.apply(config)
    status.apply(config.status_sources)
    log.info("listening", extra={"address": args.listen, "port": web.bound_port(runner),
                                 "series": len(config.series), "config": config.source, "version": __version__})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    try:
        await asyncio.wait_for(scheduler.stop(), STOP_GRACE)
    except TimeoutError:
        log.warning("in-flight probes did not stop in time")
    await runner.cleanup()
    await prober.aclose()
    await liveness.stop()
    await status.stop()
    for cleanup in cleanups:
        await cleanup()
    return 0
