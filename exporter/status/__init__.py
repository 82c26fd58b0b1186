"""Official and third-party status beside our probes. Adding a source is a module and an entry here.

Each source kind is a key under `status_sources:` in the config, with the settings its class declares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, create_model

from exporter.common.secrets import read_secret
from exporter.status.base import Source, SourceSettings
from exporter.status.google_cloud import GoogleCloudStatus
from exporter.status.openrouter import OpenRouterEndpoints

SOURCES: dict[str, type[Source]] = {s.kind: s for s in (GoogleCloudStatus, OpenRouterEndpoints)}

# `status_sources:` in the config: one optional key per source kind, each with its defaults. A source
# runs only when its key is present (and not `enabled: false`): the exporter calls no third party
# it was not asked to, and no test reaches the internet by default.
StatusSourcesModel = create_model(  # type: ignore[call-overload]
    "StatusSourcesModel",
    __config__=ConfigDict(extra="forbid", frozen=True),
    **{kind: (cls.Settings | None, None) for kind, cls in SOURCES.items()},
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
        if settings is not None and settings.enabled:
            key = read_secret(getattr(settings, "api_key_env", None), getattr(settings, "api_key_file", None),
                              f"status_sources.{kind}.api_key", environ)
            out.append(SourceConfig(kind, settings, key))
    return tuple(out)
