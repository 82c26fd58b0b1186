"""A test service account: an RSA key made for the session, its key file (google-auth reads it
exactly as it reads one from the Cloud console) pointing at a simulator's token endpoint, and the
public half the simulator verifies the signed JWTs with."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exporter.simulator.google_auth import TOKEN_PATH, TOKEN_PREFIX
from tests.captured import CAPTURED

EMAIL = "nanobanana-prober@nb-probe-test.iam.gserviceaccount.com"
PROJECT = "nb-probe-test"
CAPTURED.secret(TOKEN_PREFIX)  # every access token the simulator issues starts so: none may leak


@functools.cache
def _key() -> rsa.RSAPrivateKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = _private_pem(key)
    CAPTURED.secret(pem.splitlines()[5])  # a line of the private key itself
    return key


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@functools.cache
def _session_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="nb-sa-"))


def public_accounts(email: str = EMAIL) -> dict[str, str]:
    """`service_accounts` for the simulator's config."""
    pem = _key().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {email: pem.decode()}


def key_file(sim_url: str, directory: Path | None = None, email: str = EMAIL) -> str:
    """A service-account key file whose token_uri is the simulator's token endpoint."""
    info = {
        "type": "service_account", "project_id": PROJECT, "private_key_id": "0123456789abcdef",
        "private_key": _private_pem(_key()), "client_email": email, "client_id": "100000000000000000001",
        "token_uri": sim_url + TOKEN_PATH,
    }
    directory = directory or _session_dir()
    path = directory / f"service-account-{abs(hash((sim_url, email)))}.json"
    path.write_text(json.dumps(info))
    return str(path)
