"""Report figures drawn on the server as accessible SVG (no scripts, no CDN).

A report's table says which columns to draw (``booking.reports.Figure``); this
module draws them. ``clinic`` imports no app, so the table is taken by its
shape (``PlotTable``), which ``booking.reports.Table`` has.

Every figure is readable without colour: values are written next to the bars
and points, series differ by fill pattern, dash and marker shape as well as by
colour, and a legend names them. The ``<title>`` and ``<desc>`` give screen
readers the gist; the table beside the figure has every number. The picture is
scaled by its ``viewBox`` (``width="100%"``), so it fits a 360 px phone; its
sizes are chosen so the text stays legible there. Every label goes through
``format_html``, so a treatment or practitioner name cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from babel import numbers
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from clinic import brand, formats

# --- what is drawn: the shape of booking.reports' Table ------------------------------


class PlotColumn(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def kind(self) -> str: ...


class PlotFigure(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def values(self) -> tuple[str, ...]: ...
    @property
    def low(self) -> str: ...
    @property
    def high(self) -> str: ...
    @property
    def series(self) -> str: ...
    @property
    def unit(self) -> str: ...


class PlotTable(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def columns(self) -> Sequence[PlotColumn]: ...
    @property
    def rows(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def figure(self) -> PlotFigure | None: ...


# --- sizes and colours ---------------------------------------------------------------

WIDTH = 360  # viewBox units; shown between 328 px (a 360 px phone) and about 460 px (reports.css)
FONT = 14
SMALL = 12.5
PAD = 10
MAX_ROWS = 20  # more bars than this are not a picture any more: the table has them all
MAX_SERIES = 6
LABEL_CHARS = 40
INK = "#1c2426"
MUTED = "#56646a"  # 5.9:1 on white
GRID = "#d5dde0"
# Each at least 4.5:1 on white, so a value written in its colour reads too; the
# accent first, then colours that stay apart for the common colour blindnesses.
PALETTE = ("#1d4f91", "#8a5a00", "#6b3fa0", "#b3261e", "#1e6b34")
DASHES = ("", "6 4", "2 3", "10 3 2 3", "1 2", "12 6")
MARKERS = ("circle", "square", "triangle", "diamond", "cross", "circle-open")
FILLS = ("solid", "hatch", "outline", "dots", "cross", "solid")
FONT_FAMILY = (
    "Segoe UI, -apple-system, BlinkMacSystemFont, Helvetica Neue, Roboto, Noto Sans, PingFang HK, PingFang TC, "
    "Microsoft JhengHei UI, Microsoft JhengHei, Noto Sans CJK HK, Noto Sans CJK TC, Source Han Sans HK, "
    "Noto Sans HK, Noto Sans TC, sans-serif"
)


def colours() -> tuple[str, ...]:
    """The clinic's accent (already darkened to be readable on white), then the palette."""
    return (brand.palette()["accent"], *PALETTE)


# --- numbers as people read them ------------------------------------------------------


def value_text(value: Any, kind: str = "number") -> str:
    """A cell or a label as the pages show it: counts whole, numbers and rates
    with one decimal, percentages with "%", money in the clinic's currency,
    dates in the language's way; nothing known is "—"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return formats.datetime_text(value)
    if isinstance(value, date):
        return formats.date_text(value)
    if kind == "money" and isinstance(value, int | float | Decimal):
        return formats.money_text(value)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    locale = formats.locale()
    if kind == "count":
        return numbers.format_decimal(value, format="#,##0", locale=locale)
    text = numbers.format_decimal(value, format="#,##0.0", locale=locale)
    return f"{text}%" if kind == "percent" else text


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _label(value: Any) -> str:
    """A row's label (the figure's ``label`` column): a date reads short ("7 Dec")."""
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return formats.date_text(value, "day_month")
    return "—" if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], about ``count`` of them, 0 among them
    whenever the range crosses it."""
    if high < low:
        low, high = high, low
    if high == low:
        high = low + (abs(low) or 1)
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    tick = first
    while tick < high + step * 0.999:
        ticks.append(round(tick, 10))
        if tick >= high:
            break
        tick += step
    return ticks


