"""Helpers shared by test modules, so that no test module imports another (a test module is
pytest's to collect; what several of them use lives here):

- waiting for a condition with a generous deadline, instead of asserting what a fixed sleep produced
  (a busy two-core machine makes every fixed sleep flaky);
- the fault -> outcome table of the simulator (tests/test_probe.py, test_fault_matrix.py, test_soak.py);
- the dashboards' queries (tests/test_dashboards.py, test_realstack.py);
- the real stack's Python services and relay channels (tests/test_realstack.py, test_pages.py);
- `--config.check` as a process (tests/test_config.py, test_plan.py, test_catalog.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from conftest import ROOT, exporter_env, free_port
from exporter.contract.outcomes import Outcome
from exporter.simulator.faults import ONLY
from tests.stack import FakeWebhook, start_service

DEADLINE = 60.0  # seconds: generous, for a loaded machine; a healthy run takes a fraction of it


# ---------------------------------------------------------------- waiting


async def wait_for(condition: Callable[[], object], what: str = "condition", deadline: float = DEADLINE,
                   every: float = 0.02) -> None:
    """Poll `condition` on the running event loop until it is true; fail after `deadline` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"not after {deadline:g}s: {what}")
        await asyncio.sleep(every)


def wait(condition, timeout: float, what: str, every: float = 0.5):
    """Poll `condition` (synchronously) until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not after {timeout}s: {what}")
        time.sleep(every)


# ---------------------------------------------------------------- the simulator's faults

# fault -> the outcome it must produce, in every dialect that can receive it (faults.ONLY;
# docs/simulator.md documents this table; tests/test_probe.py checks it covers every fault kind)
FAULTS = [
    ({"kind": "status", "status": 429}, Outcome.RATE_LIMITED),
    ({"kind": "status", "status": 401}, Outcome.AUTH_ERROR),
    ({"kind": "status", "status": 403}, Outcome.AUTH_ERROR),
    ({"kind": "status", "status": 404}, Outcome.CLIENT_ERROR),
    ({"kind": "status", "status": 500}, Outcome.SERVER_ERROR),
    ({"kind": "status", "status": 503}, Outcome.SERVER_ERROR),
    ({"kind": "html_error"}, Outcome.SERVER_ERROR),
    ({"kind": "not_json"}, Outcome.BAD_RESPONSE),
    ({"kind": "hang"}, Outcome.TIMEOUT),
    ({"kind": "slow_drip", "seconds": 30}, Outcome.TIMEOUT),
    ({"kind": "truncated_json"}, Outcome.BAD_RESPONSE),
    ({"kind": "bad_base64"}, Outcome.BAD_RESPONSE),
    ({"kind": "corrupt_image"}, Outcome.BAD_IMAGE),
    ({"kind": "wrong_size"}, Outcome.BAD_IMAGE),
    ({"kind": "safety_block"}, Outcome.CONTENT_BLOCKED),
    ({"kind": "text_only"}, Outcome.NO_IMAGE),
    ({"kind": "reset"}, Outcome.NETWORK_ERROR),
    ({"kind": "url_image"}, Outcome.SUCCESS),
    # answers real services send (tests/fixtures/upstream/ and tests/test_upstream_answers.py)
    ({"kind": "error_in_body", "status": 429}, Outcome.RATE_LIMITED),
    ({"kind": "error_in_body", "status": 502}, Outcome.SERVER_ERROR),
    ({"kind": "moderation"}, Outcome.CONTENT_BLOCKED),
    ({"kind": "finish_error"}, Outcome.SERVER_ERROR),
    ({"kind": "no_image_reason"}, Outcome.NO_IMAGE),
    ({"kind": "images_field"}, Outcome.SUCCESS),
    # gateways (docs/simulator.md): Vercel's images only with `modalities`, which openai_chat sends; a strict
    # one refuses openai_chat's `image_config` (OpenRouter's shape, in no OpenAI spec) and takes openai_images' body
    ({"kind": "vercel_gateway"}, Outcome.SUCCESS),
    ({"kind": "strict_gateway"}, {"openai_chat": Outcome.CLIENT_ERROR}),
    # Vertex AI (the vertex target of these tests is regional, us-central1)
    ({"kind": "revoked_account"}, Outcome.AUTH_ERROR),
    ({"kind": "model_not_in_region"}, Outcome.CLIENT_ERROR),
    # images that are not what was paid for (exporter/probing/imagechecks.py): a blank one is broken, the
    # others succeed with a failed check beside the outcome (tests/test_imagechecks.py)
    ({"kind": "blank"}, Outcome.BAD_IMAGE),
    ({"kind": "upscaled"}, Outcome.SUCCESS),
    ({"kind": "substituted"}, Outcome.SUCCESS),
    ({"kind": "off_prompt"}, Outcome.SUCCESS),
]


def expected(fault: dict, outcome: Outcome | dict[str, Outcome], api: str) -> Outcome:
    """A fault only some dialects can receive leaves the others with a normal answer; an outcome by
    dialect names those it changes."""
    if isinstance(outcome, dict):
        return outcome.get(api, Outcome.SUCCESS)
    return outcome if api in ONLY.get(fault["kind"], (api,)) else Outcome.SUCCESS


# ---------------------------------------------------------------- dashboards

GRAFANA = ROOT / "grafana"
DASHBOARDS = {"overview.json": "nanobanana-overview", "probe-detail.json": "nanobanana-probe-detail",
              "slo-cost.json": "nanobanana-slo-cost"}
# Grafana's built-in variables, replaced by plausible values; dashboard variables become `.*`
# (what "All" sends for most, and what matches every value of the others).
BUILT_IN = {"__rate_interval": "1m", "__range": "1h", "__interval": "1m"}
VARIABLE_REF = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")
QUERY_RESULT = re.compile(r"^query_result\((?P<expr>.+)\)$")


def load(name: str) -> dict:
    return json.loads((GRAFANA / "dashboards" / name).read_text(encoding="utf-8"))


def panels(dashboard: dict) -> list[dict]:
    """Every panel, including those nested in collapsed rows."""
    out = []
    for p in dashboard["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def expressions(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel query and every variable query's selector."""
    out = [(f"panel {p['title']!r}", t["expr"]) for p in panels(dashboard) for t in p.get("targets", [])]
    for v in dashboard["templating"]["list"]:
        if v["type"] != "query":
            continue
        query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        # label_values() and query_result() are Grafana syntax around PromQL: check what is inside.
        if m := LABEL_VALUES.match(query):
            if m["selector"]:
                out.append((f"variable {v['name']}", m["selector"]))
        elif m := QUERY_RESULT.match(query):
            out.append((f"variable {v['name']}", m["expr"]))
        else:
            pytest.fail(f"variable {v['name']}: unexpected query {query!r}")
    return out


