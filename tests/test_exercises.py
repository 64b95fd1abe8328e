"""Exercises: learner notebooks generated from solutions; answers checked in two lines at most."""

from __future__ import annotations

import nbformat
import pytest

from workshop import exercises
from workshop.exercises import Exercise, check, strip_source


@pytest.mark.parametrize(
    "source, expected",
    [
        ("x = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\nx = check('a', x)\n",
         "x = None\n...  # YOUR CODE HERE\nx = check('a', x)\n"),
        ("def f(e):\n    ### BEGIN SOLUTION\n    a = 1\n    return a\n    ### END SOLUTION\n",
         "def f(e):\n    ...  # YOUR CODE HERE\n"),
        ("code = '''\ndef h(e, c):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n'''\n",
         "code = '''\ndef h(e, c):\n    ...  # YOUR CODE HERE\n'''\n"),
        ("print('no exercise here')\n", "print('no exercise here')\n"),
    ],
)
def test_solution_blocks_become_indented_stubs(source, expected):
    """Each marked block becomes `...  # YOUR CODE HERE` at its indent, in code and in strings alike."""
    assert strip_source(source) == expected


def test_learner_notebooks_are_in_sync_with_solutions():
    """notebooks/ is exactly what `workshop sync` generates from solutions/ (run it after editing a solution)."""
    assert exercises.sync(check_only=True) == []


def test_learner_notebooks_contain_no_solutions():
    """No learner notebook still carries a solution marker or an answer block."""
    for path in exercises.NOTEBOOKS.glob("*.ipynb"):
        text = path.read_text()
        assert exercises.BEGIN not in text and exercises.END not in text, path.name


def test_every_stage_notebook_has_an_exercise_with_a_check():
    """Each solution notebook with a stage number 1-10 contains at least one checked exercise."""
    for path in exercises.SOLUTIONS.glob("*.ipynb"):
        number = int(path.name[:2])
        if 1 <= number <= 10:
            text = path.read_text()
            assert exercises.BEGIN in text and "check(" in text, path.name


def _register_demo():
    return exercises.register(Exercise(
        name="s00-zones-demo", stage=0, variable="zones",
        checker=lambda value, ns: None if value == ["a", "b"] else f"expected ['a', 'b'], found {value!r}",
        hint="list the zone names",
    ))


def test_right_answer_prints_a_tick_and_is_returned(capsys):
    """A right answer prints one ✓ line and comes back unchanged."""
    _register_demo()
    assert check("s00-zones-demo", ["a", "b"], namespace={}) == ["a", "b"]
    assert capsys.readouterr().out.strip() == "✓ s00-zones-demo: correct"


def test_wrong_answer_says_what_and_why_in_two_lines_then_takes_the_reference(local_aws, capsys):
    """A wrong answer prints expected/found and a hint in ≤ 2 lines, then the reference solution is used."""
    from workshop import notebook

    ns = {"ws": notebook.start(stage=0, quiet=True), "region": "us-east-1"}
    result = check("s00-zones", [], namespace=ns)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[0].startswith("✗ s00-zones: expected") and "found []" in out[0]
    assert out[1].strip().startswith("Hint:")
    assert "us-east-1a" in result and ns["zones"] == result


def test_an_answer_that_raises_is_a_wrong_answer_not_a_traceback(capsys):
    """A checker that blows up on a malformed answer still yields the two-line message."""
    exercises.register(Exercise("s00-raises-demo", 0, "zones", lambda v, ns: v["missing"], "use a list"))
    with pytest.raises(LookupError):  # no reference cell for this demo exercise: the message was printed first
        check("s00-raises-demo", [], namespace={})
    assert capsys.readouterr().out.startswith("✗ s00-raises-demo: your answer raised TypeError")


def test_unknown_exercise_names_the_known_ones():
    """Checking an exercise that does not exist lists the registered names."""
    from workshop.errors import BadInput

    with pytest.raises(BadInput, match="s00-zones"):
        check("no-such-exercise", 1, namespace={})


def test_learner_copy_of_welcome_is_the_solution_minus_answers():
    """The generated welcome notebook differs from the solution only inside exercise cells."""
    sol = nbformat.read(exercises.SOLUTIONS / "00_welcome.ipynb", as_version=4)
    nb = nbformat.read(exercises.NOTEBOOKS / "00_welcome.ipynb", as_version=4)
    assert len(sol.cells) == len(nb.cells)
    differing = [i for i, (a, b) in enumerate(zip(sol.cells, nb.cells)) if a.source != b.source]
    assert differing and all(exercises.BEGIN in sol.cells[i].source for i in differing)
