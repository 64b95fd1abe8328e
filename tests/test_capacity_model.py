"""The capacity model: the talk's figures, per-tier behaviour, assumptions and bad input."""

from __future__ import annotations

import math
import re
import uuid

import pytest

from workshop import capacity, stages
from workshop.capacity import assumptions, instance_types
from workshop.errors import BadInput
from workshop.topology import Cache, Database, Instance, Topology

import capacity_slides as slides

# The talk's claims (docs/talk.md, the stages table): (low, high) for max users. The stages
# declare them (Stage.band); this table is the talk's, to check the declarations against.
TALK = {
    1: (200, 9_999),  # "a few hundred to a few thousand"
    2: (1_000, math.inf),  # no count (slide 4): at least slide 3's "a few thousand"; the largest box is the ceiling
    3: (101, math.inf),  # "> 100"
    4: (1_001, math.inf),  # "> 1,000"
    5: (10_000, 999_999),  # "tens to hundreds of thousands"
    6: (10_000, math.inf),  # no count (slides 12-17): adds to slide 11's "10,000s"
    7: (10_000, math.inf),  # no count (slides 18-19): resizes slide 11's design
    8: (500_001, math.inf),  # "500,000+"
    9: (10_000_000, math.inf),  # no count (slides 28-29): the event path of slide 30's "10+ million"
    10: (10_000_000, math.inf),  # "10+ million"
}
DERIVED = {2, 6, 7, 9}  # the talk gives no count: the band says how it is derived
BANDS = {s.number: (s.band.low, s.band.high) for s in stages.all_stages() if s.band is not None}
SLIDES = {1: slides.stage1, 3: slides.stage3, 4: slides.stage4, 5: slides.stage5, 8: slides.stage8, 10: slides.stage10}


def test_stages_declare_the_talks_bands():
    """Every stage 1-10 declares the talk's band with its slide; a band the talk gives no count for says how it is derived."""
    assert BANDS == TALK
    assert all(stages.get(n).band.slide for n in BANDS)
    assert {n for n in BANDS if stages.get(n).band.note} == DERIVED


@pytest.mark.parametrize("number", sorted(SLIDES))
def test_slide_topology_lands_in_the_talks_band(number):
    """Each stage drawn as on its slide serves the users the talk claims, with the default assumptions."""
    low, high = BANDS[number]
    users = capacity.max_users(SLIDES[number]())
    assert low <= users <= high, f"stage {number}: {users:,} users, the talk says {low:,}..{high:,}"


def test_slide_topologies_grow_from_stage_4_to_10():
    """Stages 4, 5, 8 and 10 each serve more users than the one before."""
    counts = [capacity.max_users(SLIDES[n]()) for n in (4, 5, 8, 10)]
    assert counts == sorted(counts) and len(set(counts)) == 4, counts


# --- the same figures from each stage's provisioned topology ----------------------------------

def _registered(number: int) -> bool:
    try:
        return stages.get(number).build is not None
    except BadInput:
        return False


@pytest.fixture(scope="module")
def provisioned(local_aws):
    """Build each stage that exists on the local AWS (its own run id) and read its live topology."""
    from workshop import topology
    from workshop.notebook import StageContext

    built: dict[int, object] = {}

    def get(number: int):
        if not _registered(number):
            pytest.skip(f"stage {number}'s module (workshop/stages/s{number:02d}_*.py) does not exist yet")
        if number not in built:
            run_id = f"cap{number}-{uuid.uuid4().hex[:6]}"
            ctx = StageContext.of(stages.get(number), run_id, "us-east-1")
            ctx.build_previous()
            stages.get(number).build(ctx)
            built[number] = topology.read(run_id)
        return built[number]

    return get


@pytest.mark.parametrize("number", sorted(BANDS))
def test_provisioned_stage_lands_in_the_talks_band(provisioned, number):
    """A stage built on the local AWS and read back live serves the users the talk claims."""
    low, high = BANDS[number]
    result = capacity.evaluate(provisioned(number), 0)
    assert low <= result.max_users <= high, (
        f"stage {number}: {result.max_users:,} users (bottleneck {result.bottleneck}), the talk says {low:,}..{high:,}")


def test_provisioned_stages_grow_from_4_to_10(provisioned):
    """Built and read live, stages 4, 5, 8 and 10 each serve more users than the one before."""
    counts = [capacity.max_users(provisioned(n)) for n in (4, 5, 8, 10)]
    assert counts == sorted(counts) and len(set(counts)) == 4, counts


# --- behaviour of the model -----------------------------------------------------------------

def test_utilisation_grows_with_users_and_reaches_one_at_max_users():
    """Per-tier utilisation rises with users and the bottleneck is at 100% at the maximum."""
    topo = slides.stage5()
    best = capacity.max_users(topo)
    low, at_max = capacity.evaluate(topo, best / 10), capacity.evaluate(topo, best)
    assert all(a.utilisation < b.utilisation for a, b in zip(low.tiers, at_max.tiers) if b.load > 0)
    assert at_max.tier(at_max.bottleneck_key).utilisation == pytest.approx(1.0, rel=1e-3)


