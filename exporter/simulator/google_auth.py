"""Google's OAuth2 side, simulated: the token endpoint google-auth's service-account flow talks to,
and the access tokens Vertex AI then accepts.

A service-account key file names `token_uri`; google-auth posts there a JWT it signed with the key
(grant type `urn:ietf:params:oauth:grant-type:jwt-bearer`, RFC 7523; claims iss, scope, aud, iat,
exp: https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests).
The simulator verifies the RS256 signature against the public key registered for the account
(`service_accounts` in /_sim/config: client_email -> public key PEM), the audience and the times,
and issues a bearer token valid for `token_lifetime` seconds (3600 upstream; short in tests so expiry
and refresh happen). Errors have the endpoint's own shape, `{"error": "invalid_grant",
"error_description": ...}`, which google-auth raises as RefreshError.

It also plays the metadata server of GKE / Cloud Run / GCE, which ADC falls back to (google-auth
finds it at GCE_METADATA_HOST and pings GCE_METADATA_IP): the ping at `/`, the default account's
info and its token under /computeMetadata/v1/, each only with the `Metadata-Flavor: Google` header
(https://cloud.google.com/compute/docs/metadata/querying-metadata). `metadata_account` names the
account the instance runs as.

Tokens look like `ya29.FAKE-sim-<hex>`: recognisable, so the tests' secrets check finds any leak.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TOKEN_PREFIX = "ya29.FAKE-sim-"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/token"
# google-auth signs for Google's endpoint as the audience whatever token_uri the key file names
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
MAX_TOKENS = 10_000


class TokenIssuer:
    def __init__(self) -> None:
        self.accounts: dict[str, rsa.RSAPublicKey] = {}
        self.lifetime = 3600.0
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (account, monotonic expiry)
        self.issued = 0
        self.metadata_account = "nanobanana-prober@nb-probe-test.iam.gserviceaccount.com"

    def configure(self, accounts: dict[str, str] | None, lifetime: float | None, metadata_account: str | None) -> None:
        if metadata_account is not None:
            self.metadata_account = str(metadata_account)
        if accounts is not None:
            if not isinstance(accounts, dict):
                raise ValueError("service_accounts must map client_email to a public key PEM")
            keys = {}
            for email, pem in accounts.items():
                key = serialization.load_pem_public_key(str(pem).encode())
                if not isinstance(key, rsa.RSAPublicKey):
                    raise ValueError(f"service_accounts[{email}]: not an RSA public key")
                keys[str(email)] = key
            self.accounts = keys
        if lifetime is not None:
            if float(lifetime) <= 0:
                raise ValueError("token_lifetime must be positive")
            self.lifetime = float(lifetime)

    def account_of(self, token: str | None) -> str | None:
        """The account a valid, unexpired token was issued to, or None."""
        entry = self.tokens.get(token or "")
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def grant(self, form: dict[str, str], token_url: str) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != JWT_BEARER:
            return 400, _error("unsupported_grant_type", "Invalid grant_type: " + str(form.get("grant_type")))
        try:
            header, claims, signed, signature = _parse_jwt(form.get("assertion", ""))
        except ValueError as err:
            return 400, _error("invalid_request", f"Invalid JWT: {err}")
        account = str(claims.get("iss") or "")
        key = self.accounts.get(account)
        if key is None:
            return 400, _error("invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256":
            return 400, _error("invalid_grant", "Invalid JWT: algorithm must be RS256")
        try:
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return 400, _error("invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        if claims.get("aud") not in (GOOGLE_TOKEN_URL, token_url):
            return 400, _error("invalid_grant", f"Invalid JWT: audience must be {GOOGLE_TOKEN_URL}")
        if not (isinstance(claims.get("exp"), int) and isinstance(claims.get("iat"), int)
                and claims["iat"] - 300 <= now < claims["exp"] and claims["exp"] - claims["iat"] <= 3600):
            return 400, _error("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) "
                                                "and in a reasonable timeframe.")
        if not claims.get("scope"):
            return 400, _error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        return 200, self.issue(account)

    def issue(self, account: str) -> dict[str, Any]:
        now = time.monotonic()
        if len(self.tokens) >= MAX_TOKENS:
            self.tokens = {t: e for t, e in self.tokens.items() if e[1] > now}
        token = TOKEN_PREFIX + secrets.token_hex(24)
        self.tokens[token] = (account, now + self.lifetime)
        self.issued += 1
        # expires_in is whole seconds upstream; a lifetime below one second is still one
        return {"access_token": token, "expires_in": max(1, round(self.lifetime)), "token_type": "Bearer"}


def _error(code: str, description: str) -> dict[str, str]:
    return {"error": code, "error_description": description}


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _parse_jwt(assertion: str) -> tuple[dict, dict, bytes, bytes]:
    parts = assertion.split(".")
    if len(parts) != 3:
        raise ValueError("not three dot-separated parts")
    try:
        header, claims = json.loads(_b64url(parts[0])), json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"undecodable: {err}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header and claims must be objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def add_routes(app: web.Application, simulator: Any, index: Any = None) -> None:
    """index: what `GET /` answers a person (no Metadata-Flavor header): google-auth's ping sends it."""
    issuer: TokenIssuer = simulator.tokens

    async def token(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        simulator.requests.append({"path": request.path, "api": "oauth2", "grant_type": form.get("grant_type")})
        if simulator.fault_active("revoked_account"):
            # a disabled or deleted service account: Google's endpoint refuses the grant
            return web.json_response(_error("invalid_grant", "Invalid grant: account not found"), status=400)
        status, payload = issuer.grant(form, f"{request.scheme}://{request.host}{TOKEN_PATH}")
        return web.json_response(payload, status=status)

    def flavored(handler, plain=None):
        async def handle(request: web.Request) -> web.StreamResponse:
            if plain is not None and "Metadata-Flavor" not in request.headers:
                return await plain(request)
            simulator.requests.append({"path": request.path, "api": "metadata"})
            if request.headers.get("Metadata-Flavor") != "Google":
                return web.Response(status=403, text="Missing required header: Metadata-Flavor")
            response = await handler(request)
            response.headers["Metadata-Flavor"] = "Google"
            return response
        return handle

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="computeMetadata/\n")

    async def project_id(request: web.Request) -> web.Response:
        return web.Response(text=issuer.metadata_account.split("@")[1].split(".")[0])

    async def account_info(request: web.Request) -> web.Response:
        if request.match_info["account"] not in ("default", issuer.metadata_account):
            return web.Response(status=404, text="not found")
        return web.json_response({"email": issuer.metadata_account, "aliases": ["default"],
                                  "scopes": ["https://www.googleapis.com/auth/cloud-platform"]})

    async def account_token(request: web.Request) -> web.Response:
        if simulator.fault_active("revoked_account"):
            return web.Response(status=403, text="The service account is disabled")  # UNVERIFIED wording
        if request.match_info["account"] not in ("default", issuer.metadata_account):
            return web.Response(status=404, text="not found")
        return web.json_response(issuer.issue(issuer.metadata_account))

    async def universe(request: web.Request) -> web.Response:
        return web.Response(text="googleapis.com")

    root = "/computeMetadata/v1/"
    app.router.add_get("/", flavored(ping, index))
    app.router.add_get(root + "project/project-id", flavored(project_id))
    app.router.add_get(root + "instance/service-accounts/{account}/", flavored(account_info))
    app.router.add_get(root + "instance/service-accounts/{account}/token", flavored(account_token))
    app.router.add_get(root + "universe/universe-domain", flavored(universe))
    app.router.add_post(TOKEN_PATH, token)
