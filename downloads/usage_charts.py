"""The usage dashboard's charts, drawn as inline SVG on the server (no script, no CDN), and
the tables of their numbers per day (templates/admin/usage_chart.html places the charts).

The markup of both is written here rather than by template loops: a month of days by a
dozen datasets is hundreds of bars and cells, which Django's template engine renders ten
times slower than these f-strings (the dashboard must answer in < 200 ms).
"""

import dataclasses
import math

from django.utils.html import escape
from django.utils.safestring import mark_safe

# Dark enough against the admin's white and dark backgrounds to tell the bars apart
# (WCAG non-text contrast ≥ 3:1 on white); the last colour is for "other datasets".
PALETTE = ("#1f5fa8", "#b3541e", "#2e7d32", "#8e24aa", "#00727d", "#c2185b", "#6d4c41")
OTHER_COLOUR = "#5f6368"
WIDTH = 720
PLOT_LEFT = 70  # room for the value axis labels
PLOT_TOP = 10
PLOT_HEIGHT = 200
BAR_HEIGHT = 22
LABEL_WIDTH = 250  # horizontal bars: room for the labels on their left


@dataclasses.dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str  # the tooltip


@dataclasses.dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclasses.dataclass
class Chart:
    id: str
    title: str
    width: int
    height: int
    bars: list
    labels: list
    grid: list  # [(x1, x2, y)] of the horizontal grid lines
    legend: list  # [(colour, label)]
    empty: bool = False

    def svg(self):
        """The chart as an <svg> element, its title naming it for assistive technology."""
        parts = [
            f'<svg id="{self.id}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {self.width} {self.height}" width="100%" role="img" '
            f'aria-labelledby="{self.id}-title" focusable="false">',
            f'<title id="{self.id}-title">{escape(self.title)}</title>',
        ]
        parts += [
            f'<line x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}" class="usage-grid"></line>'
            for x1, x2, y in self.grid
        ]
        parts += [
            f'<rect x="{bar.x:.2f}" y="{bar.y:.2f}" width="{bar.width:.2f}" '
            f'height="{bar.height:.2f}" fill="{bar.colour}">'
            f"<title>{escape(bar.title)}</title></rect>"
            for bar in self.bars
        ]
        parts += [
            f'<text x="{label.x:.1f}" y="{label.y:.1f}" text-anchor="{label.anchor}">'
            f"{escape(label.text)}</text>"
            for label in self.labels
        ]
        parts.append("</svg>")
        return mark_safe("\n".join(parts))  # noqa: S308 - every text above is escaped


@dataclasses.dataclass(frozen=True)
class Series:
    key: object
    label: str
    colour: str


SIZE_UNITS = ("KB", "MB", "GB", "TB", "PB")


def size_text(size):
    """`size` bytes as Django's filesizeformat writes them ("1.5\xa0GB"), at a fiftieth of
    its cost: a month of days by a dozen datasets is hundreds of cells and tooltips."""
    if size < 1024:
        return f"{size:.0f}\xa0byte" + ("" if size == 1 else "s")
    for unit in SIZE_UNITS:
        size /= 1024
        if size < 1024 or unit == SIZE_UNITS[-1]:
            return f"{size:.1f}\xa0{unit}"


def nice_ceiling(value):
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at least `value` (the top of the value axis)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop ends at 10


def nice_size_ceiling(size):
    """nice_ceiling in the byte unit of `size` (KB, MB, GB…): axis labels of 1.0, 2.0…
    GB rather than 1.2, 2.3… GB."""
    unit = 1
    while size / unit >= 1024:
        unit *= 1024
    return nice_ceiling(size / unit) * unit


def palette_series(items):
    """[Series] for `items` [(key, label)], most important first: the first ones get a
    colour each, the others share OTHER_COLOUR as one series keyed "other"."""
    limit = len(PALETTE)
    series = [Series(key, label, PALETTE[n]) for n, (key, label) in enumerate(items[:limit])]
    if len(items) > limit:
        series.append(Series("other", f"{len(items) - limit} other datasets", OTHER_COLOUR))
    return series


