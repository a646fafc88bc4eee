"""Bar charts as plain numbers for an SVG template: drawn on the server, no script, no network."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: Decimal
    tick: bool  # whether to print the label under the bar

    @property
    def middle(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    maximum: Decimal
    baseline: float


def column_chart(
    points: list[tuple[str, Decimal]], *, width: int = 640, height: int = 180, ticks: int = 6
) -> Chart:
    """Vertical bars, one per point, scaled to the largest value; every nth label shown."""
    chart_height = height - 20  # room for the labels under the bars
    margin = 24  # so the first and last labels, centred under their bars, fit
    maximum = max((value for _, value in points), default=Decimal(0)) or Decimal(1)
    slot = (width - 2 * margin) / max(len(points), 1)
    every = max(len(points) // ticks, 1)
    bars = []
    for index, (label, value) in enumerate(points):
        bar_height = float(value / maximum) * (chart_height - 4)
        bars.append(
            Bar(
                x=round(margin + index * slot + slot * 0.1, 1),
                y=round(chart_height - bar_height, 1),
                width=round(slot * 0.8, 1),
                height=round(bar_height, 1),
                label=label,
                value=value,
                tick=index % every == 0 or index == len(points) - 1,
            )
        )
    return Chart(width, height, bars, maximum, chart_height)


def bar_chart(points: list[tuple[str, Decimal]], *, width: int = 640, row: int = 26) -> Chart:
    """Horizontal bars, one row per point, longest first as given; labels left of the bars."""
    label_width = 220
    maximum = max((value for _, value in points), default=Decimal(0)) or Decimal(1)
    bars = [
        Bar(
            x=label_width,
            y=index * row + 4,
            width=round(float(value / maximum) * (width - label_width - 90), 1),
            height=row - 8,
            label=label,
            value=value,
            tick=True,
        )
        for index, (label, value) in enumerate(points)
    ]
    return Chart(width, max(len(points), 1) * row + 4, bars, maximum, label_width)
