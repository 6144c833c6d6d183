"""Plots of a run's evidence for the declaration: inline SVG made with matplotlib, no files.

The plots are drawn from the evidence log alone (``evidence.jsonl``), the same records a reader
can check against the hash chain:

- ``measurement`` records carry what the harness read from the device: ``power_w`` and
  ``soc_pct`` for a battery; ``power_w``, ``heating``, ``aux_on`` and ``energy_wh`` for a water
  heater;
- ``note`` records carry what the harness asked for: a battery DR request has ``target_w`` and
  ``duration_s``, a water-heater DR request ``start_s`` (the DR heating start, seconds after the
  device's local midnight); the notes after it say whether the device accepted or refused it.

Times: the records are stamped on the harness's clock. In a ``--time-scale`` run the device's
clock runs faster, so the plots put the stamps onto it first (:class:`DeviceTime`, from the
report's ``device_time`` and ``time_scale``) and the time axis spans the device time covered;
each plot says the range it drew (``Plot.axis_start``/``axis_end``, ``data-axis-*`` on the SVG).

Text is kept as SVG text (not paths), so the page's Japanese fonts draw it and a PDF made from
the page keeps it searchable. Series are thinned to at most ``MAX_POINTS`` points (the minimum and
maximum of each slice are kept, so no peak is lost) before matplotlib simplifies the paths.

The package: :mod:`.common`, :mod:`.battery`, :mod:`.water_heater`.
"""

from __future__ import annotations

from drready.report.plots.battery import (
    TargetSegment,
    battery_plot,
    battery_targets,
)
from drready.report.plots.common import (
    DEVICE_LOCAL,
    FONT_FAMILY,
    MAX_POINTS,
    WIDTH_IN,
    DeviceTime,
    Plot,
    changes,
    decimate,
)
from drready.report.plots.water_heater import (
    PlannedStart,
    night_periods,
    planned_starts,
    water_heater_plot,
)

__all__ = [
    "DEVICE_LOCAL",
    "FONT_FAMILY",
    "MAX_POINTS",
    "WIDTH_IN",
    "DeviceTime",
    "PlannedStart",
    "Plot",
    "TargetSegment",
    "battery_plot",
    "battery_targets",
    "changes",
    "decimate",
    "night_periods",
    "planned_starts",
    "water_heater_plot",
]
