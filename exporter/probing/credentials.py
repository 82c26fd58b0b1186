"""Credentials per target, asked for at request time: the dialects get a string and do no I/O.

A target has either a static key (`api_key_env` / `api_key_file`, read when the config loads, so a
reload re-reads the file) or Google credentials (`api: vertex`): a credentials file
(`credentials_file`: a service-account key, or any file google-auth loads) or Application Default
Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's user credentials, workload identity, the
metadata server on GKE / Cloud Run / GCE). Google credentials go through the real google-auth
library, whose token requests run over httpx here (`HttpxRequest`), in a thread: google-auth's
transport interface is synchronous.

An access token is refreshed when less than a quarter of its lifetime (at most REFRESH_MARGIN) is
left, so a probe never starts with a token that expires in flight. Every token is handed to `learn`
(the redactor) the moment it is issued, before anything could print it. A failed refresh is
`auth_error` with a message that says the credentials, not the model, failed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from exporter.common import bodies, tls
from exporter.probing.dialects.base import ProbeFailure
from exporter.contract.outcomes import Outcome
from exporter.domain.targets import GoogleAuth, Target


# https://cloud.google.com/vertex-ai/docs/authentication: Vertex takes the cloud-platform scope
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
REFRESH_MARGIN = 300.0  # seconds before expiry, for a token of an hour (google-auth's own is 225 s)
TOKEN_TIMEOUT = 10.0  # one token request (or metadata server call), from sending it to its last byte
# A token answer is a few hundred bytes; a 500 MB one took the process to 4 GB (issue 32).
MAX_TOKEN_ANSWER_BYTES = 64 * 1024
# Refreshes block in google-auth's synchronous transport: they run here, never in the default
# executor the scrapes and the loop's own work use, and at most one per credentials at a time.
REFRESHES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="credentials")


class HttpxRequest:
    """google-auth's transport interface (google.auth.transport.Request) over a sync httpx client."""

    def __init__(self, timeout: float = TOKEN_TIMEOUT):
        self._client = httpx.Client(verify=tls.client_context(), timeout=timeout, follow_redirects=False)

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: float | None = None, **kwargs: Any) -> Any:
        from google.auth import exceptions, transport

        # httpx's timeout bounds each read: a whole-request deadline stops an answer that trickles
        limit = min(timeout, TOKEN_TIMEOUT) if timeout is not None else TOKEN_TIMEOUT
        deadline = time.monotonic() + limit
        try:
            with self._client.stream(method, url, content=body, headers=headers, timeout=limit) as response:
                received = bodies.read_by(response, MAX_TOKEN_ANSWER_BYTES, deadline)
        except bodies.TooLarge:
            raise exceptions.TransportError(f"the answer is larger than {MAX_TOKEN_ANSWER_BYTES} bytes") from None
        except (TimeoutError, httpx.TimeoutException):
            raise exceptions.TransportError(f"no complete answer within {limit:g}s") from None
        except httpx.HTTPError as err:
            raise exceptions.TransportError(f"{type(err).__name__}: {err}") from None

        class Response(transport.Response):
            status = response.status_code
            headers = dict(response.headers)
            data = bytes(received)

        return Response()

    def close(self) -> None:
        self._client.close()