@dataclass(frozen=True)
class Scale:
    """Maps values in [low, high] to [start, end] on the page."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        if self.high == self.low:
            return self.start
        return round(self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start), 2)


# --- the entry point -------------------------------------------------------------------


def plot(table: PlotTable, *, ident: str = "") -> SafeString:
    """The table's figure as inline SVG, or a short message when there is nothing
    to draw (no figure, no rows, or no value in any row)."""
    figure = table.figure
    if figure is None:
        return SafeString("")
    ident = ident or f"plot-{table.key}"
    columns = {column.key: column for column in table.columns}
    rows = list(table.rows)
    draw = {"bars": _bars, "ranges": _ranges, "lines": _lines, "stacked": _stacked}.get(figure.kind)
    if draw is None or not rows:
        return _empty()
    drawn = draw(figure, rows, columns, ident)
    if drawn is None:
        return _empty()
    body, height, summary = drawn
    title = str(table.title)
    return format_html(
        '<svg class="plot plot-{kind}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%"'
        ' role="img" aria-labelledby="{id}-title {id}-desc" font-family="{font}" font-size="{size}" fill="{ink}">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{defs}{body}</svg>',
        kind=figure.kind,
        w=WIDTH,
        h=round(height),
        id=ident,
        font=FONT_FAMILY,
        size=FONT,
        ink=INK,
        title=title,
        desc=summary,
        defs=_defs(ident),
        body=body,
    )


def _empty() -> SafeString:
    return format_html('<p class="plot-empty">{}</p>', _("Nothing to draw: no group to show for these filters."))


def _defs(ident: str) -> SafeString:
    """Fill patterns, so bars of different series differ in more than colour.
    Pattern ids carry the figure's id: several figures share one page."""
    parts = []
    for index, colour in enumerate(colours()[:MAX_SERIES]):
        pid = f"{ident}-fill-{index}"
        style = FILLS[index % len(FILLS)]
        if style == "hatch":
            inner = format_html(
                '<rect width="6" height="6" fill="#ffffff"/><path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2"'
                ' stroke="{}" stroke-width="2"/>',
                colour,
            )
        elif style == "dots":
            inner = format_html(
                '<rect width="6" height="6" fill="#ffffff"/><circle cx="3" cy="3" r="1.6" fill="{}"/>', colour
            )
        elif style == "cross":
            inner = format_html(
                '<rect width="6" height="6" fill="#ffffff"/><path d="M0,0 L6,6 M6,0 L0,6" stroke="{}" stroke-width="1.4"/>',
                colour,
            )
        else:
            continue
        parts.append(
            format_html('<pattern id="{}" width="6" height="6" patternUnits="userSpaceOnUse">{}</pattern>', pid, inner)
        )
    if not parts:
        return SafeString("")
    return format_html("<defs>{}</defs>", mark_safe("".join(parts)))  # noqa: S308 (built by format_html)


def _fill(ident: str, index: int) -> tuple[str, str, str]:
    """(fill, stroke, dash) of series ``index``'s bars."""
    colour = colours()[index % len(colours())]
    style = FILLS[index % len(FILLS)]
    if style == "solid":
        return colour, colour, ""
    if style == "outline":
        return "#ffffff", colour, "4 2"
    return f"url(#{ident}-fill-{index})", colour, ""


def _join(parts: Iterable[SafeString]) -> SafeString:
    return mark_safe("".join(parts))  # noqa: S308 (every part comes from format_html)


def _series_label(columns: Mapping[str, PlotColumn], key: str) -> str:
    column = columns.get(key)
    return str(column.label) if column is not None else key


