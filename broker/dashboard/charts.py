"""Bar charts as inline SVG, drawn on the server: no scripts and no style attributes (CSP).

Shapes take classes (styled in style.css) and presentation attributes; each chart is an
image with a title and a description, and series differ by pattern and by their labels,
never by colour alone. The numbers are always in a table on the page as well.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

# The pattern that marks money bars (hatched) apart from count bars (solid).
HATCH_ID = "chart-hatch"
# viewBox sizes: drawn about this wide on a phone, so the text stays readable there.
WIDTH = 360
FUNNEL_WIDTH = 300
FONT = 13


def short_money(amount: float) -> str:
    """£ amounts short enough for a chart label: £950, £12k, £1.2m."""
    for limit, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if amount >= limit:
            short = f"{amount / limit:.1f}".removesuffix(".0")
            return f"£{short}{suffix}"
    return f"£{amount:,.0f}"


def count_text(count: float) -> str:
    """A count with thousands separators."""
    return f"{count:,.0f}"


def day_label(day: date, year: bool = False) -> str:
    """A week's start as "3 Nov" (or "3 Nov 2026")."""
    return f"{day.day} {day:%b %Y}" if year else f"{day.day} {day:%b}"


def nice_ceiling(value: float, whole: bool = False) -> float:
    """A round number at or above `value` for the top of a scale.

    With `whole` (counts), it is even, so the halfway line is a whole number too.
    """
    if value <= 0:
        # An empty scale still reads sensibly: 0, 1, 2 or £0, £500, £1k.
        return 2.0 if whole else 1000.0
    power = 10 ** math.floor(math.log10(value))
    top = next(step * power for step in (1, 2, 3, 4, 5, 6, 8, 10) if value <= step * power)
    if whole:
        top = max(2, math.ceil(top))
        top += top % 2
    return float(top)


def summary(weeks: Sequence[date], values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """A chart's gist in words: the total and the busiest week."""
    if not weeks:
        return "No weeks to show."
    total = fmt(sum(values))
    first, last = day_label(weeks[0], year=True), day_label(weeks[-1], year=True)
    span = f"the {len(weeks)} weeks from {first} to {last}"
    if not any(values):
        return f"None in {span}."
    top = max(range(len(values)), key=lambda i: values[i])
    return (
        f"{total} in {span}; the highest was {fmt(values[top])} "
        f"in the week of {day_label(weeks[top], year=True)}."
    )


def pattern_defs() -> Markup:
    """The shared hatch pattern; include once per page, before the charts."""
    return Markup(
        '<svg class="chart-defs" width="0" height="0" aria-hidden="true" focusable="false">'
        f'<defs><pattern id="{HATCH_ID}" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#1d4f91" stroke-width="3"/>'
        "</pattern></defs></svg>"
    )


def _open(chart_id: str, width: float, height: float, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="chart-svg" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="{FONT}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _bar_attrs(hatched: bool) -> str:
    if hatched:
        return f'class="chart-bar chart-bar-value" fill="url(#{HATCH_ID})"'
    return 'class="chart-bar chart-bar-count"'


@dataclass(frozen=True)
class FunnelRow:
    """One stage of the totals funnel."""

    label: str
    count: int
    value: float
    # What is counted, singular and plural ("notice", "notices").
    unit: tuple[str, str] = ("notice", "notices")

    def count_words(self) -> str:
        """The count with its unit: "1 notice", "12 bids"."""
        return f"{count_text(self.count)} {self.unit[0] if self.count == 1 else self.unit[1]}"


def funnel_chart(chart_id: str, rows: Sequence[FunnelRow], title: str) -> Markup:
    """Two bars per stage, a solid one for the count and a hatched one for the £ value."""
    desc = "; ".join(f"{r.label}: {r.count_words()}, {short_money(r.value)}" for r in rows)
    row_height = 62
    # Room on the right of the longest bar for its label.
    bar_space = FUNNEL_WIDTH - 110
    height = row_height * len(rows) + 8
    top_count = max((r.count for r in rows), default=0) or 1
    top_value = max((r.value for r in rows), default=0) or 1
    parts = _open(chart_id, FUNNEL_WIDTH, height, title, desc)
    for i, row in enumerate(rows):
        y = 4 + i * row_height
        parts.append(
            f'<text class="chart-label" x="0" y="{y + FONT:.0f}">{escape(row.label)}</text>'
        )
        for j, (amount, top, text, hatched) in enumerate(
            (
                (row.count, top_count, row.count_words(), False),
                (row.value, top_value, short_money(row.value), True),
            )
        ):
            bar_y = y + FONT + 6 + j * 19
            width = bar_space * amount / top
            # A sliver for anything above zero, so "1" never looks like "0".
            width = max(width, 2) if amount else 0
            parts.append(
                f'<rect {_bar_attrs(hatched)} x="0" y="{bar_y}" width="{width:.1f}" height="14">'
                f"<title>{escape(row.label)}: {escape(text)}</title></rect>"
            )
            parts.append(
                f'<text class="chart-value" x="{width + 6:.1f}" y="{bar_y + 12}">'
                f"{escape(text)}</text>"
            )
    parts.append("</svg>")
    return Markup("\n".join(parts))


def weekly_chart(
    chart_id: str,
    weeks: Sequence[date],
    values: Sequence[float],
    title: str,
    money: bool = False,
) -> Markup:
    """Bars, one per week, with a labelled scale and the first, middle and last weeks.

    Counts are solid bars; `money` amounts are hatched bars labelled in £.
    """
    fmt = short_money if money else count_text
    desc = summary(weeks, values, fmt)
    left, right, top, bottom = 50, 8, 10, 26
    height = 176
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    ceiling = nice_ceiling(max(values, default=0), whole=not money)
    slot = plot_w / max(len(weeks), 1)
    parts = _open(chart_id, WIDTH, height, title, desc)
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(
            f'<line class="chart-grid" x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="chart-axis" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(ceiling * fraction))}</text>"
        )
    for i, (week, amount) in enumerate(zip(weeks, values, strict=True)):
        bar_h = plot_h * amount / ceiling
        bar_h = max(bar_h, 1.5) if amount else 0
        x = left + i * slot + slot * 0.15
        parts.append(
            f'<rect {_bar_attrs(money)} x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{bar_h:.1f}">'
            f"<title>Week of {escape(day_label(week))}: {escape(fmt(amount))}</title></rect>"
        )
    shown = sorted({0, len(weeks) // 2, len(weeks) - 1}) if weeks else []
    for i in shown:
        x = left + i * slot + slot / 2
        anchor = "start" if i == 0 else "end" if i == len(weeks) - 1 else "middle"
        x = left if anchor == "start" else WIDTH - right if anchor == "end" else x
        parts.append(
            f'<text class="chart-axis" x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">'
            f"{escape(day_label(weeks[i]))}</text>"
        )
    parts.append("</svg>")
    return Markup("\n".join(parts))
