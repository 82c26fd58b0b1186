"""The model catalog: the one source of truth for what each Nano Banana model id is.

A *family* holds what a kind of model takes and returns: resolutions, aspect ratios, thinking levels,
which request fields it accepts, the pixel size of each answer, the output tokens of each image and
their price. A *model* is an id (a Gemini API id, its preview id, an OpenRouter slug) with its
family, stage and announced shutdown date. Config validation, pixel checks, prices, the plan, the
`nanobanana_model_*` metrics, the simulator and the catalog table of docs/configuration.md all read it from here.

Sources, checked 2026-12-01 (VERIFIED: read on a Google page or in Google's SDK source; everything
else is marked UNVERIFIED where it stands):
  [deprecations] https://ai.google.dev/gemini-api/docs/deprecations (ids, release and shutdown dates;
                 "the shutdown dates listed indicate the earliest possible dates")
  [changelog]    https://ai.google.dev/gemini-api/docs/changelog (2026-05-28: gemini-3-pro-image and
                 gemini-3.1-flash-image GA, both previews shut down 2026-06-25; 2026-10-06:
                 gemini-3.1-flash-image deprecated, no shutdown date announced, migrate to
                 gemini-nano-banana-2.1, which is GA with 1K/2K/4K and 1:4, 4:1, 1:8, 8:1)
  [lite]         https://ai.google.dev/gemini-api/docs/models/gemini-3.1-flash-lite-image (1K only,
                 14 aspect ratios, thinking minimal and high)
  [vertex-nb2]   Vertex AI's Gemini 3.1 Flash Image page: 747 / 1120 / 1680 / 2520 output tokens
                 for 512 / 1K / 2K / 4K images
  [genai]        googleapis/python-genai types.py: ImageConfig.image_size "1K" (default), "2K", "4K";
                 ThinkingLevel MINIMAL, LOW, MEDIUM, HIGH
  [vertex-ratios] https://docs.cloud.google.com/vertex-ai/generative-ai/docs/multimodal/image-understanding
                 (Gemini 3 Pro Image: 1:1, 3:2, 2:3, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9)
  [openrouter]   https://openrouter.ai/docs/guides/overview/multimodal/image-generation (slugs,
                 `image_size` "0.5K" in chat requests, Nano Banana's pixel table). Seen again 2026-12-06
                 (a mirror of the page): the guide now documents a dedicated Image API instead
                 (`POST /api/v1/images`, `resolution` 512 / 1K / 2K / 4K, ratios including 9:21,
                 per-endpoint `supported_parameters` at /api/v1/images/models/{slug}/endpoints) and
                 no longer the chat "0.5K", which stays what the chat dialects send (UNVERIFIED now)
  [vercel]       https://vercel.com/ai-gateway/models/gemini-3.1-flash-lite-image (2026-12-06): the
                 gateway slug google/gemini-3.1-flash-lite-image
  [lite-price]   THIRD PARTY ONLY (Google's pricing page not stored): $30 per 1M image tokens, $0.0336
                 per 1K image (1120 tokens), text $0.25 in / $1.50 out: Lumenfall's listing quoting
                 https://cloud.google.com/vertex-ai/generative-ai/pricing, GMI Cloud's model page, and
                 Google's launch post (blog.google, 2026-06-30, as archived by QianJinGuo/wiki:
                 "cost reduced by 50%" against Nano Banana 2's $60), all seen 2026-12-06
  [2.1-price]    THIRD PARTY ONLY: BerriAI/litellm discussion #44983 "Day 0 Support for Nano Banana
                 2.1" (image output $30 / MTok, $0.0336 per 1K image, text input $1.50, text output
                 $7.50), seen 2026-12-06
  [vertex-dates] UNVERIFIED, from issue 31: Vertex AI retired the preview ids on 2026-07-17, three weeks
                 after the Gemini API; Vertex's model-versions page says only that new access stops
                 a month before a retirement date. Dates are per platform: Model.platform_shutdown
  [vertex-921]   UNVERIFIED, from issue 31: Vertex lists 15 aspect ratios for Nano Banana 2, 9:21
                 included. Google's stored Vertex page for the preview id lists 10 (2026-02-26) and
                 later 12 (with 4:1, 8:1); OpenRouter's Image API lists 9:21 among its normalized
                 ratios. Accepted on Vertex only: a ratio Vertex refuses is a quick client_error
  [pricing]      https://ai.google.dev/gemini-api/docs/pricing: not found in the stored copies; every
                 price here is UNVERIFIED (third parties quoting it agree, and so does the arithmetic
                 with the token counts)
Pixel tables of Google's own image-generation page were not found either: UNVERIFIED, which is why
the size check allows AREA_TOLERANCE (exporter/models/sizes.py) and catches a size silently ignored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# Every resolution and thinking level any family takes, in display order; "default" sends no
# thinking setting. Families take a subset (Family.resolutions, Family.thinking_levels).
RESOLUTIONS: tuple[str, ...] = ("512", "1K", "2K", "4K")
THINKING_LEVELS: tuple[str, ...] = ("default", "minimal", "low", "medium", "high")

# Pixel sizes at 1K per aspect ratio (ratios [vertex-ratios], pixels UNVERIFIED); other resolutions
# scale them (RESOLUTION_SCALE).
_PRO_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200), "4:3": (1200, 896),
    "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376), "16:9": (1376, 768), "21:9": (1584, 672),
}
# Nano Banana 2 adds four extreme ratios [changelog] (pixel sizes UNVERIFIED: about 1 MP at the
# ratio; 1:4 at 1K was reported as 512x2064)
_FLASH_31_1K: dict[str, tuple[int, int]] = {
    **_PRO_1K, "1:4": (512, 2048), "4:1": (2048, 512), "1:8": (352, 2816), "8:1": (2816, 352),
}
# Ratios a platform takes beyond the family's: (api, ratio) -> 1K pixels, the transpose of 21:9 [vertex-921]
_VERTEX_921: dict[str, tuple[int, int]] = {"9:21": (672, 1584)}
# Nano Banana (2.5) has its own table [openrouter]: one size per ratio, no imageSize.
_FLASH_25_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184), "4:3": (1184, 864),
    "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344), "16:9": (1344, 768), "21:9": (1536, 672),
}
RESOLUTION_SCALE: dict[str, float] = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}

STAGES: tuple[str, ...] = ("preview", "ga", "deprecated", "shutdown")  # deprecated: a shutdown date is announced
RETIRING_DAYS = 30  # --config.check and NanoBananaModelRetiring warn this long before a shutdown


@dataclass(frozen=True)
class Family:
    name: str  # the `family` label value and the `family:` config value
    title: str  # Google's nickname
    product: str  # Google's product name
    resolutions: tuple[str, ...]
    aspect_ratios_1k: dict[str, tuple[int, int]] = field(repr=False)
    thinking_levels: tuple[str, ...]
    image_tokens: dict[str, int]  # output tokens per image, by resolution
    usd_per_million_image_tokens: float
    # the text rates the canary (exporter/background/canary.py) pays: prompt tokens, and text and thinking output
    usd_per_million_input_tokens: float = 2.0
    usd_per_million_text_tokens: float = 12.0
    takes_image_size: bool = True  # the API accepts imageConfig.imageSize
    # aspect ratios only some platforms (dialect names) take, with their 1K pixels
    platform_ratios: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict, repr=False)

    @property
    def aspect_ratios(self) -> tuple[str, ...]:
        return tuple(self.aspect_ratios_1k)

    def aspect_ratios_on(self, api: str | None) -> tuple[str, ...]:
        """The ratios the family takes on a platform: its own, and that platform's extra ones."""
        return (*self.aspect_ratios_1k, *self.platform_ratios.get(api or "", {}))

    def takes_thinking(self, level: str) -> bool:
        return level == "default" or level in self.thinking_levels

    @property
    def pixels_1k(self) -> dict[str, tuple[int, int]]:
        """1K pixels of every ratio the family takes on some platform."""
        return {r: px for ratios in self.platform_ratios.values() for r, px in ratios.items()} | self.aspect_ratios_1k

    def size(self, resolution: str, aspect_ratio: str) -> tuple[int, int]:
        width, height = self.pixels_1k[aspect_ratio]
        scale = RESOLUTION_SCALE[resolution] if self.takes_image_size else 1.0
        return round(width * scale), round(height * scale)

    def price_per_image(self, resolution: str) -> float:
        """List price in USD of one image: its output tokens at the family's image-token price, to
        the tenth of a cent as Google publishes it (1120 tokens at $120 / 1M: $0.134)."""
        tokens = self.image_tokens.get(resolution, max(self.image_tokens.values()))
        return round(tokens * self.usd_per_million_image_tokens / 1e6, 3)

    @property
    def prices(self) -> dict[str, float]:
        return {r: self.price_per_image(r) for r in self.resolutions}


