"""The course's stages, registered by number, in the talk's order (docs/talk.md; slide by slide: workshop/talk.py).

Each stage is one module here (`sNN_<slug>.py`) that calls `register(Stage(...))`: what
the stage is (title, slides, the talk's users claim and its band), its target architecture
as data, which stages it stands on, its behaviour checks and exercises, and its bill of
materials. Everything else (cost, capacity, diagrams, the runner) iterates the registry:
adding a stage is adding one module; its notebook is `notebooks/NN_<slug>.ipynb`,
generated from `solutions/NN_<slug>.ipynb`.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

from ..architecture import Architecture
from ..bill import Part
from ..errors import BadInput


@dataclass(frozen=True)
class Exercise:
    """One exercise of a stage's notebook, declared by the stage (`Stage.exercises`); graded by
    `workshop.exercises.check(name, value)`."""

    name: str
    stage: int
    variable: str  # the name the answer is bound to in the notebook
    checker: Callable[[object, dict], str | None]  # None when right, else "expected …, found …"
    hint: str  # guides without giving the answer; `exercises.hint(name)` shows it
    more: str = ""  # a second, closer hint: `exercises.hint(name)` called a second time


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str  # one line: what was expected, what was found, and the next step if failed
    degraded: bool = False  # passed, but with part of the stage out of action (e.g. one AZ down)


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[object], CheckResult]  # called with a StageContext (workshop.notebook)
    description: str = ""


@dataclass(frozen=True)
class Band:
    """The users the talk claims for a stage, as numbers the capacity model must land between."""

    low: float  # the model's maximum sustainable users must be at least this
    high: float = math.inf  # and at most this (inf: "and more")
    slide: str = ""  # the talk's slide the claim comes from
    #: where the talk gives no count: how the band is derived from the slides' wording ("" = the talk's own count)
    note: str = ""

    def holds(self, users: float) -> bool:
        return self.low <= users <= self.high

    def as_dict(self) -> dict:
        return {"low": self.low, "high": None if math.isinf(self.high) else self.high, "slide": self.slide,
                "note": self.note}


@dataclass(frozen=True)
class Stage:
    number: int
    slug: str
    title: str
    slides: str  # the talk's slides this stage follows, e.g. "3, 5"
    users: str  # the talk's claim for the stage, quoted
    goal: str  # one line
    architecture: Architecture | None = None
    builds_on: tuple[int, ...] = ()  # stages whose resources this one stands on
    checks: tuple[Check, ...] = field(default_factory=tuple)
    #: builds the stage idempotently (used by later stages' set-up and `capacity --stage`);
    #: called with a StageContext for this stage. None for stages that build nothing.
    build: Callable[[object], None] | None = None
    band: Band | None = None  # the talk's users claim as numbers; None where the talk gives none
    #: what the stage leaves running on a real account (workshop.bill parts, priced by workshop.cost)
    bill: tuple[Part, ...] = ()
    #: the notebook's exercises (`check(name, value)` in the notebook); registered with the stage
    exercises: tuple[Exercise, ...] = ()
    #: a stage that takes the course down: `workshop run` runs it last and alone, over every run id
    #: of the run, once every other notebook finished
    tears_down: bool = False

    @property
    def notebook(self) -> str:
        return f"{self.number:02d}_{self.slug}.ipynb"

    @property
    def label(self) -> str:
        return f"{self.number:02d} {self.title}"


_REGISTRY: dict[int, Stage] = {}
_loaded = False


def register(stage: Stage) -> Stage:
    """Add a stage (and its exercises) to the course; a stage module calls this once, at import."""
    existing = _REGISTRY.get(stage.number)
    if existing is not None and existing.slug != stage.slug:
        raise ValueError(f"stage {stage.number} registered twice: {existing.slug} and {stage.slug}")
    for exercise in stage.exercises:
        if exercise.stage != stage.number:
            raise ValueError(f"exercise {exercise.name} says stage {exercise.stage}, but stage {stage.number} "
                             "declares it")
    _REGISTRY[stage.number] = stage
    return stage


def unregister(number: int) -> Stage | None:
    """Remove stage `number` (and its exercises) from the course; returns it, or None if it was not there."""
    return _REGISTRY.pop(number, None)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("s") and info.name[1:3].isdigit():
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


def all_stages() -> list[Stage]:
    _load()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]


def get(number: int | str) -> Stage:
    """The stage with this number (`3`, `"03"`), or a BadInput naming the valid ones."""
    _load()
    try:
        key = int(str(number).lstrip("0") or "0")
    except ValueError:
        key = None
    if key not in _REGISTRY:
        raise BadInput(f"unknown stage {number!r}; valid stages: {valid_list()}")
    return _REGISTRY[key]


def valid_list() -> str:
    return ", ".join(f"{s.number} ({s.slug})" for s in all_stages())
