"""workshop cost: what each stage costs per hour and per typical session on a real account, itemised."""

from __future__ import annotations

import json

NAME = "cost"
HELP = "itemised hourly and 2-hour-session cost of each stage on a real AWS account (us-east-1 on-demand)"


def add_arguments(parser):
    parser.add_argument("stages", nargs="*", metavar="STAGE",
                        help="stage numbers (default: every stage that creates something)")
    parser.add_argument("--json", action="store_true", help="machine-readable output: one entry per stage")


def run(args) -> int:
    from .. import cost

    costs = cost.estimate(args.stages or None)  # a stage without a bill: BadInput naming those with one
    if args.json:
        print(json.dumps([c.to_json() for c in costs], indent=2))
        return 0
    for c in costs:
        print(cost.table(c))
        print()
    print(f"{'stage':>5}  {'per hour':>9}  {'per ' + format(cost.SESSION_HOURS, 'g') + '-h session':>16}")
    for c in costs:
        print(f"{c.stage:>5}  ${c.hourly_usd:>8.2f}  ${c.session_usd:>15.2f}")
    print(f"Prices: us-east-1 on-demand list prices of {cost.PRICES_DATE} (sources: workshop/cost/prices.py). "
          "Free tier and credits not deducted.")
    return 0
