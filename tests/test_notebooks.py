"""The course end to end: every notebook runs headless, alone, twice, and as the learner gets it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import nbformat
import pytest

from workshop import config, exercises, inventory, runner, stages, teardown
from workshop.localaws import process

pytestmark = pytest.mark.notebooks

SOLUTION_NOTEBOOKS = sorted(exercises.SOLUTIONS.glob("*.ipynb"))


@pytest.fixture
def private_aws(monkeypatch, tmp_path_factory):
    """A fresh local AWS in a process of its own, so the account is this test's alone (moto's state is
    per process: a server started inside the test process would share every other test's resources)."""
    folder = tmp_path_factory.mktemp("private-aws")
    proc, state = process.spawn(0, folder / "state.json", folder / "local-aws.log")
    monkeypatch.setenv("WORKSHOP_ENDPOINT", state["endpoint"])
    yield state
    process.stop(proc)


def _tracked_notebooks():
    out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=config.ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"git could not list the notebooks: {out.stderr.strip()}"
    found = [config.ROOT / line for line in out.stdout.split()]
    assert found, "git lists no notebook: the check would pass on nothing"
    return found


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_course_conventions(path):
    """NN_slug name of a registered stage, a title, one `parameters` cell with run_id/target/region, no input()."""
    stage = stages.get(path.name[:2])
    assert stage.notebook == path.name
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {path.name[:2]}")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    declared = runner.declared_parameters(path)
    assert {"run_id", "target", "region"} <= set(declared)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    outside_strings = re.sub(r"('''|\"\"\").*?\1", "", code, flags=re.S)  # Lambda handler sources may use boto3
    assert "input(" not in code and "boto3.client(" not in outside_strings


def test_committed_notebooks_have_no_outputs():
    """Every notebook in git is stored without outputs or execution counts."""
    for path in _tracked_notebooks():
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs: clear them"


def test_whole_course_runs_in_parallel_twice_creating_nothing_twice_then_tears_down(private_aws, tmp_path):
    """`make course`'s run: every building notebook passes with --jobs 2 and the report says so; run again
    in the same run they create no new resource (re-runnable); the teardown notebook then empties the
    account. (One test: each pass of the course is minutes.)"""
    building = [str(s.number) for s in runner.select(None) if not s.tears_down]
    passes = []
    for n in ("first", "second"):
        results = runner.run_course(building, jobs=2, build=tmp_path / n, progress=False, run_id="twice")
        failed = [f"{r.notebook}: {r.error}" for r in results if r.status != "passed"]
        assert not failed, f"{n} pass:\n" + "\n".join(failed)
        passes.append((results, inventory.course_resources(), _auto_scaled()))
    (results, first, _), (_, second, _) = passes
    scaled = passes[0][2] | passes[1][2]

    def by_notebooks(found):  # an Auto Scaling group's own launches are the group's doing, not a notebook's
        return {(r.kind, r.name) for r in found if not (r.kind == "ec2 instance" and r.id in scaled)}

    assert len(first) > 40  # the course builds dozens of resources (not a count to keep exact)
    assert by_notebooks(second) == by_notebooks(first)
    report = (results[0].output.parent / "report.html").read_text()
    assert f"{len(results)} of {len(results)} notebooks passed" in report
    for r in results:
        assert r.output.exists()
        stage = stages.get(r.stage)
        if stage.architecture is not None:
            assert r.images, f"{r.notebook} drew no diagram"
    tearing = [str(s.number) for s in runner.select(None) if s.tears_down]
    assert tearing, "no notebook tears the course down"
    results = runner.run_course(tearing, build=tmp_path / "teardown", progress=False, run_id="twice")
    assert all(r.status == "passed" for r in results), [r.error for r in results if r.error]
    assert {r.notebook for r in passes[0][0]} | {r.notebook for r in results} == {p.name for p in SOLUTION_NOTEBOOKS}
    assert teardown.scan(run=None) == []  # the teardown notebook ran last and the whole account is empty


def _auto_scaled() -> set[str]:
    from workshop import aws

    pages = aws.client("autoscaling").get_paginator("describe_auto_scaling_instances").paginate()
    return {i["InstanceId"] for page in pages for i in page["AutoScalingInstances"]}


def test_learner_notebooks_run_and_explain_unsolved_exercises(private_aws, tmp_path):
    """The learner's notebooks (answers stubbed) run to the end; each unsolved check says what is wrong and a hint."""
    results = runner.run_course(None, jobs=2, source=exercises.NOTEBOOKS, build=tmp_path, progress=False)
    assert all(r.status == "passed" for r in results), [r.error for r in results if r.error]
    for r in results:
        nb = nbformat.read(r.output, as_version=4)
        checked = [c for c in nb.cells if c.cell_type == "code" and re.search(r"\bcheck\(\s*[\"']", c.source)]
        for cell in checked:
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert "✗" in text and "Hint:" in text, f"{r.notebook}: no friendly message in\n{cell.source}"
            assert not any(o.output_type == "error" for o in cell.outputs)


def _cli(args, env, timeout=600):
    return subprocess.run([sys.executable, "-m", "workshop", *args], cwd=config.ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _offline_env(tmp_path, **extra):
    """Real-looking credentials, and every non-loopback connection sent to a dead proxy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKSHOP_", "AWS_"))}
    env.update(
        WORKSHOP_HOME=str(tmp_path / "home"),
        AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        AWS_PROFILE="default", AWS_DEFAULT_REGION="eu-west-1",
        HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def test_first_stages_run_offline_with_real_looking_credentials(tmp_path):
    """`workshop run 0 1` passes with real-looking keys exported and nothing reachable but loopback."""
    wanted = [n for n in ("0", "1") if (exercises.SOLUTIONS / stages.get(n).notebook).exists()]
    proc = _cli(["run", *wanted, "--no-progress", "--build", str(tmp_path / "b")], _offline_env(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(wanted)} passed, 0 failed" in proc.stdout


def test_real_account_without_confirmation_refuses_and_creates_nothing(tmp_path):
    """WORKSHOP_TARGET=aws without WORKSHOP_AWS_ACCOUNT exits non-zero with the opt-in message."""
    proc = _cli(["run", "0", "--no-progress", "--build", str(tmp_path / "b")], _offline_env(tmp_path, WORKSHOP_TARGET="aws"))
    assert proc.returncode != 0
    assert "WORKSHOP_AWS_ACCOUNT" in proc.stdout + proc.stderr
    executed = next((tmp_path / "b").glob("runs/*/00_welcome.ipynb"), None)
    if executed is not None:  # the notebook stopped at its set-up cell, before any AWS call
        nb = json.loads(executed.read_text())
        ran = [c for c in nb["cells"] if c["cell_type"] == "code" and c.get("execution_count")]
        assert len(ran) <= 3
