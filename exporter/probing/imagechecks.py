"""Image checks after the decode: is the image the one that was paid for?

An image that decodes at the right size can still be a blank frame, a cheaper resolution scaled up,
the work of another model, or not what the prompt asked. Four small, pure checks, each with its own
verdict (docs/image-checks.md says what each looks for, and the rates measured on the corpus of
tests/image_corpus.py):

- `blank`: too little variation to be a picture. A blank image is broken: the probe's outcome is
  bad_image. The others are verdicts beside the outcome: a probe can succeed and still deliver a
  degraded image.
- `detail`: whether the image holds the detail of its resolution, or only that of a lower one scaled up.
- `model`: the model the answer says served it, against the one asked (through the catalog's families).
- `content`: for a verifiable prompt (SCENES: a named colour and shape), whether they are there.

Pixels are read once, on a worker thread (the probe's thumbnail thread): `blank` and `content` look at a
copy reduced to SMALL-2*SMALL pixels a side, `detail` at a few full-resolution tiles where the small copy has
edges, so a check costs a fraction of the decode (BENCHMARKS.md, "Image checks").
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from exporter.models import catalog
from exporter.domain.scenes import (
    AREA_MIN, CHECKS, COLOURS, DEFAULT_CHECKS, FAIL, PASS, SATURATION_MIN, SHAPES, SQUARE_ASPECT, UNCHECKED, VALUE_MIN,
    Scene, scene_of,
)

SMALL = 256  # the side of the copy blank and content read

@dataclass(frozen=True)
class Verdict:
    verdict: str  # PASS, FAIL or UNCHECKED
    why: str = ""  # what was measured, for the landing page and the logs

    @property
    def failed(self) -> bool:
        return self.verdict == FAIL


# --- blank
# JPEG noise on a flat frame stays under 2 of 255; the faintest scene the corpus holds (a small
# shape, 1 % of the frame) is over 15. A picture with a standard deviation under 4 in every channel
# is a frame of one colour.
BLANK_STDEV = 4.0


def blank(sample: np.ndarray) -> Verdict:
    """`sample`: pixels of the image picked without averaging (H x W x 3, uint8): a box-reduced copy
    would smooth fine texture (a noise-like picture) into a flat frame."""
    stdev = float(sample.reshape(-1, 3).std(axis=0).max())
    if stdev < BLANK_STDEV:
        return Verdict(FAIL, f"near-uniform image (largest channel stdev {stdev:.1f} of 255)")
    return Verdict(PASS, f"channel stdev {stdev:.1f}")


# --- detail
# An image scaled up from a lower resolution has soft edges: where a picture rendered at its own
# resolution steps from one colour to the next within a pixel or two, one scaled up 4x takes about
# four pixels. The sharpest steps of a tile over one pixel, against those over four, measure it:
# about 1 for a step within a pixel, 0.5 over two pixels, 0.25 over four (a linear ramp over w pixels
# gives 1/w). Read on the tiles with the strongest edges; the median of their ratios decides.
DETAIL_MIN_RATIO = 0.4  # edges wider than 2.5 pixels: detail of less than half the resolution
TILE = 128  # full-resolution tiles read by detail
TILES = 6
STEP_MIN = 24.0  # of 255: a tile whose sharpest 4-pixel steps are weaker than this has no edge to measure
TOP = 32  # the steps a tile's sharpness is read on: a share of the ~128 pixels an edge across it has


def _steps(tile: np.ndarray, distance: int) -> float:
    """The mean of the TOP largest steps over `distance` pixels, across and down."""
    across = np.abs(tile[:, distance:] - tile[:, :-distance])
    down = np.abs(tile[distance:] - tile[:-distance])
    return max(float(np.partition(a, -TOP, axis=None)[-TOP:].mean()) for a in (across, down))


def detail(image: Image.Image, small: np.ndarray) -> Verdict:
    """`image`: the full-resolution image; `small`: its reduced copy, where tiles with edges are found."""
    gray = small.mean(axis=2)
    gradient = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    fx, fy = image.width / small.shape[1], image.height / small.shape[0]
    cell = max(2, int(TILE / max(fx, fy)))  # a tile's side in the small copy
    ny, nx = max(1, gradient.shape[0] // cell), max(1, gradient.shape[1] // cell)
    cells = gradient[: ny * cell, : nx * cell].reshape(ny, cell, nx, cell).transpose(0, 2, 1, 3).reshape(ny, nx, -1)
    strongest = cells.max(axis=2)
    ratios = []
    for index in np.argsort(strongest, axis=None)[::-1][:TILES]:
        y, x = divmod(int(index), nx)
        dy, dx = divmod(int(cells[y, x].argmax()), cell)  # the tile is centred on the cell's strongest step
        cx, cy = int((x * cell + dx + 1) * fx), int((y * cell + dy + 1) * fy)
        left = min(max(0, cx - TILE // 2), max(0, image.width - TILE))
        top = min(max(0, cy - TILE // 2), max(0, image.height - TILE))
        tile = np.asarray(image.crop((left, top, left + TILE, top + TILE)).convert("L"), dtype=np.float32)
        far = _steps(tile, 4)
        if far >= STEP_MIN:
            ratios.append(_steps(tile, 1) / far)
    if not ratios:
        return Verdict(UNCHECKED, "no edges to measure detail on")
    ratio = float(np.median(ratios))
    if ratio < DETAIL_MIN_RATIO:
        return Verdict(FAIL, f"edge sharpness {ratio:.2f}: the image holds the detail of half its resolution or less")
    return Verdict(PASS, f"edge sharpness {ratio:.2f}")


# --- model
def _bare(model_id: str) -> str:
    """An id as the catalog spells it: no `models/` (Gemini's resource names) or `google/` (OpenRouter)
    prefix."""
    return model_id.strip().removeprefix("models/").removeprefix("google/")


def _family(model_id: str) -> catalog.Family | None:
    bare = _bare(model_id)
    for known in (model_id, bare, f"google/{bare}"):
        if known in catalog.MODELS:
            return catalog.MODELS[known].family
    # a dated or suffixed version of a catalog id (gemini-3-pro-image-preview-11-2025): the longest match
    matches = [m for m in catalog.MODELS if bare.startswith(_bare(m))]
    return catalog.MODELS[max(matches, key=len)].family if matches else None


def model(asked: str, served: str, family: catalog.Family | None = None) -> Verdict:
    """The served model against the asked one: the same id (less prefixes, or a dated version of it),
    or a model of the same catalog family (`family`: the asked model's, from the target's `family:` for
    a gateway's alias)."""
    if not served:
        return Verdict(UNCHECKED, "the answer does not name its model")
    if _bare(served).startswith(_bare(asked)):
        return Verdict(PASS, f"served by {served}")
    want, got = family or _family(asked), _family(served)
    if want is not None and got is not None and want == got:
        return Verdict(PASS, f"served by {served} ({got.title})")
    return Verdict(FAIL, f"asked {asked}, served by {served}" + (f" ({got.title})" if got else ""))


# --- content: the verifiable prompts (exporter/domain/scenes.py)
def _mask(hsv: np.ndarray, colour: str) -> np.ndarray:
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    inside = np.zeros(hue.shape, dtype=bool)
    for low, high in COLOURS[colour]:
        inside |= (hue >= low) & (hue < high)
    return inside & (sat >= SATURATION_MIN) & (val >= VALUE_MIN)


def _fill(mask: np.ndarray) -> tuple[float, float, float]:
    """(area fraction of the frame, fill of the bounding box, bounding box width / height) of the
    mask's region, with the rows filled between their extreme pixels (the scenes' shapes are convex:
    a highlight or a shading hole does not count against it) and a stray pixel's row or column ignored."""
    rows, cols = np.flatnonzero(mask.sum(axis=1) >= 2), np.flatnonzero(mask.sum(axis=0) >= 2)
    if rows.size == 0 or cols.size == 0:
        return 0.0, 0.0, 0.0
    top, bottom = np.percentile(rows, (0.5, 99.5))
    left, right = np.percentile(cols, (0.5, 99.5))
    box = mask[int(top): int(bottom) + 1, int(left): int(right) + 1]
    any_row = box.any(axis=1)
    first = np.argmax(box, axis=1)
    last = box.shape[1] - np.argmax(box[:, ::-1], axis=1)
    filled = float(np.where(any_row, last - first, 0).sum())
    height, width = box.shape
    return float(mask.sum()) / mask.size, filled / (width * height), width / height


def content(small: np.ndarray, scene: Scene | None) -> Verdict:
    """Whether the scene's colour covers a region of the scene's shape in `small` (RGB)."""
    if scene is None:
        return Verdict(UNCHECKED, "not a verifiable prompt: content is not checked")
    hsv = np.asarray(Image.fromarray(small).filter(ImageFilter.MedianFilter(3)).convert("HSV"))
    area, fill, aspect = _fill(_mask(hsv, scene.colour))
    if area < AREA_MIN:
        return Verdict(FAIL, f"no {scene.colour} region ({area:.1%} of the image)")
    low, high = SHAPES[scene.shape]
    squarish = SQUARE_ASPECT[0] <= aspect <= SQUARE_ASPECT[1]
    if not low <= fill < high or (scene.shape != "triangle" and not squarish):
        return Verdict(FAIL, f"the {scene.colour} region is not a {scene.shape} (fills {fill:.0%} of its box, "
                             f"aspect {aspect:.2f})")
    return Verdict(PASS, f"{scene.colour} {scene.shape}: {area:.0%} of the image, fills {fill:.0%} of its box")


# --- all of them, on the decoded image
def small_copy(image: Image.Image) -> np.ndarray:
    """The RGB image reduced by a whole factor (box averages: one pass in C) to at most SMALL...2*SMALL a side."""
    factor = max(1, max(image.size) // SMALL)
    return np.asarray(image.reduce(factor) if factor > 1 else image)


def sampled(image: Image.Image, small: np.ndarray) -> np.ndarray:
    """Pixels of the image at the reduced copy's size, picked (nearest), not averaged."""
    return np.asarray(image.resize((small.shape[1], small.shape[0]), Image.NEAREST))


def check_image(data: bytes, asked_model: str, served_model: str, prompt: str,
                checks: tuple[str, ...] = DEFAULT_CHECKS, family: catalog.Family | None = None) -> dict[str, Verdict]:
    """Every check's verdict on an image that decodes (the probe has verified it): the ones not in
    `checks` are unchecked. Runs on a worker thread: it decodes the image in full."""
    out = dict.fromkeys(CHECKS, Verdict(UNCHECKED, "turned off"))
    if "model" in checks:
        out["model"] = model(asked_model, served_model, family)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        image = image if image.mode == "RGB" else image.convert("RGB")
    small = small_copy(image)
    if "blank" in checks:
        out["blank"] = blank(sampled(image, small))
        if out["blank"].failed:  # nothing else can be judged on a blank frame
            return out | {c: Verdict(UNCHECKED, "blank image") for c in ("detail", "content") if c in checks}
    if "detail" in checks:
        out["detail"] = detail(image, small)
    if "content" in checks:
        out["content"] = content(small, scene_of(prompt))
    return out