PRO = Family(
    name="nano-banana-pro", title="Nano Banana Pro", product="Gemini 3 Pro Image",
    resolutions=("1K", "2K", "4K"), aspect_ratios_1k=_PRO_1K,
    # Pro always thinks; whether it takes a level is UNVERIFIED (no source says it refuses one)
    thinking_levels=("low", "high"),
    image_tokens={"1K": 1120, "2K": 1120, "4K": 2000},  # UNVERIFIED [pricing]: $0.134 (1K/2K), $0.24 (4K)
    usd_per_million_image_tokens=120.0,
    usd_per_million_input_tokens=2.0, usd_per_million_text_tokens=12.0,  # UNVERIFIED [pricing]
)
FLASH_2 = Family(
    name="nano-banana-2", title="Nano Banana 2", product="Gemini 3.1 Flash Image",
    resolutions=("512", "1K", "2K", "4K"), aspect_ratios_1k=_FLASH_31_1K,
    thinking_levels=("minimal", "high"),  # UNVERIFIED (VERIFIED for its Lite sibling [lite])
    image_tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},  # [vertex-nb2]
    usd_per_million_image_tokens=60.0,  # UNVERIFIED [pricing]: $0.045 / $0.067 / $0.101 / $0.151
    usd_per_million_input_tokens=0.5, usd_per_million_text_tokens=3.0,  # UNVERIFIED [pricing]
    platform_ratios={"vertex": _VERTEX_921},  # [vertex-921]
)
FLASH_21 = Family(
    name="nano-banana-2.1", title="Nano Banana 2.1", product="Gemini Nano Banana 2.1",
    resolutions=("1K", "2K", "4K"), aspect_ratios_1k=_FLASH_31_1K,  # [changelog]: no 512
    thinking_levels=("minimal", "medium", "high"),  # UNVERIFIED
    image_tokens={"1K": 1120, "2K": 1680, "4K": 2520},  # UNVERIFIED: Nano Banana 2's counts
    usd_per_million_image_tokens=30.0,  # [2.1-price]: $0.0336 per 1K image
    # [2.1-price]; this catalog had Nano Banana 2's $0.50 / $3.00 until 2026-12-06 (the canary's spend 2.5-3x low)
    usd_per_million_input_tokens=1.5, usd_per_million_text_tokens=7.5,
)
FLASH_2_LITE = Family(
    name="nano-banana-2-lite", title="Nano Banana 2 Lite", product="Gemini 3.1 Flash Lite Image",
    resolutions=("1K",), aspect_ratios_1k=_FLASH_31_1K,  # [lite]
    thinking_levels=("minimal", "high"),  # [lite]
    image_tokens={"1K": 1120},  # [lite-price]
    # [lite-price]: $0.0336 per image; this catalog had Nano Banana 2's $60, an upper bound, until 2026-12-06
    usd_per_million_image_tokens=30.0,
    usd_per_million_input_tokens=0.25, usd_per_million_text_tokens=1.5,  # [lite-price]
)
FLASH = Family(
    name="nano-banana", title="Nano Banana", product="Gemini 2.5 Flash Image",
    resolutions=("1K",), aspect_ratios_1k=_FLASH_25_1K,
    thinking_levels=(),  # takes no thinking config
    image_tokens={"1K": 1290},  # UNVERIFIED [pricing]: $30 per 1M image tokens, $0.039 per image
    usd_per_million_image_tokens=30.0,
    usd_per_million_input_tokens=0.3, usd_per_million_text_tokens=2.5,  # UNVERIFIED: Gemini 2.5 Flash's text rates
    takes_image_size=False,
)
# A model id the catalog does not know and no `family:` names: everything is accepted and priced as
# Nano Banana Pro (the dearest: a budget errs on the safe side); --config.check says so.
UNKNOWN = Family(
    name="unknown", title="unknown family", product="a model the catalog does not know, priced as Nano Banana Pro",
    resolutions=RESOLUTIONS, aspect_ratios_1k=_FLASH_31_1K | _VERTEX_921, thinking_levels=THINKING_LEVELS[1:],
    image_tokens=PRO.image_tokens | {"512": PRO.image_tokens["1K"]}, usd_per_million_image_tokens=120.0,
)
FAMILIES: dict[str, Family] = {f.name: f for f in (PRO, FLASH_21, FLASH_2, FLASH_2_LITE, FLASH)}


