"""`--web.config.file`: TLS, mutual TLS and basic auth for every endpoint, in the Prometheus
exporter-toolkit format, for the exporter and the relay alike.

    tls_server_config:
      cert_file: server.crt            # relative paths are relative to this file
      key_file: server.key
      client_ca_file: ca.crt           # mutual TLS: clients need a certificate signed by this CA
      client_auth_type: RequireAndVerifyClientCert
      min_version: TLS12               # TLS10 TLS11 TLS12 (default) TLS13
    basic_auth_users:                  # user: bcrypt hash
      prometheus: $2b$12$...
    # Not in exporter-toolkit: paths answered without basic auth (for probes that cannot send it).
    unauthenticated_paths: [/-/healthy]

The file is read and checked at start (an error exits 1) and again on every reload (SIGHUP,
POST /-/reload): an invalid file is rejected and the running settings stay.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from exporter.common.files import MAX_CERT_BYTES, read_bytes
from exporter.common.yamlconfig import ConfigError, read_text, validate

CLIENT_AUTH_TYPES = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# exporter-toolkit accepts these; Python's ssl cannot ask for a certificate without verifying it.
UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# exporter-toolkit keys this implementation does not have: named in the error, not "unknown key"
UNSUPPORTED_KEYS = {
    "http_server_config": "HTTP/2 and header settings are not supported by nanobanana-exporter",
    "cipher_suites": "nanobanana-exporter uses OpenSSL's default cipher suites",
    "curve_preferences": "nanobanana-exporter uses OpenSSL's default curves",
    "prefer_server_cipher_suites": "nanobanana-exporter uses OpenSSL's default",
    "client_allowed_sans": "not supported by nanobanana-exporter; use a dedicated client CA",
    "cert": "inline certificates are not supported; use cert_file",
    "key": "inline keys are not supported; use key_file",
}
OPENABLE_PATHS = ("/-/healthy", "/-/ready")
REALM = "nanobanana-exporter"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSModel(_Strict):
    cert_file: str = Field(min_length=1)
    key_file: str = Field(min_length=1)
    client_ca_file: str | None = None
    client_auth_type: Literal[tuple(CLIENT_AUTH_TYPES) + UNSUPPORTED_CLIENT_AUTH] | None = None  # type: ignore[valid-type]
    min_version: Literal[tuple(TLS_VERSIONS)] = "TLS12"  # type: ignore[valid-type]
    max_version: Literal[tuple(TLS_VERSIONS)] = "TLS13"  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _client_auth(self) -> "TLSModel":
        if self.client_auth_type in UNSUPPORTED_CLIENT_AUTH:
            raise ValueError(f"client_auth_type {self.client_auth_type} is not supported (Python's TLS cannot request a "
                             "certificate without verifying it); use VerifyClientCertIfGiven or RequireAndVerifyClientCert")
        if self.client_auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") and not self.client_ca_file:
            raise ValueError(f"client_auth_type {self.client_auth_type} needs client_ca_file")
        if list(TLS_VERSIONS).index(self.min_version) > list(TLS_VERSIONS).index(self.max_version):
            raise ValueError("min_version is above max_version")
        return self


class WebConfigModel(_Strict):
    tls_server_config: TLSModel | None = None
    basic_auth_users: dict[str, str] = Field(default_factory=dict)
    unauthenticated_paths: list[Literal[OPENABLE_PATHS]] = Field(default_factory=list)  # type: ignore[valid-type]

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, users: dict[str, str]) -> dict[str, str]:
        for user, hashed in users.items():
            if ":" in user or not user:
                raise ValueError(f"user name {user!r}: must be non-empty and without ':'")
            if not (hashed.startswith(("$2a$", "$2b$", "$2y$")) and len(hashed) == 60):
                raise ValueError(f"user {user!r}: not a bcrypt hash (expected $2b$<cost>$..., 60 characters)")
        return users


@dataclass(frozen=True)
class WebConfig:
    source: str = "<none>"
    tls: TLSModel | None = None
    users: dict[str, bytes] = field(default_factory=dict, repr=False)
    open_paths: frozenset[str] = frozenset()
    # everything TLS depends on, file contents included: a reload re-opens the listener when it changes
    tls_fingerprint: str = ""
    base_dir: Path = Path(".")

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        t = self.tls
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = TLS_VERSIONS[t.min_version]
        context.maximum_version = TLS_VERSIONS[t.max_version]
        where = f"{self.source}: tls_server_config"
        try:
            context.load_cert_chain(self._path(t.cert_file), self._path(t.key_file))
        except (ssl.SSLError, OSError) as err:
            raise ConfigError(f"{where}.cert_file/key_file: cannot use the certificate and key "
                              f"(not PEM, or the key does not match): {err}") from None
        auth = t.client_auth_type or ("RequireAndVerifyClientCert" if t.client_ca_file else "NoClientCert")
        if t.client_ca_file:
            try:
                context.load_verify_locations(cafile=str(self._path(t.client_ca_file)))
            except (ssl.SSLError, OSError) as err:
                raise ConfigError(f"{where}.client_ca_file: cannot use {t.client_ca_file}: {err}") from None
        context.verify_mode = CLIENT_AUTH_TYPES[auth]
        return context

    def _path(self, name: str) -> Path:
        return self.base_dir / name


def load_file(path: str | Path) -> WebConfig:
    """Read, validate and try out a web config file: certificates are loaded, so an error shows now."""
    return load_text(read_text(path), str(path), Path(path).parent)


def load_text(text: str, source: str = "<web config>", base_dir: Path = Path(".")) -> WebConfig:
    model, _ = validate(text, source, WebConfigModel, "a mapping (tls_server_config, basic_auth_users)",
                        empty_ok=True, precheck=lambda raw: _reject_unsupported(raw, source))
    fingerprint = ""
    if model.tls_server_config is not None:
        t = model.tls_server_config
        digest = hashlib.sha256(t.model_dump_json().encode())
        for key in ("cert_file", "key_file", "client_ca_file"):
            name = getattr(t, key)
            if name is None:
                continue
            try:
                digest.update(read_bytes(base_dir / name, MAX_CERT_BYTES))
            except OSError as err:
                raise ConfigError(f"{source}: tls_server_config.{key}: cannot read {name}: {err.strerror or err}") from None
        fingerprint = digest.hexdigest()
    config = WebConfig(source=source, tls=model.tls_server_config,
                       users={u: h.encode() for u, h in model.basic_auth_users.items()},
                       open_paths=frozenset(model.unauthenticated_paths), tls_fingerprint=fingerprint, base_dir=base_dir)
    config.ssl_context()  # fail now, with the key named, rather than when the listener opens
    return config


def _reject_unsupported(raw: dict, source: str) -> None:
    tls = raw.get("tls_server_config")
    keys = [k for k in raw if k == "http_server_config"]
    keys += [f"tls_server_config.{k}" for k in (tls if isinstance(tls, dict) else {}) if k in UNSUPPORTED_KEYS]
    for key in keys:
        raise ConfigError(f"{source}: {key}: {UNSUPPORTED_KEYS[key.rpartition('.')[2]]}")


class AuthBusy(Exception):
    """More bcrypt checks are waiting than BasicAuth.MAX_PENDING: the request gets 503 unchecked."""


class BasicAuth:
    """Checks `Authorization: Basic` against bcrypt hashes. bcrypt is slow on purpose (tens of
    milliseconds), so results are cached by a hash of user, password and stored hash: a scraper that
    sends the same credentials every 15 s pays once.

    Against a flood of wrong passwords: checks run on a thread of their own (WORKERS), never in the
    default executor that renders /metrics; at most MAX_PENDING wait, beyond that a request is
    refused with 503 unchecked; and credentials that passed live in a cache of their own, which
    failed attempts, however many and however random, cannot evict."""

    WORKERS = 1
    MAX_PENDING = 8

    def __init__(self, size: int = 256):
        self.size = size
        self._accepted: OrderedDict[bytes, None] = OrderedDict()
        self._refused: OrderedDict[bytes, None] = OrderedDict()
        self._executor = ThreadPoolExecutor(max_workers=self.WORKERS, thread_name_prefix="bcrypt")
        self._pending = 0
        self.bcrypt_calls = 0  # for tests: how often the slow path ran

    async def check(self, config: WebConfig, header: str) -> bool:
        """True for valid credentials; AuthBusy when too many checks are already waiting."""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not config.users:
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 (UnicodeDecodeError)
            return False
        if not sep:
            return False
        # an unknown user costs a bcrypt check too, so timing does not tell which users exist
        hashed = config.users.get(user) or next(iter(config.users.values()))
        key = hashlib.sha256(b"\0".join([user.encode(), password.encode(), hashed])).digest()
        for cache, answer in ((self._accepted, True), (self._refused, False)):
            if key in cache:
                cache.move_to_end(key)
                return answer
        if self._pending >= self.MAX_PENDING:
            raise AuthBusy()
        self._pending += 1
        try:
            self.bcrypt_calls += 1
            ok = await asyncio.get_running_loop().run_in_executor(self._executor, _checkpw, password.encode(), hashed)
        finally:
            self._pending -= 1
        ok = ok and user in config.users
        cache = self._accepted if ok else self._refused
        cache[key] = None
        if len(cache) > self.size:
            cache.popitem(last=False)
        return ok

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _checkpw(password: bytes, hashed: bytes) -> bool:
    """bcrypt's check; a password it refuses (over 72 bytes for bcrypt 5) is simply wrong, not a 500."""
    import bcrypt  # here: a config without basic auth never loads it (0.4 MiB)

    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:
        return False
