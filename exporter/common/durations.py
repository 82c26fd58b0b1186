"""Prometheus-style durations: 500ms, 30s, 5m, 1h30m, 1d."""

import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
MAX_SECONDS = 366 * 86400.0  # no interval, timeout or window of this project is longer than a year
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> float:
    """Seconds in a duration string; ValueError with a readable message otherwise."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {text!r}")
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or total <= 0:
        raise ValueError(f"expected a positive duration such as 30s, 5m or 1h, got {text!r}")
    if total > MAX_SECONDS:  # 310 nines read as +Inf and were taken (issue 32)
        raise ValueError(f"expected a duration of at most {format_duration(MAX_SECONDS)}, got {text[:40]!r}")
    return total


# A config field written as a duration ("30s", "5m"), validated into seconds: every config's one type for it
Duration = Annotated[float, BeforeValidator(parse_duration)]


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    out, rest = [], seconds
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if rest >= size:
            out.append(f"{int(rest // size)}{unit}")
            rest -= (rest // size) * size
    if rest or not out:
        out.append(f"{rest:g}s")
    return "".join(out)
