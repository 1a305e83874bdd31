"""The report figures (clinic/plots.py): well-formed SVG with a title and a
description, labels escaped, bars as long as their values, values written
beside the marks, and a message instead of an empty axis."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from django.utils import translation

from booking.reports import Column, Figure, Table
from clinic.plots import nice_ticks, plot, value_text

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _svg(table: Table) -> ET.Element:
    markup = str(plot(table))
    assert markup.startswith("<svg"), markup[:200]
    return ET.fromstring(markup)  # noqa: S314 (our own output)


def _texts(svg: ET.Element) -> list[str]:
    return ["".join(node.itertext()) for node in svg.iter(f"{SVG}text")]


def _bars(rows, *values: str, kind: str = "number") -> Table:
    return Table(
        key="change",
        title="Change in scar score",
        description="",
        columns=[Column("treatment", "Treatment"), *(Column(v, v.title(), kind) for v in values)],
        rows=rows,
        figure=Figure("bars", label="treatment", values=values, unit="points"),
    )


def test_a_figure_is_svg_with_a_title_and_a_description_it_is_labelled_by() -> None:
    svg = _svg(_bars([{"treatment": "Pico laser", "median": 8.0}], "median"))
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and title.text == "Change in scar score"
    assert desc is not None and "Median" in (desc.text or "") and "Treatment" in (desc.text or "")
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert svg.get("width") == "100%" and svg.get("viewBox", "").startswith("0 0 ")


def test_labels_are_escaped() -> None:
    markup = str(plot(_bars([{"treatment": '<script>alert("x")</script> & co', "median": 3}], "median")))
    assert "<script>" not in markup
    svg = ET.fromstring(markup)  # noqa: S314
    assert '<script>alert("x")</script> & co' in _texts(svg)


def test_a_bar_is_as_long_as_its_value_and_says_it() -> None:
    rows = [{"treatment": "Pico laser", "median": 10.0}, {"treatment": "Peel", "median": 2.5}]
    svg = _svg(_bars(rows, "median"))
    bars = [rect for rect in svg.iter(f"{SVG}rect") if rect.get("class") == "bar"]
    widths = [float(rect.get("width", 0)) for rect in bars]
    assert len(widths) == 2 and widths[0] == pytest.approx(4 * widths[1], rel=0.01)
    texts = _texts(svg)
    assert "10.0" in texts and "2.5" in texts and "Pico laser" in texts


def test_negative_values_go_left_of_zero_and_missing_ones_are_a_dash() -> None:
    rows = [
        {"treatment": "Pico laser", "median": -6.0},
        {"treatment": "Peel", "median": 3.0},
        {"treatment": "Subcision", "median": None},
    ]
    svg = _svg(_bars(rows, "median"))
    negative, positive = (rect for rect in svg.iter(f"{SVG}rect") if rect.get("class") == "bar")
    assert float(negative.get("x", 0)) + float(negative.get("width", 0)) == pytest.approx(
        float(positive.get("x", 0)), abs=0.01
    )  # both start at zero, one to each side
    assert float(negative.get("width", 0)) == pytest.approx(2 * float(positive.get("width", 0)), rel=0.01)
    texts = _texts(svg)
    assert "-6.0" in texts and "—" in texts


def test_two_series_differ_by_pattern_and_have_a_legend() -> None:
    svg = _svg(_bars([{"treatment": "Pico laser", "median": 4, "mean": 5}], "median", "mean"))
    fills = [rect.get("fill") for rect in svg.iter(f"{SVG}rect") if rect.get("class") == "bar"]
    assert fills[0] != fills[1] and fills[1].startswith("url(#")  # type: ignore[union-attr]
    assert {"Median", "Mean"} <= set(_texts(svg))


def test_the_axis_has_numbered_ticks() -> None:
    texts = _texts(_svg(_bars([{"treatment": "A", "median": 17}], "median")))
    assert {"0", "5", "10", "15", "20"} <= set(texts)


def test_ranges_draw_the_median_within_its_interquartile_range() -> None:
    table = Table(
        key="spread",
        title="Spread",
        description="",
        columns=[Column("t", "Treatment"), Column("m", "Median", "number"), Column("q1", "Q1"), Column("q3", "Q3")],
        rows=[{"t": "Pico", "m": -10.0, "q1": -14.0, "q3": -2.0}],
        figure=Figure("ranges", label="t", values=("m",), low="q1", high="q3"),
    )
    svg = _svg(table)
    median = next(c for c in svg.iter(f"{SVG}circle") if c.get("class") == "median")
    iqr = next(p for p in svg.iter(f"{SVG}path") if p.get("class") == "iqr")
    # d="Mq1,top v10 Mq1,mid Hq3 Mq3,top v10": the caps at the quartiles, the median between them.
    left, right = (float(move.split(",")[0]) for move in iqr.get("d", "").split("M")[1::2])
    assert left < float(median.get("cx", 0)) < right
    assert any("IQR -14.0 to -2.0" in text for text in _texts(svg))


def test_lines_draw_one_series_per_practitioner_with_a_break_where_a_week_is_missing() -> None:
    weeks = [date(2026, 11, 2) + timedelta(weeks=i) for i in range(4)]
    rows = [{"week": w, "who": "Mei", "u": 50.0 + i} for i, w in enumerate(weeks)]
    rows += [{"week": w, "who": "Ka", "u": None if i == 2 else 30.0} for i, w in enumerate(weeks)]
    table = Table(
        key="util",
        title="Utilisation",
        description="",
        columns=[Column("week", "Week"), Column("who", "Practitioner"), Column("u", "Utilisation", "percent")],
        rows=rows,
        figure=Figure("lines", label="week", values=("u",), series="who", unit="%"),
    )
    svg = _svg(table)
    lines = list(svg.iter(f"{SVG}polyline"))
    assert len(lines) == 2  # Mei's whole line; Ka's first two weeks (the last is a lone point)
    assert lines[0].get("stroke-dasharray") != lines[1].get("stroke-dasharray")
    points = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "point"]
    assert len(points) == 7
    texts = _texts(svg)
    assert {"Mei", "Ka", "53.0%", "2 Nov"} <= set(texts)


def test_stacked_bars_are_split_into_their_parts() -> None:
    table = Table(
        key="reminders",
        title="Reminders",
        description="",
        columns=[Column("channel", "Channel"), Column("ok", "Delivered", "count"), Column("failed", "Failed", "count")],
        rows=[{"channel": "SMS", "ok": 30, "failed": 10}],
        figure=Figure("stacked", label="channel", values=("ok", "failed")),
    )
    svg = _svg(table)
    segments = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "segment"]
    assert float(segments[0].get("width", 0)) == pytest.approx(3 * float(segments[1].get("width", 0)), rel=0.01)
    assert "40" in _texts(svg)  # the whole, written at the end of the bar


@pytest.mark.parametrize("rows", [[], [{"treatment": "Peel", "median": None}]])
def test_nothing_to_draw_says_so_instead_of_an_empty_axis(rows) -> None:
    markup = str(plot(_bars(rows, "median")))
    assert "<svg" not in markup and "Nothing to draw" in markup


def test_the_figure_speaks_chinese() -> None:
    with translation.override("zh-hant"):
        markup = str(plot(_bars([], "median")))
    assert "Nothing to draw" not in markup and "沒有" in markup


def test_values_read_as_their_kind() -> None:
    assert value_text(None) == "—"
    assert value_text(1234, "count") == "1,234"
    assert value_text(12.345, "percent") == "12.3%"
    assert value_text(-3, "number") == "-3.0"


def test_ticks_are_round_and_cover_the_values() -> None:
    assert nice_ticks(-12.5, 2.5) == [-15, -10, -5, 0, 5]
    assert nice_ticks(0, 84) == [0, 25, 50, 75, 100]
