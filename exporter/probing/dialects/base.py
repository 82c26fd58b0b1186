"""The shape every API dialect shares: build the request, read the answer.

A dialect turns a probe series into an HTTP request and turns the upstream's answer into an
`Answer` (an image, or the URL of one; token usage comes from `usage()`) or raises `ProbeFailure` with the outcome
that classifies it. Dialects never do I/O: the probe runs the request, times it and checks the image.

A dialect may also have a free liveness check (`exporter.background.liveness`): a metadata request that costs
nothing and proves reachability, key validity and that the model id still exists.
"""

from __future__ import annotations

import binascii
import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from exporter.common.blobs import Base64Blob
from exporter.contract.outcomes import Outcome
from exporter.domain.targets import Series, Target

log = logging.getLogger(__name__)


class ProbeFailure(Exception):
    """An attempt that ended in a classified outcome other than success."""

    def __init__(self, outcome: Outcome | str, message: str):  # a str: a check's own outcome (no_text)
        super().__init__(message)
        self.outcome = outcome
        self.message = message


@dataclass
class Request:
    url: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    method: str = "POST"


@dataclass
class Answer:
    image: bytes | None = None  # decoded image bytes
    image_url: str | None = None  # an https URL to download instead
    model: str = ""  # the model the answer says served it ("" when it does not say): the model check
    provider: str = ""  # who served it, where a router names it (OpenRouter's `provider`)


def served(payload: Any, key: str) -> str:
    """A string field of the answer that names what served it, "" when absent or not a short string
    (it becomes a label value: bounded, as the catalog's ids are)."""
    value = payload.get(key) if isinstance(payload, dict) else None
    return value.strip()[:100] if isinstance(value, str) else ""


@dataclass(frozen=True)
class Listing:
    """How the API's free model listing reads, for the catalog check (exporter/background/drift.py)."""

    # the call's name where it fetches one model's entry instead of a list: a 404 means the model is
    # gone, and nothing more is compared
    lookup: str = ""
    complete: bool = False  # it lists all the API serves: a target's model missing is gone, in the catalog or not
    prices: bool = False  # entries carry OpenRouter's text rates, `pricing.prompt` / `pricing.completion` (USD per token)
    parameters: bool = False  # entries carry `supported_parameters`, compared with what a chat request sends
    new_model_prefix: str = ""  # a new model's id starts so (a listing of every vendor's models)


def bearer(token: str | None) -> dict[str, str]:
    """The Authorization header of a key or an access token sent as a bearer token; none without one."""
    return {"Authorization": f"Bearer {token}"} if token else {}


