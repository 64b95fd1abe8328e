"""workshop diagrams: render every stage's target architecture into diagrams/ (PNG + DOT)."""

from __future__ import annotations

from pathlib import Path

from .. import config, diagram, stages

NAME = "diagrams"
HELP = "render each stage's target architecture into diagrams/ (PNG and DOT source)"
DIAGRAMS = config.ROOT / "diagrams"


def add_arguments(parser):
    parser.add_argument("--out", default=str(DIAGRAMS), help="output folder (default: diagrams/)")


def file_stem(stage: stages.Stage) -> str:
    return Path(stage.notebook).stem


def run(args) -> int:
    out = Path(args.out)
    count = 0
    for stage in stages.all_stages():
        if stage.architecture is None:
            continue
        png = diagram.render(stage.architecture, out, file_stem(stage))
        print(f"{png}  ({stage.label})")
        count += 1
    print(f"{count} diagrams written to {out}")
    return 0
