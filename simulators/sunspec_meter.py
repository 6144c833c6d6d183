"""An independent power meter on the battery's AC branch: SunSpec model 203 over Modbus.

The meter reads the battery's *true* physical power, straight from the
:class:`~drready.simulators.battery_model.BatteryModel` advanced to now, never from what the battery
reports: a battery that lies in its own registers (``mb_power_not_delivered``,
``mb_wrong_scale_factor``) is caught by comparing the two.

Sign convention (model 203 gives none for ``W``, "Total Real Power"): **positive = import to the
battery, i.e. charging**; negative = export, discharging. :data:`METER_W_SIGN` states it in code
(the model counts + when charging too, so ``W = model.power_w``); the harness's
``MeterSettings`` reads its meter the same way ("+ when charging").

Register image (base ``config.base_address``, default 40000, its own unit ``config.unit_id``,
default 2)::

    base + 0    "SunS"
    base + 2    model 1   (common, L 66)  Mn "drready", Md "DRR-MTR-SIM", SN, DA
    base + 70   model 203 (wye meter, L 105)
    base + 177  end model (0xFFFF, L 0)

Model 203: ``W`` and ``WphA`` the true power (W, ``W_SF`` 0 unless the ratings need more);
``A``/``AphA`` = W / ``PhV`` (``A_SF`` -2, same sign as W); ``PhV``/``PhVphA`` the nominal AC
voltage (202.0 V, ``V_SF`` -1); ``Hz`` the nominal frequency (50.00 Hz, ``Hz_SF`` -2);
``TotWhImp`` = ``import_start_wh`` + energy charged, ``TotWhExp`` = ``export_start_wh`` + energy
discharged (whole Wh, rounded down so the counters never run ahead, ``TotWh_SF`` 0). The counters
start above zero because 0 is an accumulator's "not implemented" value in SunSpec; the integrals
are the differences. The B and C phases and the optional points read "not implemented". The
only writable point is model 1 ``DA`` (its own unit ID only); anything else written is refused
with exception 2.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from drready.simulators.battery_model import BatteryModel
from drready.simulators.sunspec_battery import (
    ILLEGAL_ADDRESS,
    ILLEGAL_VALUE,
    RegisterImage,
    Templates,
    check_common_strings,
    common_block,
    fit_sf,
    on_grid,
)

from drready.modbus.registers import Value
from drready.modbus.sunspec import MODELS, SUNS_REGISTERS

__all__ = ["METER_W_SIGN", "SunSpecMeterConfig", "SunSpecMeterDevice"]

#: Model 203 ``W`` = METER_W_SIGN × the battery model's power (+ charging): + = import, charging.
METER_W_SIGN = 1


@dataclass
class SunSpecMeterConfig:
    manufacturer: str = "drready"
    model_name: str = "DRR-MTR-SIM"
    serial_number: str = "SIM0000001-M"
    version: str = "1.0.0"
    base_address: int = 40000
    unit_id: int = 2
    voltage_v: float = 202.0
    frequency_hz: float = 50.0
    import_start_wh: float = 1000.0
    export_start_wh: float = 1000.0
    #: Each reading of ``W`` is off by a uniform error within ± this (W): a real meter's noise
    #: (a seeded run's; 0, the exact power).
    noise_w: float = 0.0
    #: Seeds the noise, so a seeded run reads the same values again.
    noise_seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.unit_id <= 247:
            raise ValueError(f"unit_id {self.unit_id} outside 1..247")
        check_common_strings(self.manufacturer, self.model_name, self.serial_number, self.version)
        if self.import_start_wh < 1 or self.export_start_wh < 1:
            raise ValueError("the counters start at 1 Wh or more (0 means not implemented)")


class PhysicalBattery(Protocol):
    """What the meter measures: a battery's physics (the SunSpec or the ECHONET Lite one)."""

    def advance(self) -> BatteryModel: ...
    def true_power_w(self) -> float: ...


class SunSpecMeterDevice:
    """Model 203 over the battery's physics. Reads only; time is the battery's."""

    def __init__(self, config: SunSpecMeterConfig, battery: PhysicalBattery) -> None:
        self.config = config
        self.battery = battery
        self.image = RegisterImage(config.base_address, [MODELS[1], MODELS[203]])
        self._noise = random.Random(config.noise_seed)
        #: Each model's fixed points (ratings, scale factors) encoded once, until they change.
        self._templates = Templates()

    def power_w(self) -> float:
        """The true power, meter sign (+ import, charging), with the meter's noise."""
        true_w = METER_W_SIGN * self.battery.true_power_w()
        if self.config.noise_w <= 0:
            return true_w
        return true_w + self._noise.uniform(-self.config.noise_w, self.config.noise_w)

    def registers(self) -> list[int]:
        return self.registers_part(0, self.image.size)[1]

    def registers_part(self, offset: int, count: int) -> tuple[int, list[int]]:
        """The image's parts covering registers ``offset`` .. ``offset + count - 1``, computed
        for now, and the offset where they start (as the battery's
        :meth:`~drready.simulators.sunspec_battery.SunSpecBatteryDevice.registers_part`)."""
        self.battery.advance()
        builders = {1: self._common, 203: self._meter}
        return self.image.assemble_part(SUNS_REGISTERS, builders, offset, count)

    def _common(self) -> list[int]:
        c = self.config
        return common_block(c.manufacturer, c.model_name, c.version, c.serial_number, c.unit_id)

    def _meter(self) -> list[int]:
        c = self.config
        model = self.battery.advance()
        params = model.params
        w_sf = fit_sf(max(params.max_charge_w, params.max_discharge_w) * 3.2, 32767)
        watts = on_grid(self.power_w(), w_sf)
        amps = on_grid(watts / c.voltage_v, -2)
        fixed: dict[str, Value | None] = {
            "A_SF": -2,
            "PhV": on_grid(c.voltage_v, -1),
            "PhVphA": on_grid(c.voltage_v, -1),
            "V_SF": -1,
            "Hz": on_grid(c.frequency_hz, -2),
            "Hz_SF": -2,
            "W_SF": w_sf,
            "TotWh_SF": 0,
            "Evt": 0,
        }
        values: dict[str, Value | None] = {
            "A": amps,
            "AphA": amps,
            "W": watts,
            "WphA": watts,
            "TotWhExp": math.floor(c.export_start_wh + model.discharged_wh) & 0xFFFFFFFF,
            "TotWhImp": math.floor(c.import_start_wh + model.charged_wh) & 0xFFFFFFFF,
        }
        return self._templates.build(203, fixed, values)

    def write(self, address: int, values: Sequence[int]) -> int | None:
        split = self.image.split_write(address, values)
        if isinstance(split, int):
            return split
        for model, point, registers in split:
            if model.id != 1 or point.name != "DA":
                return ILLEGAL_ADDRESS
            if registers != [self.config.unit_id]:
                return ILLEGAL_VALUE
        return None
