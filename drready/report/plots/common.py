"""What every plot shares: the series drawn from the evidence, the style, reproducible SVG."""

from __future__ import annotations

import io
import logging
import math
import re
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import TYPE_CHECKING, Any

from drready.report.json_report import report_time

if TYPE_CHECKING:
    from matplotlib.axes import Axes


#: Fonts for plot text, best first: the page's Japanese fonts, then matplotlib's own.
FONT_FAMILY = ("Noto Sans CJK JP", "Noto Sans JP", "DejaVu Sans")


#: Most points one series is drawn with.
MAX_POINTS = 2000


#: Water heaters keep Japan's local time (JST, no daylight saving time).
DEVICE_LOCAL = timezone(timedelta(hours=9), "JST")


#: Figure size, inches: the width of an A4 page inside 15 mm margins.
WIDTH_IN = 7.0


TARGET_COLOUR = "#d95f02"


MEASURED_COLOUR = "#1b6ca8"


SOC_COLOUR = "#2e7d32"


NIGHT_COLOUR = "#c9d7ee"


CUT_COLOUR = "#dddddd"


GAS_COLOUR = "#c62828"


@dataclass(frozen=True)
class DeviceTime:
    """The device's clock, reckoned from the harness's: evidence records are stamped on the
    harness's clock (virtual in simulated runs), and a device whose clock runs ``scale`` times
    faster (``--time-scale``) lives ``scale`` seconds of its own for each of them.

    The two clocks are taken to agree at ``start`` (the report's ``device_time.start``, when the
    harness opened the device); from there device time is ``start + (t - start) * scale``, and
    the run covered ``covered_s`` seconds of it (the report's ``device_time.covered_s``).
    """

    start: float
    scale: float = 1.0
    covered_s: float | None = None

    def at(self, t: float) -> float:
        """The device time at harness time ``t`` (seconds since the epoch)."""
        return self.start + (t - self.start) * self.scale

    @property
    def end(self) -> float | None:
        return None if self.covered_s is None else self.start + self.covered_s

    def records(self, records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """``records`` with every ``time`` on the device's clock (copies where it moves)."""
        if self.scale == 1.0:
            return list(records)
        out: list[Mapping[str, Any]] = []
        for record in records:
            when = as_number(record.get("time"))
            out.append(record if when is None else {**record, "time": self.at(when)})
        return out

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> DeviceTime | None:
        """From a report's ``device_time`` and ``profile.time_scale``; None when the report
        has no start (an older or broken one)."""
        device_time = report.get("device_time") or {}
        moment = report_time(device_time.get("start"))
        if moment is None:
            return None
        scale = as_number((report.get("profile") or {}).get("time_scale")) or 1.0
        covered = as_number(device_time.get("covered_s"))
        return cls(moment.timestamp(), scale if scale > 0 else 1.0, covered)


def scale_caption(device_time: DeviceTime | None) -> tuple[str, str]:
    """The captions' sentence for a ``--time-scale`` run (ja, en); empty otherwise."""
    if device_time is None or device_time.scale == 1.0:
        return "", ""
    scale = f"{device_time.scale:g}"
    return (
        f"機器の時計はハーネスの{scale}倍の速さで進み (--time-scale {scale})、時間軸は機器時刻。",
        f" The device's clock ran {scale}x the harness's (--time-scale {scale}); the time axis "
        "is in device time.",
    )


@dataclass(frozen=True)
class Plot:
    """One figure: the SVG element (no XML prologue) and its caption in both languages.

    ``axis_start`` and ``axis_end``: the time axis as drawn, device time in seconds since the
    epoch (the SVG element says them too, as ``data-axis-start``/``data-axis-end``)."""

    svg: str
    title_ja: str
    title_en: str
    caption_ja: str
    caption_en: str
    axis_start: float | None = None
    axis_end: float | None = None


@dataclass(frozen=True)
class Series:
    t: list[float]
    y: list[float]


def decimate(t: Sequence[float], y: Sequence[float], max_points: int = MAX_POINTS) -> Series:
    """At most ``max_points`` points: each slice of the series keeps its minimum and maximum,
    in time order, so steps and peaks survive."""
    n = len(t)
    if n <= max_points:
        return Series(list(t), list(y))
    slices = max(1, max_points // 2)
    size = math.ceil(n / slices)
    out_t: list[float] = []
    out_y: list[float] = []
    for start in range(0, n, size):
        stop = min(n, start + size)
        indexes = range(start, stop)
        low = min(indexes, key=lambda i: y[i])
        high = max(indexes, key=lambda i: y[i])
        for i in sorted({low, high}):
            out_t.append(t[i])
            out_y.append(y[i])
    # The last sample keeps the end of the series where it was.
    if out_t[-1] != t[-1]:
        out_t.append(t[-1])
        out_y.append(y[-1])
    return Series(out_t, out_y)


def changes(series: Series) -> Series:
    """Only the samples where the value changes, and the last one: the same steps drawn
    ``where="post"``, from far fewer points (a water heater's power sits at 0 W for hours)."""
    if len(series.t) <= 2:
        return series
    t = [series.t[0]]
    y = [series.y[0]]
    for when, value, previous in zip(series.t[1:], series.y[1:], series.y, strict=False):
        if value != previous:
            t.append(when)
            y.append(value)
    if t[-1] != series.t[-1]:
        t.append(series.t[-1])
        y.append(series.y[-1])
    return Series(t, y)


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def measurement_series(records: Sequence[Mapping[str, Any]], key: str) -> Series:
    t: list[float] = []
    y: list[float] = []
    for record in records:
        if record.get("kind") != "measurement":
            continue
        value = record.get("values", {}).get(key)
        if isinstance(value, bool):
            value = 1.0 if value else 0.0
        number = as_number(value)
        when = as_number(record.get("time"))
        if number is not None and when is not None:
            t.append(when)
            y.append(number)
    return changes(Series(t, y))


def note_records(records: Sequence[Mapping[str, Any]]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for index, record in enumerate(records):
        if record.get("kind") == "note" and as_number(record.get("time")) is not None:
            yield index, record


def outcome_after(records: Sequence[Mapping[str, Any]], index: int) -> bool:
    """Whether the DR request noted at ``index`` was accepted: False when a "refused" note
    follows it before the next request; True otherwise (accepted, or nothing said)."""
    for record in records[index + 1 :]:
        if record.get("kind") != "note":
            continue
        summary = str(record.get("summary", ""))
        if summary.startswith("DR request refused"):
            return False
        if summary.startswith("DR request accepted"):
            return True
        values = record.get("values", {})
        if "target_w" in values or "start_s" in values:
            return True
    return True


@contextmanager
def plot_style() -> Iterator[None]:
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        # No GUI backend is needed (figures are saved as SVG). Switching backends under a host
        # that already uses pyplot would close its figures, so then its backend is left alone.
        matplotlib.use("Agg", force=False)
    font_logger = logging.getLogger("matplotlib.font_manager")
    level = font_logger.level
    font_logger.setLevel(logging.ERROR)
    settings: Any = {
        "svg.fonttype": "none",  # text stays text: the page's fonts draw it
        "font.family": "sans-serif",
        "font.sans-serif": list(FONT_FAMILY),
        "font.size": 8.0,
        "axes.titlesize": 9.0,
        "axes.labelsize": 8.0,
        "legend.fontsize": 7.0,
        "xtick.labelsize": 7.0,
        "ytick.labelsize": 7.0,
        "axes.grid": True,
        "grid.color": "#e0e0e0",
        "grid.linewidth": 0.5,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "path.simplify": True,
        "path.simplify_threshold": 0.5,
    }
    try:
        with warnings.catch_warnings():
            # Without a Japanese font matplotlib measures the labels with its own and warns of
            # missing glyphs; the browser still draws them with the page's fonts.
            warnings.filterwarnings("ignore", message=r".*[Gg]lyph .* missing.*")
            warnings.filterwarnings("ignore", message=r".*findfont.*")
            with matplotlib.rc_context(settings):
                yield
    finally:
        font_logger.setLevel(level)


_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)


_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)


_PATH_DATA = re.compile(r'\bd="[^"]*"')


_NUMBER = re.compile(r"-?\d+\.\d{3,}")


def _round(match: re.Match[str]) -> str:
    return f"{float(match[0]):.2f}".rstrip("0").rstrip(".")


def svg_text(figure: Any, salt: str, axis: tuple[float, float] | None = None) -> str:
    """The figure as an SVG element; ``axis``, the time axis drawn (device epoch seconds),
    goes in its ``data-axis-start`` and ``data-axis-end`` attributes."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = _METADATA.sub("", _PROLOGUE.sub("", buffer.getvalue(), count=1), count=1)
    # Path coordinates to 0.01 pt: a fraction of a printer dot, and a third of the bytes.
    text = _PATH_DATA.sub(lambda m: _NUMBER.sub(_round, m[0]), text)
    # Scales with the page: the viewBox keeps the aspect ratio.
    data = "" if axis is None else f'data-axis-start="{axis[0]:.3f}" data-axis-end="{axis[1]:.3f}" '
    return text.replace("<svg ", f'<svg class="plot" role="img" {data}', 1)


def new_figure(rows: Sequence[float]) -> tuple[Any, list[Axes]]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, sum(rows) + 0.9), layout="constrained")
    grid = figure.add_gridspec(len(rows), 1, height_ratios=list(rows))
    axes: list[Axes] = []
    for row in range(len(rows)):
        shared = axes[0] if axes else None
        axes.append(figure.add_subplot(grid[row, 0], sharex=shared))
    for upper in axes[:-1]:
        upper.tick_params(labelbottom=False)
    return figure, axes
