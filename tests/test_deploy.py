"""The deployment files, checked with what runs here (no Docker engine, no cluster): every file a
Dockerfile copies or a compose service mounts exists, flags parse, ports agree, the generated
Kubernetes objects match their sources, and Prometheus configs pass `promtool check config`."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest
import trustme
import yaml

from conftest import ROOT, exporter_env, free_port, running_exporter
from exporter import __version__, healthcheck
from exporter.domain.budget import BudgetSettings
from exporter.cli import exporter_parser
from exporter.loading.config import load_text
from exporter.relay.cli import parser as relay_parser
from exporter.relay.config import load_text as load_relay_text
from exporter.common.webconfig import load_text as load_web_text

PROMTOOL = shutil.which("promtool")
EXPORTER_PORT = int(exporter_parser().parse_args([]).listen[0].rsplit(":", 1)[1])
RELAY_PORT = int(relay_parser().parse_args([]).listen[0].rsplit(":", 1)[1])


# --- Dockerfile ----------------------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in dockerfile():
        if instruction[0] == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


def docker_ignored(path: str) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or one of its parents wins."""
    ignored = False
    parts = path.split("/")
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern.replace("**/", "")) for c in candidates):
            ignored = not negate
    return ignored


def test_dockerfile_is_multi_stage_slim_and_copies_what_exists():
    build, final = stages()
    assert build[0][1] == "python:3.11-slim AS build" and final[0][1] == "python:3.11-slim"
    copies = [args.split() for word, args in build if word == "COPY"]
    assert copies, "the build stage copies the sources"
    for *sources, _ in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not docker_ignored(source), f"{source} is excluded by .dockerignore"
    final_text = " ".join(args for _, args in final)
    assert "from=build" in final_text and "--no-index" in final_text  # installs the built wheels, offline
    assert not re.search(r"apt-get|gcc|build-essential", final_text)


def test_entrypoint_user_ports_healthcheck_and_cmd():
    final = dict(stages()[-1][1:])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    entrypoint = yaml.safe_load(final["ENTRYPOINT"])
    assert entrypoint == ["nanobanana-exporter"] and entrypoint[0] in scripts
    user = final["USER"].split(":")[0]
    assert user.isdigit() and int(user) != 0  # numeric: Kubernetes' runAsNonRoot can verify it
    assert sorted(int(p) for p in final["EXPOSE"].split()) == sorted([EXPORTER_PORT, RELAY_PORT])
    assert yaml.safe_load(final["HEALTHCHECK"].split("CMD", 1)[1]) == ["python", "-m", "exporter.healthcheck"]
    assert healthcheck.DEFAULT == f"http://127.0.0.1:{EXPORTER_PORT}/-/healthy"
    args = exporter_parser().parse_args(yaml.safe_load(final["CMD"]))
    assert args.config_file == "/etc/nanobanana/nanobanana.yml"
    for word, value in dockerfile():
        if word in ("ENV", "ARG"):
            assert not re.search(r"(?i)key|token|secret|password", value), f"{word} {value}: no secrets in the image"


def test_dockerignore_keeps_tests_and_secrets_out():
    for path in ("tests/conftest.py", ".env", ".env.example", ".git/config", "deploy/web.yml", "server.key",
                 "exporter/__pycache__/cli.cpython-311.pyc", "docker-compose.yml", "nanobanana.yml"):
        assert docker_ignored(path), path
    for path in ("pyproject.toml", "README.md", "exporter/cli.py", "exporter/demo.yml", "exporter/relay/server.py"):
        assert not docker_ignored(path), path


