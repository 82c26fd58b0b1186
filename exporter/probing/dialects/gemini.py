"""Gemini API, native generateContent."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from exporter.probing.dialects.base import (
    BLOCK_REASONS, Answer, Dialect, Listing, ProbeFailure, Request, _ints, decode_base64, dig, merge_body, served,
)
from exporter.contract.outcomes import NO_TEXT, Outcome


# Finish reasons of an answer without an image that say why
# (https://ai.google.dev/api/generate-content#FinishReason)
NO_IMAGE_REASONS = {
    "NO_IMAGE": "the model answered without generating an image",
    "IMAGE_OTHER": "image generation stopped for a reason the API does not name",
    "MAX_TOKENS": "the answer reached the output token limit before an image",
}


class Gemini(Dialect):
    name = "gemini"
    thinking_field = "generationConfig.thinkingConfig.thinkingLevel"  # python-genai ThinkingConfig
    default_base_url = "https://generativelanguage.googleapis.com"
    otel_provider, otel_operation = "gcp.gemini", "generate_content"
    google_status = True  # status.cloud.google.com lists the Gemini API
    # models.list: which ids exist, no prices (https://ai.google.dev/api/models#method:-models.list)
    listing = Listing(complete=True)

    def listing_request(self, target, secret):
        return Request(f"{target.base_url.rstrip('/')}/v1beta/models?pageSize=1000",
                       {"x-goog-api-key": secret} if secret else {}, None, "GET")

    def listed(self, payload):
        return {str(m.get("name", "")).removeprefix("models/"): m for m in payload.get("models") or []
                if isinstance(m, dict)}

    def build(self, series, api_key, prompt):
        t = series.target
        headers = {"x-goog-api-key": api_key} if api_key else {}
        url = f"{t.base_url}/v1beta/models/{quote(t.model, safe='')}:generateContent"
        return Request(url, headers, merge_body(self.body(series, prompt), t.extra_body))

    def body(self, series, prompt) -> dict[str, Any]:
        """The generateContent body (Vertex AI takes the same one)."""
        t = series.target
        image_config = {"aspectRatio": t.aspect_ratio}
        if t.family.takes_image_size:  # Nano Banana (2.5) answers 400 to imageSize
            image_config["imageSize"] = series.resolution  # "512" for the smallest size: UNVERIFIED, see catalog
        config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": image_config}
        if series.thinking_level != "default":
            config["thinkingConfig"] = {"thinkingLevel": series.thinking_level.upper()}
        return {"contents": [{"parts": [{"text": prompt}]}], "generationConfig": config}

    response_model_field = "modelVersion"

    def usage(self, payload):
        usage = payload.get("usageMetadata") if isinstance(payload, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        return _ints(
            input=usage.get("promptTokenCount"),
            output=usage.get("candidatesTokenCount"),
            thinking=usage.get("thoughtsTokenCount"),
        )

    def canary_body(self, prompt: str) -> dict[str, Any]:
        # TEXT alone: the modality list the API takes (https://ai.google.dev/api/generate-content#Modality);
        # no imageConfig, no thinkingConfig (Pro always thinks; 3.1 Flash Image's default is minimal)
        return {"contents": [{"parts": [{"text": prompt}]}], "generationConfig": {"responseModalities": ["TEXT"]}}

    def canary_request(self, target, api_key, prompt):
        headers = {"x-goog-api-key": api_key} if api_key else {}
        return Request(f"{target.base_url}/v1beta/models/{quote(target.model, safe='')}:generateContent", headers,
                       self.canary_body(prompt))

    def canary_text(self, payload):
        candidate = self._candidate(payload)
        parts = (candidate.get("content") or {}).get("parts") or []
        text = "".join(p["text"] for p in parts if isinstance(p, dict) and not p.get("thought")
                       and isinstance(p.get("text"), str))
        if text.strip():
            return text
        reason = str(candidate.get("finishReason") or "")
        if reason in BLOCK_REASONS:
            raise ProbeFailure(Outcome.CONTENT_BLOCKED, f"finish reason {reason}")
        raise ProbeFailure(NO_TEXT, f"answer has no text (finish reason {reason or 'none'})")

    liveness_names_model = True

    def liveness_request(self, target, api_key):
        # models.get: free, and a 200 proves key, quota project and model id
        headers = {"x-goog-api-key": api_key} if api_key else {}
        return Request(f"{target.base_url}/v1beta/models/{quote(target.model, safe='')}", headers, None, "GET")

    def model_listed(self, target, payload):
        name = dig(payload, "name")
        return str(name).removeprefix("models/") == target.model

    @staticmethod
    def _candidate(payload) -> dict:
        feedback = payload.get("promptFeedback") if isinstance(payload, dict) else None
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            raise ProbeFailure(Outcome.CONTENT_BLOCKED, f"prompt blocked: {feedback['blockReason']}")
        candidate = dig(payload, "candidates", 0)
        if not isinstance(candidate, dict):
            raise ProbeFailure(Outcome.BAD_RESPONSE, "candidates[0] is not an object")
        return candidate

    def parse(self, payload):
        candidate = self._candidate(payload)
        parts = (candidate.get("content") or {}).get("parts") or []
        for i, part in enumerate(parts):
            if isinstance(part, dict) and not part.get("thought"):
                inline = part.get("inlineData") or part.get("inline_data")
                if isinstance(inline, dict):
                    image = decode_base64(inline.get("data"), f"candidates[0].content.parts[{i}].inlineData.data")
                    # "Output only. The model version used to generate the response."
                    # (https://ai.google.dev/api/generate-content#generatecontentresponse, seen 2026-12-06;
                    # tests/fixtures/upstream/gemini-generatecontent-image-success.json)
                    return Answer(image=image, model=served(payload, "modelVersion"))
        reason = str(candidate.get("finishReason") or "")
        if reason in BLOCK_REASONS:
            raise ProbeFailure(Outcome.CONTENT_BLOCKED, f"finish reason {reason}")
        why = NO_IMAGE_REASONS.get(reason, "answer has no image")
        raise ProbeFailure(Outcome.NO_IMAGE, f"{why} (finish reason {reason or 'none'})")

