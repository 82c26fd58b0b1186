"""Command line, in the Prometheus exporters' style.

  nanobanana-exporter [--config.file F] [--web.listen-address :9877] [--web.config.file W] [--demo] [--config.check] ...
  nanobanana-exporter relay [--config.file relay.yml] [--web.listen-address :9878] [--web.config.file W] [--config.check]
  nanobanana-exporter simulator [--web.listen-address :9879] [--simulator.config F]
  nanobanana-exporter relay [--config.file relay.yml] [--web.listen-address :9878]
  nanobanana-exporter report --prometheus.url URL [--range 30d | --month YYYY-MM] [--out PREFIX]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time

from exporter import __version__
from exporter.common import aio, logs, malloc
from exporter.loading.config import Config, ConfigError, load_file
from exporter.common.redact import Redactor
from exporter.exposition.service import counted, describe_web_config, load_web_config, service_flags

log = logging.getLogger("exporter")

STOP_GRACE = 4.0  # seconds in-flight probes get to stop after SIGTERM


def exporter_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanobanana-exporter",
        description="Probe Nano Banana image models end to end and export the results to Prometheus.",
        epilog="subcommands (each has its own --help):\n"
        "  nanobanana-exporter relay      relay Alertmanager webhooks to Feishu, DingTalk and WeCom bots\n"
        "  nanobanana-exporter report     a period report (availability, latency, cost) from Prometheus\n"
        "  nanobanana-exporter simulator  the upstream simulator alone (docs/simulator.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config.file", dest="config_file", default="nanobanana.yml", metavar="FILE")
    parser.add_argument("--config.check", dest="config_check", action="store_true",
                        help="validate the config, print the expanded probe plan, exit 0 (valid) or 1")
    parser.add_argument("--prometheus.config", dest="prometheus_config", default=None, metavar="FILE",
                        help="with --config.check: warn where this Prometheus config's scrape or evaluation interval "
                        "differs from what the detection times assume")
    parser.add_argument("--demo", action="store_true",
                        help="probe the built-in simulator with the built-in demo config (no API key, no network)")
    parser.add_argument("--otlp.endpoint", dest="otlp_endpoint", default=None, metavar="URL",
                        help="also push the probes as OpenTelemetry GenAI metrics over OTLP/HTTP to this URL "
                        "(e.g. http://collector:4318/v1/metrics); off by default")
    parser.add_argument("--otlp.interval", dest="otlp_interval", default="60s", metavar="DURATION",
                        help="how often to push OpenTelemetry metrics (default 60s)")
    parser.add_argument("--demo.simulator-address", dest="demo_simulator_address", default="127.0.0.1:0", metavar="ADDR",
                        help="where --demo serves its simulator (default: a free port on 127.0.0.1), e.g. "
                        "127.0.0.1:9879 to point an own config at it")
    service_flags(parser, ":9877")
    return parser


SUBCOMMANDS: dict[str, str] = {
    "simulator": "exporter.simulator.cli",
    "relay": "exporter.relay.cli",
    "report": "exporter.report.cli",
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
        return check(args.config_file, args.demo, args.web_config_file, args.prometheus_config)
    malloc.return_large_buffers()
    try:
        return aio.run(run_exporter(args, redactor))
    except ConfigError as err:
        log.error("invalid config", extra={"error": str(err)})
        return 1


def check(path: str, demo: bool, web_config_file: str | None = None, prometheus_config: str | None = None) -> int:
    try:
        if demo:
            config = asyncio.run(_demo_config_only())
        else:
            config = load_file(path)
        web_config = load_web_config(web_config_file)
    except ConfigError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    from exporter.plan import print_plan

    print(f"{config.source}: config is valid")
    if web_config_file:
        print(f"{web_config.source}: web config is valid ({describe_web_config(web_config)})")
    print_plan(config)
    if prometheus_config:
        from exporter.plan import prometheus_warnings

        warnings = prometheus_warnings(prometheus_config)
        for warning in warnings:
            print(f"WARNING: {warning}")
        if not warnings:
            print(f"{prometheus_config}: scrape and evaluation intervals as the plan assumes")
    from exporter.probing.credentials import describe

    for line in filter(None, map(describe, config.targets)):
        print(f"credentials: {line}")
    from exporter.background.drift import config_check_lines

    for line in config_check_lines(config):  # free listing calls; offline is said, never a failure
        print(line)
    return 0


async def _demo_config_only() -> Config:
    from exporter.demo import start_demo

    runner, config = await start_demo()
    await runner.cleanup()
    return config


async def run_exporter(args: argparse.Namespace, redactor: Redactor) -> int:
    async with contextlib.AsyncExitStack() as stack:  # whatever started is stopped, in reverse, on any exit
        return await _serve(args, redactor, stack)


async def _serve(args: argparse.Namespace, redactor: Redactor, stack: contextlib.AsyncExitStack) -> int:
    from exporter.exposition import web
    from exporter.domain.budget import Budget
    from exporter.background.canary import CanaryChecker
    from exporter.background.credit import CreditChecker
    from exporter.probing.credentials import Credentials
    from exporter.background.liveness import LivenessChecker
    from exporter.domain.maintenance import MaintenanceCollector
    from exporter.exposition.metrics import Exposition, TasksCollector
    from exporter.probing.probe import Prober
    from exporter.background.scheduler import Scheduler
    from exporter.domain.state import Store
    from exporter.status.poller import StatusPoller

    from exporter.exposition.service import Service

    web_config = load_web_config(args.web_config_file)
    if args.demo:
        from exporter.demo import demo_config, start_demo_simulator

        sim_runner, sim_url = await start_demo_simulator(args.demo_simulator_address)
        stack.push_async_callback(sim_runner.cleanup)
        log.info("demo simulator listening", extra={"url": sim_url})

        def read_config() -> Config:
            return demo_config(sim_url)  # --demo has no file: a reload re-reads the built-in demo config
    else:
        def read_config() -> Config:
            return load_file(args.config_file)
    config = read_config()
    secrets = set(config.secrets)  # old keys stay masked after a reload: they may still be in flight
    redactor.update(secrets)

    store = Store()
    otel = start_otel(args, store)
    if otel is not None:
        stack.push_async_callback(otel.stop)
    credentials = Credentials(redactor.learn)  # shared: a target's token serves its probes and checks
    prober = Prober(redactor, credentials=credentials)
    budget = Budget()
    scheduler = Scheduler(store, prober, budget)
    liveness = LivenessChecker(redactor, on_failure=scheduler.liveness_failed, credentials=credentials)
    from exporter.background.drift import catalog_watch

    watch = catalog_watch(credentials)  # None when NANOBANANA_CATALOG_CHECK=off
    canary = CanaryChecker(redactor, on_failure=scheduler.canary_failed, credentials=credentials,
                           refusal=scheduler.refusal, charge=budget.record,
                           live_rates=watch.rates_for if watch is not None else None)
    status = StatusPoller(redactor, on_incident=scheduler.incident_opened, on_degraded=scheduler.model_degraded)
    credit = CreditChecker(redactor)
    stack.push_async_callback(credit.stop)
    stack.push_async_callback(status.stop)
    stack.push_async_callback(liveness.stop)
    stack.push_async_callback(canary.stop)
    stack.push_async_callback(prober.aclose)
    if watch is not None:
        stack.push_async_callback(watch.stop)
    current = {"config": config}

    def read() -> tuple[Config, object]:
        return read_config(), load_web_config(args.web_config_file)

    def drive(new: Config) -> None:
        """Hand a config to everything it drives: the same at start and at every reload."""
        scheduler.apply(new)
        liveness.apply(new)
        canary.apply(new)
        credit.apply(new)
        status.apply(new.status_sources)
        if watch is not None:
            watch.apply(new)
        current["config"] = new
        aio.freeze_heap()

    async def apply(new: Config) -> str:
        secrets.update(new.secrets)
        redactor.update(secrets)
        drive(new)
        return f"{new.source}, {counted(len(new.series), 'series', 'series')} in {counted(len(new.targets), 'target')}"

    service = Service("nanobanana_exporter", args, web_config, read, apply, redactor,
                      files=[] if args.demo else [args.config_file, args.web_config_file])
    exposition = Exposition(store, status, liveness, budget, canary, watch)
    exposition.registry.register(service.reloader)
    exposition.registry.register(TasksCollector(asyncio.get_running_loop()))
    exposition.registry.register(MaintenanceCollector(lambda: current["config"], time.time))
    exposition.registry.register(credit)
    app = web.make_app(exposition, store, lambda: scheduler.running, lambda: current["config"].source,
                       liveness=liveness, budget=budget, maintenance=lambda: current["config"], canary=canary,
                       reloader=service.reloader)
    if not await service.start(app):
        return 1
    stack.push_async_callback(service.stop)

    async def stop_probes() -> None:
        try:
            await asyncio.wait_for(scheduler.stop(), STOP_GRACE)
        except TimeoutError:
            log.warning("in-flight probes did not stop in time")

    stack.push_async_callback(stop_probes)  # first: in-flight probes end before their client closes
    drive(config)
    log.info("listening", extra={**service.listening, "event_loop": aio.loop_factory()[0],
                                 "series": len(config.series), "config": config.source, "version": __version__})

    await service.run()
    return 0


def start_otel(args: argparse.Namespace, store):
    """The optional OpenTelemetry export (exporter/exposition/otel.py), or None when --otlp.endpoint is not set."""
    if not args.otlp_endpoint:
        return None
    from exporter.common.durations import parse_duration

    try:
        from exporter.exposition.otel import OtelExport
    except ImportError as err:
        raise ConfigError(f"--otlp.endpoint needs the OpenTelemetry SDK ({err.name} is missing): "
                          "pip install 'nanobanana-exporter[otel]'") from None
    try:
        interval = parse_duration(args.otlp_interval)
    except ValueError as err:
        raise ConfigError(f"--otlp.interval: {err}") from None
    if not args.otlp_endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"--otlp.endpoint: expected an http:// or https:// URL, got {args.otlp_endpoint!r}")
    otel = OtelExport(store, args.otlp_endpoint, interval)
    otel.start()
    log.info("pushing OpenTelemetry metrics", extra={"endpoint": args.otlp_endpoint, "interval_seconds": interval})
    return otel
