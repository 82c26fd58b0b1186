"""Shared pieces of the relay tests: recognisable fake credentials, Alertmanager payloads, and the
relay running in-process against a FakeWebhook."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone

from exporter.common.redact import Redactor
from exporter.relay.config import load_text
from exporter.relay.delivery import Courier
from exporter.relay.metrics import RelayMetrics
from exporter.relay.server import make_app
from exporter.exposition.web import Server
from tests.captured import CAPTURED

# Each is searched for in logs, metrics and responses by the tests that could leak it.
FEISHU_HOOK = "fakehook-FEISHU-0123456789abcdef"
FEISHU_SECRET = "SEC-feishu-FAKE-0123456789"
DINGTALK_TOKEN = "dtFAKEaccesstoken0123456789"
DINGTALK_SECRET = "SECdingtalkFAKE0123456789"
WECOM_KEY = "wcFAKEkey-0123-4567-89ab"
BEARER = "relay-bearer-FAKE-0123456789"
SECRETS = (FEISHU_HOOK, FEISHU_SECRET, DINGTALK_TOKEN, DINGTALK_SECRET, WECOM_KEY, BEARER)
CAPTURED.secret(*SECRETS)
# People to mention: personal data, expected only in the messages that mention them.
FEISHU_USER = "ou_FAKEoncall0123456789abcdef"
DINGTALK_USER = "dtFAKEuser0123"
DINGTALK_MOBILE = "13900001234"
WECOM_USER = "wcFAKEuser.on-call"
WECOM_MOBILE = "13900005678"
PEOPLE = (FEISHU_USER, DINGTALK_USER, DINGTALK_MOBILE, WECOM_USER, WECOM_MOBILE)
CAPTURED.secret(*PEOPLE, allowed_in=("relay message",))

CONFIG = """
channels:
  fs: {type: feishu, url_env: FS_URL, secret_env: FS_SECRET}
  dt: {type: dingtalk, url_env: DT_URL, secret_env: DT_SECRET}
  wc: {type: wecom, url_env: WC_URL}
token_env: RELAY_TOKEN
deadline: DEADLINE
request_timeout: 2s
"""


def environ(base_url: str) -> dict[str, str]:
    return {
        "FS_URL": f"{base_url}/open-apis/bot/v2/hook/{FEISHU_HOOK}",
        "FS_SECRET": FEISHU_SECRET,
        "DT_URL": f"{base_url}/robot/send?access_token={DINGTALK_TOKEN}",
        "DT_SECRET": DINGTALK_SECRET,
        "WC_URL": f"{base_url}/cgi-bin/webhook/send?key={WECOM_KEY}",
        "RELAY_TOKEN": BEARER,
    }


STARTED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def alert(name="NanoBananaOutage", severity="critical", status="firing", index=0, description="First: check the status page.", **labels):
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "target": "prod", "api": "gemini",
                   "model": "gemini-3-pro-image", "resolution": "2K", "thinking_level": "low", "series": str(index), **labels},
        "annotations": {"summary": f"{name} summary #{index}", "description": description,
                        "runbook_url": "https://github.com/OWNER/nanobanana-exporter/blob/main/docs/runbook.md#nanobananaoutage",
                        "dashboard_url": "http://grafana.test/d/nanobanana-overview?var-target=prod"},
        "startsAt": (STARTED + timedelta(seconds=index)).isoformat().replace("+00:00", "Z"),
        "endsAt": (STARTED + timedelta(hours=1)).isoformat().replace("+00:00", "Z") if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": f"http://prometheus.test/graph?g0.expr=up&i={index}",
        "fingerprint": f"{index:016x}",
    }


def payload(*alerts, status=None, name="NanoBananaOutage"):
    alerts = list(alerts) or [alert(name)]
    status = status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved")
    return {
        "version": "4", "groupKey": '{}:{alertname="%s"}' % name, "truncatedAlerts": 0, "status": status,
        "receiver": "page", "groupLabels": {"alertname": name, "target": "prod", "model": "gemini-3-pro-image"},
        "commonLabels": {"alertname": name}, "commonAnnotations": {}, "externalURL": "http://alertmanager.test:9093",
        "alerts": alerts,
    }


@contextlib.asynccontextmanager
async def running_relay(fake_base_url: str, deadline: str = "5s", env: dict[str, str] | None = None,
                        config_text: str = CONFIG):
    """(relay base URL, RelayMetrics, Redactor) for a relay in this event loop."""
    config = load_text(config_text.replace("DEADLINE", deadline), "<test>", environ=env or environ(fake_base_url))
    redactor = Redactor(config.secrets)
    metrics = RelayMetrics(list(config.channels))
    courier = Courier(config.channels, metrics, redactor, config.deadline, config.request_timeout)
    server = Server(make_app(config, courier, metrics, redactor), "127.0.0.1:0")  # the relay's own listener
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", metrics, redactor
    finally:
        await server.stop()
        await courier.aclose()
