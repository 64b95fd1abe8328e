"""Diagrams: rendered from each stage's description; the committed DOT matches; no Graphviz, one line."""

from __future__ import annotations

import pytest

from workshop import diagram, stages
from workshop.commands.diagrams import DIAGRAMS, file_stem
from workshop.errors import WorkshopError


def _described():
    return [s for s in stages.all_stages() if s.architecture is not None]


@pytest.mark.parametrize("stage", _described(), ids=lambda s: s.notebook)
def test_committed_dot_matches_the_stage_description(stage):
    """diagrams/NN_slug.dot is what the stage's description renders to today (run `workshop diagrams`)."""
    committed = DIAGRAMS / f"{file_stem(stage)}.dot"
    assert committed.exists(), f"{committed.name} missing: run 'workshop diagrams'"
    assert committed.read_text() == diagram.dot_source(stage.architecture)
    assert (DIAGRAMS / f"{file_stem(stage)}.png").stat().st_size > 1000


def test_dot_source_is_stable_and_machine_independent():
    """The DOT source is the same twice and names no absolute site-packages path."""
    arch = stages.get(0).architecture
    first, second = diagram.dot_source(arch), diagram.dot_source(arch)
    assert first == second
    assert "site-packages" not in first and "{diagrams}/resources/aws/network/route-53.png" in first


def test_every_kind_used_has_an_icon():
    """Every node kind in any stage description maps to a `diagrams` icon."""
    for stage in _described():
        for node in stage.architecture.nodes:
            assert node.kind in diagram.KINDS, f"stage {stage.number}: unknown kind {node.kind!r}"


def test_missing_graphviz_is_one_line_with_the_install_command(monkeypatch, capsys):
    """Without `dot`, rendering raises one line naming apt, brew and conda; show() prints it and goes on."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(WorkshopError) as caught:
        diagram.png_bytes(stages.get(0).architecture)
    message = str(caught.value)
    assert "\n" not in message and "apt-get install graphviz" in message and "conda" in message
    diagram.show(stages.get(0).architecture)
    assert capsys.readouterr().out.startswith("(diagram skipped)")
    assert diagram.graphviz_ready() is False
