"""Plots of a run's evidence for the declaration: inline SVG made with matplotlib, no files.

The plots are drawn from the evidence log alone (``evidence.jsonl``), the same records a reader
can check against the hash chain:

- ``measurement`` records carry what the harness read from the device: ``power_w`` and
  ``soc_pct`` for a battery; ``power_w``, ``heating``, ``aux_on`` and ``energy_wh`` for a water
  heater;
- ``note`` records carry what the harness asked for: a battery DR request has ``target_w`` and
  ``duration_s``, a water-heater DR request ``start_s`` (the DR heating start, seconds after the
  device's local midnight); the notes after it say whether the device accepted or refused it.

Text is kept as SVG text (not paths), so the page's Japanese fonts draw it and a PDF made from
the page keeps it searchable. Series are thinned to at most ``MAX_POINTS`` points (the minimum and
maximum of each slice are kept, so no peak is lost) before matplotlib simplifies the paths.
"""

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
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from drready.model import DAY_S

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

_TARGET_COLOUR = "#d95f02"
_MEASURED_COLOUR = "#1b6ca8"
_SOC_COLOUR = "#2e7d32"
_NIGHT_COLOUR = "#c9d7ee"
_CUT_COLOUR = "#dddddd"
_GAS_COLOUR = "#c62828"


@dataclass(frozen=True)
class Plot:
    """One figure: the SVG element (no XML prologue) and its caption in both languages."""

    svg: str
    title_ja: str
    title_en: str
    caption_ja: str
    caption_en: str


@dataclass(frozen=True)
class _Series:
    t: list[float]
    y: list[float]


# -- shared -------------------------------------------------------------------------------------


def decimate(t: Sequence[float], y: Sequence[float], max_points: int = MAX_POINTS) -> _Series:
    """At most ``max_points`` points: each slice of the series keeps its minimum and maximum,
    in time order, so steps and peaks survive."""
    n = len(t)
    if n <= max_points:
        return _Series(list(t), list(y))
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
    return _Series(out_t, out_y)


def changes(series: _Series) -> _Series:
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
    return _Series(t, y)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _measurements(records: Sequence[Mapping[str, Any]], key: str) -> _Series:
    t: list[float] = []
    y: list[float] = []
    for record in records:
        if record.get("kind") != "measurement":
            continue
        value = record.get("values", {}).get(key)
        if isinstance(value, bool):
            value = 1.0 if value else 0.0
        number = _number(value)
        when = _number(record.get("time"))
        if number is not None and when is not None:
            t.append(when)
            y.append(number)
    return changes(_Series(t, y))


