"""Vertex AI: the Gemini API's generateContent on a Google Cloud project and location, with OAuth2
access tokens from Google credentials (exporter/probing/credentials.py) instead of an API key.

  POST https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent
  (location `global`: https://aiplatform.googleapis.com/..., the global endpoint
  https://cloud.google.com/vertex-ai/generative-ai/docs/learn/locations#use_the_global_endpoint)

Same request body, image config and answer as the Gemini API (candidates, inlineData,
usageMetadata), same model ids. Errors are google.rpc statuses: 429 RESOURCE_EXHAUSTED for quota and
for shared capacity (Vertex's error-code-429 page: Dynamic Shared Quota), 403 PERMISSION_DENIED for
IAM (the caller lacks aiplatform.endpoints.predict, e.g. roles/aiplatform.user), 401 UNAUTHENTICATED
for a token Vertex refuses, 404 NOT_FOUND for a model the location does not serve; classify_error
already reads them so.
"""

from __future__ import annotations

from urllib.parse import quote

from exporter.probing.dialects.base import Listing, Request, bearer, dig, merge_body
from exporter.probing.dialects.gemini import Gemini


class Vertex(Gemini):
    name = "vertex"
    default_base_url = None  # from the location: base_url()
    otel_provider = "gcp.vertex_ai"
    credentials = "google"
    google_status = False  # the Gemini API's incidents re-probe only its own series (as before)

    # publishers.models.get, Model Garden's entry: whether the id still exists, no prices, no new ids
    listing = Listing(lookup="publishers.models.get")

    def base_url(self, location):
        return self.endpoint(location or "global")

    def listing_request(self, target, secret):
        return Request(f"{target.base_url.rstrip('/')}/v1beta1/publishers/google/models/{quote(target.model, safe='')}",
                       bearer(secret), None, "GET")

    @staticmethod
    def endpoint(location: str) -> str:
        return "https://aiplatform.googleapis.com" if location == "global" else f"https://{location}-aiplatform.googleapis.com"

    @staticmethod
    def model_path(target) -> str:
        return (f"{target.base_url}/v1/projects/{quote(target.project or '', safe='')}/locations/"
                f"{quote(target.location or 'global', safe='')}/publishers/google/models/{quote(target.model, safe='')}")

    def build(self, series, api_key, prompt):
        body = self.body(series, prompt)
        body["contents"][0]["role"] = "user"  # Vertex wants the role of each content
        return Request(f"{self.model_path(series.target)}:generateContent", bearer(api_key),
                       merge_body(body, series.target.extra_body))

    def canary_request(self, target, api_key, prompt):
        body = self.canary_body(prompt)
        body["contents"][0]["role"] = "user"
        return Request(f"{self.model_path(target)}:generateContent", bearer(api_key), body)

    liveness_names_model = True

    def liveness_request(self, target, api_key):
        # countTokens on the model in the target's location: "There's no charge or quota restriction
        # for using the CountTokens API" (3000 requests per minute at most;
        # https://firebase.google.com/docs/vertex-ai/count-tokens, Vertex's get-token-count page).
        # Unlike publishers.models.get (GET /v1/publishers/google/models/{model}, Model Garden's
        # catalog entry, not scoped to a project or location), it proves the token, the IAM
        # permission on the project and that this location serves the model (404 otherwise).
        # UNVERIFIED: that countTokens accepts the image models (the supported-model list seen
        # names Gemini 2.5 Flash Image Preview, not the Gemini 3 image models).
        body = {"contents": [{"role": "user", "parts": [{"text": "ping"}]}]}
        return Request(f"{self.model_path(target)}:countTokens", bearer(api_key), body, "POST")

    def model_listed(self, target, payload):
        return isinstance(dig(payload, "totalTokens"), int)
