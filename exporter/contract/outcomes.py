"""The one list of probe outcomes. Metrics, landing page, docs and tests import it from here."""

from enum import StrEnum


class Outcome(StrEnum):
    SUCCESS = "success"
    RATE_LIMITED = "rate_limited"  # 429 / RESOURCE_EXHAUSTED: not a failure of the service
    TIMEOUT = "timeout"
    AUTH_ERROR = "auth_error"
    CLIENT_ERROR = "client_error"
    SERVER_ERROR = "server_error"
    NETWORK_ERROR = "network_error"
    CONTENT_BLOCKED = "content_blocked"
    NO_IMAGE = "no_image"
    BAD_RESPONSE = "bad_response"
    BAD_IMAGE = "bad_image"

    @property
    def is_failure(self) -> bool:
        return self not in (Outcome.SUCCESS, Outcome.RATE_LIMITED)


OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)

DESCRIPTIONS: dict[Outcome, str] = {
    Outcome.SUCCESS: "an image came back, decoded, at the requested size",
    Outcome.RATE_LIMITED: "HTTP 429 or RESOURCE_EXHAUSTED (also inside a 200); not counted as a failure of the service",
    Outcome.TIMEOUT: "no complete answer within the series' timeout (a hard deadline, slow bodies included)",
    Outcome.AUTH_ERROR: "HTTP 401, 402 (out of credits) or 403, or an invalid API key",
    Outcome.CLIENT_ERROR: "any other 4xx (bad request, unknown model, ...)",
    Outcome.SERVER_ERROR: "HTTP 5xx, including HTML error pages; a 200 carrying a 5xx error; finish reason error",
    Outcome.NETWORK_ERROR: "connection refused or reset, DNS or TLS failure",
    Outcome.CONTENT_BLOCKED: "safety finish reason, prompt block reason, content-policy error, or a 403 from a "
                             "moderation or guardrail filter",
    Outcome.NO_IMAGE: "a well-formed answer that carries no image",
    Outcome.BAD_RESPONSE: "not JSON, truncated, missing fields, bad base64, or over the body cap",
    Outcome.BAD_IMAGE: "the image does not decode, or has the wrong size or type",
}

# Outcomes of the free liveness checks (exporter.background.liveness): those of the probe outcomes a metadata
# call can have, plus model_missing. Kept apart so the paid-probe outcome list keeps its meaning.
MODEL_MISSING = "model_missing"
LIVENESS_OUTCOMES: tuple[str, ...] = tuple(
    o.value for o in (Outcome.SUCCESS, Outcome.RATE_LIMITED, Outcome.TIMEOUT, Outcome.AUTH_ERROR, Outcome.CLIENT_ERROR,
                      Outcome.SERVER_ERROR, Outcome.NETWORK_ERROR, Outcome.BAD_RESPONSE)
) + (MODEL_MISSING,)

LIVENESS_DESCRIPTIONS: dict[str, str] = {
    **{o: DESCRIPTIONS[Outcome(o)] for o in LIVENESS_OUTCOMES if o != MODEL_MISSING},
    Outcome.SUCCESS.value: "the API answered and lists the configured model id",
    MODEL_MISSING: "the API answered, but the model id is unknown (404) or not listed: retired or misspelt",
}

# Outcomes of the canary (exporter.background.canary): a text-only generation on the image model. Those of the
# probe outcomes a text answer can have, plus no_text. Kept apart, as the liveness outcomes are.
NO_TEXT = "no_text"
CANARY_OUTCOMES: tuple[str, ...] = tuple(
    o.value for o in (Outcome.SUCCESS, Outcome.RATE_LIMITED, Outcome.TIMEOUT, Outcome.AUTH_ERROR, Outcome.CLIENT_ERROR,
                      Outcome.SERVER_ERROR, Outcome.NETWORK_ERROR, Outcome.CONTENT_BLOCKED, Outcome.BAD_RESPONSE)
) + (NO_TEXT,)

CANARY_DESCRIPTIONS: dict[str, str] = {
    **{o: DESCRIPTIONS[Outcome(o)] for o in CANARY_OUTCOMES if o != NO_TEXT},
    Outcome.SUCCESS.value: "the image model answered the one-line prompt with text",
    NO_TEXT: "a well-formed answer without any text (finish reason other than a block)",
}
