"""The domain: what a loaded config is made of. Targets (defaults applied, key read), the probe
series they expand to (a target at one resolution and one thinking level), and the settings they
carry. exporter/loading/config.py turns YAML into these; everything else reads them. This module imports no
dialect, prober or loader, so any of them can import it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat

from exporter.domain.budget import BudgetSettings
from exporter.models.catalog import Family, family_of
from exporter.contract.labels import SERIES_LABEL_VALUES, SERIES_LABELS
from exporter.domain.detection import latency_threshold
from exporter.common.durations import Duration
from exporter.domain.maintenance import Maintenance
from exporter.models.pricing import Price, TokenKind
from exporter.domain.scenes import DEFAULT_CHECKS
from exporter.status import SourceConfig

MAX_FILE_BYTES = 64 * 1024  # a service-account key is about 2.3 KB
FILE_TYPES = ("service_account", "authorized_user")  # a key from the console; gcloud's user credentials


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfirmSettings(Strict):
    """`confirm:` after a paid probe fails (not rate limited), probe again sooner to confirm it."""

    after: Duration = 30.0  # delay after the failed probe ended
    count: int = Field(default=2, ge=0, le=10)  # confirmations per failure streak; 0 turns them off


class LivenessSettings(Strict):
    """`liveness:` a free metadata call (model lookup or list) that proves reachability, key and model id."""

    enabled: bool = True  # where the dialect has a free check
    interval: Duration = 60.0
    timeout: Duration = 10.0
    trigger_probes: bool = True  # a failed check runs a paid confirmation of the target's healthy series


class CanarySettings(Strict):
    """`canary:` a cheap paid call on the image model itself (exporter/background/canary.py): a text-only
    generation of a one-line prompt, which goes through the model's serving path, so it sees a
    generation outage the free liveness check cannot, for a fraction of an image's price. It cannot
    see a fault of image output alone: the image probes still do."""

    enabled: bool = False  # off by default: no Google page confirms that the image models take a text-only request
    interval: Duration = 60.0
    timeout: Duration = 30.0
    prompt: str = Field(default="Reply with the single word OK.", min_length=1)
    # failed canaries in a row that probe each of the target's healthy series at once (reason
    # "canary", at most once an interval per series); 0: never
    trigger_after: int = Field(default=3, ge=0, le=100)
    # USD per million tokens; default: the model family's text rates (exporter/models/catalog.py)
    per_million_tokens: dict[TokenKind, NonNegativeFloat] | None = None


@dataclass(frozen=True)
class GoogleAuth:
    """Which Google credentials a target uses: a file, or ADC when `file` is None. `digest` is the
    file's content as the config load read it: a reload after the key was replaced makes new
    credentials, an unchanged file keeps its token."""

    file: str | None = None
    digest: str = ""

    @classmethod
    def of(cls, path: str | None) -> GoogleAuth:
        """The credentials of a config; ValueError says why a file cannot be used."""
        if path is None:
            return cls()
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_FILE_BYTES + 1)
        except OSError as err:
            raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError(f"{path} is larger than {MAX_FILE_BYTES} bytes: not a Google credentials file")
        try:
            text = raw.decode("utf-8")
            info = json.loads(text)
        except ValueError:
            raise ValueError(f"{path} is not JSON (a Google credentials file is)") from None
        kind = info.get("type") if isinstance(info, dict) else None
        if kind not in FILE_TYPES:
            raise ValueError(f"{path} has type {kind!r}; it takes {' or '.join(FILE_TYPES)} (for other kinds, "
                             "leave credentials_file out and use Application Default Credentials)")
        return cls(path, hashlib.sha256(text.encode()).hexdigest())

    @property
    def shown(self) -> str:
        return f"credentials file {self.file}" if self.file else "Application Default Credentials"


@dataclass(frozen=True)
class Target:
    """A resolved target: defaults applied, key read."""

    name: str
    api: str
    model: str
    base_url: str
    api_key: str | None = field(repr=False)
    interval: float
    prompts: tuple[str, ...]  # rotated per probe; one prompt is a tuple of one
    aspect_ratio: str
    timeouts: dict[str, float]
    resolutions: tuple[str, ...]
    thinking_levels: tuple[str, ...]
    max_concurrency: int
    max_response_bytes: int
    extra_body: dict[str, Any]
    image_urls: str = "https"  # which image URLs of an answer a probe downloads (exporter.probing.probe.image_url_problem)
    family: Family = field(default_factory=lambda: family_of(""))
    price: Price = field(default_factory=lambda: Price.resolve(None, None))
    confirm: ConfirmSettings = field(default_factory=ConfirmSettings)
    liveness: LivenessSettings = field(default_factory=LivenessSettings)
    canary: CanarySettings = field(default_factory=CanarySettings)
    project: str | None = None  # api: vertex
    location: str | None = None
    google: GoogleAuth | None = None  # Google credentials instead of a key (exporter/probing/credentials.py)
    image_checks: tuple[str, ...] = DEFAULT_CHECKS  # exporter/probing/imagechecks.py


@dataclass(frozen=True)
class Series:
    """One probe series: a target at one resolution and one thinking level."""

    target: Target
    resolution: str
    thinking_level: str

    @functools.cached_property
    def key(self) -> tuple[str, ...]:
        """The series' label values, in SERIES_LABELS order: what tells it from every other series."""
        return tuple(value(self) for value in SERIES_LABEL_VALUES.values())

    @property
    def labels(self) -> dict[str, str]:
        return dict(zip(SERIES_LABELS, self.key))

    @property
    def interval(self) -> float:
        return self.target.interval

    @property
    def timeout(self) -> float:
        return self.target.timeouts[self.resolution]

    @property
    def price(self) -> float:
        """The estimated price of one successful probe of this series (USD)."""
        return self.target.price.of_image(self.resolution)

    @property
    def latency_threshold(self) -> float:
        """Seconds above which a successful probe is slow (exporter.domain.detection)."""
        return latency_threshold(self.resolution, self.thinking_level)



@dataclass(frozen=True)
class Config:
    targets: tuple[Target, ...]
    source: str = "<built-in>"
    status_sources: tuple[SourceConfig, ...] = ()
    budget: BudgetSettings | None = None
    maintenance: Maintenance = field(default_factory=Maintenance)

    @property
    def series(self) -> list[Series]:
        return [
            Series(target, resolution, level)
            for target in self.targets
            for resolution in target.resolutions
            for level in target.thinking_levels
        ]

    @property
    def secrets(self) -> list[str]:
        return [t.api_key for t in self.targets if t.api_key] + [s.api_key for s in self.status_sources if s.api_key]
