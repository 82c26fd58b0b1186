"""The relay under very large groups and a busy Alertmanager (issue 18, cases 1 and 4), bounded:
packing is linear and exact (checked against the plain greedy packing it replaced), a group of
180,000 alerts is answered in seconds while health checks go on, 40 concurrent large groups are all
answered (delivered, or 503 beyond the in-flight limit) with memory bounded, a caller that hangs up
is counted and its retry sends nothing twice. Full figures: benchmarks/hostile.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.hostile import group, post_groups, relay
from exporter.exposition.web import Server
from exporter.common.redact import Redactor
from exporter.relay import base, dingtalk, feishu, wecom
from exporter.relay.alerts import MAX_ALERTS_READ, Notification, parse
from exporter.relay.config import load_text
from exporter.relay.delivery import Courier
from exporter.relay.metrics import RelayMetrics
from exporter.relay.server import MAX_IN_FLIGHT, make_app
from conftest import ROOT, exporter_env
from tests.relay_support import BEARER, CONFIG, alert, environ, payload
from tests.stack import FakeWebhook

pytestmark = pytest.mark.slow  # load, with timing bounds

HEALTH_BOUND = 2.0  # seconds: the old relay's /-/healthy timed out behind one large group


def greedy(blocks, build, size, limit, max_messages=base.MAX_MESSAGES, more=0):
    """The packing the relay had before (every candidate chunk built and measured whole): the oracle."""
    total = len(blocks) + more
    part, footer = f" ({max_messages}/{max_messages})", f"… and {total} more alerts not shown"

    def fits(chunk):
        return size(build(chunk, part, footer)) <= limit

    chunks, current = [], []
    for block in blocks:
        if not fits([block]):
            block = base._cut(block, lambda b: fits([b]))
        if current and fits([*current, block]):
            current.append(block)
            continue
        if current:
            chunks.append(current)
        current = [block]
    chunks.append(current)
    shown = chunks[:max_messages]
    omitted = total - sum(len(c) for c in shown)
    count = len(shown)
    return [build(c, f" ({i}/{count})" if count > 1 else "", f"… and {omitted} more alerts not shown"
                  if omitted and i == count else "") for i, c in enumerate(shown, 1)], omitted


blocks = st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=900)
                  | st.sampled_from(['"quoted" \\ back', "中文" * 300, "x" * 5000, "\n\t<at>"]), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(platform=st.sampled_from([feishu, dingtalk, wecom]), texts=blocks, more=st.integers(0, 3))
def test_linear_packing_gives_what_the_greedy_packing_gave(platform, texts, more):
    captured = {}

    def spy(blocks, build, size, limit, max_messages=base.MAX_MESSAGES, more=0):
        captured.update(build=build, size=size, limit=limit)
        return base.pack(blocks, build, size, limit, max_messages, more)

    original = platform.pack
    platform.pack = spy
    try:
        platform.render(Notification.model_validate(payload(alert())))
    finally:
        platform.pack = original
    build, size, limit = captured["build"], captured["size"], captured["limit"]
    assert base.pack(texts, build, size, limit, more=more) == greedy(texts, build, size, limit, more=more)


def test_only_the_alerts_shown_are_rendered():
    rendered = []
    many = base.Blocks(range(100_000), lambda i: rendered.append(i) or f"alert {i} " + "x" * 200)
    bodies, omitted = base.pack(many, lambda c, p, f: {"t": "|".join(c) + p + f}, lambda b: len(b["t"]), 4096)
    assert len(bodies) == base.MAX_MESSAGES and omitted == 100_000 - sum(b["t"].count("alert ") for b in bodies)
    assert len(rendered) < 200


def test_alerts_past_the_read_limit_are_counted_in_title_and_footer():
    extra = MAX_ALERTS_READ + 500
    data = payload(*(alert(index=i) for i in range(3)))
    data["alerts"] += [{"status": "firing"}] * (extra - 400) + [{"status": "resolved"}] * 400 + [{"status": "bogus"}] * 3
    data["truncatedAlerts"] = 7  # Alertmanager's own max_alerts cut
    n = parse(__import__("json").dumps(data).encode())
    assert n.count == 3 + extra + 3 and len(n.alerts) == MAX_ALERTS_READ
    bodies, omitted = wecom.render(n)
    assert bodies[0]["markdown"]["content"].startswith(f'**<font color="warning">[FIRING:{3 + extra - 400}]')
    assert omitted == n.count + 7 - shown_count(bodies)
    assert bodies[-1]["markdown"]["content"].endswith(f"… and {omitted} more alerts not shown")


def shown_count(bodies) -> int:
    return sum(b["markdown"]["content"].count("**FIRING ") + b["markdown"]["content"].count("**RESOLVED ") for b in bodies)


@pytest.fixture(scope="module")
def relay_process(tmp_path_factory):
    with relay(tmp_path_factory.mktemp("relay-load")) as running:
        yield running


@pytest.mark.parametrize("alerts, minimal", [(10_000, False), (180_000, True)])
def test_one_large_group_is_answered_while_health_checks_go_on(relay_process, alerts, minimal):
    base_url, proc, _ = relay_process
    result = asyncio.run(post_groups(base_url, proc, [group(alerts, minimal, key=alerts)]))
    [(status, seconds)] = result["answers"]
    print(f"\n{alerts:,} alerts: {status} in {seconds:.2f} s, slowest /-/healthy {result['slowest_health']:.2f} s, "
          f"peak RSS {result['peak_rss'] / 2**20:.0f} MiB")
    assert status == 200 and seconds < 20
    assert result["slowest_health"] < HEALTH_BOUND


def test_concurrent_large_groups_are_all_answered_within_bounds(relay_process):
    base_url, proc, _ = relay_process
    bodies = [group(10_000, key=1000 + i) for i in range(40)]
    result = asyncio.run(post_groups(base_url, proc, bodies))
    statuses = [status for status, _ in result["answers"]]
    slowest = max(seconds for _, seconds in result["answers"])
    print(f"\n40 x 10,000 alerts: {statuses.count(200)} delivered, {statuses.count(503)} 503, slowest {slowest:.2f} s, "
          f"slowest /-/healthy {result['slowest_health']:.2f} s, peak RSS {result['peak_rss'] / 2**20:.0f} MiB")
    # every post answered (none timed out): delivered, or 503 (busy, or the bot's rate limit leaves
    # no slot before the deadline) for Alertmanager to retry
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(503) >= 40 - MAX_IN_FLIGHT and slowest < 30
    assert result["peak_rss"] < 400 * 2**20  # the old relay reached 865 MB
    assert result["slowest_health"] < 2.5 * HEALTH_BOUND  # 40 bodies of 3.8 MB arriving at once


async def test_a_caller_that_hangs_up_is_counted_and_its_retry_sends_nothing_twice():
    with FakeWebhook() as bot:
        config = load_text(CONFIG.replace("DEADLINE", "8s"), "<test>", environ=environ(bot.url()))
        metrics = RelayMetrics(list(config.channels))
        courier = Courier(config.channels, metrics, Redactor(config.secrets), config.deadline, config.request_timeout)
        server = Server(make_app(config, courier, metrics, Redactor(config.secrets)), "127.0.0.1:0")
        await server.start()
        url = f"http://127.0.0.1:{server.port}/alerts/wc"
        headers = {"Authorization": f"Bearer {BEARER}"}
        try:
            bot.fail(reply={"errcode": 0, "errmsg": "ok"}, times=1, slow=1.5)  # a slow bot: it does deliver
            async with httpx.AsyncClient(headers=headers) as client:
                with pytest.raises(httpx.ReadTimeout):  # Alertmanager's budget runs out: it hangs up
                    await client.post(url, json=payload(), timeout=0.5)
                await wait_for(lambda: len(courier.sent) == 1, "the hung-up request to finish")
                retry = await client.post(url, json=payload(), timeout=30)  # Alertmanager retries
            value = metrics.registry.get_sample_value
            assert retry.status_code == 200
            assert len(bot.received(delivered_only=False)) == 1  # sent once
            assert value("nanobanana_relay_notifications_total", {"channel": "wc", "outcome": "cancelled"}) == 1
            assert value("nanobanana_relay_requests_total", {"channel": "wc", "result": "cancelled"}) == 1
            assert value("nanobanana_relay_messages_deduplicated_total", {"channel": "wc"}) == 1
        finally:
            await server.stop()
            await courier.aclose()


async def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_retry_of_a_half_delivered_split_group_sends_only_the_rest():
    with FakeWebhook() as bot:
        config = load_text(CONFIG.replace("DEADLINE", "8s"), "<test>", environ=environ(bot.url()))
        metrics = RelayMetrics(list(config.channels))
        courier = Courier(config.channels, metrics, Redactor(config.secrets), config.deadline, config.request_timeout)
        n = Notification.model_validate(payload(*(alert(index=i, description="d" * 500) for i in range(30))))
        bodies, _ = wecom.render(n)
        assert len(bodies) >= 3
        courier.sent.add(courier.sent.key("wc", n.groupKey, bodies[0]))  # message 1 arrived the first time
        try:
            await courier.deliver(config.channels["wc"], n)
        finally:
            await courier.aclose()
        assert len(bot.received()) == len(bodies) - 1
    assert metrics.registry.get_sample_value("nanobanana_relay_messages_deduplicated_total", {"channel": "wc"}) == 1


def test_config_check_warns_when_the_deadline_can_outlast_alertmanager(tmp_path):
    env = exporter_env(**environ("http://127.0.0.1:1"))
    for deadline, warned in (("30s", True), ("8s", False)):
        config = tmp_path / f"relay-{deadline}.yml"
        config.write_text(CONFIG.replace("DEADLINE", deadline))
        result = subprocess.run([sys.executable, "-m", "exporter", "relay", "--config.file", str(config), "--config.check"],
                                capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        assert result.returncode == 0
        assert ("WARNING" in result.stderr and "max(group_interval, 10s)" in result.stderr) is warned, result.stderr
