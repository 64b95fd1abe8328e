"""The talk's slides 1-34, each taught in its place: the registry, README's generated table, the notebooks' text."""

from __future__ import annotations

import json

import pytest

from workshop import config, stages, talk


def _text(stage: int) -> str:
    """Every cell's source of the stage's solution notebook, lower-cased."""
    nb = json.loads((config.ROOT / "solutions" / stages.get(stage).notebook).read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"]).lower()


def test_every_slide_1_to_34_has_one_place():
    """Slides 1-34 appear once each, in order, each taught by a stage that exists."""
    assert [s.number for s in talk.SLIDES] == list(range(1, 35))
    assert all(stages.get(s.stage) for s in talk.SLIDES)


def test_readme_slide_table_is_the_generated_one():
    """README's slide -> notebook table is what `workshop slides` generates today."""
    committed = talk.block_in(talk.README.read_text())
    assert committed is not None, "README.md has no slide table: run workshop slides --write-readme"
    assert committed == talk.markdown(), "stale: run workshop slides --write-readme"


@pytest.mark.parametrize("slide", talk.SLIDES, ids=lambda s: f"slide{s.number}")
def test_the_notebook_teaches_its_slide(slide):
    """The stage's notebook carries the slide's phrase and names the slide."""
    text = _text(slide.stage)
    assert slide.quote.lower() in text, f"slide {slide.number}: {stages.get(slide.stage).notebook} lacks {slide.quote!r}"


def test_write_readme_replaces_only_the_table(tmp_path):
    """Writing the table twice leaves the README's prose alone and the table once."""
    readme = tmp_path / "README.md"
    readme.write_text("intro\n\n### Exercises\nend\n")
    talk.write_readme(readme)
    talk.write_readme(readme)
    text = readme.read_text()
    assert text.count(talk.BEGIN) == 1 and text.startswith("intro") and text.rstrip().endswith("end")


def _numbers(spec: str) -> set[int]:
    """'2-3, 5' or '2–3, 5' -> {2, 3, 5}"""
    out: set[int] = set()
    for part in spec.replace("–", "-").split(","):
        if part.strip() not in ("", "-"):
            low, _, high = part.strip().partition("-")
            out |= set(range(int(low), int(high or low) + 1))
    return out


def test_stages_declare_the_slides_they_teach():
    """Each stage's `slides` are exactly the slides the talk registry places in its notebook."""
    talk_slides = {s.number for s in talk.SLIDES}
    for stage in stages.all_stages():  # a stage of the talk's slides only (CONTRIBUTING's example is slide 42)
        placed = {s.number for s in talk.SLIDES if s.stage == stage.number}
        assert _numbers(stage.slides) & talk_slides == placed, (stage.number, stage.slides, sorted(placed))


def test_readme_course_table_names_each_stages_slides():
    """README's course table gives each notebook the slides its stage declares."""
    rows = {}
    for line in talk.README.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0][1:3].isdigit():
            rows[int(cells[0][1:3])] = cells[2]
    talk_slides = {s.number for s in talk.SLIDES}
    for stage in stages.all_stages():
        declared = _numbers(stage.slides) & talk_slides
        assert _numbers(rows.get(stage.number, "")) == declared, (stage.number, rows.get(stage.number))


def _repo_text_files():
    root = config.ROOT
    yield from (root / "solutions").glob("*.ipynb")
    yield from (root / "docs").glob("*.md")
    yield from (root / "README.md", root / "CONTRIBUTING.md")
    yield from (root / "workshop").rglob("*.py")


def test_nothing_points_outside_the_repository():
    """No notebook, doc or module cites ../shared/ or the storyline file; every repo path they name exists."""
    import re

    root = config.ROOT
    for path in _repo_text_files():
        text = path.read_text()
        assert "../shared/" not in text and "storyline.md" not in text, path
        for ref in re.findall(r"(?<![\w/.])((?:docs|workshop|tests|benchmarks)/[\w/.-]+\.(?:py|md))",
                              text):
            if "NN" not in ref:  # a pattern (sNN_slug.py), not a file
                assert (root / ref).exists(), f"{path.relative_to(root)} names {ref}, which does not exist"
