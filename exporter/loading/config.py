"""Configuration: YAML in, validated targets and their expanded probe series out.

Defaults are applied first, then everything is validated; unknown keys are errors. Every error
names the key path and, where the YAML has one, the file line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from exporter.domain.budget import BudgetSettings
from exporter.models.catalog import FAMILIES, Family, family_of
from exporter.probing.dialects import DIALECTS, Dialect
from exporter.domain.maintenance import Maintenance, WindowModel, unknown_targets
from exporter.models.pricing import Price, PriceSettings, Resolution
from exporter.domain.scenes import CHECKS, DEFAULT_CHECKS, DEFAULT_PROMPTS
from exporter.common.secrets import read_secret
from exporter.models.sizes import ASPECT_RATIOS, RESOLUTIONS, THINKING_LEVELS
from exporter.status import StatusSourcesModel, resolve_sources
from exporter.domain.targets import (SERIES_LABELS, CanarySettings, Config, ConfirmSettings, Duration, GoogleAuth, LivenessSettings, Series,
                              Strict, Target)
from exporter.common.yamlconfig import ConfigError, Problems, Where, read_text, validate

# Config, Series, Target and the settings types live in exporter/domain/targets.py; they are re-exported here
# because a loaded config is what this module returns.
__all__ = ["SERIES_LABELS", "CanarySettings", "Config", "ConfigError", "ConfirmSettings", "LivenessSettings", "Series", "Target",
           "load_file", "load_text"]


ThinkingLevel = Literal[THINKING_LEVELS]  # type: ignore[valid-type]
AspectRatio = Literal[ASPECT_RATIOS]  # type: ignore[valid-type]
Api = Literal[tuple(DIALECTS)]  # type: ignore[valid-type]

DEFAULT_TIMEOUTS = {"512": 30.0, "1K": 45.0, "2K": 90.0, "4K": 180.0}
DEFAULT_INTERVAL = 900.0  # 15m: with confirmations and free liveness checks, see docs/cost.md
DEFAULT_PROMPT = DEFAULT_PROMPTS[0]  # the first of the verifiable scenes the default rotation asks


def _timeouts(value: Any) -> Any:
    """A single duration for every resolution, or a mapping per resolution."""
    if isinstance(value, str):
        return {resolution: value for resolution in RESOLUTIONS}
    return value


Timeouts = Annotated[dict[Resolution, Duration], BeforeValidator(_timeouts)]


class Settings(Strict):
    """Settings a target may take from `defaults:` or set itself."""

    interval: Duration | None = None
    prompt: str | None = Field(default=None, min_length=1)
    prompts: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)  # rotated per probe
    aspect_ratio: AspectRatio | None = None
    timeout: Timeouts | None = None
    resolutions: list[Resolution] | None = Field(default=None, min_length=1)
    thinking_levels: list[ThinkingLevel] | None = Field(default=None, min_length=1)
    max_concurrency: int | None = Field(default=None, ge=1, le=64)
    max_response_bytes: int | None = Field(default=None, ge=1024)
    image_urls: Literal["same_host", "https", "any"] | None = None  # which image URLs an answer may name
    price: PriceSettings | None = None
    confirm: ConfirmSettings | None = None
    liveness: LivenessSettings | None = None
    canary: CanarySettings | None = None
    # the image checks to run on every image (exporter/probing/imagechecks.py); [] turns them off
    image_checks: list[Literal[CHECKS]] | None = None  # type: ignore[valid-type]


class TargetModel(Settings):
    name: str = Field(pattern=r"^[a-z0-9_-]+$", max_length=64)
    api: Api
    model: str = Field(min_length=1)
    family: Literal[tuple(FAMILIES)] | None = None  # type: ignore[valid-type]  # for ids the catalog does not know
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    api_key_env: str | None = None
    api_key_file: str | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)
    # api: vertex (exporter/probing/dialects/vertex.py): the Google Cloud project and location, and Google
    # credentials from a file (a service-account key) or, without one, Application Default Credentials
    project: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    location: str | None = Field(default=None, pattern=r"^(global|[a-z]+-[a-z]+[0-9]+)$")
    credentials_file: str | None = None

    @field_validator("resolutions", "thinking_levels", "image_checks")
    @classmethod
    def _no_repeats(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("lists a value twice")
        return value

    @model_validator(mode="after")
    def _one_prompt_form(self) -> "TargetModel":
        if self.prompt is not None and self.prompts is not None:
            raise ValueError("set prompt or prompts, not both")
        return self


class ConfigModel(Strict):
    defaults: Settings = Field(default_factory=Settings)
    targets: list[TargetModel] = Field(min_length=1)
    status_sources: StatusSourcesModel = Field(default_factory=StatusSourcesModel)
    budget: BudgetSettings | None = None
    maintenance: list[WindowModel] = Field(default_factory=list)

    @field_validator("targets")
    @classmethod
    def _unique_names(cls, targets: list[TargetModel]) -> list[TargetModel]:
        seen: set[str] = set()
        for target in targets:
            if target.name in seen:
                raise ValueError(f"target name {target.name!r} is used twice")
            seen.add(target.name)
        return targets


def load_file(path: str | Path, environ: dict[str, str] | None = None) -> Config:
    return load_text(read_text(path), str(path), environ)


def load_text(text: str, source: str = "<config>", environ: dict[str, str] | None = None) -> Config:
    model, where = validate(text, source, ConfigModel, "a mapping with a 'targets:' list")
    return resolve(model, source, os.environ if environ is None else environ, where)


def resolve(model: ConfigModel, source: str, environ: Any, where: Where) -> Config:
    problems = Problems()  # every target is checked, so one run names the problems of all of them
    targets = []
    for index, t in enumerate(model.targets):
        with problems.check():
            targets.append(_target(t, index, model.defaults, environ, where))
    names = [t.name for t in model.targets]
    with problems.check():
        unknown = sorted(set(model.budget.targets) - set(names)) if model.budget else []
        if unknown:
            raise ConfigError(f"{where('budget', 'targets', unknown[0])}: no target is called {unknown[0]!r}")
    for index, name in unknown_targets(model.maintenance, names):
        problems.found.append(f"{where('maintenance', index, 'targets')}: no target is called {name!r}")
    status_sources = None
    with problems.check():
        try:
            status_sources = resolve_sources(model.status_sources, environ)
        except ValueError as err:
            raise ConfigError(f"{source}: {err}") from None
    problems.raise_any()
    return Config(targets=tuple(targets), source=source, status_sources=status_sources, budget=model.budget,
                  maintenance=Maintenance.of(model.maintenance))


def _target(t: TargetModel, index: int, defaults: Settings, environ: Any, where: Where) -> Target:
    def pick(key: str, fallback: Any) -> Any:
        own = getattr(t, key)
        if own is not None:
            return own
        inherited = getattr(defaults, key)
        return fallback if inherited is None else inherited

    dialect = DIALECTS[t.api]
    google = _google_settings(t, dialect, index, where)
    base_url = t.base_url or dialect.base_url(t.location)
    if not base_url:
        raise ConfigError(f"{where('targets', index, 'api')}: api {t.api} needs a base_url")
    timeouts = {**DEFAULT_TIMEOUTS, **(defaults.timeout or {}), **(t.timeout or {})}
    family = family_of(t.model, t.family)
    resolutions = tuple(pick("resolutions", ["1K"]))
    thinking_levels = tuple(pick("thinking_levels", ["default"]))
    aspect_ratio = pick("aspect_ratio", "1:1")
    _check_family(t, family, resolutions, thinking_levels, aspect_ratio, index, where)
    _check_thinking_field(t, thinking_levels, index, where)
    prompts = (t.prompts or ([t.prompt] if t.prompt else None) or defaults.prompts
               or ([defaults.prompt] if defaults.prompt else None) or DEFAULT_PROMPTS)
    return Target(
        name=t.name,
        api=t.api,
        model=t.model,
        base_url=base_url.rstrip("/"),
        api_key=_read_key(t, index, where, environ),
        interval=pick("interval", DEFAULT_INTERVAL),
        prompts=tuple(prompts),
        aspect_ratio=aspect_ratio,
        timeouts=timeouts,
        resolutions=resolutions,
        thinking_levels=thinking_levels,
        max_concurrency=pick("max_concurrency", 2),
        max_response_bytes=pick("max_response_bytes", 64 * 1024 * 1024),
        image_urls=pick("image_urls", "https"),
        extra_body=dict(t.extra_body),
        family=family,
        price=Price.resolve(t.price, defaults.price, family),
        confirm=_merged(ConfirmSettings, t.confirm, defaults.confirm),
        liveness=_merged(LivenessSettings, t.liveness, defaults.liveness),
        canary=_merged(CanarySettings, t.canary, defaults.canary),
        image_checks=tuple(pick("image_checks", DEFAULT_CHECKS)),
        project=t.project,
        location=(t.location or "global") if google else None,
        google=google,
    )


def _check_family(t: TargetModel, family: Family, resolutions: tuple[str, ...], thinking_levels: tuple[str, ...],
                  aspect_ratio: str, index: int, where: Where) -> None:
    """A resolution, aspect ratio or thinking level the target's model does not take is an error that
    names the model and what it takes (from the catalog, or the target's `family:`)."""
    model = f"model {t.model} ({family.title})"
    no_thinking = () if family.thinking_levels else ("(no thinking setting)",)
    checks = (
        ("resolutions", [r for r in resolutions if r not in family.resolutions], family.resolutions),
        ("aspect_ratio", [aspect_ratio] if aspect_ratio not in family.aspect_ratios_on(t.api) else [],
         family.aspect_ratios_on(t.api)),
        ("thinking_levels", [lv for lv in thinking_levels if not family.takes_thinking(lv)],
         ("default", *family.thinking_levels, *no_thinking)),
    )
    for key, refused, takes in checks:
        if refused:
            own = getattr(t, key) is not None
            path = where("targets", index, key) if own else where("defaults", key)
            raise ConfigError(f"{path}: {model} does not take {', '.join(refused)}; it takes {', '.join(takes)}"
                              .replace(", (", " ("))


def _check_thinking_field(t: TargetModel, thinking_levels: tuple[str, ...], index: int, where: Where) -> None:
    """A level other than `default` on a dialect whose API documents no thinking field would be a
    series label that lies about what was measured."""
    if DIALECTS[t.api].thinking_field is None and set(thinking_levels) - {"default"}:
        own = t.thinking_levels is not None
        path = where("targets", index, "thinking_levels") if own else where("defaults", "thinking_levels")
        raise ConfigError(f"{path}: api {t.api} has no documented thinking field, so it sends no thinking "
                          f"setting: only default is measured (a gateway's own field goes in extra_body)")


def _merged(cls: type[Strict], own: Strict | None, inherited: Strict | None) -> Any:
    """A target's nested settings: its own keys over those in `defaults:`, over the built-in defaults."""
    values: dict[str, Any] = {}
    for layer in (inherited, own):
        if layer is not None:
            values.update({key: getattr(layer, key) for key in layer.model_fields_set})
    return cls().model_copy(update=values)


def _google_settings(t: TargetModel, dialect: Dialect, index: int, where: Where) -> GoogleAuth | None:
    """A dialect of Google credentials (Vertex AI) takes project, location and the credentials, no
    key; other dialects none of them."""
    google_keys = ("project", "location", "credentials_file")
    if dialect.credentials != "google":
        wrong = next((key for key in google_keys if getattr(t, key) is not None), None)
        if wrong:
            takers = " or ".join(name for name, d in DIALECTS.items() if d.credentials == "google")
            raise ConfigError(f"{where('targets', index, wrong)}: only api: {takers} takes {wrong}")
        return None
    if not t.project:
        raise ConfigError(f"{where('targets', index, 'api')}: api {t.api} needs a project (the Google Cloud project id)")
    key = next((k for k in ("api_key_env", "api_key_file") if getattr(t, k) is not None), None)
    if key:
        raise ConfigError(f"{where('targets', index, key)}: api {t.api} takes Google credentials "
                          "(credentials_file, or Application Default Credentials without it), not an API key")
    try:
        return GoogleAuth.of(t.credentials_file)
    except ValueError as err:
        raise ConfigError(f"{where('targets', index, 'credentials_file')}: {err}") from None


def _read_key(t: TargetModel, index: int, where: Any, environ: Any) -> str | None:
    try:
        return read_secret(t.api_key_env, t.api_key_file, "api_key", environ)
    except ValueError as err:
        key, _, problem = str(err).partition(": ")
        raise ConfigError(f"{where('targets', index, key)}: {problem}") from None