def test_healthcheck_module_against_a_running_exporter():
    with running_exporter("--demo") as (base, _):
        ok = subprocess.run([sys.executable, "-m", "exporter.healthcheck", f"{base}/-/healthy"], cwd=ROOT,
                            env=exporter_env(), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run([sys.executable, "-m", "exporter.healthcheck"], cwd=ROOT, capture_output=True, text=True,
                          env=exporter_env(NANOBANANA_HEALTHCHECK_URL=f"http://127.0.0.1:{free_port()}/-/healthy"))
    assert down.returncode == 1 and "unhealthy" in down.stderr


# --- Compose -------------------------------------------------------------------------------------

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def interpolate(text: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${VAR:-default} with an empty environment (what `docker compose up` does without .env)."""
    env = env or {}
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), text)


def mounts(service: str) -> dict[str, Path]:
    """container path -> repository path of a service's bind mounts."""
    found = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[target] = ROOT / source
    return found


def config_files(service: str, tmp_path: Path) -> dict[str, Path]:
    """container path -> a file holding the compose `configs:` content, placeholders applied."""
    found = {}
    for entry in SERVICES[service].get("configs", []):
        path = tmp_path / entry["source"]
        path.write_text(interpolate(COMPOSE["configs"][entry["source"]]["content"]))
        found[entry["target"]] = path
    return found


def test_compose_mounts_only_files_of_the_repository():
    for name in SERVICES:
        for target, source in mounts(name).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"
        if "build" in SERVICES[name]:
            assert (ROOT / SERVICES[name]["build"] / "Dockerfile").exists()
    # the very files the tests check, not copies
    assert mounts("prometheus")["/etc/prometheus/nanobanana/rules.yml"] == ROOT / "alertmanager/rules.yml"
    assert mounts("alertmanager")["/etc/alertmanager/alertmanager.yml"] == ROOT / "alertmanager/alertmanager.yml"
    assert mounts("relay")["/etc/nanobanana-relay/relay.yml"] == ROOT / "alertmanager/relay.yml"
    assert mounts("grafana")["/etc/grafana/provisioning"] == ROOT / "grafana/provisioning"
    assert SERVICES["exporter"]["command"] == ["--demo"]


@pytest.mark.skipif(not PROMTOOL, reason="promtool is not installed")
def test_compose_prometheus_config_passes_promtool(tmp_path):
    """promtool resolves rule_files on this machine, so the container paths are rewritten to the
    files compose mounts there; everything else is checked as is."""
    config = yaml.safe_load((ROOT / "deploy/compose/prometheus.yml").read_text())
    volumes = mounts("prometheus")
    assert volumes["/etc/prometheus/prometheus.yml"] == ROOT / "deploy/compose/prometheus.yml"
    config["rule_files"] = [str(volumes[path]) for path in config["rule_files"]]  # KeyError: not mounted
    files = config_files("prometheus", tmp_path)
    for job in config["scrape_configs"]:
        if "authorization" in job:  # promtool opens it: the file compose provides
            job["authorization"]["credentials_file"] = str(files[job["authorization"]["credentials_file"]])
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    check = subprocess.run([PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    jobs = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]] for job in config["scrape_configs"]}
    assert jobs["nanobanana"] == [f"exporter:{EXPORTER_PORT}"]
    # the relay shares Alertmanager's network namespace: 127.0.0.1:9878 in alertmanager.yml reaches it
    assert SERVICES["relay"]["network_mode"] == "service:alertmanager"
    assert jobs["nanobanana-relay"] == [f"alertmanager:{RELAY_PORT}"]
    assert f"{RELAY_PORT}:{RELAY_PORT}" in SERVICES["alertmanager"]["ports"]
    am = (ROOT / "alertmanager/alertmanager.yml").read_text()
    assert set(re.findall(r"url: (http://[\d.:]+)/alerts\b", am)) == {f"http://127.0.0.1:{RELAY_PORT}"}


def test_compose_provides_every_file_and_variable_the_configs_read(tmp_path):
    am = yaml.safe_load((ROOT / "alertmanager/alertmanager.yml").read_text())
    files = set(re.findall(r"(?:api_url_file|credentials_file): ([^\s}]+)", (ROOT / "alertmanager/alertmanager.yml").read_text()))
    assert files <= set(config_files("alertmanager", tmp_path)), files
    assert am["templates"] == ["templates/*.tmpl"] and "/etc/alertmanager/templates" in mounts("alertmanager")
    # the relay starts with compose's placeholders alone: every *_env is set, every *_file mounted
    relay = SERVICES["relay"]
    environment = {k: interpolate(v) for k, v in relay["environment"].items()}
    text = (ROOT / "alertmanager/relay.yml").read_text()
    for target, path in config_files("relay", tmp_path).items():
        text = text.replace(target, str(path))
    config = load_relay_text(text, "relay.yml", environ=environment)
    assert sorted(config.channels) == ["dingtalk", "feishu", "wecom"] and config.token
    # .env.example names every variable compose reads
    variables = set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    example = set(re.findall(r"^(\w+)=", (ROOT / ".env.example").read_text(), re.M))
    assert variables == example
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_compose_grafana_reaches_prometheus_and_its_dashboards():
    datasource = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text())
    url = httpx.URL(datasource["datasources"][0]["url"])
    assert url.host in SERVICES and url.port == 9090
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/nanobanana.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert mounts("grafana")[path] == ROOT / "grafana/dashboards"


# --- Kubernetes ----------------------------------------------------------------------------------

K8S = ROOT / "deploy/kubernetes"


def objects() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> list[dict]:
    return [o for o in objects() if o["kind"] == kind]


