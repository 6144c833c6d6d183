"""DRready items on ECHONET Lite properties: which EPC carries an item, in how many bytes, at
what scale. The DRready drafts name items (a target power, a heating start time) that the
ECHONET Lite Appendix does not all define yet; a profile maps each onto a property, with the
standard EPCs as defaults. Both the harness's bindings and the reference devices read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from drready.echonet.errors import DecodeError
from drready.errors import ProfileError
from drready.model import DeviceClass

__all__ = ["BATTERY_MAPPING_DEFAULTS", "WATER_HEATER_MAPPING_DEFAULTS", "EpcMapping"]


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class EpcMapping:
    """One DRready item on one ECHONET Lite property: item value = raw * scale."""

    epc: int
    size: int
    scale: float = 1.0
    signed: bool = False

    def __post_init__(self) -> None:
        # The profile schema's epcMapping, for mappings built in code rather than read from TOML.
        if (
            isinstance(self.epc, bool)
            or not isinstance(self.epc, int)
            or not 0x80 <= self.epc <= 0xFF
        ):
            raise ProfileError("epc", "a property code 0x80-0xFF", got=repr(self.epc))
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 1 <= self.size <= 8:
            raise ProfileError("size", "1 to 8 bytes", got=repr(self.size))
        if (
            isinstance(self.scale, bool)
            or not isinstance(self.scale, int | float)
            or not self.scale > 0
        ):
            raise ProfileError("scale", "a number > 0", got=repr(self.scale))
        if not isinstance(self.signed, bool):
            raise ProfileError("signed", "true or false", got=repr(self.signed))
        # TOML integers are fine where a number is asked; store one type so equality is simple.
        object.__setattr__(self, "scale", float(self.scale))

    def to_json(self) -> dict[str, Any]:
        return {"epc": self.epc, "size": self.size, "scale": self.scale, "signed": self.signed}

    def encode(self, value: float) -> bytes:
        """The EDT for an item value (raises OverflowError if it does not fit ``size`` bytes)."""
        return round(value / self.scale).to_bytes(self.size, "big", signed=self.signed)

    def decode(self, edt: bytes) -> float:
        if len(edt) != self.size:
            raise DecodeError(f"EPC 0x{self.epc:02X}: expected {self.size} bytes, got {len(edt)}")
        return int.from_bytes(edt, "big", signed=self.signed) * self.scale


# Default EPC mapping of the battery's DRready items. ECHONET Lite Appendix (MRA), class 0x027D:
# 0xEB "Charging electric energy setting" and 0xEC "Discharging electric energy setting" (both in
# W, Release B+), 0xA7 "AC discharge lower limit setting" (%, Release H+). The DR duration has no
# standard property yet, so it sits at 0xF0, the first maker-specific code (0xF0-0xFF), until
# the JEMA standard fixes one.
BATTERY_MAPPING_DEFAULTS = MappingProxyType(
    {
        "target_charge_power_w": EpcMapping(epc=0xEB, size=4),
        "target_discharge_power_w": EpcMapping(epc=0xEC, size=4),
        "dr_duration_s": EpcMapping(epc=0xF0, size=4),
        "backup_reserve_pct": EpcMapping(epc=0xA7, size=1),
    }
)
# Default EPC mapping of the water heaters' DRready items; times are seconds after local midnight.
# Heat-pump water heater (class 0x026B, Release I+): the DR start time is the standard "daytime
# heating shift time 1" (0xCA, whole hours 9-17, 0x00 = cleared), which is also where the device
# reports its plan. Its DR-possible amount is read from the standard 0xCB ("expected electric
# energy at daytime heating shift time 1", Wh for 10:00/13:00/15:00/17:00) unless a profile maps
# ``dr_possible_wh``. The hybrid class (0x02A6) has no energy-shift properties, so its items sit
# in the maker-specific range (0xF0-0xFF) where the reference simulator serves them.
_HOUR = 3600.0
WATER_HEATER_MAPPING_DEFAULTS: Mapping[str, Mapping[str, EpcMapping]] = MappingProxyType(
    {
        DeviceClass.HEATPUMP: MappingProxyType(
            {
                "dr_start_time_s": EpcMapping(epc=0xCA, size=1, scale=_HOUR),
                "planned_start_time_s": EpcMapping(epc=0xCA, size=1, scale=_HOUR),
            }
        ),
        DeviceClass.HYBRID: MappingProxyType(
            {
                "dr_start_time_s": EpcMapping(epc=0xF1, size=2, scale=60.0),
                "planned_start_time_s": EpcMapping(epc=0xF1, size=2, scale=60.0),
                "dr_possible_wh": EpcMapping(epc=0xF2, size=4),
                "aux_heater_on": EpcMapping(epc=0xF3, size=1),
            }
        ),
    }
)
