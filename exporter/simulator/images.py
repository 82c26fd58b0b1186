"""Real images of the requested size, made once per size and kept."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw

PAYLOADS = ("solid", "noise")
NOISE_SIGMA = 30  # with 2x2 blocks: 4K ~16 MB, 2K ~4 MB, 1K ~1 MB of PNG, as real generated images weigh


@functools.lru_cache(maxsize=32)
def png(width: int, height: int, payload: str = "solid") -> bytes:
    """`solid`: a red circle on white (a few KB at any size); `noise`: random 2x2-pixel blocks that
    compress about as badly as a real picture, for realistic transfer and decode costs."""
    if payload == "noise":
        half = (max(1, width // 2), max(1, height // 2))
        bands = [Image.effect_noise(half, NOISE_SIGMA) for _ in range(3)]
        image = Image.merge("RGB", bands).resize((width, height), Image.NEAREST)
    else:
        image = Image.new("RGB", (width, height), "white")
        r = min(width, height) // 4
        cx, cy = width // 2, height // 2
        ImageDraw.Draw(image).ellipse((cx - r, cy - r, cx + r, cy + r), fill=(220, 30, 30))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()
