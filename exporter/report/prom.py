"""The little of Prometheus' HTTP API the report needs: instant and range queries, with errors a
person can act on (unreachable, not Prometheus, a query refused), each one line naming the query.

An answer is read within a whole-query deadline and a size cap, and checked before the report
reads it: every series a mapping of label strings with finite sample times inside the period asked
for and numeric values. A broken or hostile Prometheus (a 300 MB answer cost 1.76 GB, a trickling
one ignored --timeout, odd shapes raised KeyError and friends: issue 32) becomes a ReportError.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import httpx

from exporter.common import bodies

MAX_ANSWER_BYTES = 32 * 1024 * 1024  # a month of 100 series answers a few MB (benchmarks/report.py)
SLACK = 86400.0  # sample times may lie this far outside the period asked for (step alignment)


class ReportError(Exception):
    """A problem that stops the report: the message, one line, says what to fix."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


class Prometheus:
    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.client = httpx.Client(timeout=timeout)
        self.queries = 0
        self.timings: list[tuple[float, str]] = []  # (seconds, query) of every query, for benchmarks/report.py

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, params: dict, low: float, high: float) -> list[dict]:
        query = params["query"]
        self.queries += 1
        began = time.perf_counter()
        status, raw = self._read(path, params)
        self.timings.append((time.perf_counter() - began, query))
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise ReportError(f"{self.url}{path} answered HTTP {status} without JSON: is --prometheus.url a "
                              "Prometheus server (its base URL, without /api/v1)?") from None
        del raw
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body if isinstance(body, dict) else {}
            raise ReportError(f"Prometheus refused the query {query!r}: {str(error.get('errorType', 'error'))[:100]}: "
                              f"{str(error.get('error', status))[:300]}")
        data = body.get("data")
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            raise ReportError(f"Prometheus answered the query {query!r} without a data.result list")
        try:
            return [_series(s, "values" if path.endswith("_range") else "value", low, high) for s in result]
        except ValueError as err:
            raise ReportError(f"Prometheus answered the query {query!r} with a broken series: {err}") from None

    def _read(self, path: str, params: dict) -> tuple[int, bytearray]:
        """(status, body), the whole of it within the timeout (httpx's bounds each read) and the cap."""
        deadline = time.monotonic() + self.timeout
        where = f"the query {params['query']!r}"
        try:
            with self.client.stream("GET", f"{self.url}{path}", params=params) as response:
                return response.status_code, bodies.read_by(response, MAX_ANSWER_BYTES, deadline)
        except bodies.TooLarge:
            raise ReportError(f"Prometheus answered {where} with more than {MAX_ANSWER_BYTES} bytes; "
                              "narrow the period or --selector") from None
        except (TimeoutError, httpx.TimeoutException):
            raise ReportError(f"Prometheus did not answer {where} within --timeout {self.timeout:g}s") from None
        except httpx.HTTPError as err:
            raise ReportError(f"cannot reach Prometheus at {self.url} for {where}: {err.__class__.__name__}: {err}"
                              " (is --prometheus.url right and Prometheus running?)") from None

    def instant(self, query: str, at: float) -> list[dict]:
        """[{"metric": {...}, "value": [t, "v"]}]"""
        return self._get("/api/v1/query", {"query": query, "time": f"{at:.3f}"}, at - SLACK, at + SLACK)

    def range(self, query: str, start: float, end: float, step: float) -> list[dict]:
        """[{"metric": {...}, "values": [[t, "v"], ...]}]"""
        return self._get("/api/v1/query_range", {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                                 "step": f"{step:g}"}, start - SLACK, end + SLACK)


def _series(raw: Any, key: str, low: float, high: float) -> dict:
    """One series of an answer, checked: label strings, its `value` (instant) or non-empty `values`
    (range), finite times from `low` to `high`, values that read as numbers (an infinite one reads
    as NaN: no value)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("metric"), dict):
        raise ValueError("a series without a metric mapping")
    metric = raw["metric"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metric.items()):
        raise ValueError("a label that is not a string")
    if key == "value":
        return {"metric": metric, "value": _sample(raw.get("value"), low, high)}
    values = raw.get("values")
    if not isinstance(values, list) or not values:
        raise ValueError("a series without values")
    return {"metric": metric, "values": [_sample(v, low, high) for v in values]}


def _sample(raw: Any, low: float, high: float) -> list:
    if not isinstance(raw, list) or len(raw) != 2:
        raise ValueError("a sample that is not [time, value]")
    t, v = raw
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not low <= t <= high:
        raise ValueError(f"a sample time outside the period: {str(t)[:40]}")
    try:
        number = float(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"a sample value that is not a number: {str(v)[:40]!r}") from None
    return [float(t), "NaN" if math.isinf(number) else v]
