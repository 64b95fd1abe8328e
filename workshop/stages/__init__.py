"""The course's stages, registered by number (../shared/talk/storyline.md's order).

Each stage is one module here (`sNN_<slug>.py`) that calls `register(Stage(...))`: what
the stage is (talk, slides, users), its target architecture as data, which stages it
stands on, and its behaviour checks. Adding a stage is adding one module; its notebook is
`notebooks/NN_<slug>.ipynb`, generated from `solutions/NN_<slug>.ipynb`.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

from ..architecture import Architecture
from ..errors import BadInput


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str  # one line: what was expected, what was found, and the next step if failed
    degraded: bool = False  # passed, but with part of the stage out of action (e.g. one AZ down)


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[["object"], CheckResult]  # called with a StageContext (workshop.notebook)
    description: str = ""


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
    build: Callable[["object"], None] | None = None

    @property
    def notebook(self) -> str:
        return f"{self.number:02d}_{self.slug}.ipynb"

    @property
    def label(self) -> str:
        return f"{self.number:02d} {self.title}"


_REGISTRY: dict[int, Stage] = {}
_loaded = False


def register(stage: Stage) -> Stage:
    existing = _REGISTRY.get(stage.number)
    if existing is not None and existing.slug != stage.slug:
        raise ValueError(f"stage {stage.number} registered twice: {existing.slug} and {stage.slug}")
    _REGISTRY[stage.number] = stage
    return stage


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
