"""The pixel sizes providers return for a resolution and aspect ratio, and the check of an answer's size.

Sizes come from each model family's table in the catalog (exporter/models/catalog.py): non-square images
keep about the same pixel count, so their longest side is above the resolution's (16:9 at 1K is 1376x768).
"""

from __future__ import annotations

from exporter.models.catalog import FAMILIES, PRO, RESOLUTIONS, THINKING_LEVELS, UNKNOWN, Family

__all__ = ["ASPECT_RATIOS", "RESOLUTIONS", "THINKING_LEVELS", "expected_size", "size_problem"]

# every aspect ratio some family takes, in table order
ASPECT_RATIOS: tuple[str, ...] = tuple(dict.fromkeys(r for f in (*FAMILIES.values(), UNKNOWN) for r in f.pixels_1k))

# Providers round sizes to their own grid: accept a pixel count within this fraction of the
# documented one, and a width/height ratio within RATIO_TOLERANCE of the requested ratio.
AREA_TOLERANCE = 0.15
RATIO_TOLERANCE = 0.05


def expected_size(resolution: str, aspect_ratio: str, family: Family = PRO) -> tuple[int, int]:
    if aspect_ratio not in family.pixels_1k:
        family = UNKNOWN
    return family.size(resolution, aspect_ratio)


def size_problem(width: int, height: int, resolution: str, aspect_ratio: str, family: Family = PRO) -> str | None:
    """None when the image size fits the request, else a short explanation."""
    want_w, want_h = expected_size(resolution, aspect_ratio, family)
    if width <= 0 or height <= 0:
        return f"image has no pixels ({width}x{height})"
    area_error = abs(width * height / (want_w * want_h) - 1)
    ratio_error = abs((width / height) / (want_w / want_h) - 1)
    if area_error > AREA_TOLERANCE or ratio_error > RATIO_TOLERANCE:
        return f"image is {width}x{height}, expected about {want_w}x{want_h} for {resolution} {aspect_ratio}"
    return None
