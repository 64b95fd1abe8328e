"""The day/ramp chart (stages/dayplot.py) is readable: labels do not sit on the axis's numbers, the legend fits."""

import xml.etree.ElementTree as ET

from workshop.stages import dayplot

NS = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{NS}text"))


def test_min_and_max_labels_stay_off_the_right_axis_numbers():
    rows = [{"minute": m, "users": 1000 * (m // 60 + 1), "instances": 2 + m // 360} for m in range(0, 1440, 30)]
    texts = _texts(dayplot.svg(rows, 2, 12))
    axis_x = dayplot.W - dayplot.RIGHT
    bounds = [t for t in texts if (t.text or "").startswith(("min ", "max "))]
    numbers = [t for t in texts if (t.text or "").isdigit() and float(t.get("x")) > axis_x]
    assert len(bounds) == 2 and numbers
    assert all(float(t.get("x")) < axis_x and t.get("text-anchor") == "end" for t in bounds)


def test_the_ramp_legend_fits_the_width():
    rows = [{"minute": s, "users": 100 * s, "instances": 2 + s // 10, "cpu": 40 + s} for s in range(0, 50)]
    texts = _texts(dayplot.svg(rows, 2, 10, "ramp", x_unit="s", cpu_target=50))
    legend = next(t for t in texts if (t.text or "").startswith("orange:"))
    assert float(legend.get("x")) + 5.0 * len(legend.text) < dayplot.W  # ~4.6 px a character measured at font-size 11
