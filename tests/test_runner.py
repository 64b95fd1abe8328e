"""`workshop run`: stage selection, parameter checking, failures in three lines, parallel isolation."""

from __future__ import annotations

import html
import re

import nbformat
import pytest

from workshop import cli, report, runner, stages
from workshop.errors import BadInput

pytestmark = pytest.mark.slow  # builds stages or starts processes: make test, not make check


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
    assert r.output == tmp_path / "build" / "runs" / r.run_id / "00_welcome.ipynb" and r.output.exists()
    report = (r.output.parent / "report.html").read_text()
    assert "failed" in report and "the database is on fire" in report
    index = (tmp_path / "build" / "report.html").read_text()
    assert f"runs/{r.run_id}/report.html" in index and "0 of 1 passed" in index


def test_a_workshop_error_in_a_notebook_fails_it_with_its_own_message(local_aws, tmp_path):
    """A WorkshopError shows as one line in the notebook and still fails the run with that message."""
    src = tmp_path / "src"
    src.mkdir()
    _notebook(src / "00_welcome.ipynb", "from workshop import notebook\nws = notebook.start(stage=0)",
              "from workshop.errors import WorkshopError\nraise WorkshopError('expected 2 AZs, found 1: add a subnet')")
    (r,) = runner.run_course(["0"], source=src, build=tmp_path / "build", progress=False)
    assert r.status == "failed" and "WorkshopError: expected 2 AZs, found 1: add a subnet" in r.error
    out = nbformat.read(r.output, as_version=4)
    error = [o for o in out.cells[-1].outputs if o.output_type == "error"][0]
    assert len(error.traceback) == 1  # one line, not a traceback


def test_parallel_notebooks_get_their_own_run_ids(local_aws, tmp_path):
    """Each run gets its own run id (a suffix on the base); with --jobs 2 each notebook gets its own too."""
    numbers = [s.number for s in stages.all_stages() if not s.tears_down][:2]
    src = tmp_path / "src"
    src.mkdir()
    for n in numbers:
        _notebook(src / stages.get(n).notebook, "print(run_id)")
    results = runner.run_course([str(n) for n in numbers], jobs=2, source=src, build=tmp_path / "b", progress=False)
    assert [r.status for r in results] == ["passed", "passed"]
    base = results[0].run_id.rsplit("-s", 1)[0]
    assert re.fullmatch(r"demo-[0-9a-f]{4}", base)
    assert [r.run_id for r in results] == [f"{base}-s{n:02d}" for n in numbers]
    serial = runner.run_course([str(n) for n in numbers], jobs=1, source=src, build=tmp_path / "c", progress=False)
    assert len({r.run_id for r in serial}) == 1 and serial[0].run_id.startswith("demo-") and serial[0].run_id != base
    again = runner.run_course([str(numbers[0])], source=src, build=tmp_path / "c", progress=False, run_id="again")
    assert again[0].run_id == "again"  # an exact run id re-runs that run


def test_runs_have_their_own_folders_and_the_index_lists_the_latest_first(local_aws, tmp_path):
    """Two runs write to two folders; build/report.html lists both, the latest first, learner runs marked."""
    src = tmp_path / "notebooks"
    src.mkdir()
    _notebook(src / "00_welcome.ipynb", "x = 1")
    first = runner.run_course(["0"], source=src, build=tmp_path / "b", progress=False)
    second = runner.run_course(["0"], source=src, build=tmp_path / "b", progress=False)
    assert first[0].output.parent != second[0].output.parent
    assert first[0].output.exists() and second[0].output.exists()
    index = (tmp_path / "b" / "report.html").read_text()
    assert index.index(second[0].run_id) < index.index(first[0].run_id)
    assert "learner" not in index.split("<table>")[1]
    assert report.runs(tmp_path / "b")[0]["run_id"] == second[0].run_id


