"""Property tests on config loading (the exporter's config, the relay's, the web config): arbitrary
text, YAML-ish text, and structured mutations of a valid config. Loading either succeeds or raises
ConfigError whose message names the file and a key path, or the YAML problem: never a traceback,
never another exception type."""

from __future__ import annotations

import copy
import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from exporter.loading import config as exporter_config
from exporter.common import webconfig
from exporter.relay import config as relay_config
from exporter.common.yamlconfig import ConfigError
from tests.relay_support import CONFIG as RELAY_CONFIG
from tests.relay_support import environ as relay_environ

SOURCE = "<fuzz>"
VALID = yaml.safe_load((ROOT / "tests" / "testdata" / "valid.yml").read_text())
VALID_RELAY = yaml.safe_load(RELAY_CONFIG.replace("DEADLINE", "5s"))
VALID_WEB = {"basic_auth_users": {"prometheus": "$2b$04$" + "a" * 53}, "unauthenticated_paths": ["/-/healthy"]}
ENV = {"GEMINI_API_KEY": "AIzaFAKE-fuzz", "GATEWAY_API_KEY": "sk-FAKE-fuzz", **relay_environ("https://bots.example")}

# "<fuzz>:3: targets[0].api: ...", "<fuzz>: budget.targets.x: ...", "<fuzz>:1: ['']: unknown key",
# "<fuzz>:2: invalid YAML: ...", "<fuzz>: the config must be ..."
SEGMENT = r"""\[(?:\d+|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]"""  # [0], ['a b'], ["it's"]
KEY_PATH = rf"(?:[\w-]+|{SEGMENT})(?:{SEGMENT}|\.[\w-]+)*"
MESSAGE = re.compile(rf"^{re.escape(SOURCE)}(?::\d+)?: (?:invalid YAML: .+|the config must be .+|{KEY_PATH}: .+)", re.S)
LOADERS = {
    "exporter": lambda text: exporter_config.load_text(text, SOURCE, environ=ENV),
    "relay": lambda text: relay_config.load_text(text, SOURCE, environ=ENV),
    "web": lambda text: webconfig.load_text(text, SOURCE),
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(loader: str, text: str) -> None:
    try:
        LOADERS[loader](text)
    except ConfigError as err:
        message = str(err)
        assert MESSAGE.match(message), f"{loader}: message names no key or YAML problem: {message!r}"
        assert "Traceback" not in message


scalars = st.none() | st.booleans() | st.integers(-10**6, 10**20) | st.floats(allow_nan=True) | st.text(max_size=12) \
    | st.sampled_from(["1K", "4K", "30s", "0s", "-5m", "1e9w", "gemini", "high", "https://x", "!!binary", "~", ""])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8) | st.integers(0, 3), inner, max_size=3), max_leaves=10)
yamlish = st.lists(st.sampled_from([
    "targets:", "defaults:", "channels:", "tls_server_config:", "basic_auth_users:", "  - ", "    ", "- ", ": ",
    "name: x", "api: gemini", "model: m", "{", "}", "[", "]", "'", '"', "&a ", "*a", "!!python/object:os.system ",
    "<<: *a", "? ", "|", ">", "#", "\t", "\n", ",", "1K", "interval: 5m", "type: feishu", "url_env: FS_URL", "%YAML 1.2",
    "---", "...", "\x00", "\ufeff", "é",
]), max_size=30).map("".join)


@st.composite
def mutated(draw, valid: dict) -> str:
    """A valid config with a few random edits at random places: a key deleted, a value replaced, an
    unknown key added, a list emptied."""
    doc = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _at(doc, path[:-1])
        key = path[-1]
        action = draw(st.sampled_from(["delete", "replace", "add", "empty"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
        elif action == "empty" and isinstance(parent[key], (list, dict)):
            parent[key] = type(parent[key])()
        else:
            parent[key] = draw(values)
    return yaml.safe_dump(doc, allow_unicode=True)


def _paths(node, prefix=()):
    yield from [prefix] if prefix else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        yield from _paths(child, prefix + (key,))


def _at(node, path):
    for key in path:
        node = node[key]
    return node


def test_the_valid_configs_load():
    for loader, valid in (("exporter", VALID), ("relay", VALID_RELAY), ("web", VALID_WEB)):
        LOADERS[loader](yaml.safe_dump(valid))


@FUZZ
@given(loader=st.sampled_from(sorted(LOADERS)), text=st.text(max_size=200) | yamlish)
def test_any_text_loads_or_names_the_problem(loader, text):
    check(loader, text)


@FUZZ
@given(loader=st.sampled_from(sorted(LOADERS)), doc=values)
def test_any_yaml_document_loads_or_names_the_problem(loader, doc):
    check(loader, yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(text=mutated(VALID))
def test_mutated_exporter_config(text):
    check("exporter", text)


@FUZZ
@given(text=mutated(VALID_RELAY))
def test_mutated_relay_config(text):
    check("relay", text)


@FUZZ
@given(text=mutated(VALID_WEB))
def test_mutated_web_config(text):
    check("web", text)
