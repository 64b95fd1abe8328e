"""Exercises: one source (the solution notebook), a learner's copy generated from it.

In `solutions/`, an answer sits between `### BEGIN SOLUTION` and `### END SOLUTION`;
`strip_solutions` replaces each such block with `...  # YOUR CODE HERE` (same indent) for
`notebooks/`. `check(name, value)` tells the learner, in at most two lines, whether the
answer is right and, if not, what was expected and a hint; then it takes in the
reference solution so the following cells still run. `hint(name)` gives the hint on a first
call and the exercise's closer hint (`Exercise.more`) on the next ones.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

from . import config, stages
from .stages import Exercise

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = "...  # YOUR CODE HERE"
SOLUTIONS = config.ROOT / "solutions"
NOTEBOOKS = config.ROOT / "notebooks"


#: exercises no stage declares (a test's, a workshop's own extra): the stages' are in the registry
_EXTRA: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise that no stage declares (a stage declares its own in `Stage.exercises`)."""
    _EXTRA[exercise.name] = exercise
    return exercise


def unregister(name: str) -> None:
    _EXTRA.pop(name, None)


def all_exercises() -> dict[str, Exercise]:
    """Every exercise by name: the stages' (from the registry), then the extra ones."""
    found = {e.name: e for s in stages.all_stages() for e in s.exercises}
    return {**found, **_EXTRA}


def get(name: str) -> Exercise:
    known = all_exercises()
    if name not in known:
        from .errors import BadInput

        raise BadInput(f"unknown exercise {name!r}; known: {', '.join(sorted(known)) or 'none'}")
    return known[name]


def check(name: str, value: Any, namespace: dict | None = None) -> Any:
    """Check an answer; print ✓ or what is wrong (≤ 2 lines); return the value to go on with."""
    exercise = get(name)
    ns = namespace if namespace is not None else sys._getframe(1).f_globals
    try:
        problem = exercise.checker(value, ns)
    except Exception as exc:  # a broken answer is a wrong answer, not a traceback
        problem = f"your answer raised {type(exc).__name__}: {exc}"
    if problem is None:
        print(f"✓ {name}: correct")
        return value
    further = f"; a closer hint: hint({name!r})" if exercise.more else ""
    print(f"✗ {name}: {problem}\n  Hint: {exercise.hint} (the reference solution is used so the next cells run"
          f"{further})")
    return take_solution(exercise, ns)


#: how many times `hint` was asked for each exercise (in this kernel)
_ASKED: dict[str, int] = {}


def hint(name: str) -> str:
    """Print (and return) the exercise's hint on a first call, its closer hint (`more`) on the next ones."""
    exercise = get(name)
    _ASKED[name] = _ASKED.get(name, 0) + 1
    if _ASKED[name] == 1:
        text = exercise.hint
    elif exercise.more:
        text = exercise.more
    else:
        text = f"{exercise.hint} (there is no closer hint for this one)"
    print(f"Hint for {name}: {text}")
    return text


def take_solution(exercise: Exercise, namespace: dict) -> Any:
    """Run the reference solution's cell (up to its `check` line) in `namespace`; return the answer."""
    source = _solution_cell(exercise)
    namespace.setdefault("check", check)
    exec(compile(source, f"<reference solution {exercise.name}>", "exec"), namespace)
    return namespace[exercise.variable]


def _solution_cell(exercise: Exercise) -> str:
    import json

    path = SOLUTIONS / stages.get(exercise.stage).notebook
    cells = json.loads(path.read_text())["cells"]  # plain JSON: nbformat's validation is slow
    marker = re.compile(rf"""check\(\s*["']{re.escape(exercise.name)}["']""")
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code" or not marker.search(source):
            continue
        lines = source.splitlines()
        cut = next(i for i, line in enumerate(lines) if marker.search(line))
        kept = [line for line in lines[:cut] if not line.lstrip().startswith(("%", "!"))]
        return "\n".join(kept) + "\n"
    raise LookupError(f"no cell in {path.name} checks {exercise.name!r}")


# --- solutions -> learner notebooks -----------------------------------------------------

_BLOCK = re.compile(rf"^(?P<indent>[ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*$", re.M | re.S)


def strip_source(source: str) -> str:
    """Replace every solution block in a cell's source with an indented stub."""
    return _BLOCK.sub(lambda m: f"{m.group('indent')}{STUB}", source)


def strip_solutions(nb):
    """A copy of a solution notebook with answers stubbed and outputs cleared."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.source = strip_source(cell.source)
            cell.outputs = []
            cell.execution_count = None
    return out


def sync(check_only: bool = False, solutions: Path = SOLUTIONS, notebooks: Path = NOTEBOOKS) -> list[str]:
    """Regenerate `notebooks/` from `solutions/`; return the names that differ (were written)."""
    import nbformat

    changed = []
    notebooks.mkdir(exist_ok=True)
    for src in sorted(solutions.glob("*.ipynb")):
        generated = nbformat.writes(strip_solutions(nbformat.read(src, as_version=4))) + ""
        dest = notebooks / src.name
        current = dest.read_text() if dest.exists() else None
        if current != generated:
            changed.append(src.name)
            if not check_only:
                dest.write_text(generated)
    for stale in sorted(set(p.name for p in notebooks.glob("*.ipynb")) - set(p.name for p in solutions.glob("*.ipynb"))):
        changed.append(stale)
        if not check_only:
            (notebooks / stale).unlink()
    return changed
