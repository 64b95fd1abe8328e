"""Exercises: learner notebooks generated from solutions; answers checked in two lines at most."""

from __future__ import annotations

import math

import nbformat
import pytest

from workshop import exercises
from workshop.exercises import Exercise, check, strip_source


@pytest.mark.parametrize(
    "source, expected",
    [
        ("x = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\nx = check('a', x)\n",
         "x = None\n...  # YOUR CODE HERE\nx = check('a', x)\n"),
        ("def f(e):\n    ### BEGIN SOLUTION\n    a = 1\n    return a\n    ### END SOLUTION\n",
         "def f(e):\n    ...  # YOUR CODE HERE\n"),
        ("code = '''\ndef h(e, c):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n'''\n",
         "code = '''\ndef h(e, c):\n    ...  # YOUR CODE HERE\n'''\n"),
        ("print('no exercise here')\n", "print('no exercise here')\n"),
    ],
)
def test_solution_blocks_become_indented_stubs(source, expected):
    """Each marked block becomes `...  # YOUR CODE HERE` at its indent, in code and in strings alike."""
    assert strip_source(source) == expected


def test_learner_notebooks_are_in_sync_with_solutions():
    """notebooks/ is exactly what `workshop sync` generates from solutions/ (run it after editing a solution)."""
    assert exercises.sync(check_only=True) == []


def test_learner_notebooks_contain_no_solutions():
    """No learner notebook still carries a solution marker or an answer block."""
    for path in exercises.NOTEBOOKS.glob("*.ipynb"):
        text = path.read_text()
        assert exercises.BEGIN not in text and exercises.END not in text, path.name


def test_every_stage_notebook_has_an_exercise_with_a_check():
    """Each solution notebook with a stage number 1-10 contains at least one checked exercise."""
    for path in exercises.SOLUTIONS.glob("*.ipynb"):
        number = int(path.name[:2])
        if 1 <= number <= 10:
            text = path.read_text()
            assert exercises.BEGIN in text and "check(" in text, path.name


def _register_demo():
    return exercises.register(Exercise(
        name="s00-zones-demo", stage=0, variable="zones",
        checker=lambda value, ns: None if value == ["a", "b"] else f"expected ['a', 'b'], found {value!r}",
        hint="list the zone names",
    ))


def test_right_answer_prints_a_tick_and_is_returned(capsys):
    """A right answer prints one ✓ line and comes back unchanged."""
    _register_demo()
    assert check("s00-zones-demo", ["a", "b"], namespace={}) == ["a", "b"]
    assert capsys.readouterr().out.strip() == "✓ s00-zones-demo: correct"


def test_wrong_answer_says_what_and_why_in_two_lines_then_takes_the_reference(local_aws, capsys):
    """A wrong answer prints expected/found and a hint in ≤ 2 lines, then the reference solution is used."""
    from workshop import notebook

    ns = {"ws": notebook.start(stage=0, quiet=True), "region": "us-east-1"}
    result = check("s00-zones", [], namespace=ns)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[0].startswith("✗ s00-zones: expected") and "found []" in out[0]
    assert out[1].strip().startswith("Hint:")
    assert "us-east-1a" in result and ns["zones"] == result


def test_an_answer_that_raises_is_a_wrong_answer_not_a_traceback(capsys):
    """A checker that blows up on a malformed answer still yields the two-line message."""
    exercises.register(Exercise("s00-raises-demo", 0, "zones", lambda v, ns: v["missing"], "use a list"))
    with pytest.raises(LookupError):  # no reference cell for this demo exercise: the message was printed first
        check("s00-raises-demo", [], namespace={})
    assert capsys.readouterr().out.startswith("✗ s00-raises-demo: your answer raised TypeError")


def test_unknown_exercise_names_the_known_ones():
    """Checking an exercise that does not exist lists the registered names."""
    from workshop.errors import BadInput

    with pytest.raises(BadInput, match="s00-zones"):
        check("no-such-exercise", 1, namespace={})


def test_learner_copy_of_welcome_is_the_solution_minus_answers():
    """The generated welcome notebook differs from the solution only inside exercise cells."""
    sol = nbformat.read(exercises.SOLUTIONS / "00_welcome.ipynb", as_version=4)
    nb = nbformat.read(exercises.NOTEBOOKS / "00_welcome.ipynb", as_version=4)
    assert len(sol.cells) == len(nb.cells)
    differing = [i for i, (a, b) in enumerate(zip(sol.cells, nb.cells)) if a.source != b.source]
    assert differing and all(exercises.BEGIN in sol.cells[i].source for i in differing)


# --- a second-level hint ----------------------------------------------------------------------------------

def test_hint_gives_the_hint_first_then_the_closer_one(capsys):
    """hint(name) prints the hint on a first call and the exercise's `more` on the next; check() points to it."""
    exercises.register(Exercise("s00-hint-demo", 0, "x", lambda v, ns: None if v == 1 else "expected 1",
                                "think of a number", more="the smallest positive whole number"))
    exercises._ASKED.pop("s00-hint-demo", None)
    assert exercises.hint("s00-hint-demo") == "think of a number"
    assert exercises.hint("s00-hint-demo") == "the smallest positive whole number"
    assert exercises.hint("s00-hint-demo") == "the smallest positive whole number"
    assert capsys.readouterr().out.splitlines()[0] == "Hint for s00-hint-demo: think of a number"
    with pytest.raises(LookupError):  # no reference cell for a demo exercise: the message was printed first
        check("s00-hint-demo", 2, namespace={})
    assert "a closer hint: hint('s00-hint-demo')" in capsys.readouterr().out


