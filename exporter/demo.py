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
    runner, base_url = await start_demo_simulator()
    return runner, demo_config(base_url)


async def start_demo_simulator() -> tuple[object, str]:
    """Start the simulator with the demo's faults; returns its runner and base URL."""
    simulator = Simulator()
    simulator.configure(yaml.safe_load(demo_text())["simulator"])
    return await start(simulator)


def demo_config(base_url: str) -> Config:
    """The built-in demo config, pointed at a simulator at base_url (also what a reload re-reads)."""
    raw = yaml.safe_load(demo_text())
    exporter_yaml = yaml.safe_dump(raw["exporter"], sort_keys=False).replace("${SIMULATOR}", base_url)
    return load_text(exporter_yaml, "<demo>")
