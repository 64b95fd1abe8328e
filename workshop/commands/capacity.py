"""workshop capacity: how many users a stage (or what is live now) serves, and what breaks first."""

from __future__ import annotations

import json
import math

from ..errors import BadInput

NAME = "capacity"
HELP = "how many users a stage's architecture serves, its bottleneck, and per-tier utilisation"


def add_arguments(parser):
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stage", metavar="N", help="build stage N on a private local AWS and measure it")
    which.add_argument("--live", action="store_true",
                       help="measure what run WORKSHOP_RUN_ID (default 'demo') has on the current target (default)")
    which.add_argument("--table", action="store_true",
                       help="build every stage on a private local AWS and print docs/capacity.md's stage -> users "
                            "table, one sentence per stage")
    parser.add_argument("--write-docs", action="store_true",
                        help="with --table: rewrite the generated table in docs/capacity.md")
    parser.add_argument("--users", type=float, default=None, metavar="U",
                        help="show per-tier utilisation at U users (default: at the maximum)")
    parser.add_argument("--az-down", action="store_true", help="as if the worst Availability Zone were lost")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="change an assumption, e.g. --set cache_hit_ratio=0.8 (repeatable)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _overrides(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise BadInput(f"--set takes NAME=VALUE, not {pair!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise BadInput(f"--set {name.strip()}: {value!r} is not a number") from None
    return out


def stage_topology(number, region: str = "us-east-1"):
    """Build stage `number` (and what it stands on) on a private local AWS; return its Topology."""
    from ..capacity import course

    return course.stage_topology(number, region)


def live_topology():
    from .. import config, topology

    run_id = config.run_id()  # WORKSHOP_RUN_ID, else the notebooks' default "demo"
    topo = topology.read(run_id)
    if topo.is_empty:
        from ..capacity import NOTHING_YET

        raise BadInput(f"{NOTHING_YET} (run {run_id!r} on the {config.current().kind} target)")
    return topo


def measure(stage=None, users=None, az_down=False, overrides=None) -> dict:
    from .. import capacity

    topo = stage_topology(stage) if stage is not None else live_topology()
    p = capacity.plan(topo, overrides or None, az_down)
    at = p.max_users if users is None else users
    doc = p.at(at).as_dict()
    doc["source"] = f"stage {stage}" if stage is not None else "live"
    doc["summary"] = capacity.describe(p.at(at))
    if stage is not None:
        from .. import stages

        band = stages.get(stage).band  # the talk's users claim for the stage, as numbers (None: it gives none)
        if band is None:
            doc["band"] = None
        else:  # the talk's claim is for the whole stage: with an AZ down, no verdict
            doc["band"] = {**band.as_dict(), "holds": None if az_down else band.holds(p.max_users)}
    return doc


def band_line(band: dict) -> str:
    high = "" if band["high"] is None else f" to {band['high']:,.0f}"
    claim = f"the talk (slide {band['slide']}): {band['low']:,.0f}{high or ' or more'} users"
    if band.get("note"):
        claim += f" (derived from the slides' wording: {band['note']})"
    if band["holds"] is None:
        return claim
    return f"{claim}; the model is {'inside' if band['holds'] else 'OUTSIDE'} that band"


def table(doc: dict) -> str:
    rows = [("tier", "max users", f"use at {doc['users']:,.0f} users")]
    for t in doc["tiers"]:
        mu = "unlimited" if t["max_users"] is None else f"{t['max_users']:,}"
        rows.append((t["label"], mu, f"{100 * t['utilisation']:.0f}%"))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{a:<{w0}}  {b:>{w1}}  {c}" for a, b, c in rows]
    lines.insert(1, "-" * len(lines[0]))
    head = f"{doc['source']}: {doc['summary']}"
    if doc.get("az_down"):
        head += f" (with {doc['lost_az']} down)"
    if doc.get("band"):
        head += "\n" + band_line(doc["band"])
    return head + "\n" + "\n".join(lines)


def run(args) -> int:
    if args.users is not None and not (math.isfinite(args.users) and args.users >= 0):
        raise BadInput(f"--users must be 0 or more (a finite number of users), not {args.users:g}")
    overrides = _overrides(args.set)
    if overrides:
        from ..capacity import assumptions

        assumptions.make(overrides)  # says which assumption is wrong before anything is built
    if args.write_docs and not args.table:
        raise BadInput("--write-docs goes with --table: workshop capacity --table --write-docs")
    if args.table:
        from ..capacity import story

        block = story.markdown(story.for_course(overrides or None))
        print(block)
        if args.write_docs:
            print(f"written to {story.write_docs(block)}")
        return 0
    doc = measure(args.stage, args.users, args.az_down, overrides)
    print(json.dumps(doc, indent=2) if args.json else table(doc))
    return 0
