"""`workshop run`: stage selection, parameter checking, failures in three lines, parallel isolation."""

from __future__ import annotations

import nbformat
import pytest

from workshop import cli, runner, stages
from workshop.errors import BadInput


def _notebook(path, *cells, run_id="demo"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(f'run_id: str = "{run_id}"  # run id\ntarget: str = "auto"  # target')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_unknown_stage_lists_the_valid_ones(capsys):
    """`workshop run 42` exits 2 with one line listing the valid stages."""
    assert cli.main(["run", "42", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("workshop: unknown stage '42'; valid stages: 0 (welcome)") and "\n" not in err


def test_unknown_parameter_names_the_valid_ones():
    """A parameter no selected notebook declares is an error naming the declared ones (papermill only warns)."""
    with pytest.raises(BadInput, match=r"unknown parameter colour; valid parameters: .*run_id.*target"):
        runner.run_course(["0"], params={"colour": "blue"}, progress=False, report=False)


def test_badly_typed_parameter_is_refused():
    """A value that does not fit the declared type is refused before any kernel starts."""
    stage = runner.select(None)[-1]
    spec = runner.declared_parameters(runner.SOLUTIONS / stage.notebook)
    numeric = next((k for k, v in spec.items() if v["inferred_type_name"] in ("int", "float")), None)
    if numeric is None:
        pytest.skip("no numeric parameter in the course yet")
    with pytest.raises(BadInput, match="is not a"):
        runner.run_course([str(stage.number)], params={numeric: "lots"}, progress=False, report=False)


def test_failing_cell_is_reported_in_three_lines(local_aws, tmp_path):
    """A failing cell fails the run; the summary names notebook, cell and error in 3 lines."""
    src = tmp_path / "src"
    src.mkdir()
    _notebook(src / "00_welcome.ipynb", "x = 1", "raise ValueError('the database is on fire')")
    results = runner.run_course(["0"], source=src, build=tmp_path / "build", progress=False)
    (r,) = results
    assert r.status == "failed"
    lines = r.error.splitlines()
    assert len(lines) == 3
    assert "00_welcome.ipynb" in lines[0] and "raise ValueError" in lines[0]
    assert lines[1].strip() == "ValueError: the database is on fire"
    assert (tmp_path / "build" / "00_welcome.ipynb").exists()
    report = (tmp_path / "build" / "report.html").read_text()
    assert "failed" in report and "the database is on fire" in report


def test_a_workshop_error_in_a_notebook_fails_it_with_its_own_message(local_aws, tmp_path):
    """A WorkshopError shows as one line in the notebook and still fails the run with that message."""
    src = tmp_path / "src"
    src.mkdir()
    _notebook(src / "00_welcome.ipynb", "from workshop import notebook\nws = notebook.start(stage=0)",
              "from workshop.errors import WorkshopError\nraise WorkshopError('expected 2 AZs, found 1: add a subnet')")
    (r,) = runner.run_course(["0"], source=src, build=tmp_path / "build", progress=False)
    assert r.status == "failed" and "WorkshopError: expected 2 AZs, found 1: add a subnet" in r.error
    out = nbformat.read(tmp_path / "build" / "00_welcome.ipynb", as_version=4)
    error = [o for o in out.cells[-1].outputs if o.output_type == "error"][0]
    assert len(error.traceback) == 1  # one line, not a traceback


def test_parallel_notebooks_get_their_own_run_ids(local_aws, tmp_path):
    """With --jobs 2 each notebook runs under its own run id, so parallel notebooks share nothing."""
    numbers = [s.number for s in stages.all_stages()][:2]
    if len(numbers) < 2:
        pytest.skip("needs two stages")
    src = tmp_path / "src"
    src.mkdir()
    for n in numbers:
        _notebook(src / stages.get(n).notebook, "print(run_id)")
    results = runner.run_course([str(n) for n in numbers], jobs=2, source=src, build=tmp_path / "b", progress=False)
    assert [r.status for r in results] == ["passed", "passed"]
    assert len({r.run_id for r in results}) == 2 and all(r.run_id.startswith("demo-s") for r in results)
    serial = runner.run_course([str(n) for n in numbers], jobs=1, source=src, build=tmp_path / "c", progress=False)
    assert {r.run_id for r in serial} == {"demo"}
