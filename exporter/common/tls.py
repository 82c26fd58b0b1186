"""The TLS settings every outgoing HTTP client of the exporter shares.

httpx builds a new SSLContext for each client and transport, and each one loads the whole CA bundle
(~0.6 MiB of parsed certificates, ~20 ms): the prober, both checkers, the status poller and the
token refresher share this one instead (with the lazy bcrypt import: 1-3 MiB less idle RSS, within
run-to-run noise). Built as httpx builds its default, so SSL_CERT_FILE and SSL_CERT_DIR still apply.
An SSLContext may serve many connections and threads at once.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