@dataclass(frozen=True)
class Model:
    id: str
    family: Family
    stage: str  # "preview" or "ga" as released; deprecated and shutdown follow from the dates
    released: dt.date | None = None
    deprecated: dt.date | None = None  # announced deprecation (with or without a shutdown date)
    shutdown: dt.date | None = None  # announced shutdown date (Google: the earliest possible date)
    successor: str | None = None
    source: str = ""  # where the entry was checked
    # a platform (dialect name) that shuts the id down on another day than `shutdown` [vertex-dates]
    platform_shutdown: dict[str, dt.date] = field(default_factory=dict)

    def shutdown_on(self, api: str | None = None) -> dt.date | None:
        """The shutdown date on a platform: its own where it has one, else the announced one."""
        return self.platform_shutdown.get(api or "", self.shutdown)

    def stage_on(self, day: dt.date, api: str | None = None) -> str:
        shutdown = self.shutdown_on(api)
        if shutdown is not None and day >= shutdown:
            return "shutdown"
        if shutdown is not None or (self.deprecated is not None and day >= self.deprecated):
            return "deprecated"
        return self.stage


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


MODELS: dict[str, Model] = {m.id: m for m in (
    Model("gemini-3-pro-image", PRO, "ga", _d("2026-05-28"), source="[changelog] [deprecations]"),
    Model("gemini-3-pro-image-preview", PRO, "preview", _d("2025-11-20"), _d("2026-05-28"), _d("2026-06-25"),
          "gemini-3-pro-image", source="[deprecations] [changelog] [vertex-dates]",
          platform_shutdown={"vertex": _d("2026-07-17")}),
    Model("gemini-nano-banana-2.1", FLASH_21, "ga", _d("2026-10-06"), source="[changelog]"),
    # deprecated without a shutdown date [changelog]; a shutdown on 2026-10-29 is reported by third
    # parties only (UNVERIFIED): NanoBananaModelGone tells when it stops answering
    Model("gemini-3.1-flash-image", FLASH_2, "ga", _d("2026-05-28"), _d("2026-10-06"), None, "gemini-nano-banana-2.1",
          source="[changelog]"),
    Model("gemini-3.1-flash-image-preview", FLASH_2, "preview", _d("2026-02-26"), _d("2026-05-28"), _d("2026-06-25"),
          "gemini-3.1-flash-image", source="[deprecations] [changelog] [vertex-dates]",
          platform_shutdown={"vertex": _d("2026-07-17")}),
    Model("gemini-3.1-flash-lite-image", FLASH_2_LITE, "ga", _d("2026-06-30"), source="[lite]"),
    Model("gemini-2.5-flash-image", FLASH, "ga", _d("2025-10-02"), None, _d("2026-10-02"), "gemini-nano-banana-2.1",
          source="[deprecations]"),
    Model("gemini-2.5-flash-image-preview", FLASH, "preview", None, None, _d("2026-01-15"), "gemini-2.5-flash-image",
          source="[changelog] (shut down by 2026-01-15)"),
    # OpenRouter slugs [openrouter]; their lifecycle is assumed to follow Google's (UNVERIFIED)
    Model("google/gemini-3-pro-image", PRO, "ga", source="UNVERIFIED on OpenRouter (Vercel's AI Gateway lists it)"),
    Model("google/gemini-3-pro-image-preview", PRO, "preview", None, _d("2026-05-28"), _d("2026-06-25"),
          "google/gemini-3-pro-image", source="UNVERIFIED: Google's dates"),
    # 2.1 and Lite: the slugs follow OpenRouter's google/<Gemini API id> pattern, as every Nano Banana
    # slug before them; no OpenRouter page for either was found (UNVERIFIED; Vercel's gateway uses the
    # Lite slug [vercel]). The catalog drift check reports a slug OpenRouter does not list.
    Model("google/gemini-nano-banana-2.1", FLASH_21, "ga", _d("2026-10-06"), source="UNVERIFIED slug; [changelog]"),
    Model("google/gemini-3.1-flash-lite-image", FLASH_2_LITE, "ga", _d("2026-06-30"), source="UNVERIFIED slug; [vercel]"),
    Model("google/gemini-3.1-flash-image", FLASH_2, "ga", None, _d("2026-10-06"), None, "google/gemini-nano-banana-2.1",
          source="[openrouter]"),
    Model("google/gemini-3.1-flash-image-preview", FLASH_2, "preview", None, _d("2026-05-28"), _d("2026-06-25"),
          "google/gemini-3.1-flash-image", source="[openrouter]; Google's dates UNVERIFIED for the slug"),
    Model("google/gemini-2.5-flash-image", FLASH, "ga", None, None, _d("2026-10-02"), "google/gemini-nano-banana-2.1",
          source="[openrouter]; Google's dates UNVERIFIED for the slug"),
)}


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def family_of(model_id: str, family: str | None = None) -> Family:
    """The family a target's model belongs to: its `family:` setting, else the catalog's, else UNKNOWN."""
    if family is not None:
        return FAMILIES[family]
    model = MODELS.get(model_id)
    return model.family if model else UNKNOWN


