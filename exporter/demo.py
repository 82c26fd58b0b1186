"""--demo: the simulator in-process, probed with the built-in demo config."""

from __future__ import annotations

from importlib import resources

import yaml

from exporter.config import Config, load_text
from exporter.simulator import Simulator, start


def demo_text() -> str:
    return resources.files("exporter").joinpath("demo.yml").read_text(encoding="utf-8")


async def start_demo() -> tuple[object, Config]:
    """Start the simulator; returns its runner and the demo config pointed at it."""
    raw = yaml.safe_load(demo_text())
    simulator = Simulator()
    simulator.configure(raw["simulator"])
    runner, base_url = await start(simulator)
    exporter_yaml = yaml.safe_dump(raw["exporter"], sort_keys=False).replace("${SIMULATOR}", base_url)
    return runner, load_text(exporter_yaml, "<demo>")
