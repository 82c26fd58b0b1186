"""A simulator of the upstream image APIs: the demo's upstream and the test suite's."""

from exporter.simulator.faults import KINDS, Fault, parse_faults
from exporter.simulator.server import Simulator, start

__all__ = ["KINDS", "Fault", "Simulator", "parse_faults", "start"]
