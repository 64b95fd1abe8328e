"""CPU slots of an emulated server (localaws/slots.py): work queues beyond them and becomes utilisation."""

import asyncio
import time

import pytest

from workshop.localaws.slots import Overloaded, Slots, slot_count


def test_work_beyond_the_slots_waits_its_turn():
    """Two slots, four pieces of 10 ms: the last two finish 20 ms from now, not 10."""
    slots = Slots(2)
    delays = [slots.book(0.01) for _ in range(4)]
    assert delays[0] == pytest.approx(0.01, abs=0.002) and delays[1] == pytest.approx(0.01, abs=0.002)
    assert delays[2] == pytest.approx(0.02, abs=0.002) and delays[3] == pytest.approx(0.02, abs=0.002)


def test_hold_sleeps_and_busy_time_becomes_utilisation():
    """Ten 5 ms reads on one slot take ~50 ms and fill it: utilisation over that time is near 100%."""
    slots = Slots(1)

    async def run():
        started = time.monotonic()
        await asyncio.gather(*(slots.hold(0.005) for _ in range(10)))
        return time.monotonic() - started

    elapsed = asyncio.run(run())
    assert elapsed >= 0.045
    assert slots.utilisation(slots.take_busy(), elapsed) > 70
    assert slots.take_busy() == 0


def test_slot_count_is_the_types_vcpus():
    """db.m5.large has 2 vCPUs, cache.t2.micro 1; an unknown type counts as 2."""
    assert slot_count("db.m5.large") == 2
    assert slot_count("cache.t2.micro") == 1
    assert slot_count("db.x9.nonexistent") == 2


def test_scale_puts_k_times_the_work_on_the_vcpus():
    """At scale 10 a 10 ms read books 100 ms: the first is answered in its own 10 ms, the next after
    the 100 ms it waits ÷ 10 (a real request's wait behind 10x finer requests) + its 10 ms; past
    max_wait (at the talk's scale) a request is refused and books nothing."""
    slots = Slots(1, scale=lambda: 10)
    assert slots.book(0.01) == pytest.approx(0.01, abs=0.002)
    assert slots.book(0.01) == pytest.approx(0.02, abs=0.002)
    with pytest.raises(Overloaded):
        slots.book(0.01, max_wait=0.015)  # waits 0.2 s here, 0.02 s at the talk's scale
    assert slots.take_busy() == pytest.approx(0.2)
    assert slots.book(0.01, max_wait=0.025) == pytest.approx(0.03, abs=0.002)


class _Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _steady(slots: Slots, clock: _Clock, per_s: float, seconds: float, cost: float, max_wait=None) -> list:
    """Requests of `cost` arriving evenly at `per_s` a second for `seconds`: each one's wait (None if refused)."""
    out = []
    for _ in range(int(per_s * seconds)):
        clock.t += 1.0 / per_s
        try:
            out.append(slots.book(cost, max_wait) - cost)
        except Overloaded:
            out.append(None)
    return out


def test_a_sustained_overload_waits_in_full_at_any_scale():
    """At scale 40 (each local request books 40 x 10 ms) one vCPU takes 2.5 local requests a second. At 80% of
    that the waits stay a real request's (÷ K: tens of ms at most) however long it runs; at 150% the backlog
    grows by half a second every second, and so do the waits (not ÷ 40: that kept p95 low at 143% CPU), a
    few seconds late (the load is smoothed over SMOOTH_S), until the server refuses past max_wait."""
    clock = _Clock()
    calm = Slots(1, scale=lambda: 40, clock=clock)
    waits = _steady(calm, clock, 2.0, 60, 0.01, max_wait=1.0)
    assert None not in waits and max(waits) < 0.05 and calm.sustained < 0.1
    clock = _Clock()
    hot = Slots(1, scale=lambda: 40, clock=clock)
    waits = _steady(hot, clock, 3.75, 12, 0.01, max_wait=1.0)
    answered = [w for w in waits[: int(3.75 * 6)] if w is not None]
    assert answered and max(answered) > 0.2, answered  # within 6 s (the smoothing's lag): past a fifth of a second
    assert None in waits and waits.count(None) > len(waits) / 5  # then refusals: errors, the knee
    clock = _Clock()
    burst = Slots(1, scale=lambda: 40, clock=clock)
    assert [burst.book(0.01) for _ in range(3)][-1] < 0.05  # a burst with no sustained load: ÷ K, as before
