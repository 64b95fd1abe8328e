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
