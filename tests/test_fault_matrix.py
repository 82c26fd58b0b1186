"""The fault matrix at process level: a real exporter probing a real simulator in all four dialects,
while the test cycles through every fault the simulator can inject (FAULTS in tests/helpers.py, the
one table of fault -> documented outcome) and scrapes /metrics without pause. Every scrape answers
200 in bounded time, counters never go down, no series vanishes, and each fault yields its outcome in
every dialect."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from conftest import FAKE_KEY, exporter_env, running_exporter, running_simulator
from exporter.probing.dialects import DIALECTS
from exporter.simulator.server import BASE_PATHS
from tests import google_sa
from tests.helpers import FAULTS, expected

pytestmark = pytest.mark.slow  # every fault in every dialect, with timing bounds

SAMPLE = re.compile(r"([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$")
# Families whose samples only ever grow: counters, histogram buckets, counts and sums of positive values.
MONOTONIC = re.compile(r".*(_total|_bucket|_count|_sum)$")
# Families with one series per probe series whose label value is the state (what served the last
# answer, the last outcome): a new value replaces the series, which is not a series vanishing.
RELABELLED = re.compile(r"nanobanana_probe_(served_\w+_info|last_outcome)$")
SCRAPE_BOUND = 2.0  # seconds: a scrape slower than this, on loopback, is a failure
TIMEOUT = 1.0  # the probes' deadline: hang and slow_drip become timeouts this fast
# the image faults and the check each fails; the images APIs' answers name no model: no model verdict
IMAGE_FAULTS = {"blank": "blank", "upscaled": "detail", "substituted": "model", "off_prompt": "content"}
NAME_NO_MODEL = ("openai_images", "openrouter_images")


def parse(text: str) -> dict[str, float]:
    """'name{labels}' -> value for every sample of an exposition."""
    samples = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and not line.startswith("#"):
            samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def check_failures(samples: dict[str, float], api: str, check: str) -> float:
    key = next(k for k in samples if k.startswith("nanobanana_image_check_failures_total{")
               and f'api="{api}"' in k and f'check="{check}"' in k)
    return samples[key]


def outcome_count(samples: dict[str, float], api: str, outcome: str) -> float:
    key = next(k for k in samples if k.startswith("nanobanana_probes_total{")
               and f'api="{api}"' in k and f'outcome="{outcome}"' in k)
    return samples[key]


class Scraper(threading.Thread):
    """Scrapes /metrics back to back (bounded in count) and checks every scrape against the last."""

    def __init__(self, base: str, limit: int = 5000):
        super().__init__(daemon=True, name="scraper")
        self.base, self.limit = base, limit
        self.stop = threading.Event()
        self.latest: dict[str, float] = {}
        self.count, self.slowest = 0, 0.0
        self.problems: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set() and self.count < self.limit:
                started = time.monotonic()
                try:
                    response = client.get(f"{self.base}/metrics")
                except httpx.HTTPError as err:
                    self.problems.append(f"scrape {self.count}: {err!r}")
                    break
                elapsed = time.monotonic() - started
                self.slowest = max(self.slowest, elapsed)
                if response.status_code != 200 or elapsed > SCRAPE_BOUND:
                    self.problems.append(f"scrape {self.count}: HTTP {response.status_code} in {elapsed:.2f}s")
                samples = parse(response.text)
                with self.lock:
                    previous, self.latest = self.latest, samples
                    self.count += 1
                self._compare(previous, samples)
                time.sleep(0.02)

    def _compare(self, previous: dict[str, float], samples: dict[str, float]) -> None:
        gone = [k for k in previous if k.startswith("nanobanana_") and k not in samples
                and not RELABELLED.match(k.split("{")[0])]
        if gone:
            self.problems.append(f"scrape {self.count}: series vanished: {gone[:3]}")
        down = [(k, previous[k], v) for k, v in samples.items()
                if k.startswith("nanobanana_") and MONOTONIC.match(k.split("{")[0]) and k in previous and v < previous[k]]
        if down:
            self.problems.append(f"scrape {self.count}: counters went down: {down[:3]}")

    def snapshot(self, after: int) -> dict[str, float]:
        """The samples of a scrape that started after scrape number `after`."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self.lock:
                if self.count > after + 1:
                    return self.latest
            if not self.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"the scraper stopped: {self.problems[-3:]}")


