"""The optional OpenTelemetry export (exporter/exposition/otel.py) against a loopback OTLP/HTTP receiver that
decodes the protobuf with the OpenTelemetry proto package (opentelemetry-proto), not with our code:
in-process on recorded attempts, and a real exporter process (--demo --otlp.endpoint)."""

import contextlib
import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest, ExportMetricsServiceResponse)

from conftest import config_for, running_exporter
from exporter.exposition.otel import DURATION, TOKENS, OtelExport
from exporter.contract.outcomes import Outcome
from exporter.domain.state import Attempt, Store


class Receiver:
    """OTLP/HTTP metrics receiver on 127.0.0.1: keeps every decoded ExportMetricsServiceRequest."""

    def __init__(self):
        self.requests: list[ExportMetricsServiceRequest] = []
        self.content_types: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                receiver.requests.append(request)
                receiver.content_types.append(self.headers.get("Content-Type", ""))
                reply = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def points(self, name: str) -> list:
        """Every histogram data point of metric `name` received so far, with its resource."""
        out = []
        for request in self.requests:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        if m.name == name:
                            out += [(rm.resource, m, p) for p in m.histogram.data_points]
        return out

    def wait_for(self, name: str, predicate, timeout: float = 60.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [x for x in self.points(name) if predicate(x)]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {name} data point as expected in {timeout} s: {self.points(name)}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def attrs(point) -> dict[str, str | int]:
    return {a.key: a.value.int_value if a.value.HasField("int_value") else a.value.string_value for a in point.attributes}


def test_probes_become_genai_metrics_with_buckets_past_82_seconds(receiver):
    config = config_for("https://generativelanguage.googleapis.com", resolutions=["4K"])
    store = Store()
    store.apply(config)
    [state] = list(store)
    state.record(Attempt(started=time.time(), outcome=Outcome.SUCCESS, duration=200.0, phases={},
                         usage={"input": 12, "output": 2000, "thinking": 90}, response_model="gemini-3-pro-image-001"))
    state.record(Attempt(started=time.time(), outcome=Outcome.TIMEOUT, duration=180.0, phases={}))
    otel = OtelExport(store, receiver.url, interval=0.2)
    otel.collect()  # what its loop does a few times a second
    otel.collect()  # nothing new: nothing recorded twice
    try:
        [(resource, metric, ok)] = receiver.wait_for(
            DURATION, lambda x: x[2].count == 1 and "error.type" not in attrs(x[2]))
        [(_, _, failed)] = receiver.wait_for(DURATION, lambda x: attrs(x[2]).get("error.type") == "timeout")
        tokens = receiver.wait_for(TOKENS, lambda x: True)
    finally:
        otel.provider.shutdown()
    assert receiver.content_types[0] == "application/x-protobuf"
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == "nanobanana-exporter"
    assert metric.unit == "s"
    # open-telemetry/semantic-conventions-genai model/gen-ai/metrics.yaml (004902b, seen 2026-12-06):
    # provider required; server.address/port (the address_and_port group) and response.model recommended
    assert attrs(ok) == {"gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "gcp.gemini",
                         "gen_ai.request.model": "gemini-3-pro-image", "gen_ai.response.model": "gemini-3-pro-image-001",
                         "server.address": "generativelanguage.googleapis.com", "server.port": 443,
                         "nanobanana.target": "t", "nanobanana.resolution": "4K"}
    assert "gen_ai.response.model" not in attrs(failed)  # no answer named a model
    bounds = list(ok.explicit_bounds)
    assert bounds[-1] >= 300 and 81.92 not in bounds  # not the conventions' default, which ends at 81.92 s
    assert ok.sum == 200.0 and ok.bucket_counts[bounds.index(240)] == 1  # the (180, 240] bucket
    assert failed.count == 1 and failed.sum == 180.0
    by_type = {attrs(p)["gen_ai.token.type"]: p.sum for _, _, p in tokens}
    assert by_type == {"input": 12, "output": 2090}  # thinking tokens are billed as output


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_exporter_process_pushes_otlp(receiver):
    with running_exporter("--demo", "--otlp.endpoint", receiver.url, "--otlp.interval", "1s") as (base, proc):
        found = receiver.wait_for(DURATION, lambda x: x[2].count >= 1)
    models = {attrs(p)["gen_ai.request.model"] for _, _, p in found}
    assert models and all(attrs(p)["gen_ai.provider.name"] for _, _, p in found)
    assert all(attrs(p)["server.address"] == "127.0.0.1" and attrs(p)["server.port"] > 0 for _, _, p in found)
    # the simulator's answers name their model, as the APIs do (modelVersion, model)
    receiver.wait_for(DURATION, lambda x: "error.type" not in attrs(x[2]) and attrs(x[2]).get("gen_ai.response.model"))
    assert "pushing OpenTelemetry metrics" in proc.logs


def test_bad_otlp_endpoint_is_a_clear_error():
    import subprocess
    import sys

    from conftest import ROOT, exporter_env

    done = subprocess.run([sys.executable, "-m", "exporter", "--demo", "--otlp.endpoint", "collector:4318"],
                          cwd=ROOT, env=exporter_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "expected an http:// or https:// URL" in done.stdout + done.stderr