def _segments(top: float, bottom: float, gaps: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The stretches of a vertical line from ``top`` to ``bottom`` that skip ``gaps`` (the rows' names)."""
    pieces, at = [], top
    for start, end in sorted(gaps):
        if start - at >= 6:  # shorter stubs read as stray marks
            pieces.append((at, min(start, bottom)))
        at = max(at, end)
    if at < bottom:
        pieces.append((at, bottom))
    return pieces


def _x_axis(
    scale: Scale, ticks: list[float], top: float, bottom: float, unit: str, gaps: Sequence[tuple[float, float]] = ()
) -> SafeString:
    """Vertical grid lines with their numbers under the plot, and the unit.
    The lines stop short of each row's name (``gaps``), so no line runs through words."""
    parts = []
    for tick in ticks:
        x = scale(tick)
        for y1, y2 in _segments(top, bottom, gaps):
            parts.append(
                format_html(
                    '<line x1="{x}" x2="{x}" y1="{y1}" y2="{y2}" stroke="{grid}" stroke-width="{w}"/>',
                    x=x,
                    y1=y1,
                    y2=y2,
                    grid=MUTED if tick == 0 else GRID,
                    w=1.5 if tick == 0 else 1,
                )
            )
        parts.append(
            format_html(
                '<text x="{x}" y="{ty}" text-anchor="middle" font-size="{size}" fill="{muted}">{label}</text>',
                x=x,
                ty=bottom + 15,
                size=SMALL,
                muted=MUTED,
                label=_tick(tick),
            )
        )
    if unit:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" font-size="{}" fill="{}">{}</text>',
                scale.end,
                bottom + 31,
                SMALL,
                MUTED,
                unit,
            )
        )
    return _join(parts)


def _tick(value: float) -> str:
    whole = float(value).is_integer()
    return numbers.format_decimal(value, format="#,##0" if whole else "#,##0.##", locale=formats.locale())


def _legend(names: list[str], ident: str, y: float, *, lines: bool = False) -> tuple[SafeString, float]:
    """One line per series (a swatch or a marker with its dash, then the name); returns the height used."""
    parts = []
    for index, name in enumerate(names):
        row_y = y + index * 20
        if lines:
            colour = colours()[index % len(colours())]
            swatch = format_html(
                '<line x1="0" x2="24" y1="{y}" y2="{y}" stroke="{c}" stroke-width="2.5" stroke-dasharray="{d}"/>{m}',
                y=row_y,
                c=colour,
                d=DASHES[index % len(DASHES)] or "none",
                m=_marker(index, 12, row_y, colour),
            )
        else:
            fill, stroke, dash = _fill(ident, index)
            swatch = format_html(
                '<rect x="0" y="{y}" width="24" height="12" fill="{f}" stroke="{s}" stroke-width="1.5"'
                ' stroke-dasharray="{d}"/>',
                y=row_y - 6,
                f=fill,
                s=stroke,
                d=dash or "none",
            )
        parts.append(
            format_html(
                '<g class="legend-item">{}<text x="32" y="{}" dominant-baseline="middle">{}</text></g>',
                swatch,
                row_y,
                _short(name),
            )
        )
    return _join(parts), len(names) * 20 + 6


def _marker(index: int, x: float, y: float, colour: str) -> SafeString:
    shape = MARKERS[index % len(MARKERS)]
    if shape == "square":
        return format_html('<rect x="{}" y="{}" width="8" height="8" fill="{}"/>', x - 4, y - 4, colour)
    if shape == "triangle":
        return format_html('<path d="M{},{} l5,9 h-10 z" fill="{}"/>', round(x, 2), round(y - 5, 2), colour)
    if shape == "diamond":
        return format_html('<path d="M{},{} l5,5 l-5,5 l-5,-5 z" fill="{}"/>', round(x, 2), round(y - 5, 2), colour)
    if shape == "cross":
        return format_html(
            '<path d="M{},{} l8,8 m0,-8 l-8,8" stroke="{}" stroke-width="2.2"/>',
            round(x - 4, 2),
            round(y - 4, 2),
            colour,
        )
    if shape == "circle-open":
        return format_html('<circle cx="{}" cy="{}" r="4" fill="#ffffff" stroke="{}" stroke-width="2"/>', x, y, colour)
    return format_html('<circle cx="{}" cy="{}" r="4.5" fill="{}"/>', x, y, colour)


