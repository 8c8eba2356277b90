"""Score histograms as plain geometry for server-rendered SVG (no script, no inline style)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..operations.statistics import Bins, series_of


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str  # the bin, e.g. "40–50"


@dataclass(frozen=True, slots=True)
class Histogram:
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (x, label) under the axis
    y_max: int
    n: int
    mean: float | None
    median: float | None


def _fmt(v: float) -> str:
    return f"{v:.1f}".removesuffix(".0")


def histogram(
    values: Sequence[float],
    max_value: float,
    *,
    bins: int = 10,
    width: int = 480,
    height: int = 180,
) -> Histogram:
    """Counts of values in equal bins from 0 to max_value (the last bin includes the top),
    binned as the dashboard's database aggregates bin them (:func:`statistics.series_of`)."""
    series = series_of(values, Bins(max_value, max(1, bins)), median=True)
    return drawn_histogram(
        series.counts, max_value, series.mean, series.median, width=width, height=height
    )


def drawn_histogram(
    counts: Sequence[int],
    max_value: float,
    mean: float | None,
    median: float | None,
    *,
    width: int = 480,
    height: int = 180,
) -> Histogram:
    """The geometry of bins already counted (by the database, say) from 0 to max_value."""
    bins = max(1, len(counts))
    counts = list(counts) or [0]
    left, right, top, bottom = 36, 8, 12, 28
    plot_w = width - left - right
    plot_h = height - top - bottom
    step = max_value / bins if max_value > 0 else 1.0
    y_max = max(counts) if max(counts) > 0 else 1
    bar_w = plot_w / bins
    bars = []
    for i, c in enumerate(counts):
        h = plot_h * c / y_max
        lo, hi = i * step, (i + 1) * step
        bars.append(
            Bar(
                x=round(left + i * bar_w + 1, 2),
                y=round(top + plot_h - h, 2),
                width=round(bar_w - 2, 2),
                height=round(h, 2),
                count=c,
                label=f"{_fmt(lo)}–{_fmt(hi)}",
            )
        )
    every = 1 if bins <= 10 else 2
    ticks = [(round(left + i * bar_w, 2), _fmt(i * step)) for i in range(0, bins + 1, every)]
    return Histogram(
        width=width,
        height=height,
        plot_top=top,
        plot_bottom=top + plot_h,
        bars=bars,
        ticks=ticks,
        y_max=y_max,
        n=sum(counts),
        mean=mean,
        median=median,
    )


@dataclass(frozen=True, slots=True)
class Pair:
    label: str
    before: Bar
    after: Bar


@dataclass(frozen=True, slots=True)
class PairedBars:
    """Two bars per group (e.g. a criterion's error before and after calibration)."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    pairs: list[Pair]
    y_max: float


def paired_bars(
    groups: Sequence[tuple[str, float, float]], *, width: int = 480, height: int = 180
) -> PairedBars:
    """Geometry for (label, before, after) groups on one scale from 0."""
    left, right, top, bottom = 36, 8, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = max([max(b, a) for _, b, a in groups] + [0.0]) or 1.0
    slot = plot_w / max(1, len(groups))
    bar_w = max(2.0, slot / 2 - 4)
    pairs = []
    for i, (label, before, after) in enumerate(groups):
        x = left + i * slot + 2
        bars = [
            Bar(
                x=round(x + k * (bar_w + 2), 2),
                y=round(top + plot_h - plot_h * v / y_max, 2),
                width=round(bar_w, 2),
                height=round(plot_h * v / y_max, 2),
                count=0,
                label=f"{label}: {_fmt(v)}",
            )
            for k, v in enumerate((before, after))
        ]
        pairs.append(Pair(label, bars[0], bars[1]))
    return PairedBars(width, height, top, top + plot_h, pairs, round(y_max, 2))
