"""The image checks (exporter/probing/imagechecks.py): the corpus (tests/image_corpus.py) with its rates, the
model check through the catalog, the served model read from recorded answers, and the simulator's
image faults through a real probe."""

from __future__ import annotations

import functools

import pytest

from exporter.models import catalog
from exporter.probing.imagechecks import check_image, model
from exporter.contract.outcomes import Outcome
from exporter.domain.scenes import CHECKS, DEFAULT_PROMPTS, FAIL, PASS, UNCHECKED, Scene, prompt_of, scene_of
from tests import image_corpus
from tests.conftest import config_for

JUDGED = ("blank", "detail", "content")  # the checks the pixels decide


@functools.cache
def corpus_verdicts(part: str) -> list[tuple[image_corpus.Case, dict]]:
    # a sample of the corpus (one scene in 3, 4K one in 6): the whole is BENCHMARKS.md's run
    cases = {"faithful": lambda: image_corpus.faithful(every=3), "wrong": image_corpus.wrong,
             "4K": lambda: image_corpus.upscaled("4K", every=6)}[part]()
    return [(case, check_image(case.data, "gemini-3-pro-image", "", case.prompt)) for case in cases]


@pytest.mark.parametrize("part", ["faithful", "wrong", "4K"])
def test_every_corpus_image_gets_the_verdicts_it_must(part):
    wrong = []
    for case, verdicts in corpus_verdicts(part):
        for check in JUDGED:
            verdict = verdicts[check].verdict
            if (check in case.fails) != (verdict == FAIL):
                wrong.append(f"{case.name}: {check} {verdict} ({verdicts[check].why})")
    assert not wrong, wrong
    # what docs/image-checks.md quotes: every faithful rendering judged, none of them failed
    if part == "faithful":
        judged = [v for _, verdicts in corpus_verdicts(part) for c, v in verdicts.items() if c in JUDGED]
        assert len(judged) == 3 * 96 and all(v.verdict == PASS for v in judged)


def one_faithful_image() -> image_corpus.Case:
    scene = Scene("red", "circle")
    return image_corpus.Case("red-circle", image_corpus.encode(image_corpus.render(scene, image_corpus.SQUARE_1K)),
                             prompt_of(scene), frozenset())


def test_a_prompt_that_is_not_a_scene_gets_every_check_but_content():
    case = one_faithful_image()
    verdicts = check_image(case.data, "gemini-3-pro-image", "gemini-3-pro-image", "A cat in a hat")
    assert verdicts["content"].verdict == UNCHECKED and "not a verifiable prompt" in verdicts["content"].why
    assert {c: verdicts[c].verdict for c in ("blank", "detail", "model")} == dict.fromkeys(("blank", "detail", "model"), PASS)


def test_checks_turned_off_are_unchecked():
    case = one_faithful_image()
    verdicts = check_image(case.data, "gemini-3-pro-image", "gemini-2.5-flash-image", case.prompt, ("blank",))
    assert verdicts["blank"].verdict == PASS
    assert all(verdicts[c].verdict == UNCHECKED for c in CHECKS if c != "blank")


def test_the_default_rotation_is_verifiable_scenes():
    assert len(DEFAULT_PROMPTS) >= 3 and all(scene_of(p) for p in DEFAULT_PROMPTS)
    assert scene_of("A simple red circle on a white background") == Scene("red", "circle")
    assert scene_of("a small blue square on a light background.") == Scene("blue", "square")
    assert scene_of("A small blue square on a grey background") is None  # not the documented form
    assert scene_of(prompt_of(Scene("purple", "triangle"))) == Scene("purple", "triangle")


@pytest.mark.parametrize("asked, served, verdict", [
    ("gemini-3-pro-image", "gemini-3-pro-image", PASS),
    ("gemini-3-pro-image-preview", "gemini-3-pro-image-preview-11-2025", PASS),  # a dated version
    ("google/gemini-3.1-flash-image", "google/gemini-3.1-flash-image", PASS),
    ("gemini-3.1-flash-image", "models/gemini-3.1-flash-image-preview", PASS),  # the same family
    ("gemini-3-pro-image", "gemini-2.5-flash-image", FAIL),
    ("google/gemini-3-pro-image", "google/gemini-2.5-flash-image", FAIL),
    ("gemini-3-pro-image", "some-other-model", FAIL),
    ("gemini-3-pro-image", "", UNCHECKED),
])
def test_the_model_check_maps_ids_through_the_catalog(asked, served, verdict):
    assert model(asked, served).verdict == verdict


