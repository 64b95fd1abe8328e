"""The knee of a load ramp (workshop/traffic/knee.py), on synthetic steps: fast, no Locust."""

from __future__ import annotations

import math

import pytest

from workshop.errors import BadInput
from workshop.traffic import knee
from workshop.traffic.knee import Step


def test_the_knee_is_the_last_step_before_p95_turns_up():
    """p95 flat, then over the threshold: the knee is the step before, and says why the next broke."""
    ramp = [Step(50, 80, 60, 0.0), Step(100, 160, 70, 0.0), Step(150, 240, 120, 0.0), Step(200, 250, 900, 0.4)]
    k = knee.find(ramp, p95_ms=500)
    assert (k.users, k.broke.users, k.found) == (150, 200, True)
    assert k.why == "p95 900 ms > 500 ms"


def test_errors_over_one_percent_break_a_step_even_with_a_low_p95():
    """A fast 503 keeps p95 low; the error share still marks the knee (and the steps' order does not matter)."""
    ramp = [Step(300, 400, 40, 5.0), Step(100, 160, 50, 0.0), Step(200, 310, 60, 1.0)]
    k = knee.find(ramp)
    assert (k.users, k.broke.users) == (200, 300)  # 1.0% exactly holds; 5% breaks
    assert k.why.startswith("errors 5.0%")


def test_edge_cases_are_answers_first_step_broken_or_no_knee_in_the_ramp():
    """Broken from the first step: users 0; never broken: the top step is a floor, `broke` None."""
    low = knee.find([Step(10, 5, 2000, 0.0), Step(20, 5, 3000, 50.0)])
    assert (low.users, low.held, low.broke.users, low.found) == (0, None, 10, False)
    assert "first step" in low.why
    high = knee.find([Step(10, 5, 20, 0.0), Step(20, 10, 25, 0.0)])
    assert (high.users, high.broke, high.found) == (20, None, False)
    assert "above the ramp" in high.why


def test_a_step_where_nothing_answered_breaks():
    """No request completed (a stopped server): past the knee, whatever its (empty) percentiles say."""
    k = knee.find([Step(10, 5, 20, 0.0), Step(20, 0, 0, 0.0, requests=0)])
    assert (k.users, k.why) == (10, "no request answered")


@pytest.mark.parametrize("steps, thresholds", [
    ([], {}),
    ([Step(0, 1, 1, 0)], {}),
    ([Step(10, 1, math.nan, 0)], {}),
    ([Step(10, 1, 1, -1)], {}),
    ([Step(10, 1, 1, 0), Step(10, 2, 2, 0)], {}),
    ([Step(10, 1, 1, 0)], {"p95_ms": 0}),
    ([Step(10, 1, 1, 0)], {"error_pct": 100}),
])
def test_wrong_ramps_are_refused(steps, thresholds):
    """No steps, a step without users, NaN or negative figures, duplicate users, nonsense thresholds."""
    with pytest.raises(BadInput):
        knee.find(steps, **thresholds)


def test_a_step_reads_a_traffic_summary():
    s = {"rps": 12.5, "p95_ms": 40.0, "error_pct": 0.5, "requests": 250, "other": "ignored"}
    assert Step.of(30, s) == Step(30, 12.5, 40.0, 0.5, 250)


def test_scale_for_fits_the_ramp_on_this_machine():
    """K, then F, so the ramp's top is <= 300 virtual users and <= 800 local requests/s, standing for its users."""
    fit = knee.scale_for(111_000, 10.5)  # stage 8's top: ~2x its peak's active users
    assert fit.users <= 300 and fit.rps <= 800
    assert fit.users * fit.think * fit.scale >= 111_000
    small = knee.scale_for(200, 10.5)  # stage 1: no scale needed
    assert (small.scale, small.think, small.users) == (1, 1.0, 200)
    assert knee.talk_users(200, 1.0, 1) == 4000
    with pytest.raises(BadInput):
        knee.scale_for(0, 10.5)
