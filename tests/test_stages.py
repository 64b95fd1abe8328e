"""The stage registry is the truth: a stage added as one module shows up in cost, capacity, diagrams and the runner."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from workshop import cli, cost, exercises, runner, stages
from workshop.cost import prices
from workshop.errors import BadInput

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"


def _worked_example() -> str:
    """The stage module CONTRIBUTING.md shows under "Adding a stage" (so the example is one that works)."""
    section = CONTRIBUTING.read_text().split("## Adding a stage", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def stage42(tmp_path):
    """Stage 42 registered from a module in a temp folder (with its notebook there); unregistered after."""
    path = tmp_path / "s42_throwaway.py"
    path.write_text(_worked_example())
    stages.all_stages()  # the course's own stages first
    spec = importlib.util.spec_from_file_location("s42_throwaway", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        (tmp_path / module.STAGE.notebook).write_text("{}")
        yield module.STAGE
    finally:
        stages.unregister(42)
        sys.modules.pop(spec.name, None)


def test_registered_stage_is_listed_and_unregistered_stage_is_gone(stage42):
    """register() adds a stage and its exercises; unregister() takes both away again."""
    assert stages.get(42) is stage42 and [s.number for s in stages.all_stages()][-2:] == [42, 99]
    assert exercises.get("s42-answer").stage == 42
    stages.unregister(42)
    assert 42 not in [s.number for s in stages.all_stages()]
    with pytest.raises(BadInput):
        exercises.get("s42-answer")


def test_cost_prices_a_new_stage_from_its_bill(capsys, stage42):
    """`workshop cost` lists the new stage with its parts priced from the one price table."""
    assert cli.main(["cost", "--json"]) == 0
    doc = {e["stage"]: e for e in json.loads(capsys.readouterr().out)}
    assert 42 in doc and doc[42]["title"] == "A throwaway stage"
    expected = sum(p.quantity * prices.hourly(p.price_key) for p in stage42.bill)
    assert doc[42]["hourly_usd"] == pytest.approx(expected, abs=1e-4)
    assert [i["label"] for i in doc[42]["items"]][0] == "EC2 t2.micro x 1 (the only box)"
    assert cli.main(["cost", "42"]) == 0
    assert "Stage 42 (A throwaway stage)" in capsys.readouterr().out


def test_cost_refuses_a_stage_without_a_bill_naming_those_with_one(capsys):
    """A stage that creates nothing has no estimate; the error names the stages that have one."""
    assert cli.main(["cost", "0"]) == 2
    assert "stages 1-10 have one (0 and 99 create nothing)" in capsys.readouterr().err


def test_a_part_without_a_price_is_named(stage42):
    """A bill that names a price the table lacks fails in one line naming the stage, the part and prices.py."""
    from workshop.bill import Part
    from workshop.errors import WorkshopError

    stages.register(dataclasses.replace(stage42, bill=(Part("a mystery box", "ec2:z9.huge", 1),)))
    with pytest.raises(WorkshopError, match=r"stage 42 .*'ec2:z9.huge'.*prices.py"):
        cost.bill_of_materials(42)


def test_capacity_builds_and_measures_a_new_stage_against_its_band(capsys, monkeypatch, stage42):
    """`workshop capacity --stage 42` builds it on a private local AWS and reports its figures and its band."""
    from workshop.localaws import discover

    # no other local AWS to fall back on: every call must reach the private one (config.using), threads included
    monkeypatch.delenv("WORKSHOP_ENDPOINT", raising=False)
    monkeypatch.setattr(discover, "_embedded", None)
    assert cli.main(["capacity", "--stage", "42", "--json"]) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert doc["source"] == "stage 42" and doc["max_users"] > 2
    assert [t["label"] for t in doc["tiers"]] == ["single server, web + database (1 × t2.micro)",
                                                  "database connections (MySQL's default max_connections, 151)"]
    assert doc["band"] == {"low": 2, "high": None, "slide": "42", "note": "", "holds": True}


@pytest.mark.parametrize("number, band", [(1, {"low": 200, "high": 9_999, "slide": "3", "note": "", "holds": True}),
                                          (0, None)])
def test_capacity_reports_the_band_a_stage_declares(monkeypatch, number, band):
    """`capacity --stage N` carries the stage's band and whether the model lands in it; null for a stage without one."""
    from workshop.commands import capacity as command

    import capacity_slides

    monkeypatch.setattr(command, "stage_topology", lambda n: capacity_slides.stage1())
    doc = command.measure(number)
    assert doc["band"] == band
    if band:
        assert "the talk (slide 3): 200 to 9,999 users; the model is inside that band" in command.table(doc)


def test_a_band_the_talk_gives_no_count_for_says_how_it_is_derived(monkeypatch):
    """Stage 2's band (slide 4 gives no count) carries its derivation, and `capacity --stage 2` prints it."""
    from workshop.commands import capacity as command

    import capacity_slides

    monkeypatch.setattr(command, "stage_topology", lambda n: capacity_slides.stage1("c4.8xlarge"))
    doc = command.measure(2)
    assert doc["band"]["holds"] is True and "slide 4 gives no count" in doc["band"]["note"]
    assert "derived from the slides' wording: slide 4 gives no count" in command.table(doc)


def test_diagrams_render_a_new_stage(tmp_path, capsys, stage42):
    """`workshop diagrams` renders the new stage's architecture (PNG and DOT) beside the others."""
    pytest.importorskip("diagrams")
    from workshop import diagram

    if not diagram.graphviz_ready():
        pytest.skip("Graphviz's dot is not installed")
    out = tmp_path / "diagrams"
    assert cli.main(["diagrams", "--out", str(out)]) == 0
    assert (out / "42_throwaway.png").stat().st_size > 1000
    assert (out / "42_throwaway.dot").read_text() == diagram.dot_source(stage42.architecture)
    assert "(42 A throwaway stage)" in capsys.readouterr().out


def test_runner_selects_a_new_stage_with_a_notebook(tmp_path, stage42):
    """The runner picks the new stage when its notebook is in the source folder, alone or by number."""
    assert runner.select(None, tmp_path) == [stage42]
    assert runner.select(["42"], tmp_path) == [stage42]
    with pytest.raises(BadInput, match="no notebook"):
        runner.select(["1"], tmp_path)


def test_every_bill_is_priced_and_every_band_is_ordered():
    """Each registered stage's bill names prices the table has, and each band's low is below its high."""
    for stage in stages.all_stages():
        for part in stage.bill:
            assert part.price_key in prices.PRICES, (stage.number, part.label)
        if stage.band is not None:
            assert 0 < stage.band.low < stage.band.high and stage.band.slide, stage.number
