"""Load from hostile or very busy clients (issue 18, cases 1 and 2), bounded in size and time: the
functions of benchmarks/hostile.py (which prints the full figures) at sizes a shared 2-core machine
runs in seconds. Bounds are generous; what they catch is the old behaviour, scrapes and health
checks waiting behind bcrypt or a large group for many seconds."""

from __future__ import annotations

import asyncio
import base64

import bcrypt
import pytest

from benchmarks.hostile import exporter_with_basic_auth, scrape_under_flood
from exporter.common.webconfig import AuthBusy, BasicAuth, load_text

pytestmark = pytest.mark.slow  # load, with timing bounds

SCRAPE_BOUND = 3.0  # seconds; the old exporter timed out at 10 s under this flood


def test_scrapes_answer_during_a_flood_of_wrong_passwords(tmp_path):
    with exporter_with_basic_auth(tmp_path) as (base, _):
        result = asyncio.run(scrape_under_flood(base, clients=150, scrapes=10))
    times = [round(seconds, 2) for _, seconds in result["scrapes"]]
    print(f"\nscrapes during the flood: {times} s; flood answers {result['flood']}")
    assert [status for status, _ in result["scrapes"]] == [200] * 10
    assert max(times) < SCRAPE_BOUND, times
    assert set(result["flood"]) <= {401, 503}, result["flood"]  # never a 500, never a pass


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_random_credentials_cannot_evict_the_real_ones():
    config = load_text(f"basic_auth_users: {{prometheus: '{bcrypt.hashpw(b'pw', bcrypt.gensalt(4)).decode()}'}}")
    auth = BasicAuth(size=16)
    assert await auth.check(config, header("prometheus", "pw"))
    for i in range(200):  # far more than the cache holds
        assert not await auth.check(config, header(f"user{i}", f"guess{i}"))
    calls = auth.bcrypt_calls
    assert await auth.check(config, header("prometheus", "pw"))
    assert auth.bcrypt_calls == calls  # still cached: no bcrypt check
    auth.close()


async def test_beyond_the_pending_limit_checks_are_refused_unchecked():
    config = load_text(f"basic_auth_users: {{prometheus: '{bcrypt.hashpw(b'pw', bcrypt.gensalt(12)).decode()}'}}")
    auth = BasicAuth()
    waiting = [asyncio.create_task(auth.check(config, header("u", f"p{i}"))) for i in range(BasicAuth.MAX_PENDING)]
    await asyncio.sleep(0)  # every task has reached the executor
    with pytest.raises(AuthBusy):
        await auth.check(config, header("u", "one too many"))
    assert auth.bcrypt_calls == BasicAuth.MAX_PENDING
    auth.close()
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


def test_the_benchmark_runs():
    """benchmarks/hostile.py (the README's figures) keeps working: its smoke mode runs every part."""
    import subprocess
    import sys

    from conftest import ROOT, exporter_env

    done = subprocess.run([sys.executable, "benchmarks/hostile.py", "--smoke"], cwd=ROOT, env=exporter_env(),
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "scrapes during a 20-client flood" in done.stdout and "concurrent groups of 1,000 alerts" in done.stdout
    assert "feed_trickle (1): slowest /metrics" in done.stdout and "huge_image (6,000)" in done.stdout
