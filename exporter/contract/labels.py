"""The labels of a probe series and where each value comes from: the one list of them. Metrics, rules,
dashboards, the relay and alertmanager.yml's inhibitions derive theirs from it (python
alertmanager/generate.py rewrites the generated files). It imports nothing of the exporter, so the
contract's model and the domain types (exporter/domain/targets.py, which re-exports both names) can both read it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# label -> its value for an exporter.domain.targets.Series
SERIES_LABEL_VALUES: dict[str, Callable[[Any], str]] = {
    "target": lambda s: s.target.name,
    "api": lambda s: s.target.api,
    "model": lambda s: s.target.model,
    "resolution": lambda s: s.resolution,
    "thinking_level": lambda s: s.thinking_level,
}
SERIES_LABELS = tuple(SERIES_LABEL_VALUES)