def _cut(rows: list[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    return rows[:MAX_ROWS], max(0, len(rows) - MAX_ROWS)


def _more(left_out: int, y: float) -> tuple[SafeString, float]:
    if not left_out:
        return SafeString(""), 0
    return (
        format_html(
            '<text x="0" y="{}" font-size="{}" fill="{}">{}</text>',
            y + 14,
            SMALL,
            MUTED,
            _("%(count)s more rows are in the table.") % {"count": left_out},
        ),
        22,
    )


def _value_range(values: Iterable[float]) -> tuple[float, float]:
    found = list(values)
    return min(0.0, *found), max(0.0, *found)


# --- bars ------------------------------------------------------------------------------------


def _bars(
    figure: PlotFigure, all_rows: list[Mapping[str, Any]], columns: Mapping[str, PlotColumn], ident: str
) -> tuple[SafeString, float, str] | None:
    keys = list(figure.values)[:MAX_SERIES]
    found = [v for row in all_rows for key in keys if (v := _number(row.get(key))) is not None]
    if not found:
        return None
    rows, left_out = _cut(all_rows)
    low, high = _value_range(v for row in rows for key in keys if (v := _number(row.get(key))) is not None)
    ticks = nice_ticks(low, high)
    # Room for the value written past the end of the longest bar on either side.
    scale = Scale(ticks[0], ticks[-1], 48 if ticks[0] < 0 else 2, WIDTH - 52)
    bar = 16 if len(keys) == 1 else 13
    parts: list[SafeString] = []
    gaps: list[tuple[float, float]] = []
    y = 4.0
    for row in rows:
        parts.append(
            format_html(
                '<text x="0" y="{}" font-weight="600">{}</text>', y + FONT, _short(_label(row.get(figure.label)))
            )
        )
        gaps.append((y, y + FONT + 5))
        y += FONT + 5
        for index, key in enumerate(keys):
            value = _number(row.get(key))
            kind = columns[key].kind if key in columns else "number"
            if value is not None:
                zero, end = scale(0), scale(value)
                fill, stroke, dash = _fill(ident, index)
                text = value_text(row.get(key), kind)
                parts.append(
                    format_html(
                        '<rect class="bar" data-value="{v}" x="{x}" y="{y}" width="{w}" height="{h}" fill="{f}"'
                        ' stroke="{s}" stroke-width="1.5" stroke-dasharray="{d}"><title>{name}: {text}</title></rect>'
                        '<text x="{tx}" y="{ty}" text-anchor="{anchor}" dominant-baseline="middle">{text}</text>',
                        v=value,
                        x=min(zero, end),
                        y=y,
                        w=max(abs(end - zero), 0.0),
                        h=bar,
                        f=fill,
                        s=stroke,
                        d=dash or "none",
                        name=_series_label(columns, key),
                        text=text,
                        tx=end + 4 if value >= 0 else end - 4,
                        ty=y + bar / 2,
                        anchor="start" if value >= 0 else "end",
                    )
                )
            else:
                parts.append(
                    format_html(
                        '<text x="{}" y="{}" dominant-baseline="middle" fill="{}">{}</text>',
                        scale(0) + 4,
                        y + bar / 2,
                        MUTED,
                        value_text(None),
                    )
                )
            y += bar + 3
        y += 8
    more, extra = _more(left_out, y)
    axis = _x_axis(scale, ticks, 0, y, str(figure.unit), gaps)
    y += 34 + extra
    legend = SafeString("")
    if len(keys) > 1:
        legend, used = _legend([_series_label(columns, key) for key in keys], ident, y + 8)
        y += used + 8
    body = _join([axis, *parts, more, legend])
    names = ", ".join(_series_label(columns, key) for key in keys)
    summary = _("Bar chart of %(values)s by %(label)s, %(count)s rows; the table has the same numbers.") % {
        "values": names,
        "label": _series_label(columns, figure.label),
        "count": len(all_rows),
    }
    return body, y, summary


# --- ranges: a median with its interquartile range ------------------------------------------


def _ranges(
    figure: PlotFigure, all_rows: list[Mapping[str, Any]], columns: Mapping[str, PlotColumn], ident: str
) -> tuple[SafeString, float, str] | None:
    key = figure.values[0]
    usable = [row for row in all_rows if _number(row.get(key)) is not None]
    if not usable:
        return None
    rows, left_out = _cut(all_rows)
    kind = columns[key].kind if key in columns else "number"
    spread = [
        v
        for row in rows
        for name in (key, figure.low, figure.high)
        if name and (v := _number(row.get(name))) is not None
    ]
    low, high = _value_range(spread)
    ticks = nice_ticks(low, high)
    scale = Scale(ticks[0], ticks[-1], 8, WIDTH - 8)
    colour = colours()[0]
    parts: list[SafeString] = []
    gaps: list[tuple[float, float]] = []
    y = 4.0
    for row in rows:
        name_top = y
        median = _number(row.get(key))
        q1, q3 = _number(row.get(figure.low)), _number(row.get(figure.high))
        if median is None:
            text = value_text(None)
        elif q1 is not None and q3 is not None:
            text = _("%(median)s (IQR %(low)s to %(high)s)") % {
                "median": value_text(row.get(key), kind),
                "low": value_text(row.get(figure.low), kind),
                "high": value_text(row.get(figure.high), kind),
            }
        else:
            text = value_text(row.get(key), kind)
        label = _short(_label(row.get(figure.label)))
        if len(label) + len(text) <= LABEL_CHARS:
            parts.append(
                format_html('<text x="0" y="{}"><tspan font-weight="600">{}</tspan>  {}</text>', y + FONT, label, text)
            )
        else:  # too long for one line at a phone's width: the numbers go under the name
            parts.append(
                format_html(
                    '<text x="0" y="{}" font-weight="600">{}</text><text x="0" y="{}">{}</text>',
                    y + FONT,
                    label,
                    y + 2 * FONT + 4,
                    text,
                )
            )
            y += FONT + 4
        gaps.append((name_top, y + FONT + 5))
        y += FONT + 12
        if q1 is not None and q3 is not None:
            parts.append(
                format_html(
                    '<path class="iqr" d="M{a},{top} v10 M{a},{mid} H{b} M{b},{top} v10" stroke="{c}" stroke-width="2.5"'
                    ' fill="none"/>',
                    a=scale(q1),
                    b=scale(q3),
                    top=y - 5,
                    mid=y,
                    c=colour,
                )
            )
        if median is not None:
            parts.append(
                format_html(
                    '<circle class="median" data-value="{v}" cx="{x}" cy="{y}" r="6" fill="{c}" stroke="#ffffff"'
                    ' stroke-width="2"><title>{t}</title></circle>',
                    v=median,
                    x=scale(median),
                    y=y,
                    c=colour,
                    t=text,
                )
            )
        y += 16
    more, extra = _more(left_out, y)
    axis = _x_axis(scale, ticks, 0, y, str(figure.unit), gaps)
    y += 34 + extra
    legend = format_html(
        '<g class="legend-item"><circle cx="6" cy="{y}" r="5" fill="{c}"/><path d="M16,{y} H40 M16,{t} v10 M40,{t} v10"'
        ' stroke="{c}" stroke-width="2.5"/><text x="48" y="{y}" dominant-baseline="middle">{label}</text></g>',
        y=y + 10,
        t=y + 5,
        c=colour,
        label=_("median and interquartile range"),
    )
    y += 28
    summary = _(
        "Medians of %(value)s by %(label)s with their interquartile ranges, %(count)s rows; the table has the same numbers."
    ) % {"value": _series_label(columns, key), "label": _series_label(columns, figure.label), "count": len(all_rows)}
    return _join([axis, *parts, more, legend]), y, summary


# --- lines: weekly series --------------------------------------------------------------------


def _lines(
    figure: PlotFigure, rows: list[Mapping[str, Any]], columns: Mapping[str, PlotColumn], ident: str
) -> tuple[SafeString, float, str] | None:
    xs: list[Any] = []
    for row in rows:
        if row.get(figure.label) not in xs:
            xs.append(row.get(figure.label))
    series: dict[str, dict[Any, float | None]] = {}
    if figure.series:
        key = figure.values[0]
        kind = columns[key].kind if key in columns else "number"
        for row in rows:
            name = "—" if row.get(figure.series) is None else str(row.get(figure.series))
            series.setdefault(name, {})[row.get(figure.label)] = _number(row.get(key))
    else:
        kind = columns[figure.values[0]].kind if figure.values[0] in columns else "number"
        for key in figure.values:
            series[_series_label(columns, key)] = {row.get(figure.label): _number(row.get(key)) for row in rows}
    names = list(series)[:MAX_SERIES]
    found = [v for name in names for v in series[name].values() if v is not None]
    if not found:
        return None
    low, high = _value_range(found)
    ticks = nice_ticks(low, high)
    left, right, top, bottom = 40.0, WIDTH - 22.0, 24.0, 204.0
    y_scale = Scale(ticks[0], ticks[-1], bottom, top)
    step = (right - left) / max(len(xs) - 1, 1)

    def x_of(index: int) -> float:
        return round(left + index * step if len(xs) > 1 else (left + right) / 2, 2)

    parts: list[SafeString] = []
    for tick in ticks:
        y = y_scale(tick)
        parts.append(
            format_html(
                '<line x1="{l}" x2="{r}" y1="{y}" y2="{y}" stroke="{g}"/><text x="{tx}" y="{y}" text-anchor="end"'
                ' dominant-baseline="middle" font-size="{s}" fill="{m}">{t}</text>',
                l=left,
                r=right,
                y=y,
                g=MUTED if tick == 0 else GRID,
                tx=left - 5,
                s=SMALL,
                m=MUTED,
                t=_tick(tick),
            )
        )
    every = max(1, math.ceil(len(xs) / 5))
    for index, x_value in enumerate(xs):
        if index % every and index != len(xs) - 1:
            continue
        if index != len(xs) - 1 and len(xs) - 1 - index < every:
            continue  # the last label is always drawn: keep its neighbour from overlapping it
        parts.append(
            format_html(
                '<text x="{x}" y="{y}" text-anchor="{a}" font-size="{s}" fill="{m}">{t}</text>',
                x=x_of(index),
                a="start"
                if index == 0 and len(xs) > 1
                else "end"
                if index == len(xs) - 1 and len(xs) > 1
                else "middle",
                y=bottom + 16,
                s=SMALL,
                m=MUTED,
                t=_label(x_value),
            )
        )
    label_each = len(names) * len(xs) <= 16
    for index, name in enumerate(names):
        colour = colours()[index % len(colours())]
        dash = DASHES[index % len(DASHES)] or "none"
        segments: list[list[tuple[float, float]]] = [[]]
        points: list[tuple[float, float, float, Any]] = []
        for position, x_value in enumerate(xs):
            value = series[name].get(x_value)
            if value is None:
                if segments[-1]:
                    segments.append([])
                continue
            point = (x_of(position), y_scale(value))
            segments[-1].append(point)
            points.append((*point, value, x_value))
        for segment in segments:
            if len(segment) > 1:
                parts.append(
                    format_html(
                        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5" stroke-dasharray="{}"/>',
                        " ".join(f"{x},{y}" for x, y in segment),
                        colour,
                        dash,
                    )
                )
        for number, (x, y, value, x_value) in enumerate(points):
            parts.append(
                format_html(
                    '<g class="point" data-value="{}"><title>{}, {}: {}</title>{}</g>',
                    value,
                    name,
                    _label(x_value),
                    value_text(value, kind),
                    _marker(index, x, y, colour),
                )
            )
            if label_each or number == len(points) - 1:
                parts.append(
                    format_html(
                        '<text x="{}" y="{}" text-anchor="middle" font-size="{}" fill="{}">{}</text>',
                        x,
                        y - 9,
                        SMALL,
                        colour,
                        value_text(value, kind),
                    )
                )
    y = bottom + 26
    if figure.unit:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" font-size="{}" fill="{}">{}</text>',
                left - 5,
                top - 12,
                SMALL,
                MUTED,
                figure.unit,
            )
        )
    legend, used = _legend(names, ident, y + 10, lines=True)
    y += used + 10
    if len(series) > len(names):
        more = _("%(count)s more series are in the table.") % {"count": len(series) - len(names)}
        parts.append(format_html('<text x="0" y="{}" font-size="{}" fill="{}">{}</text>', y + 8, SMALL, MUTED, more))
        y += 20
    summary = _("Line chart of %(value)s by %(label)s for %(series)s; the table has the same numbers.") % {
        "value": ", ".join(_series_label(columns, key) for key in figure.values),
        "label": _series_label(columns, figure.label),
        "series": ", ".join(names),
    }
    return _join([*parts, legend]), y, summary


