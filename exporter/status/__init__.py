"""Official and third-party status beside our probes. Adding a source is a module and an entry here.

Each source kind is a key under `status_sources:` in the config, with the settings its class declares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, create_model

from exporter.status.base import Source, SourceSettings
from exporter.status.google_cloud import GoogleCloudStatus
from exporter.status.openrouter import OpenRouterEndpoints

SOURCES: dict[str, type[Source]] = {s.kind: s for s in (GoogleCloudStatus, OpenRouterEndpoints)}

# `status_sources:` in the config: one optional key per source kind, each with its defaults
StatusSourcesModel = create_model(  # type: ignore[call-overload]
    "StatusSourcesModel",
    __config__=ConfigDict(extra="forbid", frozen=True),
    **{kind: (cls.Settings, Field(default_factory=cls.Settings)) for kind, cls in SOURCES.items()},
)


@dataclass(frozen=True)
class SourceConfig:
    """An enabled source, its settings validated and its key (if any) read."""

    kind: str
    settings: SourceSettings
    api_key: str | None = field(default=None, repr=False)

    def build(self) -> Source:
        return SOURCES[self.kind](self.settings, self.api_key)


def resolve_sources(model: Any, environ: Any) -> tuple[SourceConfig, ...]:
    """The enabled sources of a validated `status_sources:`; ValueError names the key at fault."""
    out = []
    for kind in SOURCES:
        settings = getattr(model, kind)
        if settings.enabled:
            out.append(SourceConfig(kind, settings, _read_key(settings, f"status_sources.{kind}", environ)))
    return tuple(out)


def _read_key(settings: SourceSettings, where: str, environ: Any) -> str | None:
    env, path = getattr(settings, "api_key_env", None), getattr(settings, "api_key_file", None)
    if env and path:
        raise ValueError(f"{where}: set api_key_env or api_key_file, not both")
    if env:
        key = environ.get(env, "").strip()
        if not key:
            raise ValueError(f"{where}.api_key_env: environment variable {env} is not set")
        return key
    if path:
        try:
            key = Path(path).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ValueError(f"{where}.api_key_file: cannot read {path}: {err.strerror or err}") from None
        if not key:
            raise ValueError(f"{where}.api_key_file: {path} is empty")
        return key
    return None