def exporter_config(sim: str) -> str:
    # vertex signs in with the test service account (a regional location: model_not_in_region applies)
    auth = {"vertex": f"project: {google_sa.PROJECT}, location: us-central1, credentials_file: {google_sa.key_file(sim)}"}
    targets = "".join(
        f'  - {{name: {api.replace("_", "-")}, api: {api}, base_url: "{sim + BASE_PATHS[api]}", '
        f"model: gemini-3-pro-image, {auth.get(api, 'api_key_env: TEST_KEY')}}}\n" for api in sorted(DIALECTS))
    return (f"defaults: {{interval: 100ms, timeout: {TIMEOUT:g}s, liveness: {{enabled: false}}}}\n"
            f"targets:\n{targets}")


@pytest.mark.timeout(120)
def test_every_fault_in_every_dialect_while_scraping(tmp_path):
    apis = sorted(DIALECTS)
    with running_simulator(speed=0.0005) as (sim, _):
        httpx.put(f"{sim}/_sim/config", json={"service_accounts": google_sa.public_accounts()}, timeout=5).raise_for_status()
        config = tmp_path / "nanobanana.yml"
        config.write_text(exporter_config(sim))
        with running_exporter("--config.file", str(config), env=exporter_env(TEST_KEY=FAKE_KEY)) as (base, proc):
            scraper = Scraper(base)
            scraper.start()
            seen: dict[str, dict[str, float]] = {}
            try:
                previous_slow = False
                for fault, outcome in FAULTS:
                    response = httpx.put(f"{sim}/_sim/config", json={"faults": [fault]}, timeout=5)
                    assert response.status_code == 200, response.text
                    # probes already in flight finish under the old fault: wait them out before the baseline
                    time.sleep(TIMEOUT + 0.3 if previous_slow else 0.3)
                    previous_slow = fault["kind"] in ("hang", "slow_drip")
                    before = scraper.snapshot(scraper.count)
                    deadline = time.monotonic() + 5 * TIMEOUT + 5
                    while True:
                        now = scraper.snapshot(scraper.count)
                        missing = [api for api in apis if outcome_count(now, api, expected(fault, outcome, api).value)
                                   <= outcome_count(before, api, expected(fault, outcome, api).value)]
                        if not missing:
                            break
                        assert time.monotonic() < deadline, \
                            f"{fault}: no {[expected(fault, outcome, api).value for api in missing]} from {missing}"
                    # an image fault also fails its image check, in every dialect whose answer can show it
                    check = IMAGE_FAULTS.get(fault["kind"])
                    judged = [api for api in apis if not (check == "model" and api in NAME_NO_MODEL)]
                    while check:
                        now = scraper.snapshot(scraper.count)
                        missing = [api for api in judged if check_failures(now, api, check) <= check_failures(before, api, check)]
                        if not missing:
                            break
                        assert time.monotonic() < deadline, f"{fault}: no {check} failure from {missing}"
                    seen[str(fault)] = {api: outcome_count(now, api, expected(fault, outcome, api).value) for api in apis}
            finally:
                scraper.stop.set()
                scraper.join(15)
    assert not scraper.problems, scraper.problems[:5]
    assert len(seen) == len(FAULTS)
    assert scraper.count >= 50, scraper.count
    print(f"\nfault matrix: {len(FAULTS)} faults x {len(apis)} dialects, {scraper.count} scrapes, "
          f"slowest {scraper.slowest * 1000:.0f} ms")