# --- stacked: parts of a whole ----------------------------------------------------------------


def _stacked(
    figure: PlotFigure, all_rows: list[Mapping[str, Any]], columns: Mapping[str, PlotColumn], ident: str
) -> tuple[SafeString, float, str] | None:
    keys = list(figure.values)[:MAX_SERIES]

    def parts_of(row: Mapping[str, Any]) -> list[float]:
        return [max(_number(row.get(key)) or 0.0, 0.0) for key in keys]

    if not any(sum(parts_of(row)) > 0 for row in all_rows):
        return None
    rows, left_out = _cut(all_rows)
    ticks = nice_ticks(0, max(sum(parts_of(row)) for row in rows))
    scale = Scale(0, ticks[-1], 2, WIDTH - 52)
    kind = columns[keys[0]].kind if keys[0] in columns else "count"
    parts: list[SafeString] = []
    gaps: list[tuple[float, float]] = []
    y = 4.0
    for row in rows:
        parts.append(
            format_html(
                '<text x="0" y="{}" font-weight="600">{}</text>', y + FONT, _short(_label(row.get(figure.label)))
            )
        )
        gaps.append((y, y + FONT + 5))
        y += FONT + 5
        start = 0.0
        for index, (key, value) in enumerate(zip(keys, parts_of(row), strict=True)):
            if value <= 0:
                continue
            fill, stroke, dash = _fill(ident, index)
            x0, x1 = scale(start), scale(start + value)
            text = value_text(row.get(key), kind)
            parts.append(
                format_html(
                    '<rect class="segment" data-value="{v}" x="{x}" y="{y}" width="{w}" height="18" fill="{f}" stroke="{s}"'
                    ' stroke-width="1.5" stroke-dasharray="{d}"><title>{name}: {text}</title></rect>',
                    v=value,
                    x=x0,
                    y=y,
                    w=round(x1 - x0, 2),
                    f=fill,
                    s=stroke,
                    d=dash or "none",
                    name=_series_label(columns, key),
                    text=text,
                )
            )
            if x1 - x0 >= 8 * len(text) + 6 and FILLS[index % len(FILLS)] == "solid":
                parts.append(
                    format_html(
                        '<text x="{}" y="{}" text-anchor="middle" dominant-baseline="middle" fill="#ffffff"'
                        ' font-size="{}">{}</text>',
                        round((x0 + x1) / 2, 2),
                        y + 9,
                        SMALL,
                        text,
                    )
                )
            start += value
        parts.append(
            format_html(
                '<text x="{}" y="{}" dominant-baseline="middle">{}</text>',
                scale(start) + 4,
                y + 9,
                value_text(start, kind),
            )
        )
        y += 18 + 10
    more, extra = _more(left_out, y)
    axis = _x_axis(scale, ticks, 0, y, str(figure.unit), gaps)
    y += 34 + extra
    legend, used = _legend([_series_label(columns, key) for key in keys], ident, y + 8)
    y += used + 8
    summary = _("Stacked bars of %(values)s by %(label)s, %(count)s rows; the table has the same numbers.") % {
        "values": ", ".join(_series_label(columns, key) for key in keys),
        "label": _series_label(columns, figure.label),
        "count": len(all_rows),
    }
    return _join([axis, *parts, more, legend]), y, summary
