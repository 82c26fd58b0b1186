"""Optional OpenTelemetry export of the probes (`--otlp.endpoint`): every finished probe becomes a
GenAI semantic-convention measurement, pushed over OTLP/HTTP (protobuf) by the OpenTelemetry SDK.
Off by default; Prometheus stays the primary interface.

  gen_ai.client.operation.duration  histogram, s: every probe attempt, `error.type` set on failures
  gen_ai.client.token.usage         histogram, {token}: per answered probe, gen_ai.token.type input/output

Attributes: gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model
(where the answer names it), server.address and server.port (of the target's base URL), error.type,
and the exporter's own nanobanana.target and nanobanana.resolution. Checked against the GenAI
conventions in their own repository, open-telemetry/semantic-conventions-genai (model/gen-ai/
metrics.yaml at 004902b and registry.yaml at 002c8a6, seen 2026-12-06; every attribute there has
`development` stability). The duration buckets reach image
generation times (the semantic conventions' advisory buckets stop at 81.92 s; a 4K image takes
longer). Semantic conventions: opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/

The exporter reads the store (what the landing page reads) a few times a second and records the
attempts that finished since: the scheduler knows nothing of OpenTelemetry.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from urllib.parse import urlsplit

from exporter import __version__
from exporter.probing.dialects import DIALECTS
from exporter.contract.outcomes import Outcome
from exporter.domain.state import DURATION_BUCKETS, Store

log = logging.getLogger(__name__)

DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"
# the probe durations' buckets (exporter.domain.state, up to 300 s) below 0.5 s too, for fast failures
DURATION_BOUNDARIES: tuple[float, ...] = (0.01, 0.05, 0.1, 0.25, *DURATION_BUCKETS)
# the semantic conventions' advisory token buckets (powers of 4)
TOKEN_BOUNDARIES: tuple[float, ...] = tuple(4.0 ** n for n in range(14))
# the exporter's token kinds -> gen_ai.token.type (thinking tokens are billed as output)
TOKEN_TYPES = {"input": "input", "output": "output", "thinking": "output"}
POLL = 0.25  # seconds between looks at the store
SHUTDOWN_TIMEOUT = 3.0  # seconds the last export may take when the exporter stops


def server_attributes(base_url: str) -> dict[str, str | int]:
    """server.address and server.port of the endpoint a target calls (the port the URL implies when
    it names none)."""
    parts = urlsplit(base_url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return {"server.address": parts.hostname or "", **({"server.port": port} if port else {})}


class OtelExport:
    def __init__(self, store: Store, endpoint: str, interval: float = 60.0, timeout: float = 10.0):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
        from opentelemetry.sdk.resources import Resource

        self.store = store
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, timeout=timeout),
                                               export_interval_millis=interval * 1000)
        views = [View(instrument_name=DURATION, aggregation=ExplicitBucketHistogramAggregation(DURATION_BOUNDARIES)),
                 View(instrument_name=TOKENS, aggregation=ExplicitBucketHistogramAggregation(TOKEN_BOUNDARIES))]
        self.provider = MeterProvider(
            resource=Resource.create({"service.name": "nanobanana-exporter", "service.version": __version__}),
            metric_readers=[reader], views=views)
        meter = self.provider.get_meter("nanobanana-exporter", __version__)
        self.duration = meter.create_histogram(DURATION, unit="s", description="GenAI operation duration: one "
                                               "image-generation probe, request start to verified image or failure")
        self.tokens = meter.create_histogram(TOKENS, unit="{token}", description="Tokens used per probe, "
                                             "from the API's usage fields")
        self.seen: dict[tuple[str, ...], int] = {}  # series -> attempts recorded
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name="opentelemetry export")

    async def _loop(self) -> None:
        while True:
            self.collect()
            await asyncio.sleep(POLL)

    def collect(self) -> None:
        """Record the attempts that finished since the last look."""
        seen = {}
        for state in self.store:
            key, total = state.series.key, sum(state.probes.values())
            new = min(total - self.seen.get(key, 0), len(state.history))
            for attempt in list(state.history)[len(state.history) - new:] if new > 0 else ():
                self.record(state.series, attempt)
            seen[key] = total
        self.seen = seen  # series a reload removed are forgotten

    def record(self, series, attempt) -> None:
        t = series.target
        dialect = DIALECTS[t.api]  # each dialect names its provider and operation
        attributes = {"gen_ai.operation.name": dialect.otel_operation,
                      "gen_ai.provider.name": dialect.otel_provider, "gen_ai.request.model": t.model,
                      **server_attributes(t.base_url),
                      "nanobanana.target": t.name, "nanobanana.resolution": series.resolution}
        if attempt.response_model:
            attributes["gen_ai.response.model"] = attempt.response_model
        if attempt.outcome is not Outcome.SUCCESS:
            attributes["error.type"] = attempt.outcome.value
        self.duration.record(attempt.duration, attributes)
        by_type: dict[str, int] = {}
        for kind, count in attempt.usage.items():
            if kind in TOKEN_TYPES:
                by_type[TOKEN_TYPES[kind]] = by_type.get(TOKEN_TYPES[kind], 0) + count
        for token_type, count in by_type.items():
            self.tokens.record(count, {**attributes, "gen_ai.token.type": token_type})

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.collect()
        # flushes what is left; blocking HTTP, so off the event loop, on a daemon thread: a collector
        # that never answers made shutdown take 17.8 s (issue 32); past the deadline the rest is dropped
        flush = threading.Thread(target=self.provider.shutdown, kwargs={"timeout_millis": SHUTDOWN_TIMEOUT * 1000},
                                 name="opentelemetry shutdown", daemon=True)
        flush.start()
        await asyncio.to_thread(flush.join, SHUTDOWN_TIMEOUT)
        if flush.is_alive():
            log.warning("OTLP: the last export did not finish in time; its measurements are dropped",
                        extra={"timeout_seconds": SHUTDOWN_TIMEOUT})