def test_generated_objects_match_their_sources():
    result = subprocess.run([sys.executable, str(K8S / "generate.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + " (after changing alertmanager/rules.yml or relay.yml, run it)"
    rule = by_kind("PrometheusRule")[0]
    source = yaml.safe_load((ROOT / "alertmanager" / "rules.yml").read_text())["groups"]
    assert rule["spec"]["groups"] == source
    relay_cm = next(o for o in by_kind("ConfigMap") if o["metadata"]["name"] == "nanobanana-relay")
    assert relay_cm["data"]["relay.yml"] == (ROOT / "alertmanager/relay.yml").read_text()


def test_every_object_has_the_required_fields():
    for o in objects():
        assert {"apiVersion", "kind", "metadata"} <= set(o), o
        assert o["metadata"].get("name") and o["metadata"].get("labels"), o["kind"]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert kustomization["images"][0]["newTag"] == __version__
    for d in by_kind("Deployment"):
        assert d["spec"]["template"]["spec"]["containers"][0]["image"] == kustomization["images"][0]["name"]


@pytest.mark.parametrize("name, parse, port", [
    ("nanobanana-exporter", exporter_parser().parse_args, EXPORTER_PORT),
    ("nanobanana-relay", lambda args: relay_parser().parse_args(args[1:]), RELAY_PORT),
])
def test_deployment_is_locked_down_probed_and_wired(name, parse, port):
    deployment = next(d for d in by_kind("Deployment") if d["metadata"]["name"] == name)
    template = deployment["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    pod = template["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http"}
    parse(container["args"])  # argparse exits on an unknown flag
    # the Service selects these pods on this port, the ServiceMonitor selects the Service
    service = next(s for s in by_kind("Service") if s["metadata"]["name"] == name)
    assert service["spec"]["selector"].items() <= labels.items()
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [("http", port, "http")]
    monitor = next(m for m in by_kind("ServiceMonitor") if m["metadata"]["name"] == name)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["http"]
    # every secret the pod reads is in the `kubectl create secret` line of the file's comments
    text = (K8S / ("exporter.yaml" if name == "nanobanana-exporter" else "relay.yaml")).read_text()
    keys = [e["valueFrom"]["secretKeyRef"]["key"] for e in container.get("env", []) if "valueFrom" in e]
    for volume in pod.get("volumes", []):
        sources = volume.get("projected", {}).get("sources", []) + ([{"secret": volume["secret"]}] if "secret" in volume else [])
        keys += [item["key"] for s in sources if "secret" in s for item in s["secret"]["items"]]
    assert keys and all(f"--from-literal={key}=" in text for key in keys), keys


def test_the_configs_in_the_manifests_are_valid(tmp_path):
    exporter = next(d for d in by_kind("Deployment") if d["metadata"]["name"] == "nanobanana-exporter")["spec"]["template"]["spec"]
    env = {e["name"]: "value-from-a-secret" for e in exporter["containers"][0]["env"]}
    config_map = next(o for o in by_kind("ConfigMap") if o["metadata"]["name"] == "nanobanana-exporter")
    config = load_text(config_map["data"]["nanobanana.yml"], "nanobanana.yml", environ=env)
    assert config.series
    relay = next(d for d in by_kind("Deployment") if d["metadata"]["name"] == "nanobanana-relay")["spec"]["template"]["spec"]
    container = relay["containers"][0]
    env = {e["name"]: "https://bot.example.com/hook/x" for e in container["env"]}
    text = (ROOT / "alertmanager/relay.yml").read_text()
    mounted = [m["mountPath"] for m in container["volumeMounts"]]
    for path in re.findall(r"_file: (\S+)", text):  # every file relay.yml reads is on a mounted volume
        assert any(path.startswith(m + "/") for m in mounted), path
        (tmp_path / Path(path).name).write_text("https://bot.example.com/hook/y")
        text = text.replace(path, str(tmp_path / Path(path).name))
    assert sorted(load_relay_text(text, "relay.yml", environ=env).channels) == ["dingtalk", "feishu", "wecom"]


def test_service_monitor_sets_the_job_the_rules_expect_and_a_location():
    rules = yaml.safe_load((ROOT / "alertmanager/rules.yml").read_text())["groups"]
    [job] = [r["labels"]["job"] for g in rules for r in g["rules"] if r.get("record") == "nanobanana:exporter_job:info"]
    monitor = next(m for m in by_kind("ServiceMonitor") if m["metadata"]["name"] == "nanobanana-exporter")
    relabel = {r["targetLabel"]: r["replacement"] for r in monitor["spec"]["endpoints"][0]["relabelings"]}
    assert relabel["job"] == job and relabel["location"]


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
def test_kustomize_builds_offline():
    result = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert {d["metadata"]["namespace"] for d in built} == {"monitoring"}
    assert {c["image"] for d in built if d["kind"] == "Deployment" for c in d["spec"]["template"]["spec"]["containers"]} \
        == {f"registry.example.com/nanobanana-exporter:{__version__}"}


# --- systemd, multi-region, web config example -------------------------------------------------

def exec_start(unit: Path) -> list[str]:
    text = re.sub(r"\\\n\s*", " ", unit.read_text())
    return shlex.split(re.search(r"^ExecStart=(.*)$", text, re.M).group(1))


@pytest.mark.parametrize("unit", sorted((ROOT / "deploy/systemd").glob("*.service")), ids=lambda p: p.name)
def test_systemd_units_flags_parse(unit):
    binary, *args = exec_start(unit)
    assert Path(binary).name == "nanobanana-exporter"
    if args[0] == "relay":
        parsed = relay_parser().parse_args(args[1:])
        assert parsed.listen == [f":{RELAY_PORT}"]
    else:
        parsed = exporter_parser().parse_args(args)
        assert parsed.listen == [f":{EXPORTER_PORT}"]
    assert parsed.web_config_file and parsed.config_file
    assert re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", unit.read_text(), re.M)
    if shutil.which("systemd-analyze"):
        result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        problems = [line for line in (result.stdout + result.stderr).splitlines()
                    if line.strip() and "is not executable" not in line]  # not installed on this machine
        assert not problems, problems


@pytest.mark.skipif(not PROMTOOL, reason="promtool is not installed")
@pytest.mark.parametrize("name", ["prometheus-region.yml", "prometheus-global.yml"])
def test_multi_region_examples_pass_promtool(name, tmp_path):
    config = yaml.safe_load((ROOT / "deploy/multi-region" / name).read_text())
    config["rule_files"] = [str(ROOT / "alertmanager" / Path(f).name) for f in config.get("rule_files", [])]
    (tmp_path / name).write_text(yaml.safe_dump(config))
    check = subprocess.run([PROMTOOL, "check", "config", str(tmp_path / name)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_web_config_example_is_valid(tmp_path):
    ca = trustme.CA()
    server = ca.issue_cert("localhost")
    server.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
    server.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    text = (ROOT / "deploy/web.yml").read_text().replace("/etc/nanobanana/tls", str(tmp_path))
    config = load_web_text(text, "web.yml")
    assert config.tls and config.users and config.open_paths == {"/-/healthy"}


# --- where the budget's state file is written ------------------------------------------------------

STATE_DIR = "/var/lib/nanobanana"


def state_file(config_text: str, workdir: str, environ: dict[str, str]) -> str:
    """Where the exporter writes its budget state with this config, started in `workdir`."""
    config = load_text(config_text, "nanobanana.yml", environ=environ)
    path = (config.budget or BudgetSettings()).state_file
    assert path, "the shipped config keeps spend across restarts"
    return str(Path(workdir) / path)


def test_dockerfile_runs_in_a_state_directory_the_user_owns():
    final = stages()[-1]
    workdirs = [args for word, args in final if word == "WORKDIR"]
    assert workdirs == [STATE_DIR]
    user = dict(final[1:])["USER"]
    uid, gid = user.split(":")
    created = " ".join(args for word, args in final if word == "RUN")
    assert re.search(rf"install -d -o {uid} -g {gid} \S+ \S+ {STATE_DIR}\b", created), created
    assert not Path(BudgetSettings().state_file).is_absolute()  # so the default lands in WORKDIR


def test_systemd_exporter_writes_its_state_in_its_state_directory():
    text = (ROOT / "deploy/systemd/nanobanana-exporter.service").read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    # StateDirectory= is created owned by User= and stays writable under ProtectSystem=strict
    assert settings["StateDirectory"] == "nanobanana" and settings["ProtectSystem"] == "strict"
    assert settings["WorkingDirectory"] == f"/var/lib/{settings['StateDirectory']}" == STATE_DIR
    assert Path(BudgetSettings().state_file).parent == Path(".")


def test_kubernetes_exporter_writes_its_state_on_a_writable_volume_and_never_runs_twice():
    deployment = next(d for d in by_kind("Deployment") if d["metadata"]["name"] == "nanobanana-exporter")
    # two exporters during a rollout would probe, and pay, twice, each with its own budget
    assert deployment["spec"]["strategy"] == {"type": "Recreate"} and deployment["spec"]["replicas"] == 1
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    config_map = next(o for o in by_kind("ConfigMap") if o["metadata"]["name"] == "nanobanana-exporter")
    env = {e["name"]: "value-from-a-secret" for e in container["env"]}
    path = state_file(config_map["data"]["nanobanana.yml"], container.get("workingDir", "/"), env)
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = [m for m in container["volumeMounts"] if not m.get("readOnly")
                and ("emptyDir" in volumes[m["name"]] or "persistentVolumeClaim" in volumes[m["name"]])]
    assert any(path.startswith(m["mountPath"].rstrip("/") + "/") for m in writable), (path, writable)
