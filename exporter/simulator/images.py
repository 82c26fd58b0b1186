"""Real images of the requested size, made once per size and kept."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw


@functools.lru_cache(maxsize=32)
def png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    r = min(width, height) // 4
    cx, cy = width // 2, height // 2
    ImageDraw.Draw(image).ellipse((cx - r, cy - r, cx + r, cy + r), fill=(220, 30, 30))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()