class Dialect:
    """One API. Besides building and reading requests, its class declares every fact about the API
    the rest of the exporter needs, so that no other module names an API (tests/test_dialect_names.py):
    adding a dialect is its module and its entry in `DIALECTS`."""

    name: ClassVar[str]  # the value of `api:` in the config
    default_base_url: ClassVar[str | None] = None  # None: the config must give a base_url
    # OpenTelemetry GenAI attributes of its probes (exporter/exposition/otel.py): gen_ai.provider.name, the
    # conventions' well-known value where one fits (gcp.gemini, gcp.vertex_ai, openai are listed:
    # https://open-telemetry.github.io/opentelemetry-js/variables/_opentelemetry_semantic-conventions.incubating.GEN_AI_PROVIDER_NAME_VALUE_GCP_VERTEX_AI.html
    # and siblings, seen 2026-12-07; openrouter is a custom value), and gen_ai.operation.name
    otel_provider: ClassVar[str]
    otel_operation: ClassVar[str]
    # What the probes authenticate with: "key" (api_key_env / api_key_file, optional) or "google"
    # (Google credentials: credentials_file or Application Default Credentials, with project and
    # location; exporter/probing/credentials.py)
    credentials: ClassVar[str] = "key"
    # Sent through the openai SDK as the teams' applications call their gateways (exporter/probing/openai_sdk.py):
    # "images" (images.generate) or "chat" (chat.completions.create); None: plain HTTP
    openai_sdk_call: ClassVar[str | None] = None
    # Whether status.cloud.google.com's feed covers this API: an incident there re-probes its series
    # (exporter/background/scheduler.py)
    google_status: ClassVar[bool] = False
    # How its free model listing reads (listing_request), for the catalog check (exporter/background/drift.py)
    listing: ClassVar[Listing] = Listing()
    # How a thinking level other than `default` is sent, as the API documents it (docs/configuration.md
    # "How each dialect is called"); None: the API documents no thinking field, and config refuses levels.
    thinking_field: ClassVar[str | None] = None

    def base_url(self, location: str | None) -> str | None:
        """The base URL of a target that gives none (`location`: a Google Cloud location, if any)."""
        return self.default_base_url

    def build(self, series: Series, api_key: str | None, prompt: str) -> Request:
        raise NotImplementedError

    def parse(self, payload: Any) -> Answer:
        """Read a 2xx JSON payload."""
        raise NotImplementedError

    def usage(self, payload: Any) -> dict[str, int]:
        """Token usage (input, output, thinking) of a 2xx JSON payload, even one `parse` rejects:
        a blocked or text-only answer may still be billed."""
        return {}

    # Where a 2xx answer names the model that generated it (OpenTelemetry's gen_ai.response.model):
    # OpenAI-style answers in `model`, the Gemini API and Vertex AI in `modelVersion`.
    response_model_field: ClassVar[str] = "model"

    def response_model(self, payload: Any) -> str:
        value = payload.get(self.response_model_field) if isinstance(payload, dict) else None
        return value if isinstance(value, str) and 0 < len(value) <= 200 else ""

    # The free liveness check. A dialect without one returns None from liveness_request.
    liveness_names_model: ClassVar[bool] = False  # the request URL names the model: a 404 means it is gone

    def liveness_request(self, target: Target, api_key: str | None) -> Request | None:
        return None

    def model_listed(self, target: Target, payload: Any) -> bool:
        """Whether a 2xx liveness answer shows the target's model; ProbeFailure(bad_response) if unreadable."""
        raise NotImplementedError

    # The canary (exporter.background.canary): a text-only generation on the image model, priced by its tokens.
    # A dialect without one returns None from canary_request. The target's extra_body is not merged:
    # it is written for image requests.
    def canary_request(self, target: Target, api_key: str | None, prompt: str) -> Request | None:
        return None

    def canary_text(self, payload: Any) -> str:
        """The text of a 2xx canary answer, or ProbeFailure (no_text when there is none)."""
        raise NotImplementedError

    # The catalog check (exporter/background/drift.py): the free call that lists what the API serves (read as
    # `listing` says), or None where there is none; `listed` reads its 2xx answer as entries by model id.
    def listing_request(self, target: Target, secret: str | None) -> Request | None:
        return None

    def listed(self, payload: dict) -> dict[str, Any]:
        """The entries of an OpenAI-style listing (`data[].id`), by model id."""
        return {str(m.get("id", "")): m for m in payload.get("data") or [] if isinstance(m, dict)}

    # The key's credit (exporter/background/credit.py): a free request for what the API says is left on the key,
    # or None where the API publishes none.
    def credit_request(self, target: Target, api_key: str) -> Request | None:
        return None


# Finish and block reasons that mean a safety or policy filter stopped the image.
BLOCK_REASONS = frozenset(
    {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "CONTENT_FILTER", "content_filter",
    }
)
_POLICY_WORDS = ("content_policy", "content policy", "safety", "moderation", "content_filter")


