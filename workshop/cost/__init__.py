"""What the course costs on a real account, before anything is created.

`estimate.bill_of_materials(N)` prices the bill of materials stage N declares (`Stage.bill`)
from `prices` (us-east-1 on-demand, dated, each with its source); `guard(N, max_hourly_usd)`
is what a notebook's set-up calls on the aws target: it prints the bill and refuses (a
WorkshopError, nothing created) when the stage costs more per hour than the notebook's
`max_hourly_usd`.
"""

from __future__ import annotations

from ..errors import WorkshopError
from .estimate import SESSION_HOURS, StageCost, bill_of_materials, estimate, table
from .prices import PRICES, PRICES_DATE


class OverBudget(WorkshopError):
    """A stage would cost more per hour than the learner allowed; nothing was created."""


def guard(stage_number: int, max_hourly_usd: float) -> StageCost | None:
    """Show stage N's itemised cost; raise OverBudget (nothing created) above `max_hourly_usd`.

    Stages without a bill (00 welcome, 99 teardown) create nothing and pass. Also records
    the region in use, so `workshop teardown` sweeps it later.
    """
    from .. import config, teardown

    try:
        limit = float(max_hourly_usd)
    except (TypeError, ValueError):
        from ..errors import BadInput

        raise BadInput(f"max_hourly_usd={max_hourly_usd!r}: give a number of US dollars per hour, e.g. 2.0") from None
    from .. import stages

    if not stages.get(stage_number).bill:
        return None
    cost = bill_of_materials(stage_number)
    print(table(cost))
    if cost.hourly_usd > limit:
        top = max((i for i in cost.items if i.in_hourly), key=lambda i: i.hourly_usd)
        raise OverBudget(
            f"stage {stage_number} costs ${cost.hourly_usd:.2f}/h (mostly {top.label}), over max_hourly_usd="
            f"{limit:g}; nothing was created. Raise max_hourly_usd to at least {cost.hourly_usd:.2f} to go on.")
    teardown.record_region(config.current().region)
    print(f"Within max_hourly_usd={limit:g}. Remember: `workshop teardown --target aws --yes` when you are done.")
    return cost


__all__ = ["OverBudget", "PRICES", "PRICES_DATE", "SESSION_HOURS", "StageCost", "bill_of_materials", "estimate",
           "guard", "table"]
