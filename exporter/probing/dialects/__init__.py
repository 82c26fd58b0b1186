"""API dialects by the name used in `api:`. Adding one is a module and an entry here."""

from exporter.probing.dialects.base import Dialect
from exporter.probing.dialects.gemini import Gemini
from exporter.probing.dialects.openai_chat import OpenAIChat
from exporter.probing.dialects.openai_images import OpenAIImages
from exporter.probing.dialects.openrouter import OpenRouter
from exporter.probing.dialects.openrouter_images import OpenRouterImages
from exporter.probing.dialects.vertex import Vertex

DIALECTS: dict[str, Dialect] = {d.name: d for d in (Gemini(), OpenAIImages(), OpenAIChat(), OpenRouter(), OpenRouterImages(), Vertex())}