def test_more_web_servers_move_the_bottleneck_to_the_database():
    """Adding web servers raises max users until the database becomes the bottleneck."""
    small, big = slides.stage3(), slides.stage3()
    big.instances = [Instance(f"i-{i}", "m5.large", "us-east-1a", "running", role="web") for i in range(40)]
    assert capacity.evaluate(small, 0).bottleneck_key == "web"
    assert capacity.evaluate(big, 0).bottleneck_key == "db-primary"
    assert capacity.max_users(big) > capacity.max_users(small)


def test_read_replicas_take_reads_off_the_primary():
    """With read replicas the primary carries only writes, so it sustains more users."""
    without = Topology(instances=[Instance("i", "m5.24xlarge", "a", "running", role="web")],
                       databases=[Database("db", "mysql", "db.t3.micro", "a", "primary")])
    with_replicas = Topology(instances=without.instances, databases=without.databases + [
        Database(f"r{i}", "mysql", "db.m5.large", "a", "replica", source="db") for i in range(4)])
    p0, p1 = capacity.evaluate(without, 0).tier("db-primary"), capacity.evaluate(with_replicas, 0).tier("db-primary")
    assert p1.max_users > p0.max_users
    assert "writes" in p1.label and "reads" in p0.label


def test_bigger_box_serves_more_users():
    """Scaling the single box up (slide 4: t2.micro -> m4.2xlarge -> c4.8xlarge) raises max users."""
    counts = [capacity.max_users(slides.stage1(kind)) for kind in ("t2.micro", "m4.2xlarge", "c4.8xlarge")]
    assert counts[0] < counts[1] < counts[2]


def test_az_down_halves_stage_4_and_stops_stage_1():
    """Losing an AZ leaves stage 4 its other web server, and stops stage 1 (no failover)."""
    four, four_down = capacity.evaluate(slides.stage4(), 0), capacity.evaluate(slides.stage4(), 0, az_down=True)
    assert four_down.max_users == pytest.approx(four.max_users / 2, rel=0.01)
    assert four_down.lost_az in ("us-east-1a", "us-east-1b")
    assert capacity.evaluate(slides.stage1(), 0, az_down=True).max_users == 0


def test_az_down_without_multi_az_loses_the_database():
    """A primary without a Multi-AZ standby does not survive its AZ: nothing is served."""
    topo = slides.stage4()
    topo.databases[0].multi_az = False
    assert capacity.evaluate(topo, 0, az_down=True).max_users == 0


def test_auto_scaling_counts_at_its_maximum():
    """An Auto Scaling group's capacity is its MaxSize, so raising the ceiling raises max users while web-bound."""
    six, twelve = slides.stage8(web="t2.micro", asg_max=6), slides.stage8(web="t2.micro", asg_max=12)
    assert capacity.evaluate(six, 0).bottleneck_key == "web"
    assert capacity.max_users(twelve) > capacity.max_users(six)


def test_a_full_cache_loses_hits_and_moves_the_busiest_tier():
    """Past the cache's memory the hit ratio falls and another tier becomes the busiest."""
    topo = slides.stage8()
    low, high = capacity.evaluate(topo, 10_000), capacity.evaluate(topo, 20_000_000)
    assert low.cache_hit_ratio == pytest.approx(assumptions.defaults()["cache_hit_ratio"])
    assert high.cache_hit_ratio < low.cache_hit_ratio
    assert low.busiest_key != high.busiest_key


def test_serverless_pipeline_takes_events_off_the_database():
    """With the pipeline, events go to API Gateway/Lambda/DynamoDB instead of the primary's writes."""
    topo = slides.stage10()
    with_pipeline = capacity.evaluate(topo, 1_000_000)
    topo.functions, topo.apis = [], []
    without = capacity.evaluate(topo, 1_000_000)
    assert with_pipeline.tier("db-primary").load < without.tier("db-primary").load
    assert {"api", "lambda", "events-table"} <= {t.key for t in with_pipeline.tiers}


def test_assumptions_change_the_answer():
    """Doubling requests per user halves the users a single box serves."""
    base = capacity.max_users(slides.stage1())
    doubled = capacity.max_users(slides.stage1(), {"page_requests_per_min": 20, "events_per_min": 1})
    assert doubled == pytest.approx(base / 2, rel=0.01)


@pytest.mark.parametrize("name, value, words", [
    ("cache_hit_ratio", 1.5, "at most 1"),
    ("page_requests_per_min", -1, "at least 0"),
    ("web_requests_per_vcpu", 0, "above 0"),
    ("read_share", "lots", "must be a number"),
    ("no_such_thing", 1, "unknown assumption"),
])
def test_out_of_range_assumption_says_which_and_why(name, value, words):
    """An invalid assumption raises a BadInput naming it and its valid range."""
    with pytest.raises(BadInput) as err:
        capacity.evaluate(slides.stage1(), 100, {name: value})
    assert name in str(err.value) and words in str(err.value)


