"""API dialects by the name used in `api:`. Adding one is a module and an entry here."""

from exporter.dialects.base import Dialect
from exporter.dialects.gemini import Gemini
from exporter.dialects.openai_chat import OpenAIChat
from exporter.dialects.openai_images import OpenAIImages
from exporter.dialects.openrouter import OpenRouter
from exporter.dialects.openrouter_images import OpenRouterImages
from exporter.dialects.vertex import Vertex

DIALECTS: dict[str, Dialect] = {d.name: d for d in (Gemini(), OpenAIImages(), OpenAIChat(), OpenRouter(), OpenRouterImages(), Vertex())}