def lifecycle_warning(model_id: str, day: dt.date, api: str | None = None) -> str | None:
    """A sentence for --config.check when the id is shut down, shuts down within RETIRING_DAYS, or
    is deprecated, on the target's platform; None for a current id or one the catalog does not know."""
    model = MODELS.get(model_id)
    if model is None:
        return None
    then = f" Use {model.successor} instead." if model.successor else ""
    shutdown = model.shutdown_on(api)
    where = f" on {api}" if api in model.platform_shutdown else ""
    if shutdown is not None and day >= shutdown:
        return (f"model {model_id} was shut down{where} on {shutdown.isoformat()} (Google's announced date): "
                f"expect 404 answers (NanoBananaModelGone).{then}")
    if shutdown is not None and (shutdown - day).days <= RETIRING_DAYS:
        return f"model {model_id} shuts down{where} on {shutdown.isoformat()}, in {(shutdown - day).days} days.{then}"
    if model.stage_on(day, api) == "deprecated" and shutdown is None:
        return f"model {model_id} is deprecated since {model.deprecated.isoformat()} (no shutdown date announced).{then}"
    return None


def markdown_table() -> str:
    """The catalog table of docs/configuration.md (tests/test_catalog.py keeps it equal to this):
    `python -m exporter.models.catalog` prints it. Dates only: the stage on a given day follows from them."""
    rows = ["| model id | family | released as | deprecated | shutdown | successor | resolutions | aspect ratios "
            "| thinking levels | USD per image |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in MODELS.values():
        f = m.family
        ratios = "10 (1:1 ... 21:9)" if len(f.aspect_ratios) == 10 else f"{len(f.aspect_ratios)} (also 1:4, 4:1, 1:8, 8:1)"
        ratios += "".join(f"; {api}: also {', '.join(extra)}" for api, extra in f.platform_ratios.items())
        prices = ", ".join(f"{r} {p:g}" for r, p in f.prices.items())
        shutdown = f"{m.shutdown or '-'}" + "".join(f" ({api}: {day})" for api, day in m.platform_shutdown.items())
        rows.append(f"| `{m.id}` | {f.title} | {m.stage} | {m.deprecated or '-'} | {shutdown} | {m.successor or '-'} | "
                    f"{', '.join(f.resolutions)} | {ratios} | {', '.join(f.thinking_levels) or 'none'} | {prices} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
