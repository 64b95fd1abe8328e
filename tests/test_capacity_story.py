"""The capacity story: each stage's figure explained against the previous design, and docs/capacity.md's table."""

from __future__ import annotations

import dataclasses
import re

import pytest

from workshop import capacity, cli
from workshop.capacity import limits, story

import capacity_slides as slides


@pytest.fixture(scope="module")
def course_lines(local_aws):
    """Every measured stage built once on a private local AWS, as story Lines."""
    return story.for_course()


def test_committed_table_is_the_generated_one(course_lines):
    """docs/capacity.md's stage -> users table is what `workshop capacity --table` generates today."""
    committed = story.block_in(story.DOCS.read_text())
    assert committed is not None, "docs/capacity.md has no generated table: run workshop capacity --table --write-docs"
    assert committed == story.markdown(course_lines), "stale: run workshop capacity --table --write-docs"


def test_every_stage_1_to_10_lands_in_its_band(course_lines):
    """Built and measured, each of stages 1-10 has a band from the talk and the model's figure falls in it."""
    by_stage = {line.stage: line for line in course_lines}
    assert sorted(by_stage) == list(range(1, 11))
    for n, line in by_stage.items():
        assert line.band is not None and line.band.holds(line.users), (n, line.users, line.band)


def test_each_line_explains_its_change_from_the_previous_design(course_lines):
    """From stage 2 on, each sentence says up/down/the same as which stage, and why (or that it is separate)."""
    for line in course_lines[1:]:
        assert re.search(r"(up|down) from ~[\d,]+ at stage \d+ because |the same as stage \d+ although "
                         r"|a separate design from stage \d+", line.sentence), line.sentence
        assert line.sentence.count(". ") == 0 and line.sentence.endswith("."), "one sentence"


def test_stage_2_is_the_wall_and_below_the_availability_target(course_lines):
    """Stage 2's box is its family's largest (no bigger box), and one instance is below the kit's 99.9% target."""
    two = next(line for line in course_lines if line.stage == 2)
    assert "the largest c4: no bigger box" in two.bottleneck
    assert two.availability.value == limits.SLA["ec2-instance"].value and not two.availability.meets_target
    assert "stop and start" in two.sentence


def test_auto_scaling_keeps_capacity_when_an_az_is_lost(course_lines):
    """Stage 6's fixed fleet loses web servers with an AZ; stage 7's group relaunches them (the talk's slide 18-19)."""
    by_stage = {line.stage: line for line in course_lines}
    assert by_stage[6].az_down < by_stage[7].az_down
    assert "an Auto Scaling group at its max, 10 × m4.large" in by_stage[7].sentence


def test_stage_10_states_the_group_size_it_assumes(course_lines):
    """Stage 10's figure comes with the Auto Scaling group's max it assumes (120), in the line and the summary."""
    ten = next(line for line in course_lines if line.stage == 10)
    from workshop.stages import s10_ten_million_users as s10

    assert f"an Auto Scaling group at its max, {s10.WEB_MAX} × " in ten.sentence
    assert f"at its max, {s10.WEB_MAX} × t3.micro" in capacity.evaluate(slides.stage10(), 0).tier("web").label
    assert f"it assumes the web tier (an Auto Scaling group at its max, {s10.WEB_MAX} × t3.micro)" in (
        capacity.summary_line(slides.stage10()))


def test_a_separate_design_is_compared_with_the_most_similar_stage():
    """A pipeline-only stage is 'a separate design'; the full design after it is compared with the web stage before."""
    lines = story.lines({8: slides.stage8(), 9: _pipeline(), 10: slides.stage10()})
    assert "a separate design from stage 8" in lines[1].sentence
    assert "from ~" in lines[2].sentence and "at stage 8 because" in lines[2].sentence


def _pipeline():
    from workshop.topology import Table, Topology

    return Topology(functions=["writeToDynamoDB", "DynamoDBToFirehose"], apis=["logger"],
                    tables=[Table("eventTable", stream=True)], delivery_streams=["firehoseToS3"])


def test_a_small_primary_runs_out_of_connections_first():
    """Slide 20's design on a db.t3.micro (RDS max_connections = 1 GiB / 12,582,880 = 85) stops at its connections."""
    small = slides.stage8(db="db.t3.micro")
    assert limits.rds_max_connections("db.t3.micro") == 85
    assert limits.rds_max_connections("db.m5.large") == 682
    result = capacity.evaluate(small, 0)
    assert result.bottleneck_key == "connections" and "max_connections 85" in result.bottleneck
    assert capacity.max_users(slides.stage8()) > result.max_users


