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
        self.now = 1000.0

    def __call__(self):
        return self.now


def _arrivals(slots, clock, per_s: float, seconds: float, seed: int = 7) -> list[float]:
    """Poisson arrivals of 2 ms writes at `per_s` local requests a second for `seconds`; each one's delay."""
    import random

    rnd, end, delays = random.Random(seed), clock.now + seconds, []
    while True:
        clock.now += rnd.expovariate(per_s)
        if clock.now >= end:
            return delays
        delays.append(slots.book(0.002))


def _p95(xs):
    return sorted(xs)[int(0.95 * (len(xs) - 1))]


def test_a_sustained_overload_is_waited_in_full_at_any_scale():
    """A 2-vCPU database at K = 40 (each local write books 80 ms): at 80% of its CPU for a minute the
    waits are the talk's (chance, ÷ K: p95 well under 100 ms); at 120% for 12 s the queue grows
    0.2 s a second, and the last writes wait ~2 s as a real overloaded server's would (÷ K they
    waited ~60 ms: the overload never showed)."""
    clock = _Clock()
    slots = Slots(2, scale=lambda: 40, clock=clock)
    capacity = 2 / (40 * 0.002)  # 25 local writes a second fill both vCPUs
    calm = _arrivals(slots, clock, 0.8 * capacity, 60)
    assert _p95(calm) < 0.1
    clock.now += 30  # the queue drains
    over = _arrivals(slots, clock, 1.2 * capacity, 12)
    assert over[-1] > 1.5
    assert max(over) < 3.0  # the backlog at the talk's scale, not K times it


def test_the_backlog_drains_when_the_load_falls():
    """After an overload the server works its backlog off at 100% and waits return to chance's."""
    clock = _Clock()
    slots = Slots(2, scale=lambda: 40, clock=clock)
    _arrivals(slots, clock, 30.0, 12)
    assert slots.wait() > 1.5
    clock.now += slots.wait()  # nothing arrives while it works off what waits
    assert slots.wait() == 0
    assert _p95(_arrivals(slots, clock, 10.0, 30, seed=3)) < 0.05
