"""The verifiable prompts and the names of the image checks (exporter/probing/imagechecks.py runs them).

A verifiable prompt asks for one simple scene, a named colour and a shape on a light background
("A simple red circle on a white background"): what the image must hold is known without any model,
so the `content` check can look for it. The default `prompts:` rotation is DEFAULT_PROMPTS; a user's
own prompt in the same form is verifiable too, any other prompt gets the checks that do not depend on
it (`blank`, `detail`, `model`) and its `content` verdict is `unchecked`. Kept apart from the checks so
the config reads these names without numpy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHECKS: tuple[str, ...] = ("blank", "detail", "model", "content")
PASS, FAIL, UNCHECKED = "pass", "fail", "unchecked"
VERDICTS: tuple[str, ...] = (PASS, FAIL, UNCHECKED)
# The checks a probe runs unless a target's `image_checks:` says otherwise: those whose false alarms
# stay under 1 % on the corpus (docs/image-checks.md).
DEFAULT_CHECKS: tuple[str, ...] = ("blank", "detail", "model", "content")


DESCRIPTIONS: dict[str, str] = {
    "blank": "the image varies too little to be a picture (every channel's standard deviation under "
             "BLANK_STDEV of 255): a black, grey or white frame, a silent render failure",
    "detail": "the image's edges are as soft as those of a lower resolution scaled up (DETAIL_MIN_RATIO)",
    "model": "the answer names a model of another family than the one asked",
    "content": "the prompt's named colour and shape are not in the image",
}


# --- content: the verifiable prompts
# Hue ranges on PIL's HSV scale (0-255 for 0-360 degrees)
COLOURS: dict[str, tuple[tuple[int, int], ...]] = {
    "red": ((0, 12), (240, 256)),
    "orange": ((12, 26),),
    "yellow": ((30, 48),),
    "green": ((60, 115),),
    "blue": ((140, 185),),
    "purple": ((190, 220),),
}
# How much of its bounding box a filled shape covers: a circle pi/4, a square 1, a triangle 1/2
SHAPES: dict[str, tuple[float, float]] = {
    "circle": (0.68, 0.88),
    "square": (0.88, 1.01),
    "triangle": (0.38, 0.65),
}
SATURATION_MIN = 90  # of 255: below, a pixel is white, grey or black, whatever its hue
VALUE_MIN = 50
AREA_MIN = 0.003  # of the frame: a shape smaller than this is not "a red circle" the prompt asked
SQUARE_ASPECT = (0.8, 1.25)  # the bounding box of a circle or a square

_SCENE = re.compile(r"^an? (?:simple |small |large |big )?(\w+) (\w+) on an? (?:white|light|plain) background\.?$",
                    re.IGNORECASE)


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str


def scene_of(prompt: str) -> Scene | None:
    """The scene a verifiable prompt asks ("A simple red circle on a white background"), else None."""
    match = _SCENE.match(prompt.strip())
    if not match:
        return None
    colour, shape = match.group(1).lower(), match.group(2).lower()
    return Scene(colour, shape) if colour in COLOURS and shape in SHAPES else None


def prompt_of(scene: Scene) -> str:
    return f"A simple {scene.colour} {scene.shape} on a white background"



# The default rotation: one scene per probe in turn, every colour and shape in three probes
DEFAULT_SCENES: tuple[Scene, ...] = (Scene("red", "circle"), Scene("blue", "square"), Scene("green", "triangle"))
DEFAULT_PROMPTS: tuple[str, ...] = tuple(prompt_of(scene) for scene in DEFAULT_SCENES)
