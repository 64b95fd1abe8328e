"""`workshop capacity`: --stage builds on a private local AWS, --live reads the target, --users, --json."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from workshop import cli, stages


def _run(capsys, *argv):
    code = cli.main(["capacity", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def run_id(local_aws, monkeypatch):
    """A fresh run id on the session's local AWS, set as the current run."""
    rid = f"cli-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("WORKSHOP_RUN_ID", rid)
    return rid


@pytest.fixture
def stage1_built(run_id):
    """Stage 1 built for the current run on the session's local AWS."""
    from workshop.notebook import StageContext

    ctx = StageContext.of(stages.get(1), run_id, "us-east-1")
    ctx.build_previous()
    stages.get(1).build(ctx)
    return run_id


def test_unknown_stage_lists_the_valid_ones(capsys, local_aws):
    """--stage 12345 exits 2 with one line naming the valid stages, and builds nothing."""
    code, out, err = _run(capsys, "--stage", "12345")
    assert code == 2 and out == ""
    assert "unknown stage '12345'" in err and "valid stages: " in err and "1 (" in err
    assert len(err.strip().splitlines()) == 1


def test_live_with_nothing_built_says_run_a_stage_first(capsys, run_id):
    """--live on a run with nothing provisioned says 'nothing to measure yet: run a stage first'."""
    code, out, err = _run(capsys, "--live")
    assert code == 2 and "nothing to measure yet: run a stage first" in err


def test_stage_json_builds_privately_and_lands_in_the_band(capsys, local_aws):
    """--stage 1 --json builds stage 1 on a private local AWS and reports the talk's few hundred..few thousand."""
    before = os.environ.get("WORKSHOP_ENDPOINT")
    code, out, err = _run(capsys, "--stage", "1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert 200 <= doc["max_users"] <= 9_999
    assert doc["bottleneck"] and doc["tiers"] and {"key", "label", "utilisation"} <= set(doc["tiers"][0])
    assert os.environ.get("WORKSHOP_ENDPOINT") == before  # the private local AWS is gone, the target restored


def test_users_changes_per_tier_utilisation(capsys, stage1_built):
    """--users sets the load: ten times the users, ten times each tier's utilisation."""
    _, out1, _ = _run(capsys, "--live", "--users", "100", "--json")
    _, out2, _ = _run(capsys, "--live", "--users", "1000", "--json")
    t1, t2 = json.loads(out1)["tiers"], json.loads(out2)["tiers"]
    assert [t["key"] for t in t1] == [t["key"] for t in t2]
    for a, b in zip(t1, t2):
        assert b["utilisation"] == pytest.approx(10 * a["utilisation"], rel=1e-3)
    assert json.loads(out2)["users"] == 1000


def test_human_form_is_a_small_table(capsys, stage1_built):
    """Without --json the answer is the summary line and a table of tiers."""
    code, out, _ = _run(capsys, "--live", "--users", "2000")
    lines = out.splitlines()
    assert code == 0
    assert "this architecture serves up to ~" in lines[0] and "the bottleneck is" in lines[0]
    assert lines[1].startswith("tier") and "use at 2,000 users" in lines[1]
    assert any("t2.micro" in line or "server" in line for line in lines[3:])


def test_invalid_assumption_is_named_before_anything_is_built(capsys, local_aws):
    """--set with a hit ratio above 1 exits 2 naming the assumption and its range."""
    code, out, err = _run(capsys, "--stage", "1", "--set", "cache_hit_ratio=1.5")
    assert code == 2 and "cache_hit_ratio = 1.5 is out of range" in err and "at most 1" in err


@pytest.mark.parametrize("users", ["-5", "inf", "nan", "-inf"])
def test_users_outside_the_valid_range_is_refused_in_one_line(capsys, local_aws, users):
    """--users -5, inf or nan is refused with one line that gives the valid range, not a traceback."""
    code, _, err = _run(capsys, "--live", f"--users={users}")
    assert code == 2 and err.count("\n") == 1 and "--users must be 0 or more (a finite number" in err


def test_stage_10_json_reaches_ten_million(capsys, local_aws):
    """--stage 10 builds the whole design (stages 1-9 first) and reports 10 million users or more."""
    code, out, err = _run(capsys, "--stage", "10", "--json", "--users", "10000000")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["max_users"] >= 10_000_000, doc["summary"]
    assert {"api", "lambda", "events-table"} <= {t["key"] for t in doc["tiers"]}
    assert all(t["utilisation"] > 0 for t in doc["tiers"] if t["key"] in ("web", "db-primary"))


def test_stage_that_builds_nothing_says_so(capsys, local_aws):
    """--stage 0 (the welcome notebook) says it builds nothing to measure and names the stages that do."""
    code, out, err = _run(capsys, "--stage", "0")
    assert code == 2 and out == ""
    assert "builds nothing to measure" in err and "stages that build: 1, " in err