def stacked_columns(*, id, title, columns, series, value, text, ceiling=nice_ceiling):
    """A column per `columns` [(key, label)], stacked by `series`; value(column, series)
    gives a height, text(number) its words."""
    totals = [sum(value(column, s.key) for s in series) for column, _ in columns]
    top = ceiling(max(totals, default=0))
    plot_width = WIDTH - PLOT_LEFT - 10
    step = plot_width / max(len(columns), 1)
    bar_width = max(step * 0.75, 1)
    scale = PLOT_HEIGHT / top
    bars, labels, grid = [], [], []
    for tick in range(5):
        y = PLOT_TOP + PLOT_HEIGHT - tick * PLOT_HEIGHT / 4
        grid.append((PLOT_LEFT, WIDTH - 10, y))
        labels.append(Label(PLOT_LEFT - 6, y + 4, text(top * tick / 4), "end"))
    every = max(1, math.ceil(len(columns) / 10))  # at most ten column labels
    for n, (column, column_label) in enumerate(columns):
        x = PLOT_LEFT + n * step + (step - bar_width) / 2
        y = PLOT_TOP + PLOT_HEIGHT
        for s in series:
            amount = value(column, s.key)
            if amount:
                height = amount * scale
                y -= height
                tooltip = f"{column_label}, {s.label}: {text(amount)}"
                bars.append(Bar(x, y, bar_width, height, s.colour, tooltip))
        if n % every == 0:
            labels.append(Label(x + bar_width / 2, PLOT_TOP + PLOT_HEIGHT + 16, column_label))
    return Chart(
        id=id,
        title=title,
        width=WIDTH,
        height=PLOT_TOP + PLOT_HEIGHT + 26,
        bars=bars,
        labels=labels,
        grid=grid,
        legend=[(s.colour, s.label) for s in series],
        empty=not any(totals),
    )


def horizontal_bars(*, id, title, items, text, ceiling=nice_ceiling):
    """A bar per `items` [(label, value)], labels on the left, values at the bars' ends."""
    top = ceiling(max((amount for _, amount in items), default=0))
    plot_width = WIDTH - LABEL_WIDTH - 90
    bars, labels = [], []
    for n, (label, amount) in enumerate(items):
        y = PLOT_TOP + n * (BAR_HEIGHT + 8)
        width = amount / top * plot_width
        shown = label if len(label) <= 36 else label[:35] + "…"
        labels.append(Label(LABEL_WIDTH - 8, y + 16, shown, "end"))
        if amount:
            bars.append(
                Bar(LABEL_WIDTH, y, width, BAR_HEIGHT, PALETTE[0], f"{label}: {text(amount)}")
            )
        labels.append(Label(LABEL_WIDTH + width + 6, y + 16, text(amount), "start"))
    return Chart(
        id=id,
        title=title,
        width=WIDTH,
        height=PLOT_TOP + len(items) * (BAR_HEIGHT + 8) + 4,
        bars=bars,
        labels=labels,
        grid=[],
        legend=[],
        empty=not any(amount for _, amount in items),
    )


@dataclasses.dataclass
class DayTable:
    """A figure per day and series, the numbers of a stacked chart: folded under a
    <details>, as a month of rows would push the other figures far down.

    Each cell says what it holds in data attributes (data-day on its row, data-figure,
    data-series, and data-value unrounded), for tests and scripts that read the page.
    """

    figure: str  # "downloads" or "bytes"
    caption: str
    series: list
    rows: list  # [(day, day label, [value per series], total)]
    text: object  # number → its words

    def html(self):
        figure, text = self.figure, self.text
        head = "".join(
            f'<th scope="col" class="number">{escape(s.label)}</th>' for s in self.series
        )
        keys = [escape(s.key) for s in self.series]
        rows = []
        for day, label, values, total in self.rows:
            cells = "".join(
                f'<td class="number" data-figure="{figure}" data-series="{key}" '
                f'data-value="{value}">{text(value)}</td>'
                for key, value in zip(keys, values, strict=True)
            )
            rows.append(
                f'<tr data-day="{day.isoformat()}"><th scope="row">{label}</th>{cells}'
                f'<td class="number" data-figure="{figure}-day-total" data-value="{total}">'
                f"{text(total)}</td></tr>"
            )
        caption = escape(self.caption)
        return mark_safe(  # noqa: S308 - labels escaped; the rest are numbers and dates
            f'<details class="usage-day-table"><summary>{caption}: the table</summary>'
            f'<table class="usage-table" id="table-{figure}-per-day"><caption>{caption}</caption>'
            f'<thead><tr><th scope="col">Day</th>{head}<th scope="col" class="number">All</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
        )
