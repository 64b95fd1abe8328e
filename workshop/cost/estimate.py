"""Per-stage cost: each registered stage's bill of materials, priced, hourly and for a typical session.

The bill is what a stage's notebook leaves running on a real account, as the stage declares
it (`Stage.bill`, parts from `workshop.bill`); the journey's stages stand on each other, so a
stage's bill includes what it builds on. Every part is priced from the one table, `prices`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .. import stages
from ..errors import BadInput, WorkshopError
from . import prices
from .prices import PRICES, PRICES_DATE, hourly

SESSION_HOURS = 2.0  # a typical instructor-led session (README: 1-2 hours)


@dataclass
class Item:
    label: str  # e.g. "EC2 m4.large x 8 (web tier)"
    price_key: str
    quantity: float  # units per hour (instances, GB, LCU, million requests, ...)
    hourly_usd: float = 0.0
    session_hours: float = SESSION_HOURS  # how long it runs in a typical session
    in_hourly: bool = True  # counted in the stage's hourly figure (False: an earlier size of the same box)
    source: str = ""

    def __post_init__(self):
        self.hourly_usd = round(self.quantity * hourly(self.price_key), 6)
        self.source = PRICES[self.price_key].source

    @property
    def session_usd(self) -> float:
        return self.hourly_usd * self.session_hours


@dataclass
class StageCost:
    stage: int
    title: str
    items: list[Item] = field(default_factory=list)

    @property
    def hourly_usd(self) -> float:
        return round(sum(i.hourly_usd for i in self.items if i.in_hourly), 4)

    @property
    def session_usd(self) -> float:
        return round(sum(i.session_usd for i in self.items), 4)

    def to_json(self) -> dict:
        return {"stage": self.stage, "title": self.title, "region": prices.REGION,
                "hourly_usd": self.hourly_usd, "session_usd": self.session_usd, "session_hours": SESSION_HOURS,
                "price_table_date": PRICES_DATE,
                "items": [{**{k: v for k, v in asdict(i).items()}, "session_usd": round(i.session_usd, 6)}
                          for i in self.items]}


def billed() -> list[stages.Stage]:
    """The registered stages that run something on a real account (those with a bill), in order."""
    return [s for s in stages.all_stages() if s.bill]


def _price(stage: stages.Stage, part) -> Item:
    if part.price_key not in PRICES:
        raise WorkshopError(f"stage {stage.number} ({stage.slug}) bills {part.label!r} at price {part.price_key!r}, "
                            "which workshop/cost/prices.py does not have: add it there, with its source page")
    hours = SESSION_HOURS if part.session_hours is None else part.session_hours
    return Item(part.label, part.price_key, part.quantity, session_hours=hours, in_hourly=part.in_hourly)


def bill_of_materials(stage: int | str) -> StageCost:
    """What stage `stage` runs on a real account, itemised and priced."""
    try:
        chosen = stages.get(stage)
    except BadInput:
        raise refuse(stage) from None
    if not chosen.bill:
        raise refuse(stage)
    return StageCost(chosen.number, chosen.title, [_price(chosen, p) for p in chosen.bill if p.quantity])


def estimate(numbers: list[int] | None = None) -> list[StageCost]:
    """The bills of `numbers`, or of every stage that has one."""
    return [bill_of_materials(n) for n in (numbers or [s.number for s in billed()])]


def valid_list() -> str:
    """The stages with a bill, consecutive ones as a range: "1-10"."""
    return spans([s.number for s in billed()])


def spans(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def refuse(stage) -> BadInput:
    """The one-line error for a stage without an estimate, naming those that have one."""
    free = [s.number for s in stages.all_stages() if not s.bill]
    also = f" ({' and '.join(str(n) for n in free)} create nothing)" if free else ""
    return BadInput(f"no cost estimate for stage {stage!r}: stages {valid_list()} have one{also}")


def table(cost: StageCost) -> str:
    """The itemised bill of one stage, one line per item, then the totals."""
    lines = [f"Stage {cost.stage} ({cost.title}) on AWS {prices.REGION}, on-demand prices of {PRICES_DATE}:"]
    width = max(len(i.label) for i in cost.items)
    for i in cost.items:
        note = "" if i.in_hourly else "   (earlier size; not in the hourly total)"
        lines.append(f"  {i.label.ljust(width)}  ${i.hourly_usd:8.4f}/h{note}")
    lines.append(f"  {'total'.ljust(width)}  ${cost.hourly_usd:8.4f}/h   ~${cost.session_usd:.2f} for a "
                 f"{SESSION_HOURS:g}-hour session")
    return "\n".join(lines)
