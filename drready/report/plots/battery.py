"""The battery's plot: targets against measured power and the state of charge."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drready.report.plots.common import (
    CUT_COLOUR,
    MEASURED_COLOUR,
    SOC_COLOUR,
    TARGET_COLOUR,
    DeviceTime,
    Plot,
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
    for index, record in note_records(records):
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
        requested = as_number(values.get("target_w"))
        if requested is not None and outcome_after(records, index):
            duration = as_number(values.get("duration_s"))
            planned = when + duration if duration is not None else math.inf
            current = (when, planned, requested)
    if records:
        last_time = max(last_time, as_number(records[-1].get("time")) or last_time)
    if current is not None:
        start, planned_end, target = current
        segments.append(TargetSegment(start, min(planned_end, last_time), target))
    return [s for s in segments if s.end > s.start]


def _cuts(records: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """Periods the harness cut communication (BAT-2.7), from its notes."""
    spans: list[tuple[float, float]] = []
    opened: float | None = None
    for _, record in note_records(records):
        summary = str(record.get("summary", ""))
        if summary.startswith("communication cut"):
            opened = float(record["time"])
        elif summary.startswith("communication restored") and opened is not None:
            spans.append((opened, float(record["time"])))
            opened = None
    return spans


def battery_plot(
    records: Sequence[Mapping[str, Any]],
    *,
    salt: str = "battery",
    device_time: DeviceTime | None = None,
) -> Plot | None:
    """Target power against measured power, and state of charge, over hours of device time.

    With ``device_time`` (the report's), the records' times go onto the device's clock first
    (a ``--time-scale`` run's device lived ``scale`` times more than the harness) and the axis
    spans the device time the run covered; without it, the axis starts at the first reading
    and the records' own times are taken as device time."""
    if device_time is not None:
        records = device_time.records(records)
    power = measurement_series(records, "power_w")
    soc = measurement_series(records, "soc_pct")
    if not power.t:
        return None
    first = min(power.t[0], soc.t[0] if soc.t else power.t[0])
    last = max(power.t[-1], soc.t[-1] if soc.t else power.t[-1])
    t0 = first if device_time is None else device_time.start
    start = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d %H:%M UTC")
    targets = battery_targets(records)

    def hours(t: Sequence[float]) -> list[float]:
        return [(x - t0) / 3600.0 for x in t]

    with plot_style():
        figure, (top, bottom) = new_figure((2.6, 1.1))
        for cut_start, cut_end in _cuts(records):
            for ax in (top, bottom):
                ax.axvspan(*hours((cut_start, cut_end)), color=CUT_COLOUR, lw=0, zorder=0)
        measured = decimate(power.t, power.y)
        top.step(
            hours(measured.t),
            measured.y,
            where="post",
            color=MEASURED_COLOUR,
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
                tx, ty, color=TARGET_COLOUR, lw=2.4, alpha=0.55, label="DR目標電力 / DR target"
            )
        top.axhline(0.0, color="#888888", lw=0.6)
        top.set_ylabel("電力 / power (W)\n+充電 charge, −放電 discharge")
        top.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, frameon=False)
        if soc.t:
            level = decimate(soc.t, soc.y)
            bottom.step(hours(level.t), level.y, where="post", color=SOC_COLOUR, lw=0.9)
        bottom.set_ylim(0, 100)
        bottom.set_ylabel("SOC (%)")
        bottom.set_xlabel(f"経過時間 / hours since {start} (機器時刻 / device time)")
        if device_time is not None and device_time.end is not None:
            # The whole run, not only the readings: the axis shows the device time covered.
            bottom.set_xlim(*hours((min(first, t0), max(last, device_time.end))))
        low, high = bottom.get_xlim()
        axis = (t0 + low * 3600.0, t0 + high * 3600.0)
        svg = svg_text(figure, salt, axis)
    cut_ja = "灰色の帯は通信を遮断した期間。" if _cuts(records) else ""
    cut_en = " Grey bands: communication cut by the harness." if cut_ja else ""
    scaled_ja, scaled_en = scale_caption(device_time)
    return Plot(
        axis_start=axis[0],
        axis_end=axis[1],
        svg=svg,
        title_ja="DR目標電力と計測電力・蓄電残量",
        title_en="DR target vs measured power, and state of charge",
        caption_ja=(
            "青: 機器から読んだ瞬時充放電電力 (計測記録 power_w)、橙: ハーネスが要求したDR目標"
            "電力。目標は要求時刻から、指定時間の終了・次の要求・機器自身の運転モードの"
            "設定 (DR終了)・通信遮断のいずれか早い時点まで表示し、拒否された要求は表示しない。"
            f"下段: 蓄電残量 (soc_pct)。{cut_ja}"
            "時間軸は機器時刻の開始からの経過時間。"
            f"{scaled_ja}"
        ),
        caption_en=(
            "Blue: instantaneous charge/discharge power read from the device (measurement "
            "records, power_w). Orange: the DR target the harness requested, drawn from the "
            "request until the first of: its duration ends, the next request, the harness "
            "setting the device's own mode (which ends DR), or the harness cutting "
            "communication; refused requests are not drawn. "
            f"Lower panel: state of charge (soc_pct).{cut_en} Time axis: hours since the "
            "start of device time."
            f"{scaled_en}"
        ),
    )
