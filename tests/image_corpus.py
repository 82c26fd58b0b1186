"""A corpus for the image checks (exporter/probing/imagechecks.py), made with Pillow: renderings a real model
plausibly returns for each verifiable prompt, which must pass, and wrong answers, which must fail.

Each case is (name, image bytes, prompt, the checks it must fail). tests/test_imagechecks.py asserts
every case and the rates; `python -m tests.image_corpus` prints the false-alarm and miss rates per
check and the cost per image (docs/image-checks.md and BENCHMARKS.md quote them).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

from exporter.domain.scenes import COLOURS, SHAPES, Scene, prompt_of

# shades a model may pick for each named colour
SHADES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "red": ((220, 30, 30), (200, 16, 46), (240, 70, 55), (170, 20, 30)),
    "orange": ((255, 140, 0), (245, 120, 40), (230, 110, 20)),
    "yellow": ((250, 215, 0), (250, 230, 60), (240, 200, 30)),
    "green": ((34, 139, 34), (50, 205, 50), (20, 160, 90)),
    "blue": ((30, 60, 220), (65, 105, 225), (20, 40, 140), (0, 120, 215)),
    "purple": ((128, 0, 128), (140, 60, 200), (110, 40, 170)),
}
# what the checks see of every other colour: the one a case uses when it must be wrong
OTHER_COLOUR = {"red": "blue", "orange": "blue", "yellow": "purple", "green": "red", "blue": "yellow",
                "purple": "green"}
OTHER_SHAPE = {"circle": "square", "square": "triangle", "triangle": "circle"}


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    prompt: str
    fails: frozenset[str]  # the checks this image must fail; every other check must not


def _shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float], fill) -> None:
    left, top, right, bottom = box
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([((left + right) / 2, top), (right, bottom), (left, bottom)], fill=fill)


def _box(size: tuple[int, int], centre: tuple[float, float], scale: float) -> tuple[float, float, float, float]:
    w, h = size
    r = min(w, h) * scale / 2
    cx, cy = w * centre[0], h * centre[1]
    return cx - r, cy - r, cx + r, cy + r


def render(scene: Scene, size: tuple[int, int], *, shade: int = 0, centre=(0.5, 0.5), scale: float = 0.5,
           background: str = "white", antialias: bool = True, shaded: bool = False, photo: bool = False,
           ) -> Image.Image:
    """The scene at `size`: anti-aliased (drawn at 3x and reduced), shaded (lit from the top left),
    on a white, gradient, textured or photographic background."""
    ss = (2 if max(size) <= 2048 else 1) if antialias else 1  # a 4K image blurs its edges instead
    big = (size[0] * ss, size[1] * ss)
    colour = SHADES[scene.colour][shade % len(SHADES[scene.colour])]
    if background == "gradient":
        image = Image.linear_gradient("L").resize(big).point(lambda v: 255 - v // 6).convert("RGB")
    elif background == "cream":
        image = Image.new("RGB", big, (250, 246, 232))
    else:
        image = Image.new("RGB", big, "white")
    box = _box(big, centre, scale)
    if photo:  # a soft shadow under the object
        shadow = Image.new("L", big, 0)
        dx = (box[2] - box[0]) * 0.06
        _shape(ImageDraw.Draw(shadow), scene.shape, (box[0] + dx, box[1] + dx, box[2] + dx, box[3] + dx), 110)
        shadow = shadow.filter(ImageFilter.GaussianBlur(big[0] / 60))
        image.paste((90, 90, 90), mask=shadow)
    mask = Image.new("L", big, 0)
    _shape(ImageDraw.Draw(mask), scene.shape, box, 255)
    if shaded or photo:  # lit from the top left: lighter there, darker at the far edge
        light = Image.radial_gradient("L").resize((int(box[2] - box[0]) * 2, int(box[3] - box[1]) * 2))
        shade_map = Image.new("L", big, 255)
        shade_map.paste(light.point(lambda v: min(255, 40 + v)), (int(box[0] - (box[2] - box[0]) * 0.7),
                                                                   int(box[1] - (box[3] - box[1]) * 0.7)))
        dark = Image.new("RGB", big, tuple(int(c * 0.55) for c in colour))
        lit = Image.new("RGB", big, tuple(min(255, int(c * 1.0 + 25)) for c in colour))
        body = Image.composite(dark, lit, shade_map)
        image.paste(body, mask=mask)
    else:
        image.paste(colour, mask=mask)
    if ss > 1:
        image = image.reduce(ss)
    elif antialias:
        image = image.filter(ImageFilter.GaussianBlur(0.6))
    if background == "texture" or photo:  # paper texture, film grain
        grain = Image.effect_noise(size, 12 if photo else 8).convert("RGB")
        image = Image.blend(image, grain, 0.08)
        image = Image.eval(image, lambda v: min(255, v + 10))
    if photo:
        image = image.filter(ImageFilter.GaussianBlur(0.5))
    return image


def encode(image: Image.Image, fmt: str = "PNG", quality: int = 90) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=quality)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


SQUARE_1K = (1024, 1024)
ASPECTS = {"16:9": (1376, 768), "9:16": (768, 1376), "4:3": (1200, 896)}
SCALES = {"1K": 1, "2K": 2, "4K": 4}


def scenes(every: int = 1) -> list[Scene]:
    """Every colour and shape; `every` > 1 takes one scene in that many (the tests' quicker sample)."""
    return [Scene(c, s) for c in COLOURS for s in SHAPES][::every]


def faithful(size_1k: tuple[int, int] = SQUARE_1K, every: int = 1) -> list[Case]:
    """Renderings that must pass every check, at 1K (the other resolutions: upscaled())."""
    cases = []
    for colour, shape in ((s.colour, s.shape) for s in scenes(every)):
        if True:
            scene = Scene(colour, shape)
            prompt = prompt_of(scene)
            variants = {
                "flat": dict(antialias=False),
                "antialiased": dict(),
                "shade1": dict(shade=1),
                "shade2": dict(shade=2),
                "shaded": dict(shaded=True),
                "gradient": dict(background="gradient", shade=1),
                "texture": dict(background="texture"),
                "cream": dict(background="cream", shade=2),
                "off-centre": dict(centre=(0.3, 0.65), scale=0.35),
                "small": dict(centre=(0.6, 0.4), scale=0.15),
                "large": dict(scale=0.85),
                "photo": dict(photo=True, shade=3),
            }
            for name, kwargs in variants.items():
                image = render(scene, size_1k, **kwargs)
                cases.append(Case(f"{colour}-{shape}-{name}", encode(image), prompt, frozenset()))
            image = render(scene, size_1k, shaded=True, shade=1)
            cases.append(Case(f"{colour}-{shape}-jpeg", encode(image, "JPEG", 70), prompt, frozenset()))
            for aspect, size in ASPECTS.items():
                image = render(scene, size, background="gradient")
                cases.append(Case(f"{colour}-{shape}-{aspect}", encode(image), prompt, frozenset()))
    return cases


def wrong() -> list[Case]:
    """Answers that must fail: the checks each must fail are named."""
    cases = []
    for colour in COLOURS:
        for shape in SHAPES:
            scene = Scene(colour, shape)
            prompt = prompt_of(scene)
            other_colour = render(Scene(OTHER_COLOUR[colour], shape), SQUARE_1K, shaded=True)
            cases.append(Case(f"{colour}-{shape}-as-{OTHER_COLOUR[colour]}", encode(other_colour), prompt,
                              frozenset({"content"})))
            other_shape = render(Scene(colour, OTHER_SHAPE[shape]), SQUARE_1K, background="gradient")
            cases.append(Case(f"{colour}-{shape}-as-{OTHER_SHAPE[shape]}", encode(other_shape), prompt,
                              frozenset({"content"})))
            # a gateway's cached answer: another scene, whatever was asked
            cached = render(Scene(OTHER_COLOUR[colour], OTHER_SHAPE[shape]), SQUARE_1K)
            cases.append(Case(f"{colour}-{shape}-cached", encode(cached), prompt, frozenset({"content"})))
    prompt = prompt_of(Scene("red", "circle"))
    for fill in ((0, 0, 0), (255, 255, 255), (128, 128, 128), (250, 246, 232)):
        blank = Image.new("RGB", SQUARE_1K, fill)
        cases.append(Case(f"blank-{fill}", encode(blank), prompt, frozenset({"blank"})))
        cases.append(Case(f"blank-{fill}-jpeg", encode(blank, "JPEG", 60), prompt, frozenset({"blank"})))
    noisy = Image.blend(Image.new("RGB", SQUARE_1K, (40, 40, 40)), Image.effect_noise(SQUARE_1K, 4).convert("RGB"), 0.1)
    cases.append(Case("blank-dark-noise", encode(noisy), prompt, frozenset({"blank"})))
    return cases


def upscaled(resolution: str, size_1k: tuple[int, int] = SQUARE_1K, every: int = 1) -> list[Case]:
    """At `resolution`: each scene rendered there (must pass) and rendered at 1K then scaled up, by
    bicubic and Lanczos filters (must fail detail when scaled up 4x; at 2x, see docs/image-checks.md)."""
    factor = SCALES[resolution]
    size = (size_1k[0] * factor, size_1k[1] * factor)
    cases = []
    for i, (colour, shape) in enumerate((s.colour, s.shape) for s in scenes(every)):
        scene = Scene(colour, shape)
        prompt = prompt_of(scene)
        kwargs = [dict(), dict(shaded=True), dict(background="texture"), dict(photo=True)][i % 4]
        cases.append(Case(f"{colour}-{shape}-{resolution}-native", encode(render(scene, size, **kwargs)), prompt,
                          frozenset()))
        if factor > 1:
            small = render(scene, size_1k, **kwargs)
            for name, how in (("bicubic", Image.BICUBIC), ("lanczos", Image.LANCZOS)):
                cases.append(Case(f"{colour}-{shape}-1K-{name}-to-{resolution}", encode(small.resize(size, how)),
                                  prompt, frozenset({"detail"}) if factor >= 4 else frozenset()))
    return cases


def report() -> str:
    """The corpus' rates per check and the checks' cost per image: what docs/image-checks.md and
    BENCHMARKS.md quote (`python -m tests.image_corpus`; several minutes; `--costs`: the costs alone)."""
    return rates() + "\n" + costs()


def rates() -> str:
    from exporter.probing import imagechecks

    parts = {"faithful 1K": faithful(), "wrong": wrong(), "2K (1K scaled up 2x)": upscaled("2K"),
             "4K (1K scaled up 4x)": upscaled("4K")}
    rows = ["| part | images | check | judged | false alarms | misses |", "|---|---|---|---|---|---|"]
    for part, cases in parts.items():
        counts: dict[str, list[int]] = {}
        for case in cases:
            verdicts = imagechecks.check_image(case.data, "gemini-3-pro-image", "", case.prompt)
            for check in ("blank", "detail", "content"):
                judged, false, missed, must = counts.setdefault(check, [0, 0, 0, 0])
                verdict = verdicts[check].verdict
                fails = check in case.fails or (check == "detail" and "-to-" in case.name)
                counts[check] = [judged + (verdict != "unchecked"), false + (verdict == "fail" and not fails),
                                 missed + (fails and verdict != "fail"), must + fails]
        for check, (judged, false, missed, must) in counts.items():
            good = judged - must
            rows.append(f"| {part} | {len(cases)} | {check} | {judged} | {false}/{good} | {missed}/{must} |")
    return "\n".join(rows) + "\n"


def costs() -> str:
    """Median milliseconds of 5 runs per 1K/2K/4K PNG (a shaded scene on a textured background)."""
    import statistics
    import time

    from PIL import Image as PILImage

    from exporter.probing import imagechecks

    costs = ["| image | PNG KiB | decode ms | small copy ms | blank ms | detail ms | content ms |",
             "|---|---|---|---|---|---|---|"]
    for resolution, factor in SCALES.items():
        data = encode(render(Scene("red", "circle"), (1024 * factor, 1024 * factor), shaded=True, background="texture"))
        times: dict[str, list[float]] = {k: [] for k in ("decode", "small", "blank", "detail", "content")}
        for _ in range(5):
            t = time.perf_counter()
            with PILImage.open(io.BytesIO(data)) as image:
                image.load()
            times["decode"].append(time.perf_counter() - t)
            for name, work in (("small", lambda: imagechecks.small_copy(image)),):
                t = time.perf_counter()
                small = work()
                times[name].append(time.perf_counter() - t)
            for name, work in (("blank", lambda: imagechecks.blank(imagechecks.sampled(image, small))),
                               ("detail", lambda: imagechecks.detail(image, small)),
                               ("content", lambda: imagechecks.content(small, Scene("red", "circle")))):
                t = time.perf_counter()
                work()
                times[name].append(time.perf_counter() - t)
        ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
        costs.append(f"| {resolution} | {len(data) // 1024} | " + " | ".join(f"{ms[k]:.1f}" for k in times) + " |")
    return "\n".join(costs) + "\n"


if __name__ == "__main__":
    import sys

    print(costs() if "--costs" in sys.argv else report(), end="")
