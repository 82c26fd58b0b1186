"""Maintenance windows: the config, the window arithmetic (zones, daylight saving time, midnight),
and a real exporter process against the simulator: paid probes of the target in maintenance are
skipped (reason maintenance) and cost nothing, its free liveness checks go on, other targets are
probed, nanobanana_maintenance_active says so and the landing page shows it."""

import datetime as dt
import subprocess
import time

import httpx
import pytest
import yaml

from conftest import FAKE_KEY, exporter_env, running_exporter, running_simulator
from exporter.loading.config import ConfigError, load_text
from exporter.domain.maintenance import MAINTENANCE_FAMILIES, MaintenanceCollector

TARGET = {"api": "gemini", "model": "gemini-3-pro-image", "api_key_env": "TEST_KEY"}


def config(windows: list[dict], **target) -> object:
    text = yaml.safe_dump({"targets": [{"name": "a", **TARGET, **target}, {"name": "b", **TARGET}],
                           "maintenance": windows})
    return load_text(text, "<test>", environ={"TEST_KEY": FAKE_KEY})


def at(text: str, zone: str = "UTC") -> float:
    from zoneinfo import ZoneInfo
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


@pytest.mark.parametrize("window, message", [
    ({"name": "w", "start": "2026-12-01T10:00"}, "needs start and end"),
    ({"name": "w", "start": "2026-12-01T10:00", "end": "2026-12-01T09:00"}, "end after start"),
    ({"name": "w", "start_time": "02:00"}, "needs start_time and a duration"),
    ({"name": "w", "start": "2026-12-01T10:00", "end": "2026-12-01T11:00", "start_time": "02:00"}, "not both"),
    ({"name": "w", "start_time": "02:00", "duration": "1h", "time_zone": "Mars/Olympus"}, "unknown time zone"),
    ({"name": "w", "start_time": "02:00", "duration": "1h", "weekdays": ["sundy"]}, "unknown weekday 'sundy'"),
    ({"name": "w", "start": "2026-12-01T10:00+01:00", "end": "2026-12-01T11:00"}, "without an offset"),
    ({"name": "w", "start_time": "02:00", "duration": "1h", "targets": ["nope"]}, "no target is called 'nope'"),
    ({"name": "w", "start_time": "02:00", "duration": "1h", "every": "day"}, "every"),
])
def test_bad_windows_are_clear_errors(window, message):
    with pytest.raises(ConfigError) as err:
        config([window])
    assert message in str(err.value) and "maintenance" in str(err.value)


def test_one_off_window_in_its_time_zone_for_one_target():
    m = config([{"name": "db", "targets": ["a"], "time_zone": "Europe/Berlin",
                 "start": "2026-12-05T22:00", "end": "2026-12-06T02:00"}]).maintenance
    assert not m.active("a", at("2026-12-05T20:59"))  # 21:59 in Berlin
    assert m.active("a", at("2026-12-05T21:00")) and m.active("a", at("2026-12-06T00:59"))
    assert not m.active("a", at("2026-12-06T01:00"))
    assert not m.active("b", at("2026-12-05T22:00"))  # not one of its targets


def test_recurring_window_crosses_midnight_on_its_weekdays_only():
    m = config([{"name": "weekend", "weekdays": ["saturday"], "start_time": "23:00", "duration": "3h"}]).maintenance
    # 2026-12-05 is a Saturday
    assert m.active("a", at("2026-12-05T23:30")) and m.active("b", at("2026-12-06T01:59"))
    assert not m.active("a", at("2026-12-06T02:00")) and not m.active("a", at("2026-12-06T23:30"))
    window = m.windows[0]
    assert window.next_start(at("2026-12-06T02:00")) == at("2026-12-12T23:00")


