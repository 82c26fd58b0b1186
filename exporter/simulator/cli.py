"""`nanobanana-exporter simulator`: the upstream simulator as its own process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

import yaml

from exporter.common import logs
from exporter.common.redact import Redactor
from exporter.exposition.service import listen_flag, log_flags
from exporter.simulator.server import Simulator, start
from exporter.exposition.web import parse_listen_address

log = logging.getLogger("exporter.simulator")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nanobanana-exporter simulator",
                                     description="Serve a simulator of the Gemini, OpenAI-style, OpenRouter and Vertex AI image APIs.")
    parser.add_argument("--simulator.config", dest="config", metavar="FILE",
                        help="YAML with speed, payload, faults and keys (see docs/simulator.md); changeable at run time via PUT /_sim/config")
    parser.add_argument("--speed", type=float, default=None, help="latency scale, 1.0 = real-world latency")
    listen_flag(parser, "127.0.0.1:9879", repeatable=False)
    log_flags(parser)
    args = parser.parse_args(argv)
    logs.setup("warning" if args.log_level == "warn" else args.log_level, args.log_format, Redactor())
    simulator = Simulator()
    try:
        if args.config:
            with open(args.config, encoding="utf-8") as f:
                simulator.configure(yaml.safe_load(f) or {})
        if args.speed is not None:
            simulator.configure({"speed": args.speed})
        host, port = parse_listen_address(args.listen)
    except (OSError, ValueError, yaml.YAMLError) as err:
        log.error("invalid simulator config", extra={"error": str(err)})
        return 1
    return asyncio.run(_serve(simulator, host or "0.0.0.0", port))


async def _serve(simulator: Simulator, host: str, port: int) -> int:
    runner, base_url = await start(simulator, host, port)
    log.info("simulator listening", extra={"url": base_url, "speed": simulator.speed, "faults": len(simulator.faults)})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    return 0