def test_a_gateway_alias_is_judged_by_the_target_family():
    assert model("nano-banana-pro", "gemini-3-pro-image", catalog.PRO).verdict == PASS
    assert model("nano-banana-pro", "gemini-2.5-flash-image", catalog.PRO).verdict == FAIL


@pytest.mark.parametrize("api, fixture, served", [
    ("gemini", "gemini-generatecontent-image-success.json", ("gemini-3.1-flash-image", "")),
    ("openrouter", "openrouter-chat-image-success.json", ("google/gemini-3.1-flash-image", "Google")),
    ("openai_chat", "vercel-chat-image-success.json", ("google/gemini-3.1-flash-image-preview", "")),
    ("openai_images", "openai-images-response.json", ("", "")),  # OpenAI's images answer names no model
    ("openrouter_images", "openrouter-images-api-success.json", ("", "")),  # nor does OpenRouter's images API
])
def test_each_dialect_reads_what_served_the_answer(api, fixture, served):
    from exporter.probing.dialects import DIALECTS
    from tests.test_upstream_answers import load

    answer = DIALECTS[api].parse(load(fixture))
    assert (answer.model, answer.provider) == served


@pytest.mark.parametrize("fault, check", [
    (None, None), ("blank", "blank"), ("upscaled", "detail"), ("substituted", "model"), ("off_prompt", "content"),
])
async def test_the_simulator_faults_fail_their_check_and_only_it(simulator, prober, fault, check):
    sim, base = simulator
    sim.configure({"faults": [{"kind": fault}] if fault else []})
    config = config_for(base, "gemini", model="gemini-3-pro-image", resolutions=["2K"])
    attempt = await prober.probe(config.series[0], DEFAULT_PROMPTS[1])
    failed = {c for c, (verdict, _) in attempt.verdicts.items() if verdict == FAIL}
    assert failed == ({check} if check else set()), attempt.verdicts
    if check == "blank":  # a blank frame is broken: bad_image, and nothing else is judged
        assert attempt.outcome is Outcome.BAD_IMAGE and "blank" in attempt.message
    else:
        assert attempt.outcome is Outcome.SUCCESS, attempt.message
        assert all(attempt.verdicts[c][0] == PASS for c in CHECKS if c != check), attempt.verdicts
    assert attempt.served_model == ("gemini-2.5-flash-image" if fault == "substituted" else "gemini-3-pro-image")


def test_fine_texture_is_no_blank_frame():
    # the simulator's noise payload (2x2-pixel blocks, stdev 30): averaged down to 256 px it is almost
    # flat (stdev 3.8, found by the memory benchmark); blank reads pixels picked, not averaged
    from exporter.simulator.images import png

    verdicts = check_image(png(4096, 4096, "noise"), "gemini-3-pro-image", "", "A cat")
    assert verdicts["blank"].verdict == PASS, verdicts["blank"].why


async def test_the_landing_page_shows_what_served_and_each_verdict_beside_the_image(simulator, prober):
    from exporter.exposition import landing
    from exporter.domain.state import Store

    sim, base = simulator
    sim.configure({"faults": [{"kind": "substituted"}]})
    config = config_for(base, "openrouter", model="google/gemini-3-pro-image")
    store = Store()
    store.apply(config)
    [state] = list(store)
    state.record(await prober.probe(config.series[0], DEFAULT_PROMPTS[0]))
    page = landing.render(store, True, "<test>")
    assert "google/gemini-2.5-flash-image <small>via Google</small>" in page
    assert 'model: <span class="fail" title="asked google/gemini-3-pro-image, served by google/gemini-2.5-flash-image' in page
    for check in ("blank", "detail", "content"):
        assert f'{check}: <span class="success"' in page
    assert state.image_check_streaks["model"] == 1 and state.last_judged == dict.fromkeys(CHECKS, True) | {"model": False}


def test_the_period_report_counts_each_check_s_verdicts():
    from exporter.report.data import Report, Row
    from exporter.report.render import tables

    row = Row(("prod", "gemini-3-pro-image", "4K"), {"success": 96.0},
              image_checks={"detail": [96.0, 12.0], "model": [96.0, 0.0], "content": [0.0, 0.0]})
    report = Report(0.0, 86400.0, 60.0, "", 0.995, "--slo")
    report.rows = [row]
    header, rows = tables(report)["Image checks"]
    assert header[3:] == ["check", "images judged", "failed", "failed share"]
    assert rows == [["prod", "gemini-3-pro-image", "4K", "detail", "96", "12", "12.5%"],
                    ["prod", "gemini-3-pro-image", "4K", "model", "96", "0", "0.0%"]]  # never judged: left out
    report.rows = [Row(row.key, {"success": 1.0})]
    assert "Image checks" not in tables(report)  # an exporter without the checks: no section