def test_recurring_window_keeps_its_wall_clock_time_across_daylight_saving():
    m = config([{"name": "nightly", "time_zone": "Europe/Berlin", "start_time": "03:00", "duration": "1h"}]).maintenance
    assert m.active("a", at("2026-01-15T02:30"))  # CET: 03:30 local
    assert m.active("a", at("2026-07-15T01:30"))  # CEST: 03:30 local
    assert not m.active("a", at("2026-07-15T02:30"))


def test_collector_exports_per_target_and_per_window():
    from prometheus_client import CollectorRegistry

    c = config([{"name": "db", "targets": ["a"], "start": "2026-12-05T22:00", "end": "2026-12-06T02:00"}])
    registry = CollectorRegistry()
    registry.register(MaintenanceCollector(lambda: c, lambda: at("2026-12-05T23:00")))
    assert registry.get_sample_value("nanobanana_maintenance_active", {"target": "a"}) == 1
    assert registry.get_sample_value("nanobanana_maintenance_active", {"target": "b"}) == 0
    assert registry.get_sample_value("nanobanana_maintenance_window_active", {"window": "db"}) == 1


def value(text: str, name: str, **labels) -> float:
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total, found = total + float(line.rsplit(" ", 1)[1]), True
    return total if found else float("nan")


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_exporter_pauses_paid_probes_in_maintenance_and_keeps_free_checks(tmp_path):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    with running_simulator() as (sim, _):
        path = tmp_path / "nanobanana.yml"
        path.write_text(yaml.safe_dump({
            "defaults": {"interval": "2s", "liveness": {"interval": "1s"}, "confirm": {"count": 0}},
            "targets": [{"name": "a", **TARGET, "base_url": sim}, {"name": "b", **TARGET, "base_url": sim}],
            "maintenance": [{"name": "upgrade", "targets": ["a"], "start": (now - dt.timedelta(hours=1)).isoformat(),
                             "end": (now + dt.timedelta(hours=1)).isoformat()}],
        }))
        with running_exporter("--config.file", str(path), env=exporter_env(TEST_KEY=FAKE_KEY)) as (base, _):
            deadline = time.monotonic() + 60
            while True:
                text = httpx.get(f"{base}/metrics", timeout=5).text
                skipped = value(text, "nanobanana_probe_skipped_total", target="a", reason="maintenance")
                checks = value(text, "nanobanana_liveness_checks_total", target="a")
                probed_b = value(text, "nanobanana_probes_total", target="b")
                if (skipped >= 2 and checks >= 2 and probed_b >= 2) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert skipped >= 2 and checks >= 2 and probed_b >= 2, (skipped, checks, probed_b)
            assert value(text, "nanobanana_probes_total", target="a") == 0
            assert value(text, "nanobanana_probe_cost_usd_total", target="a") == 0
            assert value(text, "nanobanana_maintenance_active", target="a") == 1
            assert value(text, "nanobanana_maintenance_active", target="b") == 0
            assert value(text, "nanobanana_maintenance_window_active", window="upgrade") == 1
            assert set(MAINTENANCE_FAMILIES) <= {line.split("{")[0] for line in text.splitlines() if "{" in line}
            check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check.stdout + check.stderr
            page = httpx.get(base + "/", timeout=5).text
            # planned, not a fault: calm blue, not the red bold of an error; a's series marked paused, b's not
            assert '<p class="planned">In maintenance now: a (' in page and "upgrade" in page
            assert '<span class="planned">open until' in page and 'class="fail">open until' not in page
            assert page.count("paused: maintenance window") == 1


def test_readme_alertmanager_time_intervals_example_is_valid(tmp_path):
    """The Alertmanager example of docs/configuration.md (mute notifications only) passes amtool check-config."""
    from tests.documentation import room

    block = room("configuration").split("```yaml\n# alertmanager.yml\n", 1)[1].split("```", 1)[0]
    config = yaml.safe_load(block)
    config["route"]["receiver"] = "chat"  # the example shows only the parts that mute
    config["receivers"] = [{"name": "chat"}]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "time_intervals" in block and "mute_time_intervals: [sunday-night]" in block