def test_every_assumption_has_unit_range_and_source():
    """Each assumption carries a default inside its range, a unit and a one-line source."""
    for a in assumptions.all_assumptions():
        assert a.unit and a.source and "\n" not in a.source
        assert assumptions.problem(a.name, a.default) is None, a.name


def test_instance_table_has_the_course_types_and_rejects_unknown():
    """The course's types are in the table; an unknown one is a BadInput naming the table."""
    for kind in ("t2.micro", "m4.2xlarge", "c4.8xlarge", "t3.micro", "m5.large", "db.t3.micro", "db.m5.large",
                 "cache.t3.micro"):
        assert instance_types.get(kind).vcpu >= 1
    assert instance_types.vcpus("c4.8xlarge") == 36
    with pytest.raises(BadInput, match="instance_types.py"):
        capacity.evaluate(slides.stage1("x9.huge"), 1)


def test_nothing_built_says_run_a_stage_first():
    """An empty topology is 'nothing to measure yet: run a stage first'."""
    with pytest.raises(BadInput, match="nothing to measure yet: run a stage first"):
        capacity.evaluate(Topology(), 10)


def test_summary_line_names_users_and_bottleneck():
    """The notebooks' closing line gives a rounded user count and names the bottleneck tier."""
    line = capacity.summary_line(slides.stage1())
    assert re.fullmatch(r"this architecture serves up to ~[\d,]+ users; the bottleneck is the single server.*", line)


def test_web_cpu_percent_tracks_users_and_instances():
    """Web CPU rises with users, falls with more instances, and is capped at 100%."""
    one = capacity.web_cpu_percent(50_000, 2, "m5.large")
    assert 0 < one < capacity.web_cpu_percent(100_000, 2, "m5.large")
    assert capacity.web_cpu_percent(100_000, 4, "m5.large") == pytest.approx(one)
    assert capacity.web_cpu_percent(10**9, 2, "m5.large") == 100.0


def test_cache_memory_counts_for_hit_ratio():
    """A larger cache node keeps the hit ratio at a user count where a small one has lost hits."""
    small = slides.stage8()
    big = slides.stage8(node="cache.r5.xlarge")
    assert capacity.evaluate(big, 5_000_000).cache_hit_ratio > capacity.evaluate(small, 5_000_000).cache_hit_ratio
    assert isinstance(small.caches[0], Cache)


def test_pipeline_alone_is_limited_by_its_quotas():
    """Stage 9's pipeline on its own serves events up to API Gateway's default quota, its bottleneck."""
    from workshop.topology import Table

    topo = Topology(functions=["writeToDynamoDB", "DynamoDBToFirehose"], apis=["logger"],
                    tables=[Table("eventTable", stream=True)], delivery_streams=["firehoseToS3"])
    result = capacity.evaluate(topo, 0)
    assert result.bottleneck_key == "api" and result.max_users > 0
    faster = capacity.max_users(topo, {"api_gateway_rps": 20_000})
    assert faster > result.max_users


# --- the widgets ---------------------------------------------------------------------------

def test_explorer_slider_moves_the_bottleneck_shown():
    """Dragging users from 1,000 to 20 million changes the bottleneck the stage 8 chart names."""
    from workshop.capacity import widgets

    explorer = widgets.explorer({"stage 8": slides.stage8()}, users=1_000)
    shown = lambda: re.findall(r'class="cap-bottleneck">([^<]*)<', explorer.chart.value)  # noqa: E731
    before = shown()
    explorer.users.value = 20_000_000
    assert before and shown() and shown() != before


def test_explorer_refuses_an_invalid_assumption_and_keeps_the_last_valid():
    """A hit ratio of 2 is refused with a message naming it; the chart keeps using 0.9, then takes a valid 0.5."""
    from workshop.capacity import widgets

    explorer = widgets.explorer(slides.stage8(), users=100_000)
    chart = explorer.chart.value
    explorer.fields["cache_hit_ratio"].value = 2
    assert "cache_hit_ratio = 2 is out of range" in explorer.message.value
    assert explorer.values["cache_hit_ratio"] == 0.9 and explorer.chart.value == chart
    explorer.fields["cache_hit_ratio"].value = 0.5
    assert explorer.message.value == "" and explorer.chart.value != chart


def test_explorer_compares_stages_and_renders_static_html():
    """The picker shows the chosen stages side by side; without a widget frontend the same chart is text/html."""
    from workshop.capacity import widgets

    explorer = widgets.explorer({"stage 1": slides.stage1(), "stage 5": slides.stage5()}, users=5_000, shown=2)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"].count('class="cap-chart"') == 2
    explorer.picker.value = ("stage 5",)
    assert explorer.chart.value.count('class="cap-chart"') == 1 and "stage 5" in explorer.chart.value
    explorer.az_down.value = True
    assert "down" in explorer.chart.value
