"""The bill first: itemised per-stage costs from a dated, sourced price table, and the guard."""

from __future__ import annotations

import json

import pytest

from workshop import cli, cost
from workshop.cost import prices
from workshop.errors import WorkshopError


def _json(capsys, *argv):
    assert cli.main(["cost", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cost_json_covers_stages_1_to_10(capsys):
    """`workshop cost --json` has one entry per stage 1-10 with items, hourly, session and the price date."""
    doc = _json(capsys)
    assert [e["stage"] for e in doc] == list(range(1, 11))
    for e in doc:
        assert e["items"] and e["price_table_date"] == prices.PRICES_DATE
        counted = sum(i["hourly_usd"] for i in e["items"] if i["in_hourly"])
        assert e["hourly_usd"] == pytest.approx(counted, abs=1e-3)
        assert e["session_usd"] == pytest.approx(sum(i["session_usd"] for i in e["items"]), abs=1e-3)
        assert all(i["source"].startswith("https://aws.amazon.com/") for i in e["items"])


def test_selected_stages_only(capsys):
    """Named stages are the only ones reported, in the order given."""
    assert [e["stage"] for e in _json(capsys, "4", "9")] == [4, 9]


def test_unknown_stage_is_refused(capsys):
    """A stage without an estimate is a one-line error naming the valid range."""
    assert cli.main(["cost", "12"]) == 2
    assert "stages 1-10" in capsys.readouterr().err


def test_multi_az_doubles_and_replicas_count(capsys):
    """Stage 4's Multi-AZ database costs twice its Single-AZ price; stage 5 adds its read replicas."""
    stage3, stage4, stage5 = (cost.bill_of_materials(n) for n in (3, 4, 5))
    single = next(i for i in stage3.items if i.label.startswith("RDS MySQL"))
    multi = next(i for i in stage4.items if i.label.startswith("RDS MySQL"))
    assert "Multi-AZ" in multi.label and multi.hourly_usd == pytest.approx(2 * single.hourly_usd)
    replicas = next(i for i in stage5.items if i.label.startswith("RDS read replica"))
    assert replicas.quantity == 4 and replicas.hourly_usd == pytest.approx(4 * single.hourly_usd)


def test_public_ipv4_priced_and_no_nat_gateway():
    """Every stage pays $0.005/h per public IPv4 address, and no stage runs a NAT gateway."""
    assert prices.PRICES["vpc:public-ipv4"].usd == 0.005
    for c in cost.estimate():
        assert not any(i.price_key == "vpc:nat-gateway" for i in c.items)
    ips = [i for i in cost.bill_of_materials(1).items if i.price_key == "vpc:public-ipv4"]
    assert sum(i.hourly_usd for i in ips) == pytest.approx(0.005)


def test_stage_2_hourly_is_its_largest_size():
    """Stage 2's hourly figure is the box at its largest size; earlier sizes count only in the session."""
    c = cost.bill_of_materials(2)
    counted = [i.label for i in c.items if i.in_hourly and i.price_key.startswith("ec2:")]
    assert counted == ["EC2 c4.8xlarge x 1 (largest size)"]
    assert c.session_usd < c.hourly_usd * 2


def test_every_price_names_its_source():
    """Each price in the table carries its AWS pricing page."""
    for key, p in prices.PRICES.items():
        assert p.source.startswith("https://aws.amazon.com/") and p.usd > 0, key


def test_guard_refuses_over_budget(capsys):
    """Over max_hourly_usd the guard shows the itemised bill and refuses in one line, naming the figure to raise."""
    c = cost.bill_of_materials(5)
    with pytest.raises(cost.OverBudget) as info:
        cost.guard(5, max_hourly_usd=c.hourly_usd / 2)
    assert "nothing was created" in str(info.value) and f"{c.hourly_usd:.2f}" in str(info.value)
    out = capsys.readouterr().out
    assert "RDS read replica" in out and "total" in out


def test_guard_passes_within_budget(capsys, tmp_path, monkeypatch):
    """Within the limit the guard shows the bill and lets the stage go on; stages 0 and 99 cost nothing."""
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    assert cost.guard(1, max_hourly_usd=2.0).stage == 1
    assert cost.guard(0, 0.0) is None and cost.guard(99, 0.0) is None
    assert "Within max_hourly_usd=2" in capsys.readouterr().out


def test_guard_rejects_a_non_number():
    """A max_hourly_usd that is not a number is bad input, said before anything is created."""
    with pytest.raises(WorkshopError, match="max_hourly_usd"):
        cost.guard(3, "lots")
