"""Real images of the requested size and scene, made once per size and kept."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw

from exporter.domain.scenes import Scene, scene_of

PAYLOADS = ("solid", "noise")
NOISE_SIGMA = 30  # with 2x2 blocks: 4K ~16 MB, 2K ~4 MB, 1K ~1 MB of PNG, as real generated images weigh
# what a faithful answer draws for every prompt that is not a verifiable scene
DEFAULT_SCENE = Scene("red", "circle")
# the simulator's named colours (exporter/domain/scenes.py COLOURS names them, the content check reads them)
RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "orange": (245, 130, 10), "yellow": (245, 215, 20), "green": (30, 150, 50),
    "blue": (30, 60, 220), "purple": (130, 40, 170),
}
# the off_prompt fault's answer: another colour and another shape than the one asked
OTHER_COLOUR = {"red": "blue", "orange": "blue", "yellow": "purple", "green": "red", "blue": "yellow", "purple": "green"}
OTHER_SHAPE = {"circle": "square", "square": "triangle", "triangle": "circle"}
UPSCALE = 4  # the upscaled fault: rendered at a quarter of the size, scaled up (a 1K image sold as 4K)


def scene_for(prompt: str) -> Scene:
    return scene_of(prompt) or DEFAULT_SCENE


def off_prompt(scene: Scene) -> Scene:
    return Scene(OTHER_COLOUR[scene.colour], OTHER_SHAPE[scene.shape])


@functools.lru_cache(maxsize=32)
def png(width: int, height: int, payload: str = "solid", scene: Scene = DEFAULT_SCENE, look: str = "faithful") -> bytes:
    """`solid`: the scene on white (a few KB at any size); `noise`: random 2x2-pixel blocks that
    compress about as badly as a real picture, for realistic transfer and decode costs.
    `look`: faithful, blank (a grey frame) or upscaled (drawn at 1/UPSCALE of the size, scaled up)."""
    if look == "upscaled":
        small = Image.open(io.BytesIO(png(max(1, width // UPSCALE), max(1, height // UPSCALE), payload, scene)))
        return _encode(small.convert("RGB").resize((width, height), Image.BICUBIC))
    if look == "blank":
        return _encode(Image.new("RGB", (width, height), (128, 128, 128)))
    if payload == "noise":
        half = (max(1, width // 2), max(1, height // 2))
        bands = [Image.effect_noise(half, NOISE_SIGMA) for _ in range(3)]
        return _encode(Image.merge("RGB", bands).resize((width, height), Image.NEAREST))
    image = Image.new("RGB", (width, height), "white")
    r = min(width, height) // 4
    cx, cy = width // 2, height // 2
    draw, fill = ImageDraw.Draw(image), RGB[scene.colour]
    if scene.shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif scene.shape == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=fill)
    return _encode(image)


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()