def substitute(expr: str) -> str:
    return VARIABLE_REF.sub(lambda m: BUILT_IN.get(m[1] or m[2], ".*"), expr)


def about_successes(expr: str) -> bool:
    """Queries about successful probes only (latency, the image of the last success, tokens per
    successful probe): empty, not NaN, while no probe succeeded in their window, as during an outage
    that began before the window (tests/test_dashboards_sparse.py checks them on data that has some)."""
    return ("nanobanana_probe_duration_seconds" in expr or re.search(r"image_bytes\{[^}]*\} > 0", expr) is not None
            or re.search(r'outcome="success"\}\[\w+\]\)\) > 0\)$', expr) is not None)


def all_expressions() -> list[tuple[str, str, str]]:
    return [(name, where, expr) for name in DASHBOARDS for where, expr in expressions(load(name))]


# ---------------------------------------------------------------- the real stack

FEISHU_SECRET = "feishu-FAKE-signing-secret-42"
RELAY_TOKEN = "relay-FAKE-bearer-token-42"


def python_service(name: str, args: list[str], workdir, env: dict, ready_path: str):
    address = f"127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "exporter", *args, "--web.listen-address", address]
    return start_service(name, argv, address, workdir, env=env, ready_path=ready_path)


def relay_channels(env: dict, fake: FakeWebhook) -> str:
    """Point the relay's three channels at `fake` (through `env`); returns the relay config."""
    env["FEISHU_URL"] = fake.url("/open-apis/bot/v2/hook/FAKE-feishu-token")
    env["DINGTALK_URL"] = fake.url("/robot/send?access_token=FAKE-dingtalk-token")
    env["WECOM_URL"] = fake.url("/cgi-bin/webhook/send?key=FAKE-wecom-key")
    return ("channels:\n"
            "  feishu: {type: feishu, url_env: FEISHU_URL, secret_env: FEISHU_SECRET}\n"
            "  dingtalk: {type: dingtalk, url_env: DINGTALK_URL, severities: [critical]}\n"
            "  wecom: {type: wecom, url_env: WECOM_URL, severities: [critical]}\n"
            "token_env: RELAY_TOKEN\n")


# ---------------------------------------------------------------- --config.check


def run_check(*args, env=None):
    return subprocess.run([sys.executable, "-m", "exporter", "--config.check", *args], capture_output=True,
                          text=True, env=env or exporter_env(), cwd=ROOT, timeout=60)
