"""OpenAI-compatible chat completions: the image comes back inside the message content."""

from __future__ import annotations

from exporter.dialects.base import Dialect, ProbeFailure, Request, dig, image_in_text, merge_body, openai_chat_usage
from exporter.dialects.openai_images import ModelList, bearer
from exporter.outcomes import Outcome


def finish_check(choice: dict) -> None:
    if choice.get("finish_reason") in ("content_filter", "safety"):
        raise ProbeFailure(Outcome.CONTENT_BLOCKED, f"finish reason {choice['finish_reason']}")


class OpenAIChat(ModelList, Dialect):
    name = "openai_chat"

    def build(self, series, api_key):
        t = series.target
        body = {
            "model": t.model,
            "messages": [{"role": "user", "content": t.prompt}],
            # OpenRouter's shape, which gateways copy; `extra_body: {image_config: null}` drops it
            "image_config": {"aspect_ratio": t.aspect_ratio, "image_size": series.resolution},
            "stream": False,
        }
        if series.thinking_level != "default":
            body["thinking_level"] = series.thinking_level
        return Request(f"{t.base_url}/chat/completions", bearer(api_key), merge_body(body, t.extra_body))

    def usage(self, payload):
        return openai_chat_usage(payload.get("usage") if isinstance(payload, dict) else None)

    def parse(self, payload):
        choice = dig(payload, "choices", 0)
        message = dig(choice, "message")
        finish_check(choice)
        answer = None
        content = message.get("content")
        if isinstance(content, str):
            answer = image_in_text(content, "choices[0].message.content")
        elif isinstance(content, list):  # content parts: {"type":"image_url","image_url":{"url":...}}
            for part in content:
                url = ((part or {}).get("image_url") or {}).get("url") if isinstance(part, dict) else None
                text = part.get("text") if isinstance(part, dict) else None
                answer = image_in_text(url or text or "", "choices[0].message.content")
                if answer:
                    break
        if answer is None:
            raise ProbeFailure(Outcome.NO_IMAGE, "message content has no image")
        return answer
