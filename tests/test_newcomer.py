"""A newcomer's first hour, as issue 33 walked it: each documented command runs as written (the
address or port swapped for a free one), and each stumble seen then stays fixed."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from conftest import ROOT, exporter_env, free_port, running_exporter, running_process
from tests.helpers import wait
from tests.stack import ALERTMANAGER, start_alertmanager
from exporter.loading.config import load_text
from exporter.contract.outcomes import Outcome
from exporter.simulator.server import BASE_PATHS
from tests import google_sa
from tests.captured import CAPTURED
from tests.documentation import README, room, section

DOC_ADDRESS = "127.0.0.1:9879"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env or exporter_env(), timeout=60)


# --- the simulator: every dialect's base_url ---------------------------------------------------

def own_config_section() -> str:
    return section(room("simulator"), "Simulator").split("### Your own config against the simulator", 1)[1]


def documented_base_urls() -> dict[str, str]:
    rows = re.findall(r"^\| `(\w+)` \| `(http[^`]+)` \|$", own_config_section(), re.M)
    return dict(rows)


def test_the_docs_give_every_dialects_base_url():
    assert documented_base_urls() == {api: f"http://{DOC_ADDRESS}{path}" for api, path in BASE_PATHS.items()}


@pytest.mark.parametrize("api", sorted(BASE_PATHS))
async def test_each_documented_base_url_takes_a_probe(simulator, prober, api):
    sim, base = simulator
    fields = {"name": "t", "api": api, "model": "gemini-3-pro-image",
              "base_url": documented_base_urls()[api].replace(f"http://{DOC_ADDRESS}", base)}
    if api == "vertex":
        fields |= {"project": google_sa.PROJECT, "credentials_file": google_sa.key_file(base)}
    config = load_text(yaml.safe_dump({"targets": [fields]}), "<docs>")
    attempt = await prober.probe(config.series[0])
    assert attempt.outcome is Outcome.SUCCESS, attempt.message


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_the_documented_own_config_runs_against_the_documented_simulator(tmp_path):
    """docs/simulator.md's simulator command, its sim-targets.yml and the exporter command, as written
    but for the addresses (running_process gives each a free port)."""
    text = own_config_section()
    config_yaml = re.search(r"```yaml\n(.*?)```", text, re.S)[1]
    command = re.search(r"^nanobanana-exporter --config.file sim-targets.yml --web.listen-address :9880$", text, re.M)
    assert command, "the exporter command in docs/simulator.md changed: update this test"
    sim_flags = re.search(rf"^nanobanana-exporter simulator --web.listen-address {DOC_ADDRESS} (.*)$",
                          room("simulator"), re.M)[1].split()
    speed = sim_flags[sim_flags.index("--speed") + 1]
    with running_process(["simulator", "--speed", speed], ready_path="/_sim/config") as (sim_base, _):
        index = httpx.get(sim_base + "/", timeout=5).text  # GET / says what it is and where each dialect lives
        assert "nanobanana-exporter simulator" in index
        assert all(f"{api:<14} {sim_base}{path}\n" in index for api, path in BASE_PATHS.items())
        (tmp_path / "sim-targets.yml").write_text(config_yaml.replace(f"http://{DOC_ADDRESS}", sim_base))
        with running_exporter("--config.file", str(tmp_path / "sim-targets.yml")) as (base, _):
            def both_succeeded() -> bool:
                metrics = httpx.get(base + "/metrics", timeout=5).text
                return all(re.search(rf'^nanobanana_probe_success{{[^}}]*target="{name}"[^}}]*}} 1(\.0)?$', metrics, re.M)
                           for name in ("sim-gemini", "sim-openrouter"))
            wait(both_succeeded, 60, "the documented targets succeed against the documented simulator")


# --- config checks: every problem, in line order, with a near miss named ------------------------

def test_the_relay_check_names_every_problem_in_line_order_and_how_to_drop_an_optional_secret(tmp_path):
    """The shipped relay.yml with only the two bot URLs set: the unset optional secrets say how to drop
    them, and the check goes on to the WeCom URL file and the token file."""
    env = exporter_env(FEISHU_WEBHOOK_URL="https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef",
                       DINGTALK_WEBHOOK_URL="https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef")
    for name in ("FEISHU_SECRET", "DINGTALK_SECRET"):
        env.pop(name, None)
    # The shipped file, line for line, with its /etc paths under tmp_path: what this machine holds in
    # /etc (a relay token from the README's Next steps, say) does not change what the check finds.
    shipped = tmp_path / "relay.yml"
    shipped.write_text((ROOT / "alertmanager/relay.yml").read_text().replace(" /etc/", f" {tmp_path}/etc/"))
    result = cli("relay", "--config.file", str(shipped), "--config.check", env=env)
    assert result.returncode == 1
    lines = result.stderr.removeprefix("FAILED: ").splitlines()
    keys = [re.match(rf"{re.escape(str(shipped))}:(\d+): (\S+):", line).groups() for line in lines]
    assert [key for _, key in keys] == ["channels.feishu.secret_env", "channels.dingtalk.secret_env",
                                        "channels.wecom.url_file", "token_file"], result.stderr
    assert [int(n) for n, _ in keys] == sorted(int(n) for n, _ in keys)
    assert "delete the secret_env line" in lines[0]


def test_an_unknown_key_names_its_near_miss_and_problems_come_in_line_order(tmp_path):
    config = tmp_path / "nb.yml"
    config.write_text("targets:\n  - name: a\n    api: gemini\n    model: gemini-3-pro-image\n"
                      "    resolution: [2K]\n    intervall: 5m\n  - name: b\n    api: vertexai\n    model: x\n")
    result = cli("--config.file", str(config), "--config.check")
    assert result.returncode == 1
    lines = result.stderr.removeprefix("FAILED: ").splitlines()
    assert lines[0] == f"{config}:5: targets[0].resolution: unknown key (did you mean `resolutions`?)"
    assert lines[1] == f"{config}:6: targets[0].intervall: unknown key (did you mean `interval`?)"
    assert lines[2].startswith(f"{config}:8: targets[1].api: ")


def test_help_names_every_subcommand():
    help_text = cli("--help").stdout
    assert all(f"nanobanana-exporter {name}" in help_text for name in ("relay", "report", "simulator"))


# --- the service host: exporter-toolkit's listeners, auto-reload ----------------------------------

def relay_config(path, channels: int) -> None:
    path.write_text("channels:\n" + "".join(f"  c{i}: {{type: feishu, url_env: FS_URL}}\n" for i in range(channels)))


RELAY_ENV = {"FS_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef"}


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_the_relay_listens_on_every_listen_address_and_reloads_a_changed_file(tmp_path):
    config = tmp_path / "relay.yml"
    relay_config(config, 1)
    second = f"127.0.0.1:{free_port()}"
    with running_process(["relay", "--config.file", str(config), "--web.listen-address", second,
                          "--config.auto-reload-interval", "1s"], env=exporter_env(**RELAY_ENV)) as (base, relay):
        assert httpx.get(f"http://{second}/-/healthy", timeout=5).status_code == 200
        assert httpx.get(f"{base}/-/healthy", timeout=5).status_code == 200

        relay_config(config, 2)
        wait(lambda: "2 channels" in relay.output(), 30, "the changed file reloaded")
        assert 'trigger="config file changed"' in relay.output()

        config.write_text("channels:\n  c0: {type: feishu, url_env: FS_URL}\nretries: 3\n")  # bad: the old one stays
        wait(lambda: "retries: unknown key" in relay.output(), 30, "the bad file refused")
        metrics = lambda: httpx.get(f"{base}/metrics", timeout=5).text  # noqa: E731
        assert re.search(r"^nanobanana_relay_config_last_reload_successful 0(\.0)?$", metrics(), re.M)
        assert httpx.post(f"{base}/alerts/c1", json={"alerts": []}, timeout=5).status_code != 404
        time.sleep(3)  # three more intervals: the same bad file is not tried (and logged) again
        assert relay.output().count("retries: unknown key") == 1

        relay_config(config, 1)
        wait(lambda: re.search(r"^nanobanana_relay_config_last_reload_successful 1(\.0)?$", metrics(), re.M),
             30, "the fixed file reloaded")
        assert "1 channel," in relay.output()


def test_the_relay_serves_on_the_socket_systemd_passes(tmp_path):
    config = tmp_path / "relay.yml"
    relay_config(config, 1)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    command = (f"export LISTEN_PID=$$ LISTEN_FDS=1; exec {sys.executable} -m exporter relay --config.file {config} "
               f"--web.systemd-socket 3<&{listener.fileno()}")
    proc = subprocess.Popen(["bash", "-c", command], pass_fds=(listener.fileno(),), cwd=ROOT,
                            env=exporter_env(**RELAY_ENV), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    listener.close()  # the process holds it now
    try:
        wait(lambda: _healthy(f"http://127.0.0.1:{port}") or proc.poll() is not None, 30, "the relay answers on the socket")
        assert proc.poll() is None, proc.communicate()[0]
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert 'address="systemd socket"' in output


def test_without_a_systemd_socket_the_flag_says_so():
    result = cli("--demo", "--web.systemd-socket")
    assert result.returncode == 1
    assert "--web.systemd-socket: systemd passed no socket" in result.stderr


def _healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/-/healthy", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --- the mixin and the silence example, as the docs write them ---------------------------------

def sh_block_after(text: str, marker: str) -> str:
    return re.search(r"```sh\n(.*?)```", text[text.index(marker):], re.S)[1]


@pytest.mark.skipif(not (shutil.which("jsonnet") and shutil.which("promtool")), reason="jsonnet and promtool not installed")
def test_the_mixin_renders_with_the_documented_commands(tmp_path):
    alerting = room("alerting")
    part = alerting[alerting.index("### As a jsonnet mixin"):]
    commands = sh_block_after(part, "### As a jsonnet mixin").replace("/path/to/nanobanana-exporter", str(ROOT))
    (tmp_path / "nanobanana.jsonnet").write_text(re.search(r"```jsonnet\n(.*?)```", part, re.S)[1])
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    rendered = json.loads((tmp_path / "out/nanobanana-rules.json").read_text())
    assert any(rule.get("alert") == "NanoBananaOutage" for group in rendered["groups"] for rule in group["rules"])


@pytest.mark.skipif(not (shutil.which("amtool") and ALERTMANAGER), reason="amtool and alertmanager not installed")
@pytest.mark.parametrize("page", ["alerting", "runbook"])
def test_the_documented_silence_is_accepted_by_alertmanager(tmp_path, page):
    """The maintenance silence of docs/alerting.md and docs/runbook.md, run as written (its dates are
    computed when it runs), against a real Alertmanager; only the address changes."""
    text = room(page)
    block = re.search(r"```sh\n(amtool [^\n]*silence add.*?)```", text, re.S)[1]
    add = block.replace("\\\n", " ").splitlines()[0]  # the first command, its continued lines joined
    config = tmp_path / "am.yml"
    config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    with start_alertmanager(config, tmp_path) as alertmanager:
        command = re.sub(r"--alertmanager\.url=http://[\w.]+:9093", f"--alertmanager.url={alertmanager.url}", add)
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "USER": "newcomer"})
        assert result.returncode == 0, result.stderr
        silences = httpx.get(f"{alertmanager.url}/api/v2/silences", timeout=10).json()
        assert [s["status"]["state"] for s in silences] == ["pending"]
        assert {m["name"]: m["value"] for m in silences[0]["matchers"]}["target"] == "prod"


# --- the README's next steps: the relay to the simulator's Feishu bot, as written ------------------

def test_the_readme_relay_step_delivers_to_the_simulators_feishu_bot(tmp_path):
    """Step 4 of the README's Next steps, run as written but for the paths and ports: the token file,
    the one-channel relay.yml and the relay pointed at the simulator's Feishu bot; a page posted as
    Alertmanager posts it reaches the bot, and GET /_sim/bot-messages shows it (step 7)."""
    from tests.relay_support import payload

    step = re.search(r"4\. A token and the relay.*?```sh\n(.*?)```", README, re.S)[1]
    token_file = tmp_path / "relay-token"
    script = (step.replace("sudo install -d /etc/alertmanager/secrets && ", "").replace("sudo tee", "tee")
              .replace("/etc/alertmanager/secrets/relay-token", str(token_file))
              .replace("> relay.yml", f"> {tmp_path}/relay.yml"))
    setup, relay_line = script.rsplit("\n", 2)[0], script.strip().splitlines()[-1]
    subprocess.run(["bash", "-euo", "pipefail", "-c", setup], check=True, cwd=tmp_path, capture_output=True, timeout=30)
    token = token_file.read_text().strip()
    assert len(token) == 32
    CAPTURED.secret(token)
    with running_process(["simulator", "--speed", "0.05"], ready_path="/_sim/config") as (sim_base, _):
        url = re.search(r"FEISHU_WEBHOOK_URL=(\S+)", relay_line)[1].replace("http://127.0.0.1:9879", sim_base)
        args = relay_line.split("nanobanana-exporter ", 1)[1].split()
        args[args.index("relay.yml")] = str(tmp_path / "relay.yml")
        with running_process(args, env=exporter_env(FEISHU_WEBHOOK_URL=url)) as (relay, _):
            answer = httpx.post(f"{relay}/alerts", json=payload(), headers={"Authorization": f"Bearer {token}"}, timeout=20)
            assert answer.status_code == 200, answer.text
            messages = httpx.get(f"{sim_base}/_sim/bot-messages", timeout=5).json()
    assert len(messages) == 1 and "NanoBananaOutage" in json.dumps(messages[0]["message"], ensure_ascii=False)


def test_the_exporter_check_names_the_problems_of_every_target_too(tmp_path):
    """Past the schema: a key not set, a key on a vertex target, a size the model does not take and an
    unknown budget target, all in one run and in line order."""
    config = tmp_path / "nb.yml"
    config.write_text("budget: {targets: {nope: 1}}\ntargets:\n"
                      "  - {name: a, api: gemini, model: gemini-3-pro-image, api_key_env: NOT_SET_ANYWHERE}\n"
                      "  - {name: b, api: vertex, model: gemini-3-pro-image, project: my-project-123, api_key_env: X}\n"
                      '  - {name: c, api: gemini, model: gemini-3-pro-image, resolutions: ["512"]}\n')
    result = cli("--config.file", str(config), "--config.check")
    assert result.returncode == 1
    lines = result.stderr.removeprefix("FAILED: ").splitlines()
    assert [line.split(": ")[1] for line in lines] == ["budget.targets.nope", "targets[0].api_key_env",
                                                       "targets[1].api_key_env", "targets[2].resolutions"], lines
