"""Then and now: each stage says what the talk used, what AWS offers today and what the kit builds, with sources."""

from __future__ import annotations

import json

import pytest

from workshop import config, stages, then_now


@pytest.mark.parametrize("number", range(1, 11))
def test_each_stage_has_a_sourced_table(number):
    """Stages 1-10 each have rows whose every field is filled and whose source names an AWS page by URL."""
    rows = then_now.ROWS[number]
    assert rows
    for row in rows:
        assert row.what and row.then and row.now and row.kit
        assert row.source.startswith("AWS, \"") and "https://" in row.source, row


@pytest.mark.parametrize("number", range(1, 11))
def test_the_notebook_carries_its_table(number):
    """The stage's notebook has the generated "Then and now" cell, as then_now.markdown gives it."""
    nb = json.loads((config.ROOT / "solutions" / stages.get(number).notebook).read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert then_now.markdown(number) in cells, f"stage {number}: regenerate its Then and now cell"


def test_where_the_talks_choice_is_retired_the_kit_says_it_builds_todays():
    """The Classic Load Balancer, launch configurations and the Amazon Linux AMI: the kit builds today's, and says so."""
    said = {r.what: r.kit for rows in then_now.ROWS.values() for r in rows}
    assert "Application Load Balancer" in said["the load balancer"]
    assert "launch template" in said["what the group launches"]
    assert "Amazon Linux 2023" in said["the operating system"]