def test_teardown_notebook_runs_last_and_alone_over_the_whole_run(local_aws, tmp_path):
    """With --jobs 2 the teardown notebook starts after every other notebook ended, with the run's base id."""
    src = tmp_path / "src"
    src.mkdir()
    numbers = [s.number for s in stages.all_stages() if not s.tears_down][:3]
    stamp = "import time, pathlib\npathlib.Path({path!r}).write_text(f'{{time.time()}} {{run_id}}')"
    for n in numbers:
        _notebook(src / stages.get(n).notebook, "import time\ntime.sleep(1)", stamp.format(path=str(tmp_path / f"end{n}")))
    _notebook(src / next(s for s in stages.all_stages() if s.tears_down).notebook, stamp.format(path=str(tmp_path / "start99")))
    results = runner.run_course(None, jobs=2, source=src, build=tmp_path / "b", progress=False)
    assert all(r.status == "passed" for r in results), [r.error for r in results]
    ends = [float((tmp_path / f"end{n}").read_text().split()[0]) for n in numbers]
    started, run_id = (tmp_path / "start99").read_text().split()
    assert float(started) > max(ends)
    assert all(r.run_id.startswith(run_id + "-s") for r in results[:-1]) and results[-1].run_id == run_id


def test_a_run_uses_a_private_local_aws_unless_told_to_attach(tmp_path, monkeypatch):
    """`workshop run` does not touch the local AWS `workshop up` started, unless --attach."""
    from workshop import aws, config
    from workshop.localaws import process

    monkeypatch.delenv("WORKSHOP_ENDPOINT", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("WORKSHOP_HOME", str(home))
    state = process.up()
    try:
        src = tmp_path / "src"
        src.mkdir()
        _notebook(src / "00_welcome.ipynb", "from workshop import notebook\nws = notebook.start(stage=0, run_id=run_id)",
                  "ws.client('s3').create_bucket(Bucket=ws.name('mark'))")
        (private,) = runner.run_course(["0"], source=src, build=tmp_path / "b", progress=False)
        assert private.status == "passed", private.error
        s3 = aws.client("s3", target=config.target(endpoint=state["endpoint"]))
        assert s3.list_buckets()["Buckets"] == []  # the learner's server was not touched
        (attached,) = runner.run_course(["0"], source=src, build=tmp_path / "b", progress=False, attach=True)
        assert attached.status == "passed", attached.error
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [f"sbs-{attached.run_id}-mark"]
    finally:
        process.down()


def test_the_run_report_shows_each_stage_as_an_instructor_reads_it(local_aws, tmp_path):
    """The run's report links the notebook rendered as HTML, lists its checks and capacity line, and its diagrams."""
    import base64

    src = tmp_path / "src"
    src.mkdir()
    png = base64.b64encode(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2"
        "26ed5b0000000049454e44ae426082")).decode()
    _notebook(src / "04_users_1000.ipynb",
              "# ws.verify()\nprint('✓ serving: healthy targets in two AZs')\nprint('✗ dns: www has no alias')",
              "# capacity.summary_line(ws)\nprint('this architecture serves up to ~17,000 users')",
              f"from IPython.display import Image, display\ndisplay(Image(data=__import__('base64').b64decode('{png}')))")
    (r,) = runner.run_course(["4"], source=src, build=tmp_path / "b", progress=False)
    assert r.status == "passed", r.error
    assert r.checks == ["✓ serving: healthy targets in two AZs", "✗ dns: www has no alias"]
    assert r.capacity == "this architecture serves up to ~17,000 users"
    assert r.html == r.output.with_suffix(".html") and "healthy targets in two AZs" in r.html.read_text()
    page = (r.output.parent / "report.html").read_text()
    assert 'href="04_users_1000.html"' in page and "✗ dns: www has no alias" in page and "~17,000 users" in page
    assert f"the talk: {html.escape(stages.get(4).users)}" in page
    assert (r.output.parent / "04_users_1000-diagram-1.png").read_bytes().startswith(b"\x89PNG")
    assert 'href="04_users_1000-diagram-1.png"' in page


def test_shutting_down_a_kernel_sends_it_no_interrupt():
    """jupyter_client interrupts a kernel before shutting it down, which logs 'KeyboardInterrupt caught in
    kernel' in passing runs: the kit's kernel manager skips that interrupt, and only that one."""
    import asyncio

    from workshop import runner

    manager = runner._kernel_manager_with({}, [])()
    manager.shutting_down = True
    asyncio.run(manager._async_interrupt_kernel())  # no kernel, no interrupt, no error
    manager.shutting_down = False
    with pytest.raises(RuntimeError, match="[Nn]o kernel"):
        asyncio.run(manager._async_interrupt_kernel())