def test_hint_without_a_closer_one_says_so(capsys):
    """An exercise with no `more` repeats its hint on a second call and says there is no closer one."""
    _register_demo()
    exercises._ASKED.pop("s00-zones-demo", None)
    exercises.hint("s00-zones-demo")
    assert "no closer hint" in exercises.hint("s00-zones-demo")


# --- the stages' exercises: the reference accepted, plausible wrong answers told what is wrong ---------------

def _solution(name: str) -> dict:
    """The namespace the solution notebook's exercise cell leaves (a self-contained cell: no AWS)."""
    ns = {"check": lambda n, v: v}
    exec(exercises._solution_cell(exercises.get(name)), ns)
    return ns


def _problem(name, value, ns=None):
    return exercises.get(name).checker(value, ns if ns is not None else {})


@pytest.fixture()
def live(monkeypatch):
    """A run's live topology, as `topology.read` would give it: set `live.topo` to what the account holds."""
    from types import SimpleNamespace

    from workshop import topology

    holder = SimpleNamespace(topo=None, ws=SimpleNamespace(run_id="ex"))
    monkeypatch.setattr(topology, "read", lambda run_id=None, *a, **k: holder.topo)
    return holder


def test_s02_prediction_accepts_the_vcpu_ratio_and_says_why_other_guesses_are_off(live):
    """Stage 2: ~36 × the t2.micro figure (rounded or not) passes; the same figure, ×8 or the memory ratio fail."""
    from workshop import capacity
    from workshop.stages import s02_scale_up as s02
    from workshop.topology import Instance, Topology

    live.topo = Topology(instances=[Instance("i-1", "t2.micro", "us-east-1a", "running", "sbs-ex-web-a", "full-stack")])
    ns = {"ws": live.ws, "sizes": list(s02.SIZES)}
    small = s02.capacity_on(live.ws, "t2.micro").max_users
    assert _problem("s02-predict-users", small * 36, ns) is None
    assert _problem("s02-predict-users", int(capacity.about(small).replace(",", "")) * 36, ns) is None
    for wrong in (small, small * 8, small * 60):  # no gain; the "8x" of a name; 60 GiB / 1 GiB of memory
        problem = _problem("s02-predict-users", wrong, ns)
        assert "bottleneck is still the single server" in problem and "36 vCPUs" in problem, problem
    assert "expected a number" in _problem("s02-predict-users", "lots", ns)
    assert "36" not in exercises.get("s02-predict-users").hint


def _two_azs(primary_az: str):
    from workshop.topology import Database, Instance, LoadBalancer, Topology

    other = "us-east-1b" if primary_az == "us-east-1a" else "us-east-1a"
    return Topology(
        instances=[Instance("i-a", "t3.micro", "us-east-1a", "running", "web-a", "full-stack"),
                   Instance("i-b", "t3.micro", "us-east-1b", "running", "web-b", "web")],
        load_balancers=[LoadBalancer("alb", "arn", "application", ["us-east-1a", "us-east-1b"], "dns")],
        databases=[Database("db", "mysql", "db.m5.large", primary_az, "primary", True, other)])


@pytest.mark.parametrize("wrong, words", [
    (("us-east-1b", "b"), "found us-east-1b: it holds 1 web server(s) and the database's standby"),  # the second AZ: where stage 4 added things
    (("us-east-1a", "a"), "web servers per AZ are {'us-east-1a': 1, 'us-east-1b': 1}"),
    (("us-east-1a", "c"), "nodes in ['us-east-1a', 'us-east-1b']"),
    (("us-east-1a", "d"), "60-120 s"),  # "Multi-AZ makes it the same"
    (("us-east-1c", "b"), "one of this run's AZs"),
    ("us-east-1a", "expected a pair"),
])
def test_s04_worse_az_is_the_primary_s_and_each_wrong_choice_is_answered(live, wrong, words):
    """Stage 4: the AZ of the database primary (read live) and reason b pass; each wrong AZ or reason says why."""
    live.topo = _two_azs("us-east-1a")
    ns = {"ws": live.ws}
    assert _problem("s04-worse-az", ("us-east-1a", "b"), ns) is None
    assert words in _problem("s04-worse-az", wrong, ns)


def test_s04_worse_az_follows_the_primary_after_a_failover(live):
    """After a failover the primary sits in the other AZ: the checker reads that, not the AZ it started in."""
    live.topo = _two_azs("us-east-1b")
    ns = {"ws": live.ws}
    assert _problem("s04-worse-az", ("us-east-1b", "B"), ns) is None
    assert "found us-east-1a: it holds 1 web server(s) and the database's standby" in _problem(
        "s04-worse-az", ("us-east-1a", "b"), ns)