def _notes(records: Sequence[Mapping[str, Any]]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for index, record in enumerate(records):
        if record.get("kind") == "note" and _number(record.get("time")) is not None:
            yield index, record


def _outcome_after(records: Sequence[Mapping[str, Any]], index: int) -> bool:
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
def _style() -> Iterator[None]:
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


def _svg(figure: Any, salt: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = _METADATA.sub("", _PROLOGUE.sub("", buffer.getvalue(), count=1), count=1)
    # Path coordinates to 0.01 pt: a fraction of a printer dot, and a third of the bytes.
    text = _PATH_DATA.sub(lambda m: _NUMBER.sub(_round, m[0]), text)
    # Scales with the page: the viewBox keeps the aspect ratio.
    return text.replace("<svg ", '<svg class="plot" role="img" ', 1)


def _figure(rows: Sequence[float]) -> tuple[Any, list[Axes]]:
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


# -- battery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetSegment:
    start: float
    end: float
    target_w: float


def battery_targets(records: Sequence[Mapping[str, Any]]) -> list[TargetSegment]:
    """The DR target in force over time, from the harness's notes.

    A request (a note with ``target_w``) holds from its time until the first of: its duration
    ends, the next request replaces it, the harness sets the device's own mode (which ends DR),
    the harness cuts communication (from then on the device must return to its own mode by
    itself, BAT-2.7), or the log ends. A request the device refused holds nothing.
    """
    segments: list[TargetSegment] = []
    current: tuple[float, float, float] | None = None  # start, planned end, target
    last_time = 0.0
    for index, record in _notes(records):
        when = float(record["time"])
        last_time = max(last_time, when)
        values = record.get("values", {})
        summary = str(record.get("summary", ""))
        ends_dr = (
            "target_w" in values
            or summary.startswith("own mode set")
            or summary.startswith("communication cut")
        )
        if current is not None and ends_dr:
            start, planned_end, target = current
            segments.append(TargetSegment(start, min(planned_end, when), target))
            current = None
        requested = _number(values.get("target_w"))
        if requested is not None and _outcome_after(records, index):
            duration = _number(values.get("duration_s"))
            planned = when + duration if duration is not None else math.inf
            current = (when, planned, requested)
    if records:
        last_time = max(last_time, _number(records[-1].get("time")) or last_time)
    if current is not None:
        start, planned_end, target = current
        segments.append(TargetSegment(start, min(planned_end, last_time), target))
    return [s for s in segments if s.end > s.start]


def _cuts(records: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """Periods the harness cut communication (BAT-2.7), from its notes."""
    spans: list[tuple[float, float]] = []
    opened: float | None = None
    for _, record in _notes(records):
        summary = str(record.get("summary", ""))
        if summary.startswith("communication cut"):
            opened = float(record["time"])
        elif summary.startswith("communication restored") and opened is not None:
            spans.append((opened, float(record["time"])))
            opened = None
    return spans


def battery_plot(records: Sequence[Mapping[str, Any]], *, salt: str = "battery") -> Plot | None:
    """Target power against measured power, and state of charge, over run-relative hours."""
    power = _measurements(records, "power_w")
    soc = _measurements(records, "soc_pct")
    if not power.t:
        return None
    t0 = min(power.t[0], soc.t[0] if soc.t else power.t[0])
    start = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d %H:%M UTC")
    targets = battery_targets(records)

    def hours(t: Sequence[float]) -> list[float]:
        return [(x - t0) / 3600.0 for x in t]

    with _style():
        figure, (top, bottom) = _figure((2.6, 1.1))
        for cut_start, cut_end in _cuts(records):
            for ax in (top, bottom):
                ax.axvspan(*hours((cut_start, cut_end)), color=_CUT_COLOUR, lw=0, zorder=0)
        measured = decimate(power.t, power.y)
        top.step(
            hours(measured.t),
            measured.y,
            where="post",
            color=_MEASURED_COLOUR,
            lw=0.9,
            label="計測電力 / measured power",
        )
        tx: list[float] = []
        ty: list[float] = []
        for segment in targets:
            tx += [*hours((segment.start, segment.end)), math.nan]
            ty += [segment.target_w, segment.target_w, math.nan]
        if tx:
            top.plot(
                tx, ty, color=_TARGET_COLOUR, lw=2.4, alpha=0.55, label="DR目標電力 / DR target"
            )
        top.axhline(0.0, color="#888888", lw=0.6)
        top.set_ylabel("電力 / power (W)\n+充電 charge, −放電 discharge")
        top.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, frameon=False)
        if soc.t:
            level = decimate(soc.t, soc.y)
            bottom.step(hours(level.t), level.y, where="post", color=_SOC_COLOUR, lw=0.9)
        bottom.set_ylim(0, 100)
        bottom.set_ylabel("SOC (%)")
        bottom.set_xlabel(f"経過時間 / hours since {start} (機器時刻 / device time)")
        svg = _svg(figure, salt)
    cut_ja = "灰色の帯は通信を遮断した期間。" if _cuts(records) else ""
    cut_en = " Grey bands: communication cut by the harness." if cut_ja else ""
    return Plot(
        svg=svg,
        title_ja="DR目標電力と計測電力・蓄電残量",
        title_en="DR target vs measured power, and state of charge",
        caption_ja=(
            "青: 機器から読んだ瞬時充放電電力 (計測記録 power_w)、橙: ハーネスが要求したDR目標"
            "電力。目標は要求時刻から、指定時間の終了・次の要求・機器自身の運転モードの"
            "設定 (DR終了)・通信遮断のいずれか早い時点まで表示し、拒否された要求は表示しない。"
            f"下段: 蓄電残量 (soc_pct)。{cut_ja}"
            "時間軸は機器時刻の開始からの経過時間。"
        ),
        caption_en=(
            "Blue: instantaneous charge/discharge power read from the device (measurement "
            "records, power_w). Orange: the DR target the harness requested, drawn from the "
            "request until the first of: its duration ends, the next request, the harness "
            "setting the device's own mode (which ends DR), or the harness cutting "
            "communication; refused requests are not drawn. "
            f"Lower panel: state of charge (soc_pct).{cut_en} Time axis: hours since the "
            "start of device time."
        ),
    )


# -- water heaters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedStart:
    requested_at: float
    start: float
    accepted: bool
    #: Replaced by a later accepted request before it began.
    superseded: bool


def _local_start(requested_at: float, seconds_of_day: float) -> float:
    """The first device-local time of day ``seconds_of_day`` after ``requested_at``."""
    local = datetime.fromtimestamp(requested_at, DEVICE_LOCAL)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    candidate = midnight + timedelta(seconds=seconds_of_day)
    if candidate.timestamp() <= requested_at:
        candidate += timedelta(days=1)
    return candidate.timestamp()


def planned_starts(records: Sequence[Mapping[str, Any]]) -> list[PlannedStart]:
    """Every DR start time the harness asked for: when it begins on the device's clock (the
    next such local time of day after the request), whether the device accepted it, and whether
    a later accepted request replaced it before it began."""
    raw: list[tuple[float, float, bool]] = []
    for index, record in _notes(records):
        seconds = _number(record.get("values", {}).get("start_s"))
        if seconds is None:
            continue
        when = float(record["time"])
        raw.append((when, _local_start(when, seconds), _outcome_after(records, index)))
    out = []
    for i, (when, start, ok) in enumerate(raw):
        # A later accepted request made before this one began replaces it (the device keeps
        # one plan); requests made at the same moment (the window checks) replace each other.
        superseded = ok and any(later_ok and t < start for t, _, later_ok in raw[i + 1 :])
        out.append(PlannedStart(when, start, ok, superseded))
    return out


def _time_of_day(text: Any) -> int | None:
    if not isinstance(text, str) or not re.fullmatch(r"\d{1,2}:\d{2}", text):
        return None
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def night_periods(
    water_heater: Mapping[str, Any] | None, first: float, last: float
) -> list[tuple[float, float]]:
    """The device's own night-heating periods (``night_heating`` of the profile's
    ``[water_heater]`` table, device-local times) that overlap [first, last]."""
    period = (water_heater or {}).get("night_heating")
    if not isinstance(period, list | tuple) or len(period) != 2:
        return []
    begin, end = _time_of_day(period[0]), _time_of_day(period[1])
    if begin is None or end is None:
        return []
    length = (end - begin) % DAY_S or DAY_S
    day = datetime.fromtimestamp(first, DEVICE_LOCAL).replace(
        hour=0, minute=0, second=0, microsecond=0
    ) - timedelta(days=1)
    spans = []
    while day.timestamp() <= last:
        start = day.timestamp() + begin
        stop = start + length
        if stop > first and start < last:
            spans.append((max(start, first), min(stop, last)))
        day += timedelta(days=1)
    return spans


def _date_axis(ax: Axes, first: float, last: float) -> None:
    import matplotlib.dates

    dates: Any = matplotlib.dates  # its locators and formatters are not annotated

    span_h = (last - first) / 3600.0
    if span_h <= 12:
        locator: Any = dates.HourLocator(interval=1, tz=DEVICE_LOCAL)
    elif span_h <= 48:
        locator = dates.HourLocator(byhour=range(0, 24, 6), tz=DEVICE_LOCAL)
    else:
        locator = dates.HourLocator(byhour=(0, 12), tz=DEVICE_LOCAL)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.DateFormatter("%m/%d\n%H:%M", tz=DEVICE_LOCAL))


def _days(t: Sequence[float]) -> list[float]:
    """Epoch seconds to matplotlib date numbers."""
    import matplotlib.dates

    dates: Any = matplotlib.dates

    offset = float(dates.date2num(datetime.fromtimestamp(0, UTC)))
    return [offset + x / DAY_S for x in t]


def water_heater_plot(
    records: Sequence[Mapping[str, Any]],
    water_heater: Mapping[str, Any] | None,
    *,
    hybrid: bool = False,
    salt: str = "water-heater",
) -> Plot | None:
    """The heating plan (night heating, requested DR starts) against the power drawn, over the
    device's local time (JST)."""
    power = _measurements(records, "power_w")
    if not power.t:
        return None
    heating = _measurements(records, "heating")
    gas = _measurements(records, "aux_on") if hybrid else _Series([], [])
    first, last = power.t[0], power.t[-1]
    starts = planned_starts(records)
    nights = night_periods(water_heater, first, last)

    with _style():
        figure, (top, bottom) = _figure((2.6, 0.7))
        for begin, end in nights:
            for ax in (top, bottom):
                ax.axvspan(*_days((begin, end)), color=_NIGHT_COLOUR, lw=0, zorder=0)
        if nights:
            top.fill_between([], [], color=_NIGHT_COLOUR, label="夜間沸き上げ / night heating")
        drawn = decimate(power.t, power.y)
        top.step(
            _days(drawn.t),
            drawn.y,
            where="post",
            color=_MEASURED_COLOUR,
            lw=0.9,
            zorder=3,
            label="消費電力 / power drawn",
        )
        effective = [s.start for s in starts if s.accepted and not s.superseded]
        replaced = [s.start for s in starts if s.accepted and s.superseded]
        marks = (
            (replaced, "#8a8a8a", ":", "置換済み要求 / replaced request"),
            (effective, _TARGET_COLOUR, "-", "DR沸き上げ開始 / DR start requested"),
        )
        for times, colour, style, label in marks:
            xs = _days([t for t in times if first <= t <= last])
            for x in xs:
                top.axvline(x, color=colour, lw=1.0, ls=style, alpha=0.8, zorder=2)
            if xs:
                # A marker above the plot: the power step can hide the line at the same time.
                top.plot(
                    xs,
                    [1.0] * len(xs),
                    ls="none",
                    marker="v",
                    ms=6,
                    color=colour,
                    clip_on=False,
                    transform=top.get_xaxis_transform(),
                    label=label,
                )
        top.set_ylabel("電力 / power (W)")
        top.set_xlim(*_days((first, last)))
        top.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, frameon=False)
        rows: list[str] = []
        if heating.t:
            status = decimate(heating.t, heating.y)
            bottom.fill_between(
                _days(status.t),
                0,
                [0.8 * v for v in status.y],
                step="post",
                color=_MEASURED_COLOUR,
                alpha=0.6,
                lw=0,
            )
            rows.append("沸き上げ\nheating")
        if gas.t:
            status = decimate(gas.t, gas.y)
            bottom.fill_between(
                _days(status.t),
                1,
                [1 + 0.8 * v for v in status.y],
                step="post",
                color=_GAS_COLOUR,
                alpha=0.7,
                lw=0,
            )
            rows.append("ガス\ngas heater")
        bottom.set_ylim(0, max(1, len(rows)))
        bottom.set_yticks([0.4 + i for i in range(len(rows))], rows)
        bottom.grid(False, axis="y")
        bottom.set_xlabel("機器の現地時刻 / device local time (JST, UTC+9)")
        _date_axis(bottom, first, last)
        svg = _svg(figure, salt)
    refused = sum(1 for s in starts if not s.accepted)
    gas_ja = "・ガス給湯器の燃焼 (aux_on、赤)" if gas.t else ""
    gas_en = " and the gas back-up heater's state (aux_on, red)" if gas.t else ""
    return Plot(
        svg=svg,
        title_ja="沸き上げ計画と消費電力",
        title_en="Heating plan vs power drawn",
        caption_ja=(
            "青線: 機器から読んだ消費電力 (計測記録 power_w)。薄青の帯: プロファイルの"
            "夜間沸き上げ時間帯 ([water_heater] night_heating)。橙の縦線と▼: 機器が受理したDR"
            "沸き上げ開始時刻 (要求時刻以降で最初のその時刻)、灰色の点線と▼: 開始前に後の要求"
            f"で置き換えられたもの。拒否された要求 ({refused} 件) は表示しない。"
            f"下段: 機器が報告した沸き上げ状態 (heating){gas_ja}。時刻は機器の現地時刻 (JST)。"
        ),
        caption_en=(
            "Blue line: power drawn as read from the device (measurement records, power_w). "
            "Pale blue bands: the profile's night-heating period ([water_heater] "
            "night_heating). Orange lines and ▼: DR heating start times the device accepted "
            "(the first such time of day after the request); grey dotted lines and ▼: replaced "
            "by a later request "
            f"before they began. Refused requests ({refused}) are not drawn. Lower panel: the "
            f"heating status the device reported (heating){gas_en}. Times are the device's "
            "local time (JST)."
        ),
    )
