"""Config bombs and unbounded reads (issue 18, case 6): YAML alias bombs, deep nesting, a FIFO or a
device where a file should be, an oversized config. Each is refused at once with a message that
names the file and the problem; none hangs, fills memory or crashes the parser."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from exporter.loading import config as exporter_config
from exporter.common.files import MAX_CONFIG_BYTES
from exporter.relay import config as relay_config
from exporter.common.yamlconfig import MAX_DEPTH, MAX_NODES, ConfigError
from conftest import ROOT, exporter_env

ENV = {"GEMINI_API_KEY": "AIzaFAKE-files-0123456789"}
TARGET = "  - {name: t, api: gemini, model: MODEL, api_key_env: GEMINI_API_KEY, extra_body: EXTRA}\n"


def alias_bomb(levels: int = 9) -> str:
    """'billion laughs': each level is nine aliases of the one before, 9**levels leaves in all."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def target(model: str = "m", extra: str = "{}") -> str:
    return "targets:\n" + TARGET.replace("MODEL", model).replace("EXTRA", extra)


def refused(text: str, load=exporter_config.load_text) -> str:
    with pytest.raises(ConfigError) as caught:
        load(text, "<t>", environ=ENV)
    return str(caught.value)


def test_an_alias_bomb_in_an_invalid_value_is_refused_before_it_is_formatted():
    # the old loader expanded it for pydantic and repr()'d it into the message: a hang
    message = refused(alias_bomb() + target(model="*l8"))
    assert message.startswith("<t>:") and f"aliases expand the document past {MAX_NODES} nodes" in message


def test_an_alias_bomb_in_extra_body_is_refused_instead_of_reaching_a_probe():
    message = refused(alias_bomb() + target(extra="{prompt_parts: *l8}"))
    assert f"aliases expand the document past {MAX_NODES} nodes" in message


def test_modest_aliases_still_work():
    text = target(extra="&shared {quality: high}") + TARGET.replace("name: t", "name: u").replace(
        "MODEL", "m").replace("EXTRA", "*shared")
    config = exporter_config.load_text(text, "<t>", environ=ENV)
    assert [t.extra_body for t in config.targets] == [{"quality": "high"}] * 2


def test_a_self_referring_alias_is_refused():
    assert "an alias refers to a node that contains it" in refused("targets: &a [*a]\n")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 600, 200_000])
def test_deep_nesting_is_refused_not_a_recursion_error(depth):
    # 600 levels was a RecursionError traceback; 200,000 crashes libyaml's composer (C stack)
    message = refused("targets: " + "[" * depth + "]" * depth + "\n")
    assert message == f"<t>:1: invalid YAML: nested deeper than {MAX_DEPTH} levels"


def test_nesting_up_to_the_limit_is_only_a_schema_error():
    depth = MAX_DEPTH - 1
    assert "nested deeper" not in refused("targets: " + "[" * depth + "]" * depth + "\n")


@pytest.mark.parametrize("load", [exporter_config.load_file, relay_config.load_file], ids=["exporter", "relay"])
def test_a_fifo_as_the_config_is_refused_at_once(tmp_path, load):
    fifo = tmp_path / "config.yml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as caught:
        load(fifo)  # the old reader blocked here until a writer came
    assert str(caught.value) == f"{fifo}: cannot read config file: not a regular file"


def test_an_oversized_config_is_refused_without_parsing(tmp_path):
    big = tmp_path / "big.yml"
    big.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    with pytest.raises(ConfigError) as caught:
        exporter_config.load_file(big)
    assert str(caught.value) == f"{big}: cannot read config file: larger than {MAX_CONFIG_BYTES} bytes"


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/stdin"])
def test_a_device_as_a_key_file_is_refused(path):
    text = "targets:\n  - {name: t, api: gemini, model: m, api_key_file: PATH}\n".replace("PATH", path)
    assert refused(text) == f"<t>:2: targets[0].api_key_file: cannot read {path}: not a regular file"


def test_a_key_file_that_is_not_text_is_refused(tmp_path):
    key = tmp_path / "key"
    key.write_bytes(b"\xff\xfe\x00binary")
    text = f"targets:\n  - {{name: t, api: gemini, model: m, api_key_file: {key}}}\n"
    assert refused(text) == f"<t>:2: targets[0].api_key_file: {key} is not UTF-8 text"


def test_config_check_refuses_an_alias_bomb_and_a_fifo_quickly(tmp_path):
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(alias_bomb() + target(model="*l8"))
    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    for path in (bomb, fifo):
        result = subprocess.run([sys.executable, "-m", "exporter", "--config.file", str(path), "--config.check"],
                                capture_output=True, text=True, env=exporter_env(), cwd=ROOT, timeout=60)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr and str(path) in result.stderr


@pytest.mark.slow  # a 970 KB config, with timing bounds
def test_a_reload_parses_off_the_event_loop(tmp_path):
    """A large config (here about 970 KB, invalid at its last line) used to be parsed on the event
    loop, twice: every request waited for all of it. Now health checks answer while it is parsed
    (on the loop, one health check waits as long as the whole reload)."""
    import threading
    import time

    import httpx

    from conftest import free_port
    from tests.relay_support import BEARER, CONFIG, environ
    from tests.stack import start_service

    config = tmp_path / "relay.yml"
    config.write_text(CONFIG.replace("DEADLINE", "5s"))
    address = f"127.0.0.1:{free_port()}"
    relay = start_service("relay", [sys.executable, "-m", "exporter", "relay", "--config.file", str(config),
                                    "--web.listen-address", address], address, tmp_path, timeout=20,
                          env=exporter_env(**environ("http://127.0.0.1:1")))
    try:
        config.write_text(CONFIG.replace("DEADLINE", "5s").replace("channels:\n", "channels:\n" + "".join(
            f"  c{i}: {{type: wecom, url_env: WC_URL}}\n" for i in range(24_000))) + "retries: 3\n")
        done, health = threading.Event(), []

        def watch():
            while not done.is_set():
                started = time.monotonic()
                httpx.get(f"{relay.url}/-/healthy", timeout=30)
                health.append(time.monotonic() - started)
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.monotonic()
        answer = httpx.post(f"{relay.url}/-/reload", headers={"Authorization": f"Bearer {BEARER}"}, timeout=60)
        took = time.monotonic() - started
        done.set()
        watcher.join()
    finally:
        relay.stop()
    print(f"\nreload of a {config.stat().st_size / 1e3:.0f} KB config: {took:.2f} s; {len(health)} health checks "
          f"meanwhile, slowest {max(health) * 1000:.0f} ms")
    assert answer.status_code == 500 and "retries: unknown key" in relay.logs()
    assert max(health) < max(1.0, took / 3), (took, health)
