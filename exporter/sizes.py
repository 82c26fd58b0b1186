"""Resolutions, aspect ratios and the pixel sizes providers return for them.

The 1K sizes are those the Gemini API documents for each aspect ratio; 2K and 4K double and
quadruple them. Non-square images keep about the same pixel count, so their longest side is
above 1024/2048/4096 (16:9 at 1K is 1376x768).
"""

RESOLUTIONS: tuple[str, ...] = ("1K", "2K", "4K")
THINKING_LEVELS: tuple[str, ...] = ("default", "minimal", "low", "medium", "high")

_SIZES_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
}
ASPECT_RATIOS: tuple[str, ...] = tuple(_SIZES_1K)
_SCALE = {"1K": 1, "2K": 2, "4K": 4}

# Providers round sizes to their own grid: accept a pixel count within this fraction of the
# documented one, and a width/height ratio within RATIO_TOLERANCE of the requested ratio.
AREA_TOLERANCE = 0.15
RATIO_TOLERANCE = 0.05


def expected_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    width, height = _SIZES_1K[aspect_ratio]
    scale = _SCALE[resolution]
    return width * scale, height * scale


def size_problem(width: int, height: int, resolution: str, aspect_ratio: str) -> str | None:
    """None when the image size fits the request, else a short explanation."""
    want_w, want_h = expected_size(resolution, aspect_ratio)
    if width <= 0 or height <= 0:
        return f"image has no pixels ({width}x{height})"
    area_error = abs(width * height / (want_w * want_h) - 1)
    ratio_error = abs((width / height) / (want_w / want_h) - 1)
    if area_error > AREA_TOLERANCE or ratio_error > RATIO_TOLERANCE:
        return f"image is {width}x{height}, expected about {want_w}x{want_h} for {resolution} {aspect_ratio}"
    return None
