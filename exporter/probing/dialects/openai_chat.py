"""OpenAI-compatible chat completions: the image comes back inside the message content, or in
`message.images[]` where a gateway copies OpenRouter's shape (Vercel's AI Gateway does:
https://vercel.com/docs/ai-gateway/modalities/image-generation/openai, seen 2026-12-06).

What it sends, each field as an API documents it (checked 2026-12-06):
- `modalities: ["image", "text"]`: OpenAI's own chat parameter (default ["text"]); Vercel's AI Gateway
  makes images only with it ("To enable image generation, include the `modalities` parameter",
  https://vercel.com/docs/ai-gateway/sdks-and-apis/openai-chat-completions/image-generation), and so
  does OpenRouter.
- `reasoning_effort` for a thinking level: OpenAI's chat parameter (openai-python
  `types/chat/completion_create_params.py`: none, minimal, low, medium, high, xhigh), which Google's
  OpenAI-compatible endpoint maps to thinking (https://ai.google.dev/gemini-api/docs/openai "Thinking").
- `image_config: {aspect_ratio, image_size}`: OpenRouter's shape, which gateways copy; in no OpenAI
  spec, so a strict gateway refuses it (400 naming the field): `extra_body: {image_config: null}` drops it.
"""

from __future__ import annotations

from exporter.common.blobs import Base64Blob
from exporter.probing.dialects.base import (
    Dialect, Listing, ProbeFailure, Request, bearer, chat_image_config, classify_error, dig, image_from_url, image_in_text, merge_body,
    openai_chat_usage, served,
)
from exporter.probing.dialects.openai_images import ModelList
from exporter.contract.outcomes import NO_TEXT, Outcome


def finish_check(choice: dict) -> None:
    reason = choice.get("finish_reason")
    if reason in ("content_filter", "safety"):
        raise ProbeFailure(Outcome.CONTENT_BLOCKED, f"finish reason {reason}")
    if reason == "error":
        # the provider failed mid-answer: OpenRouter puts the error beside the choice
        # (https://openrouter.ai/docs/api-reference/errors, tests/fixtures/upstream/openrouter-200-finish-reason-error.json)
        error = choice.get("error") if isinstance(choice.get("error"), dict) else {}
        code = error.get("code")
        status = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599 else 502
        raise classify_error(status, {"error": error}, "the provider failed mid-answer (finish reason error)")


def chat_text(payload) -> str:
    """The text of a chat answer (a canary's), or ProbeFailure."""
    choice = dig(payload, "choices", 0)
    message = dig(choice, "message")
    if not isinstance(message, dict):
        raise ProbeFailure(Outcome.BAD_RESPONSE, "choices[0].message is not an object")
    finish_check(choice)
    content = message.get("content")
    if isinstance(content, list):  # content parts: {"type": "text", "text": ...}
        content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    if isinstance(content, str) and content.strip():
        return content
    raise ProbeFailure(NO_TEXT, f"message has no text (finish reason {choice.get('finish_reason') or 'none'})")


def images_field(message: dict) -> object | None:
    """The first image of `message.images[]` (OpenRouter's shape), or None when there is none."""
    images = message.get("images")
    if not isinstance(images, list) or not images:
        return None
    url = dig(images, 0, "image_url", "url")
    return image_from_url(url if isinstance(url, Base64Blob) else str(url), "choices[0].message.images[0].image_url.url")


class ChatCompletions:
    """What both chat dialects share: usage in the chat shape, and the canary, a chat completion with
    text output only and no image_config. `modalities` is OpenAI's own chat parameter
    (https://platform.openai.com/docs/api-reference/chat/create, default ["text"]); OpenRouter makes
    images only when it holds "image" (https://openrouter.ai/docs/guides/overview/multimodal/image-generation)."""

    thinking_field: str  # where each chat API takes the thinking level: a dotted path into the body

    def build(self, series, api_key, prompt):
        t = series.target
        body = {
            "model": t.model,
            "messages": [{"role": "user", "content": prompt}],
            "modalities": ["image", "text"],
            # OpenRouter's shape, which gateways copy; `extra_body: {image_config: null}` drops it
            "image_config": chat_image_config(series),
            "stream": False,
        }
        if series.thinking_level != "default":
            *outer, last = self.thinking_field.split(".")
            node = body
            for key in outer:
                node = node.setdefault(key, {})
            node[last] = series.thinking_level
        return Request(f"{t.base_url}/chat/completions", bearer(api_key), merge_body(body, t.extra_body))

    def usage(self, payload):
        return openai_chat_usage(payload.get("usage") if isinstance(payload, dict) else None)

    def canary_request(self, target, api_key, prompt):
        body = {"model": target.model, "messages": [{"role": "user", "content": prompt}], "modalities": ["text"],
                "stream": False}
        return Request(f"{target.base_url}/chat/completions", bearer(api_key), body)

    def canary_text(self, payload):
        return chat_text(payload)


class OpenAIChat(ChatCompletions, ModelList, Dialect):
    name = "openai_chat"
    otel_provider, otel_operation = "openai", "chat"
    openai_sdk_call = "chat"
    listing = Listing(parameters=True)  # gateways that copy OpenRouter's listing carry supported_parameters
    thinking_field = "reasoning_effort"


    def parse(self, payload):
        choice = dig(payload, "choices", 0)
        message = dig(choice, "message")
        if not isinstance(message, dict):
            raise ProbeFailure(Outcome.BAD_RESPONSE, "choices[0].message is not an object")
        finish_check(choice)
        answer = images_field(message)
        content = message.get("content")
        if answer is None and isinstance(content, str):
            answer = image_in_text(content, "choices[0].message.content")
        elif answer is None and isinstance(content, list):  # content parts: {"type":"image_url","image_url":{"url":...}}
            for part in content:
                url = ((part or {}).get("image_url") or {}).get("url") if isinstance(part, dict) else None
                text = part.get("text") if isinstance(part, dict) else None
                answer = image_in_text(url or text or "", "choices[0].message.content")
                if answer:
                    break
        if answer is None:
            raise ProbeFailure(Outcome.NO_IMAGE, "message has no image (neither in content nor in images)")
        # the chat completion object's `model`: "The model used for the chat completion."
        # (https://platform.openai.com/docs/api-reference/chat/object, seen 2026-12-06)
        answer.model = served(payload, "model")
        return answer