class GoogleToken:
    """One set of Google credentials and its current access token."""

    def __init__(self, auth: GoogleAuth, learn: Callable[[str], None]):
        self.auth = auth
        self.learn = learn
        self.refreshes = 0  # tokens issued, for tests and the README's figures
        self._credentials: Any = None
        self._lifetime = 3600.0
        self._lock = asyncio.Lock()  # one refresh at a time per event loop ...
        self._thread_lock = threading.Lock()  # ... and per credentials, across event loops
        self._refreshing: Future | None = None  # a refresh still running after its caller gave up is awaited again

    async def token(self) -> str:
        async with self._lock:
            if not self._fresh():
                if self._refreshing is None or self._refreshing.done():
                    self._refreshing = REFRESHES.submit(self._refresh)
                waiting = asyncio.wrap_future(self._refreshing)
                waiting.add_done_callback(_seen)  # its error is the caller's, or nobody's once it gave up
                try:  # shielded: a probe's deadline abandons the wait, not the refresh
                    await asyncio.shield(waiting)
                except Exception as err:  # google.auth.exceptions.* and anything its transport raised
                    raise ProbeFailure(
                        Outcome.AUTH_ERROR,
                        f"Google credentials failed, not the model: {self.auth.shown} could not get an access token: "
                        f"{type(err).__name__}: {err}") from None
            return self._credentials.token

    def _fresh(self) -> bool:
        credentials = self._credentials
        if credentials is None or not credentials.token:
            return False
        if credentials.expiry is None:
            return True  # a token without an expiry (rare: some external accounts) is used until refused
        left = (credentials.expiry - _utcnow()).total_seconds()
        return left > min(REFRESH_MARGIN, self._lifetime / 4)

    def _refresh(self) -> None:
        import google.auth

        with self._thread_lock:
            request = HttpxRequest()
            try:
                if self._credentials is None:
                    if self.auth.file:
                        credentials = _from_file(self.auth.file)
                    else:
                        credentials, _ = google.auth.default(scopes=list(SCOPES), request=request)
                    self._credentials = credentials
                issued = _utcnow()
                self._credentials.refresh(request)
            finally:
                request.close()
            token = self._credentials.token
            if not token:
                raise ValueError("the token endpoint answered without an access token")
            self.learn(token)  # before the token is used or could be printed anywhere
            self.refreshes += 1
            if self._credentials.expiry is not None:
                self._lifetime = max(1.0, (self._credentials.expiry - issued).total_seconds())


def _seen(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def _from_file(path: str) -> Any:
    # by type, not google.auth.load_credentials_from_file: that loads any kind, which google-auth
    # now warns against for files it did not vet (external accounts run commands and fetch URLs)
    from google.oauth2 import credentials, service_account

    info = json.loads(Path(path).read_text(encoding="utf-8"))
    if info.get("type") == "service_account":
        return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    return credentials.Credentials.from_authorized_user_info(info, scopes=list(SCOPES))


def _utcnow() -> dt.datetime:
    # google-auth keeps `expiry` as a naive UTC datetime
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def describe(target: Target, environ: Any = None) -> str | None:
    """What --config.check says about a target's Google credentials (read locally: no token is
    asked for, the metadata server is not called), or None for a target with a key."""
    if target.google is None:
        return None
    where = f"{target.name}: Vertex AI project {target.project}, location {target.location} ({target.base_url}), "
    if target.google.file:
        info = json.loads(Path(target.google.file).read_text(encoding="utf-8"))
        who = info.get("client_email") or "gcloud user credentials"
        return where + f"{info.get('type')} {who} from {target.google.file}"
    environ = os.environ if environ is None else environ
    adc = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    gcloud = Path(environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud") / "application_default_credentials.json"
    found = (f"GOOGLE_APPLICATION_CREDENTIALS={adc}" if adc else f"gcloud's {gcloud}" if gcloud.is_file()
             else "the metadata server (GKE workload identity, Cloud Run, GCE), as no file is set")
    return where + f"Application Default Credentials: {found}"


class Credentials:
    """The credentials of every target a prober or checker runs, kept across reloads by what they are
    (the same credentials file keeps its token)."""

    def __init__(self, learn: Callable[[str], None] | None = None):
        self.learn = learn or (lambda token: None)
        self._google: dict[GoogleAuth, GoogleToken] = {}

    def google(self, auth: GoogleAuth) -> GoogleToken:
        if auth not in self._google:
            self._google[auth] = GoogleToken(auth, self.learn)
        return self._google[auth]

    def headers(self, target: Target) -> dict[str, str]:
        """Headers the credentials add beside the token, as google-auth's own `apply()` does: the
        quota project of user credentials (gcloud's ADC file names one; Vertex refuses user
        credentials without it)."""
        token = self._google.get(target.google) if target.google else None
        project = getattr(token._credentials, "quota_project_id", None) if token else None
        return {"x-goog-user-project": project} if project else {}

    async def secret(self, target: Target) -> str | None:
        """What the target's dialect sends: its static key, or a fresh Google access token."""
        if target.google is None:
            return target.api_key
        return await self.google(target.google).token()
