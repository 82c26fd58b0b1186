"""--demo: the simulator in-process, probed with the built-in demo config."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import yaml

from exporter.loading.config import Config, load_text
from exporter.simulator import Simulator, start
from exporter.exposition.web import parse_listen_address


def demo_text() -> str:
    return resources.files("exporter").joinpath("demo.yml").read_text(encoding="utf-8")


async def start_demo() -> tuple[object, Config]:
    """Start the simulator; returns its runner and the demo config pointed at it."""
    runner, base_url = await start_demo_simulator()
    return runner, demo_config(base_url)


async def start_demo_simulator(address: str = "127.0.0.1:0") -> tuple[object, str]:
    """Start the simulator with the demo's faults at address (--demo.simulator-address; port 0: a free
    one); returns its runner and base URL."""
    simulator = Simulator()
    simulator.configure(yaml.safe_load(demo_text())["simulator"])
    simulator.configure({"service_accounts": {DEMO_ACCOUNT: _public_pem()}})  # the vertex targets sign in
    host, port = parse_listen_address(address)
    return await start(simulator, host or "127.0.0.1", port)


def demo_config(base_url: str) -> Config:
    """The built-in demo config, pointed at a simulator at base_url (also what a reload re-reads)."""
    raw = yaml.safe_load(demo_text())
    exporter_yaml = yaml.safe_dump(raw["exporter"], sort_keys=False).replace("${SIMULATOR}", base_url)
    exporter_yaml = exporter_yaml.replace("${DEMO_CREDENTIALS}", _key_file(base_url))
    return load_text(exporter_yaml, "<demo>")


# The demo's Vertex AI targets sign in through google-auth's real service-account flow against the
# simulator's token endpoint, with a key made for this process (never written anywhere but a
# private temporary file, removed at exit).
DEMO_ACCOUNT = "nanobanana-demo@nanobanana-demo.iam.gserviceaccount.com"


@functools.cache
def _private_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem() -> str:
    from cryptography.hazmat.primitives import serialization

    return _private_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@functools.cache
def _key_file(base_url: str) -> str:
    from cryptography.hazmat.primitives import serialization

    directory = Path(tempfile.mkdtemp(prefix="nanobanana-demo-"))
    atexit.register(shutil.rmtree, directory, True)
    pem = _private_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode()
    path = directory / "service-account.json"
    path.write_text(json.dumps({"type": "service_account", "project_id": "nanobanana-demo", "private_key_id": "demo",
                                "private_key": pem, "client_email": DEMO_ACCOUNT, "client_id": "1",
                                "token_uri": base_url + "/token"}))
    path.chmod(0o600)
    return str(path)
