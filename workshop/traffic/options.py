"""What a traffic run may ask for, checked before anything starts.

- users 1..2,000: one Locust process is one CPU core (gevent runs every virtual user on one
  thread); on a two-core laptop that also runs the local AWS, a few hundred users already keep
  it busy (benchmarks/traffic.py measures the floor), and beyond ~2,000 the generator, not the
  course's architecture, becomes what is measured. Use `--scale` to stand for more.
- spawn rate 0.1..1,000 users/s (more would start users faster than Locust's spawner runs);
- duration 1..600 s: a run is a minute or a few, in a workshop, and never keeps going alone;
- scale 1..100,000: what the local AWS's data plane accepts (`dataplane.MAX_SCALE`);
- think 1..100: how much faster than the model's pace a virtual user clicks (`behaviour.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInput
from .behaviour import MAX_THINK

MAX_USERS = 2_000
MAX_SPAWN_RATE = 1_000.0
MAX_DURATION_S = 600
MAX_SCALE = 100_000  # = workshop.localaws.dataplane.MAX_SCALE (not imported: it loads the data plane's asyncio)


@dataclass(frozen=True)
class Options:
    users: int
    spawn_rate: float
    duration_s: int
    scale: int = 1
    think: float = 1.0

    @property
    def talk_active_users(self) -> float:
        """Active users at the talk's scale: each virtual user is `think` active users' load, × scale."""
        return self.users * self.think * self.scale


def _number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value == value


def check(users, spawn_rate=None, duration_s=60, scale=1, think=1.0) -> Options:
    """Options, or a BadInput naming every value out of range and why (nothing has started)."""
    problems = []
    if not (_number(users) and float(users).is_integer() and 1 <= users <= MAX_USERS):
        problems.append(f"--users {users!r}: a whole number from 1 to {MAX_USERS:,} (one Locust process on one "
                        "core of this laptop; use --scale to stand for more)")
    if spawn_rate is None:
        spawn_rate = max(1.0, min(float(users), 100.0)) if _number(users) and users > 0 else 1.0
    if not (_number(spawn_rate) and 0.1 <= spawn_rate <= MAX_SPAWN_RATE):
        problems.append(f"--spawn-rate {spawn_rate!r}: users started per second, from 0.1 to {MAX_SPAWN_RATE:,.0f}")
    if not (_number(duration_s) and float(duration_s).is_integer() and 1 <= duration_s <= MAX_DURATION_S):
        problems.append(f"--duration {duration_s!r}: whole seconds from 1 to {MAX_DURATION_S} (a run never "
                        "keeps going on its own)")
    if not (_number(scale) and float(scale).is_integer() and 1 <= scale <= MAX_SCALE):
        problems.append(f"--scale {scale!r}: a whole number from 1 to {MAX_SCALE:,} (one request here stands for "
                        "that many at the talk's scale)")
    if not (_number(think) and 1 <= think <= MAX_THINK):
        problems.append(f"--think {think!r}: from 1 (the capacity model's pace) to {MAX_THINK:g}")
    if problems:
        raise BadInput("nothing started: " + "; ".join(problems))
    return Options(int(users), float(spawn_rate), int(duration_s), int(scale), float(think))