def test_longer_requests_hold_more_connections():
    """Doubling the time a request holds its connection halves the users the connection limit allows."""
    topo = slides.stage8(db="db.t3.micro")
    base = capacity.max_users(topo)
    slow = capacity.max_users(topo, {"db_connection_seconds": 0.4})
    assert slow == pytest.approx(base / 2, rel=0.01)


def test_multi_az_raises_availability_and_a_single_az_database_lowers_it():
    """Stage 4's two AZs and RDS Multi-AZ meet 99.9%; with a Single-AZ database the design drops below it."""
    four = capacity.evaluate(slides.stage4(), 0).availability
    assert four.meets_target and four.value == pytest.approx(0.9999 * 0.9995)
    topo = slides.stage4()
    topo.databases = [dataclasses.replace(topo.databases[0], multi_az=False)]
    single = capacity.evaluate(topo, 0).availability
    assert single.value == pytest.approx(0.9999 * 0.995) and not single.meets_target
    assert "rds-single-az" in single.parts


def test_summary_line_states_availability_and_sources_are_cited():
    """The notebooks' closing line gives the SLA availability; every SLA figure names its AWS page."""
    line = capacity.summary_line(slides.stage1())
    assert "99.50% available by AWS's SLAs, below the kit's 99.9% target" in line
    assert all(f.source.startswith("https://aws.amazon.com/") and "/sla/" in f.source for f in limits.SLA.values())


def test_write_docs_replaces_only_the_generated_block(tmp_path):
    """--write-docs rewrites the table between its markers and leaves the prose around it alone."""
    doc = tmp_path / "capacity.md"
    doc.write_text(f"intro\n\n{story.BEGIN}\nold\n{story.END}\n\noutro\n")
    story.write_docs(f"{story.BEGIN}\nnew\n{story.END}", doc)
    assert doc.read_text() == f"intro\n\n{story.BEGIN}\nnew\n{story.END}\n\noutro\n"


def test_write_docs_without_table_is_refused(capsys):
    """`capacity --write-docs` alone exits 2 and says it goes with --table."""
    assert cli.main(["capacity", "--write-docs"]) == 2
    assert "--write-docs goes with --table" in capsys.readouterr().err



def test_served_at_target_keeps_an_az_or_shares_the_outage_budget():
    """A design meeting 99.9% counts what it keeps with an AZ lost; one instance (99.5%) gets a fifth of its peak."""
    one = limits.Availability(0.995, ("ec2-instance",))
    two = limits.Availability(0.9999 * 0.9995, ("ec2-multi-az", "rds-multi-az"))
    assert limits.served_at_target(100_000, None, one)[0] == pytest.approx(20_000, rel=1e-6)
    assert limits.served_at_target(100_000, 40_000, two) == (40_000, "what it keeps with an AZ lost")
    assert limits.served_at_target(100_000, None, None) == (100_000, "its peak")


def test_scaling_out_overtakes_the_biggest_box(course_lines):
    """Stage 2's c4.8xlarge has the bigger peak, but at the availability target stage 5's two AZs serve more."""
    by_stage = {line.stage: line for line in course_lines}
    assert by_stage[2].peak > by_stage[5].peak
    assert by_stage[2].users < by_stage[5].users
    assert "outage budget" in by_stage[2].sentence and "at its peak" in by_stage[2].sentence
    assert "two single points of failure in series" in by_stage[3].sentence


def test_stages_6_7_8_differ_for_the_talks_reasons(course_lines):
    """6: the fixed fleet with an AZ lost; 7: Auto Scaling relaunches it, the primary's writes stop it; 8: slide 20's
    bigger primary and one replica per AZ move the limit back to the web tier, above 500,000."""
    from workshop.stages import s08_users_500k as s08

    by_stage = {line.stage: line for line in course_lines}
    six, seven, eight = by_stage[6], by_stage[7], by_stage[8]
    assert six.users < seven.users < eight.users
    assert "limited by the web tier (4 × m4.large) with an AZ lost" in six.sentence
    assert "limited by the database primary, writes (1 × db.m5.large)" in seven.sentence
    assert f"primary 1 × db.m5.large -> 1 × {s08.PRIMARY_CLASS}" in eight.sentence
    assert "replicas 4 × db.m5.large -> 2 × db.m5.large" in eight.sentence and s08.BILLED_REPLICAS == 2
    assert eight.band.holds(eight.users) and eight.users > 500_000


def test_stage_7_peak_claim_agrees_with_the_model(course_lines):
    """Stage 7's simulated peak is past what the model gives the design, and the notebook's constant says why."""
    from workshop.stages import s07_auto_scaling as s07

    seven = next(line for line in course_lines if line.stage == 7)
    assert s07.PEAK_USERS > seven.peak and capacity.about(seven.peak) == "760,000"
