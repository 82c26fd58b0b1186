"""--web.config.file on real processes: TLS, mutual TLS and basic auth for the exporter and the
relay, with certificates made at test time (trustme); file errors named at start and on reload."""

from __future__ import annotations

import base64
import ssl
import subprocess
import sys
import time
from pathlib import Path

import bcrypt
import httpx
import pytest
import trustme

from conftest import ROOT, exporter_env, running_exporter, running_process
from tests.captured import CAPTURED
from exporter.loading.config import ConfigError
from exporter.common.webconfig import BasicAuth, load_text
from tests.relay_support import CONFIG, environ, payload
from tests.stack import FakeWebhook

PASSWORD = "correct horse battery staple"
CAPTURED.secret(PASSWORD)
ROUNDS = 10  # bcrypt's usual cost: slow enough that an uncached check per scrape would show


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1, a client certificate from that CA and one from another CA."""
    d = tmp_path_factory.mktemp("pki")
    ca, stranger = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.private_key_pem.write_to_path(str(d / "server.key"))
    server.cert_chain_pems[0].write_to_path(str(d / "server.pem"))
    for name, issuer in (("client", ca), ("stranger", stranger)):
        leaf = issuer.issue_cert("prometheus.example.test")
        leaf.private_key_and_cert_chain_pem.write_to_path(str(d / f"{name}.pem"))
    (d / "hash").write_text(bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(ROUNDS)).decode())
    return {p.stem if p.suffix != ".key" else "server_key": p for p in d.iterdir()}


def client_tls(pki, cert: str | None = "client") -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if cert:
        context.load_cert_chain(str(pki[cert]))
    return context


def web_yml(pki, tls: bool = True, mtls: bool = False, users: bool = True, open_health: bool = False) -> str:
    lines = []
    if tls:
        lines += ["tls_server_config:", f"  cert_file: {pki['server']}", f"  key_file: {pki['server_key']}"]
        if mtls:
            lines += [f"  client_ca_file: {pki['ca']}", "  client_auth_type: RequireAndVerifyClientCert"]
    if users:
        lines += ["basic_auth_users:", f"  prometheus: {pki['hash'].read_text()}"]
    if open_health:
        lines += ["unauthenticated_paths: [/-/healthy]"]
    return "\n".join(lines) + "\n"


AUTH = ("prometheus", PASSWORD)


def test_exporter_mtls_and_basic_auth(pki, tmp_path):
    web = tmp_path / "web.yml"
    web.write_text(web_yml(pki, mtls=True, open_health=True))
    good = client_tls(pki)
    with running_exporter("--demo", "--web.config.file", str(web), scheme="https", verify=good, auth=AUTH) as (base, _):
        assert httpx.get(f"{base}/metrics", verify=good, auth=AUTH).status_code == 200
        # basic auth
        for auth in (None, ("prometheus", "wrong"), ("nobody", PASSWORD)):
            response = httpx.get(f"{base}/metrics", verify=good, auth=auth)
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"].startswith('Basic realm="nanobanana-exporter"')
        assert httpx.get(f"{base}/-/reload", verify=good).status_code == 401  # before any route
        assert httpx.get(f"{base}/-/healthy", verify=good).status_code == 200  # open: unauthenticated_paths
        assert httpx.get(f"{base}/-/ready", verify=good).status_code == 401  # not listed: guarded
        # mutual TLS: no client certificate, or one from another CA, never gets an answer
        for context in (client_tls(pki, None), client_tls(pki, "stranger")):
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{base}/-/healthy", verify=context, auth=AUTH)
        with pytest.raises(httpx.TransportError):
            httpx.get(base.replace("https:", "http:") + "/-/healthy")


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_bcrypt_checks_are_cached_so_scrapes_stay_fast(pki, tmp_path):
    hashed = pki["hash"].read_bytes()
    started = time.perf_counter()
    bcrypt.checkpw(PASSWORD.encode(), hashed)
    one_check = time.perf_counter() - started
    web = tmp_path / "web.yml"
    web.write_text(web_yml(pki, tls=False))
    with running_exporter("--demo", "--web.config.file", str(web), auth=AUTH) as (base, _):
        with httpx.Client(auth=AUTH) as client:
            started = time.perf_counter()
            for _ in range(20):
                assert client.get(f"{base}/-/ready").status_code == 200
            elapsed = time.perf_counter() - started
    assert elapsed < 20 * one_check / 3, f"20 requests took {elapsed:.2f}s, one bcrypt check {one_check:.2f}s"


async def test_basic_auth_cache_counts_bcrypt_calls(pki):
    config = load_text(web_yml(pki, tls=False))
    auth = BasicAuth()
    header = "Basic " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()
    assert all([await auth.check(config, header) for _ in range(5)])
    wrong = "Basic " + base64.b64encode(b"prometheus:nope").decode()
    assert not any([await auth.check(config, wrong) for _ in range(5)])
    assert auth.bcrypt_calls == 2
    for header in ("Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), ""):
        assert not await auth.check(config, header)


def test_reload_turns_tls_on_and_refuses_a_bad_web_config(pki, tmp_path):
    web = tmp_path / "web.yml"
    web.write_text(web_yml(pki, tls=False))
    with running_exporter("--demo", "--web.config.file", str(web), auth=AUTH) as (base, proc):
        assert httpx.post(f"{base}/-/reload").status_code == 401  # reload is guarded like everything else
        web.write_text(web_yml(pki))
        response = httpx.post(f"{base}/-/reload", auth=AUTH)
        assert response.status_code == 200 and "TLS TLS12+" in response.text, response.text
        https = base.replace("http:", "https:")
        context = client_tls(pki, None)
        assert httpx.get(f"{https}/metrics", verify=context, auth=AUTH).status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/metrics", auth=AUTH)
        web.write_text(web_yml(pki) + "tls_server_config_typo: {}\n")
        response = httpx.post(f"{https}/-/reload", verify=context, auth=AUTH)
        assert response.status_code == 500 and f"{web}:6: tls_server_config_typo: unknown key" in response.text
        assert httpx.get(f"{https}/metrics", verify=context, auth=AUTH).status_code == 200
        assert 'nanobanana_exporter_config_last_reload_successful 0.0' in httpx.get(
            f"{https}/metrics", verify=context, auth=AUTH).text


def test_relay_tls_and_basic_auth(pki, tmp_path):
    web = tmp_path / "web.yml"
    web.write_text(web_yml(pki))
    no_token = CONFIG.replace("DEADLINE", "3s").replace("token_env: RELAY_TOKEN\n", "")
    config = tmp_path / "relay.yml"
    config.write_text(no_token)
    context = client_tls(pki, None)
    with FakeWebhook() as fake:
        env = exporter_env(**environ(fake.url()))
        with running_process(["relay", "--config.file", str(config), "--web.config.file", str(web)], env=env,
                             scheme="https", verify=context, auth=AUTH) as (base, _):
            # Alertmanager's http_config: {basic_auth: ..., tls_config: {ca_file: ...}}
            response = httpx.post(f"{base}/alerts/fs", json=payload(), verify=context, auth=AUTH, timeout=10)
            assert response.status_code == 200, response.text
            assert httpx.post(f"{base}/alerts/fs", json=payload(), verify=context).status_code == 401
            assert httpx.get(f"{base}/metrics", verify=context).status_code == 401
            metrics = httpx.get(f"{base}/metrics", verify=context, auth=AUTH).text
            assert 'nanobanana_relay_notifications_total{channel="fs",outcome="delivered"} 1.0' in metrics
            assert "nanobanana_relay_config_last_reload_successful 1.0" in metrics


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env or exporter_env(), timeout=60)


def test_relay_refuses_a_bearer_token_beside_basic_auth(pki, tmp_path):
    web = tmp_path / "web.yml"
    web.write_text(web_yml(pki, tls=False))
    config = tmp_path / "relay.yml"
    config.write_text(CONFIG.replace("DEADLINE", "3s"))
    result = run("relay", "--config.file", str(config), "--web.config.file", str(web),
                 env=exporter_env(**environ("http://127.0.0.1:1")))
    assert result.returncode == 1
    assert "token_env/token_file" in result.stderr and "use one of them" in result.stderr


def test_bad_web_config_stops_the_start_with_exit_1(pki, tmp_path):
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {tmp_path}/missing.pem\n  key_file: {pki['server_key']}\n")
    result = run("--demo", "--web.listen-address", "127.0.0.1:0", "--web.config.file", str(web))
    assert result.returncode == 1
    assert f"tls_server_config.cert_file: cannot read {tmp_path}/missing.pem: No such file or directory" in result.stderr
    web.write_text(web_yml(pki, mtls=True, open_health=True))
    check = run("--demo", "--config.check", "--web.config.file", str(web))
    assert check.returncode == 0, check.stderr
    assert f"{web}: web config is valid (TLS TLS12+, client certificates, 1 basic auth user, open without auth: /-/healthy)" in check.stdout


@pytest.mark.parametrize("text, error", [
    ("basic_auth_users: {prometheus: plain-password}\n",
     "<w>:1: basic_auth_users: user 'prometheus': not a bcrypt hash (expected $2b$<cost>$..., 60 characters)"),
    ("tls_server_config: {cert_file: c, key_file: k, min_version: TLS14}\n",
     "<w>:1: tls_server_config.min_version: Input should be 'TLS10', 'TLS11', 'TLS12' or 'TLS13' (got 'TLS14')"),
    ("tls_server_config: {cert_file: c}\n", "<w>:1: tls_server_config.key_file: missing required key"),
    ("tls_server_config: {cert_file: c, key_file: k, client_auth_type: RequireAndVerifyClientCert}\n",
     "<w>:1: tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file"),
    ("tls_server_config: {cert_file: c, key_file: k, client_auth_type: RequireAnyClientCert}\n",
     "<w>:1: tls_server_config: client_auth_type RequireAnyClientCert is not supported"),
    ("tls_server_config: {cert_file: c, key_file: k, cipher_suites: [TLS_AES_128_GCM_SHA256]}\n",
     "<w>: tls_server_config.cipher_suites: nanobanana-exporter uses OpenSSL's default cipher suites"),
    ("http_server_config: {http2: false}\n", "<w>: http_server_config: HTTP/2 and header settings are not supported"),
    ("unauthenticated_paths: [/metrics]\n", "<w>:1: unauthenticated_paths[0]: Input should be '/-/healthy' or '/-/ready'"),
    ("basic_auth: {}\n", "<w>:1: basic_auth: unknown key"),
    ("- a\n", "<w>: the config must be a mapping (tls_server_config"),
])
def test_web_config_errors_name_the_key(text, error):
    with pytest.raises(ConfigError) as caught:
        load_text(text, "<w>")
    assert str(caught.value).startswith(error), str(caught.value)


def test_mismatched_key_is_named(pki):
    other = trustme.CA().issue_cert("127.0.0.1")
    key = pki["server"].parent / "other.key"
    other.private_key_pem.write_to_path(str(key))
    with pytest.raises(ConfigError, match=r"tls_server_config.cert_file/key_file: cannot use the certificate and key"):
        load_text(f"tls_server_config: {{cert_file: {pki['server']}, key_file: {key}}}\n", "<w>")


def test_empty_file_means_plain_http_without_auth():
    config = load_text("", "<w>")
    assert config.tls is None and not config.users and config.ssl_context() is None


async def test_a_non_ascii_basic_auth_header_is_refused_not_an_error():
    """base64 of a non-ASCII str raised ValueError: a 500 instead of a 401 (issue 18, case 7)."""
    import base64 as b64

    import bcrypt

    from exporter.common.webconfig import BasicAuth, load_text

    config = load_text(f"basic_auth_users: {{prometheus: '{bcrypt.hashpw(b'pw', bcrypt.gensalt(4)).decode()}'}}")
    auth = BasicAuth()
    for header in ("Basic ñ", "Basic \udcff\udcfe", "Basic " + b64.b64encode(b"prometheus:\xff").decode()):
        assert await auth.check(config, header) is False
    assert await auth.check(config, "Basic " + b64.b64encode(b"prometheus:pw").decode()) is True


@pytest.mark.slow  # waits out the handshake timeout
def test_a_tls_connection_that_never_handshakes_is_closed(pki, tmp_path):
    """Issue 32: a client that connects and never sends its ClientHello held a file descriptor for
    asyncio's default 60 s; the listener gives it HANDSHAKE_TIMEOUT, as a plain one gives IDLE_TIMEOUT."""
    import socket

    from exporter.exposition.web import HANDSHAKE_TIMEOUT
    web = tmp_path / "web.yml"
    web.write_text(web_yml(pki, users=False))
    context = client_tls(pki, None)
    with running_exporter("--demo", "--web.config.file", str(web), scheme="https", verify=context) as (base, _):
        host, port = base.removeprefix("https://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=HANDSHAKE_TIMEOUT + 40) as silent:
            started = time.monotonic()
            assert silent.recv(1) == b"", "the server closes the connection"  # EOF, not a timeout
            waited = time.monotonic() - started
        assert waited < HANDSHAKE_TIMEOUT + 30, f"closed after {waited:.1f}s"  # far below the old 60 s
        assert httpx.get(f"{base}/-/healthy", verify=context).status_code == 200
