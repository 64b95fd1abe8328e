"""The knee of a load ramp: the most users a platform served before it stopped serving well.

A ramp is a list of steps, each a short traffic run at a fixed number of virtual users (`Step`:
users, requests/s, p95, error %). `find(steps)` walks them in order of users and stops at the
first step that **breaks**: p95 above `p95_ms`, more than `error_pct` % of requests failed, or
nothing answered. The knee is the last step before it (the platform held there). Two edge cases
are answers, not errors: the first step already breaks (`Knee.users` is 0: the knee is below the
ramp) and no step breaks (`Knee.broke` is None: the knee is above the ramp, `users` is a floor).

`scale_for(...)` picks the scale K and think factor F so that a ramp whose top stands for
`top_active_users` of the talk fits this machine (at most `max_users` virtual users and
`max_rps` local requests a second); `talk_users(...)` converts virtual users back.

    from workshop.traffic import knee
    k = knee.find([knee.Step(50, 80.0, 60.0, 0.0), knee.Step(100, 160.0, 900.0, 0.2)], p95_ms=500)
    k.users, k.broke.users, k.why   # 50, 100, 'p95 900 ms > 500 ms'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import BadInput

#: a step breaks when its p95 is above this (ms): ten times a dynamic page's 50 ms of CPU
P95_MS = 500.0
#: ... or when more than this share of its requests failed (%)
ERROR_PCT = 1.0


@dataclass(frozen=True)
class Step:
    """One step of a ramp: `users` virtual users held for a few seconds, and what they saw."""

    users: int
    rps: float
    p95_ms: float
    error_pct: float
    requests: int = 1  # requests completed (0: nothing answered)

    @classmethod
    def of(cls, users: int, summary: dict) -> Step:
        """A step from a traffic run's summary (`workshop.traffic.run(...).summary`)."""
        return cls(users, float(summary["rps"]), float(summary["p95_ms"]), float(summary["error_pct"]),
                   int(summary["requests"]))


@dataclass(frozen=True)
class Knee:
    users: int  # the last step that held (0: the first step broke already)
    held: Step | None  # that step
    broke: Step | None  # the first step that broke (None: none did; `users` is a floor)
    why: str  # why `broke` broke, or why there is no knee in the ramp

    @property
    def found(self) -> bool:
        """Both sides of the knee are in the ramp."""
        return self.held is not None and self.broke is not None


def breaks(step: Step, p95_ms: float = P95_MS, error_pct: float = ERROR_PCT) -> str | None:
    """Why `step` is past the knee, or None if it held."""
    if step.requests <= 0:
        return "no request answered"
    if step.error_pct > error_pct:
        return f"errors {step.error_pct:.1f}% > {error_pct:g}%"
    if step.p95_ms > p95_ms:
        return f"p95 {step.p95_ms:.0f} ms > {p95_ms:.0f} ms"
    return None


def _check(steps: Iterable[Step], p95_ms: float, error_pct: float) -> list[Step]:
    if not (isinstance(p95_ms, (int, float)) and p95_ms > 0) or not (isinstance(error_pct, (int, float))
                                                                     and 0 <= error_pct < 100):
        raise BadInput(f"thresholds: p95_ms must be > 0 and error_pct 0 to 100, not {p95_ms!r}, {error_pct!r}")
    out = sorted(steps, key=lambda s: s.users)
    if not out:
        raise BadInput("a ramp needs at least one step")
    for s in out:
        numbers = (s.rps, s.p95_ms, s.error_pct)
        if s.users <= 0 or any(not math.isfinite(x) or x < 0 for x in numbers):
            raise BadInput(f"a step needs users > 0 and finite, non-negative figures, not {s}")
    users = [s.users for s in out]
    if len(set(users)) != len(users):
        raise BadInput(f"two steps with the same users: {users}")
    return out


def find(steps: Iterable[Step], p95_ms: float = P95_MS, error_pct: float = ERROR_PCT) -> Knee:
    """The knee of a ramp (steps in any order); see the module docstring."""
    ordered = _check(steps, p95_ms, error_pct)
    held = None
    for step in ordered:
        why = breaks(step, p95_ms, error_pct)
        if why is not None:
            if held is None:
                return Knee(0, None, step, f"the first step ({step.users} users) broke already: {why}")
            return Knee(held.users, held, step, why)
        held = step
    return Knee(held.users, held, None, f"no step broke up to {held.users} users: the knee is above the ramp")


def talk_users(users: float, think: float, scale: int, active_share: float = 0.05) -> float:
    """Virtual users as the capacity model's users: users x think x K active users, ÷ the active share."""
    return users * think * scale / active_share


@dataclass(frozen=True)
class Fit:
    scale: int  # K
    think: float  # F
    users: int  # virtual users at the top of the ramp
    rps: float  # local requests/s they ask for at the top


def scale_for(top_active_users: float, requests_per_min: float, max_users: int = 300, max_rps: float = 800.0,
              max_think: float = 10.0) -> Fit:
    """The smallest K (then the smallest F) such that `top_active_users` of the talk are at most
    `max_users` virtual users asking at most `max_rps` local requests/s (each active user makes
    `requests_per_min`). `max_think` stays well below the pace at which a user's own response times
    hold it back (at think 10 a page view and its static files take ~0.1 s of a 3-s wait)."""
    if not top_active_users > 0 or not requests_per_min > 0 or max_users < 1 or not max_rps > 0:
        raise BadInput(f"scale_for needs positive figures, not {top_active_users!r}, {requests_per_min!r}, "
                       f"{max_users!r}, {max_rps!r}")
    scale = max(1, math.ceil(top_active_users * requests_per_min / 60.0 / max_rps))
    think = min(max_think, max(1.0, math.ceil(top_active_users / scale / max_users)))
    users = math.ceil(top_active_users / scale / think)
    if users > max_users:  # think capped: more scale instead
        scale = math.ceil(top_active_users / think / max_users)
        users = math.ceil(top_active_users / scale / think)
    return Fit(scale, think, users, users * think * requests_per_min / 60.0)
