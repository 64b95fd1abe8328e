"""workshop slides: the talk's slides 1-34 and the notebook that teaches each (README's slide table)."""

from __future__ import annotations

NAME = "slides"
HELP = "the talk's slides 1-34 and the notebook that teaches each; --write-readme rewrites README's table"


def add_arguments(parser):
    parser.add_argument("--write-readme", action="store_true", help="rewrite the generated slide table in README.md")


def run(args) -> int:
    from .. import talk

    if args.write_readme:
        print(f"wrote the slide table in {talk.write_readme()}")
        return 0
    print(talk.markdown())
    return 0