@pytest.mark.parametrize("wrong, words", [
    (lambda q, share, hit, per: math.ceil(q * share / per), "slide 20: behind ElastiCache"),  # forgets the cache
    (lambda q, share, hit, per: math.ceil(q * share * hit / per), "slide 11: no cache"),  # hit ratio as miss ratio
    (lambda q, share, hit, per: math.ceil(q * (1 - hit) / per), "slide 11: no cache"),  # forgets the writes
    (lambda q, share, hit, per: round(q * share * (1 - hit) / per), "just over 3"),  # rounds to nearest
    (lambda q, share, hit, per: int(q * share * (1 - hit) / per) + 1, "exactly 5"),  # one spare too many
    (lambda q, share, hit, per: q * share * (1 - hit) / per, "a whole number of replicas"),
    (4, "expected a function"),
])
def test_s08_replicas_reference_passes_and_plausible_slips_are_caught(wrong, words):
    """Stage 8: the solution's replicas_needed passes the four cases; each usual slip fails on the case that shows it."""
    assert _problem("s08-replicas", _solution("s08-replicas")["replicas_needed"]) is None
    assert words in _problem("s08-replicas", wrong)
    assert "ceil" not in exercises.get("s08-replicas").hint


@pytest.mark.parametrize("wrong, words", [
    (lambda count, period: count / (24 * 60), "looks like a rate per minute"),
    (lambda count, period: count / 24, "looks like a rate per hour"),
    (lambda count, period: count / 86_400, "Localytics (100 billion a month, ±5%), found 1,157,407: that looks "
                                           "like a month taken as one day"),
    (lambda count, period: str(count / 86_400), "expected a number"),
    (45e9 / 86_400, "expected a function"),
])
def test_s10_rates_accept_rounding_and_name_the_slip(wrong, words):
    """Stage 10: exact or rounded rates (520,000/s for Supercell, 31-day months) pass; usual slips are named."""
    assert _problem("s10-case-rates", _solution("s10-case-rates")["per_second"]) is None
    rounded = {("day", 45e9): 520_000, ("day", 60e9): 690_000, ("month", 100e9): 100e9 / (31 * 86_400)}
    assert _problem("s10-case-rates", lambda count, period: rounded[period, count]) is None
    assert words in _problem("s10-case-rates", wrong)
    assert "86" not in exercises.get("s10-case-rates").hint


@pytest.mark.parametrize("wrong, words", [
    ("a", "RDS does not refuse"),  # the intuitive answer: "AWS refuses to delete something in use"
    ("b", "a replica outlives its primary"),
    ("d", "the order changes what is left"),
    ("rds instance (read replica)", "expected the letter"),
])
def test_s99_replica_order_answer_is_c_and_the_others_are_explained(wrong, words):
    """Stage 99: choice c (replicas would be promoted, not deleted) passes; each other choice says what RDS does."""
    assert _problem("s99-replica-order", _solution("s99-replica-order")["order"]) is None
    assert _problem("s99-replica-order", " C) ") is None
    assert words in _problem("s99-replica-order", wrong)
    hint = exercises.get("s99-replica-order").hint + exercises.get("s99-replica-order").more
    assert "promot" not in hint.replace("promote_read_replica", "") and "standalone" not in hint


_BEHAVIOUR = {"PathPattern": "/static/*", "TargetOriginId": "static-s3", "ViewerProtocolPolicy": "redirect-to-https",
              "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}


@pytest.mark.parametrize("change, words", [
    ({"PathPattern": "/*"}, "expected PathPattern '/static/*'"),
    ({"TargetOriginId": "dynamic-alb"}, "the bucket's origin"),
    ({"ViewerProtocolPolicy": "allow-all"}, "redirect-to-https"),
    ({"CachePolicyId": ""}, "CACHING_OPTIMIZED"),
])
def test_s06_behaviour_right_one_passes_and_each_slip_is_named(change, words):
    """Exercise 6.1: the static behaviour passes; a wrong pattern, origin, protocol or missing cache policy is named."""
    assert _problem("s06-static-behaviour", _BEHAVIOUR) is None
    assert words in _problem("s06-static-behaviour", {**_BEHAVIOUR, **change})
    assert "found list" in _problem("s06-static-behaviour", [_BEHAVIOUR])


_TRACKING = {"TargetValue": 50.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"}}


@pytest.mark.parametrize("value, words", [
    ({**_TRACKING, "TargetValue": 150}, "a CPU percentage"),
    ({"TargetValue": 50.0, "CustomizedMetricSpecification": {
        "Namespace": "ScaleBabyScale/Simulated", "MetricName": "CPUUtilization", "Statistic": "Average"}},
     "not a custom one"),
    ({"TargetValue": 50.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageNetworkIn"}},
     "'ASGAverageNetworkIn'"),
])
def test_s07_tracking_right_one_passes_and_each_slip_is_named(value, words):
    """Exercise 7.1: the group's real average CPU at 50% passes; a wrong target, a custom metric or another one is named."""
    assert _problem("s07-target-tracking", _TRACKING) is None
    assert words in _problem("s07-target-tracking", value)