def classify_error(status: int, payload: Any, shown: str | None = None) -> ProbeFailure:
    """A non-2xx answer, in any dialect's error format, as a classified failure (`shown`: how the
    status reads in the message, "HTTP 503" unless given)."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, str):
        error = {"message": error}
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message") or "").strip()  # cut by the caller after redaction: a cut key is not masked
    code = str(error.get("code") or error.get("type") or "")
    grpc_status = str(error.get("status") or "")
    reasons = {
        str(d.get("reason")) for d in _list(error.get("details")) if isinstance(d, dict) and d.get("reason")
    }
    text = (shown or f"HTTP {status}") + (f" {grpc_status}" if grpc_status else "") + (f": {message}" if message else "")
    if status == 429 or grpc_status == "RESOURCE_EXHAUSTED":
        return ProbeFailure(Outcome.RATE_LIMITED, text)
    if status == 403 and _moderated(error, f"{code} {message}"):
        # OpenRouter answers 403 when its moderation flagged the input: not a key problem
        # (https://openrouter.ai/docs/api-reference/errors: metadata.reasons, flagged_input)
        return ProbeFailure(Outcome.CONTENT_BLOCKED, text)
    # 402: OpenRouter's account is out of credits: like a rejected key, the account must be fixed
    if status in (401, 402, 403) or "API_KEY_INVALID" in reasons or grpc_status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return ProbeFailure(Outcome.AUTH_ERROR, text)
    if 400 <= status < 500 and any(w in f"{code} {message}".lower() for w in _POLICY_WORDS):
        return ProbeFailure(Outcome.CONTENT_BLOCKED, text)
    if status >= 500:
        return ProbeFailure(Outcome.SERVER_ERROR, text)
    return ProbeFailure(Outcome.CLIENT_ERROR, text)


def _moderated(error: dict, text: str) -> bool:
    metadata = error.get("metadata")
    # moderation: reasons and flagged_input; a guardrail block: patterns (a plain permission error has neither)
    if isinstance(metadata, dict) and any(k in metadata for k in ("reasons", "flagged_input", "patterns")):
        return True
    return any(w in text.lower() for w in _POLICY_WORDS)


def error_in_body(payload: Any) -> ProbeFailure | None:
    """A 2xx answer that carries an error instead of a result, classified by the error's own code.

    OpenRouter (and gateways that copy it) report errors that happen after the model started as
    HTTP 200 with `{"error": {"code": 429|502|..., "message": ..., "metadata": {...}}}`
    (https://openrouter.ai/docs/api-reference/errors). A code that is no HTTP status counts as 502."""
    if not isinstance(payload, dict) or not payload.get("error"):
        return None
    if any(payload.get(key) for key in ("choices", "data", "candidates")):
        return None
    error = payload["error"]
    # availability errors carry http_status and no code (https://openrouter.ai/docs/api-reference/errors)
    code = (error.get("code") or error.get("http_status")) if isinstance(error, dict) else None
    status = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599 else 502
    return classify_error(status, payload, f"HTTP 200 with error {code if code is not None else 'object'}")


_DATA_URL = re.compile(r"data:image/[a-zA-Z0-9.+-]+;base64,([^)\"'<>]*)")
_HTTP_URL = re.compile(r"https?://[^\s)\"'>]+")


def decode_base64(data: Any, where: str) -> bytes:
    if isinstance(data, Base64Blob):  # decoded as it streamed in (exporter/common/blobs.py)
        if data.head:  # what a2b_base64 says of a data URL where bare base64 belongs
            raise ProbeFailure(Outcome.BAD_RESPONSE, f"{where} is not valid base64")
        return data.data
    if not isinstance(data, str) or not data:
        raise ProbeFailure(Outcome.BAD_RESPONSE, f"{where} is not a base64 string")
    try:  # a2b_base64 reads the str in place; b64decode would first copy it to bytes
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        raise ProbeFailure(Outcome.BAD_RESPONSE, f"{where} is not valid base64") from None


def image_from_url(url: str | Base64Blob, where: str) -> Answer:
    """A data URL becomes image bytes; an http(s) URL is left for the probe to download."""
    if isinstance(url, Base64Blob):  # a long one, decoded as it streamed in: its head is a data URL's
        if url.head:
            return Answer(image=url.data)
        raise ProbeFailure(Outcome.BAD_RESPONSE, f"{where} is neither a data URL nor an http(s) URL")
    if url.startswith("data:"):
        match = _DATA_URL.match(url)
        if not match:
            raise ProbeFailure(Outcome.BAD_RESPONSE, f"{where} is a data URL without base64 image data")
        return Answer(image=decode_base64(re.sub(r"\s", "", match.group(1)), where))
    if url.startswith(("https://", "http://")):
        return Answer(image_url=url)
    raise ProbeFailure(Outcome.BAD_RESPONSE, f"{where} is neither a data URL nor an http(s) URL")


def image_in_text(text: str | Base64Blob, where: str) -> Answer | None:
    """The first image in free text (markdown ![](...) or a bare URL), or None."""
    if isinstance(text, Base64Blob):  # a text that is one long data URL, or bare base64 (no image)
        return Answer(image=text.data) if text.head else None
    match = _DATA_URL.search(text)
    if match:
        return Answer(image=decode_base64(re.sub(r"\s", "", match.group(1)), where))
    match = _HTTP_URL.search(text)
    return Answer(image_url=match.group(0)) if match else None


def openai_usage(usage: Any, input_key: str, output_key: str, details_key: str) -> dict[str, int]:
    """Token usage in the OpenAI shapes. Their output count already includes the reasoning tokens
    (`*_tokens_details.reasoning_tokens`): `output` here is what remains, so a per-token price
    counts every token once (https://platform.openai.com/docs/api-reference/chat/object)."""
    if not isinstance(usage, dict):
        return {}
    details = usage.get(details_key)
    counts = _ints(
        input=usage.get(input_key),
        output=usage.get(output_key),
        thinking=details.get("reasoning_tokens") if isinstance(details, dict) else None,
    )
    if "output" in counts and "thinking" in counts:
        counts["output"] = max(0, counts["output"] - counts["thinking"])
    return counts


def openai_chat_usage(usage: Any) -> dict[str, int]:
    return openai_usage(usage, "prompt_tokens", "completion_tokens", "completion_tokens_details")


# OpenRouter's chat requests spell the 512 size "0.5K" (exporter/models/catalog.py [openrouter])
CHAT_IMAGE_SIZES: dict[str, str] = {"512": "0.5K"}


def chat_image_config(series: Series) -> dict[str, str]:
    """OpenRouter's `image_config`, which chat gateways copy; no size for a family that takes none."""
    config = {"aspect_ratio": series.target.aspect_ratio}
    if series.target.family.takes_image_size:
        config["image_size"] = CHAT_IMAGE_SIZES.get(series.resolution, series.resolution)
    return config


# The most tokens one answer to a probe's short prompt may report, per kind. A larger count comes
# from a broken or hostile upstream (1.7e308 made every later scrape fail and set the budget's spend
# to +Inf, issue 32): it is dropped, so the attempt is priced at its estimate, and logged.
MAX_ANSWER_TOKENS = 2_000_000


def _ints(**values: Any) -> dict[str, int]:
    """Token counts that can only add to counters: finite, not negative, not booleans, at most
    MAX_ANSWER_TOKENS."""
    counts = {}
    for kind, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
            continue  # absent, not a number, negative or NaN: no count
        if value <= MAX_ANSWER_TOKENS:
            counts[kind] = int(value)
        else:
            log.warning("token count rejected: more than %d", MAX_ANSWER_TOKENS,
                        extra={"kind": kind, "value": repr(value)[:40]})
    return counts


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def dig(payload: Any, *path: Any) -> Any:
    """payload[path...] or raise bad_response naming the missing field."""
    node = payload
    for i, part in enumerate(path):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[: i + 1])
            raise ProbeFailure(Outcome.BAD_RESPONSE, f"answer has no {shown.lstrip('.')}") from None
    return node


def merge_body(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """extra_body merged into the request, nested mappings merged key by key; a null removes a key."""
    out = dict(body)
    for key, value in extra.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_body(out[key], value)
        else:
            out[key] = value
    return out
