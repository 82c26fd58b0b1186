"""The little of Prometheus' HTTP API the report needs: instant and range queries, with errors a
person can act on (unreachable, not Prometheus, a query refused)."""

from __future__ import annotations

import time

import httpx


class ReportError(Exception):
    """A problem that stops the report: the message says what to fix."""


class Prometheus:
    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.client = httpx.Client(timeout=timeout)
        self.queries = 0
        self.timings: list[tuple[float, str]] = []  # (seconds, query) of every query, for benchmarks/report.py

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, params: dict) -> list[dict]:
        self.queries += 1
        began = time.perf_counter()
        try:
            response = self.client.get(f"{self.url}{path}", params=params)
            self.timings.append((time.perf_counter() - began, params["query"]))
        except httpx.HTTPError as err:
            raise ReportError(f"cannot reach Prometheus at {self.url}: {err.__class__.__name__}: {err}"
                              " (is --prometheus.url right and Prometheus running?)") from None
        try:
            body = response.json()
        except ValueError:
            raise ReportError(f"{self.url}{path} answered HTTP {response.status_code} without JSON: "
                              "is --prometheus.url a Prometheus server (its base URL, without /api/v1)?") from None
        if body.get("status") != "success":
            raise ReportError(f"Prometheus refused the query {params.get('query')!r}: "
                              f"{body.get('errorType', 'error')}: {body.get('error', response.status_code)}")
        return body["data"]["result"]

    def instant(self, query: str, at: float) -> list[dict]:
        """[{"metric": {...}, "value": [t, "v"]}]"""
        return self._get("/api/v1/query", {"query": query, "time": f"{at:.3f}"})

    def range(self, query: str, start: float, end: float, step: float) -> list[dict]:
        """[{"metric": {...}, "values": [[t, "v"], ...]}]"""
        return self._get("/api/v1/query_range", {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                                 "step": f"{step:g}"})
