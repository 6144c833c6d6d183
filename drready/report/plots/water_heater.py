"""The water heater's plot: planned and actual heating starts, night periods, power."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from drready.model import DAY_S

if TYPE_CHECKING:
    from matplotlib.axes import Axes
from drready.report.plots.common import (
    DEVICE_LOCAL,
    GAS_COLOUR,
    MEASURED_COLOUR,
    NIGHT_COLOUR,
    TARGET_COLOUR,
    DeviceTime,
    Plot,
    Series,
    as_number,
    decimate,
    measurement_series,
    new_figure,
    note_records,
    outcome_after,
    plot_style,
    scale_caption,
    svg_text,
)


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
    for index, record in note_records(records):
        seconds = as_number(record.get("values", {}).get("start_s"))
        if seconds is None:
            continue
        when = float(record["time"])
        raw.append((when, _local_start(when, seconds), outcome_after(records, index)))
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


def _epoch(limits: tuple[float, float]) -> tuple[float, float]:
    """Matplotlib date numbers back to epoch seconds."""
    import matplotlib.dates

    dates: Any = matplotlib.dates

    offset = float(dates.date2num(datetime.fromtimestamp(0, UTC)))
    low, high = limits
    return ((low - offset) * DAY_S, (high - offset) * DAY_S)


def water_heater_plot(
    records: Sequence[Mapping[str, Any]],
    water_heater: Mapping[str, Any] | None,
    *,
    hybrid: bool = False,
    salt: str = "water-heater",
    device_time: DeviceTime | None = None,
) -> Plot | None:
    """The heating plan (night heating, requested DR starts) against the power drawn, over the
    device's local time (JST).

    With ``device_time`` (the report's), the records' times go onto the device's clock first
    (``--time-scale``) and the axis spans the device time the run covered; without it, the
    axis spans the readings."""
    if device_time is not None:
        records = device_time.records(records)
    power = measurement_series(records, "power_w")
    if not power.t:
        return None
    heating = measurement_series(records, "heating")
    gas = measurement_series(records, "aux_on") if hybrid else Series([], [])
    first, last = power.t[0], power.t[-1]
    if device_time is not None and device_time.end is not None:
        first, last = min(first, device_time.start), max(last, device_time.end)
    starts = planned_starts(records)
    nights = night_periods(water_heater, first, last)

    with plot_style():
        figure, (top, bottom) = new_figure((2.6, 0.7))
        for begin, end in nights:
            for ax in (top, bottom):
                ax.axvspan(*_days((begin, end)), color=NIGHT_COLOUR, lw=0, zorder=0)
        if nights:
            top.fill_between([], [], color=NIGHT_COLOUR, label="夜間沸き上げ / night heating")
        drawn = decimate(power.t, power.y)
        top.step(
            _days(drawn.t),
            drawn.y,
            where="post",
            color=MEASURED_COLOUR,
            lw=0.9,
            zorder=3,
            label="消費電力 / power drawn",
        )
        effective = [s.start for s in starts if s.accepted and not s.superseded]
        replaced = [s.start for s in starts if s.accepted and s.superseded]
        marks = (
            (replaced, "#8a8a8a", ":", "置換済み要求 / replaced request"),
            (effective, TARGET_COLOUR, "-", "DR沸き上げ開始 / DR start requested"),
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
                color=MEASURED_COLOUR,
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
                color=GAS_COLOUR,
                alpha=0.7,
                lw=0,
            )
            rows.append("ガス\ngas heater")
        bottom.set_ylim(0, max(1, len(rows)))
        bottom.set_yticks([0.4 + i for i in range(len(rows))], rows)
        bottom.grid(False, axis="y")
        bottom.set_xlabel("機器の現地時刻 / device local time (JST, UTC+9)")
        _date_axis(bottom, first, last)
        axis = _epoch(top.get_xlim())
        svg = svg_text(figure, salt, axis)
    refused = sum(1 for s in starts if not s.accepted)
    gas_ja = "・ガス給湯器の燃焼 (aux_on、赤)" if gas.t else ""
    gas_en = " and the gas back-up heater's state (aux_on, red)" if gas.t else ""
    scaled_ja, scaled_en = scale_caption(device_time)
    return Plot(
        axis_start=axis[0],
        axis_end=axis[1],
        svg=svg,
        title_ja="沸き上げ計画と消費電力",
        title_en="Heating plan vs power drawn",
        caption_ja=(
            "青線: 機器から読んだ消費電力 (計測記録 power_w)。薄青の帯: プロファイルの"
            "夜間沸き上げ時間帯 ([water_heater] night_heating)。橙の縦線と▼: 機器が受理したDR"
            "沸き上げ開始時刻 (要求時刻以降で最初のその時刻)、灰色の点線と▼: 開始前に後の要求"
            f"で置き換えられたもの。拒否された要求 ({refused} 件) は表示しない。"
            f"下段: 機器が報告した沸き上げ状態 (heating){gas_ja}。時刻は機器の現地時刻 (JST)。"
            f"{scaled_ja}"
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
            f"{scaled_en}"
        ),
    )
