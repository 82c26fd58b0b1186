"""Odd upstream answers, odd keys and reload races found in review: each is classified or refused
cleanly, never a crash, a leak or a counter that goes down."""

import asyncio
import io

import pytest
from PIL import Image

from conftest import config_for
from helpers import wait_for
from exporter.loading.config import ConfigError, load_text
from exporter.probing.dialects.base import ProbeFailure, _ints, classify_error
from exporter.contract.outcomes import Outcome
from exporter.probing.probe import Prober, inspect_image
from exporter.background.scheduler import Scheduler
from exporter.domain.state import Store


def test_error_details_of_any_shape_still_classify():
    assert classify_error(503, {"error": {"code": 503, "details": 5}}).outcome is Outcome.SERVER_ERROR
    assert classify_error(400, {"error": {"details": [{"reason": "API_KEY_INVALID"}]}}).outcome is Outcome.AUTH_ERROR


def test_an_echoed_key_is_not_cut_before_it_can_be_masked():
    message = "x" * 290 + " Incorrect API key provided: sk-FAKE-long-secret-key."
    assert classify_error(401, {"error": {"message": message}}).message.endswith("sk-FAKE-long-secret-key.")


def test_token_counts_are_finite_and_never_negative():
    assert _ints(input=12, output=-5000, thinking=float("nan"), total=float("inf"), flag=True) == {"input": 12}


def test_a_truncated_jpeg_is_a_bad_image():
    out = io.BytesIO()
    Image.new("RGB", (1024, 1024), (200, 30, 30)).effect_spread(8).save(out, "JPEG", quality=90)
    whole = out.getvalue()
    assert inspect_image(whole) == ("JPEG", 1024, 1024)
    with pytest.raises(ProbeFailure) as failure:
        inspect_image(whole[: len(whole) // 3])
    assert failure.value.outcome is Outcome.BAD_IMAGE


TARGET = "targets:\n  - {name: t, api: gemini, model: m, api_key_file: KEYFILE}\n"


def test_a_key_file_with_a_bom_loads_without_it(tmp_path):
    key = tmp_path / "key"
    key.write_bytes("\ufeffFAKE-key-with-bom-123\n".encode("utf-8"))
    config = load_text(TARGET.replace("KEYFILE", str(key)))
    assert config.targets[0].api_key == "FAKE-key-with-bom-123"


def test_a_key_that_cannot_go_in_a_header_is_refused_without_showing_it(tmp_path):
    key = tmp_path / "key"
    key.write_text("FAKE-kéy-secret\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_text(TARGET.replace("KEYFILE", str(key)), "<t>")
    assert "targets[0].api_key_file" in str(err.value) and "non-ASCII" in str(err.value)
    assert "kéy" not in str(err.value)


async def test_reload_cancels_the_in_flight_probe_of_a_removed_target(simulator):
    sim, base = simulator
    sim.configure({"faults": [{"kind": "hang"}]})
    store, prober = Store(), Prober()
    scheduler = Scheduler(store, prober, offset=lambda series: 0.0, jitter=0.0)  # due at once, without jitter
    try:
        scheduler.apply(config_for(base, "gemini", interval="10m", timeout="5m"))
        await wait_for(lambda: sim.in_flight, "the probe in flight")
        assert sim.in_flight == 1
        [(_, _, control)] = scheduler._loops.values()
        hanging = control.inflight
        sim.configure({"faults": []})
        scheduler.apply(load_text(f"targets:\n  - {{name: other, api: gemini, base_url: '{base}', model: m, interval: 10m}}\n"))
        await wait_for(lambda: hanging.done() and sim.in_flight == 0, "the removed target's probe dropped")
        # the hanging request of the removed target was dropped (the simulator saw the client go), not left to spend
        assert hanging.cancelled() and sim.in_flight == 0
    finally:
        await scheduler.stop()
        await prober.aclose()
