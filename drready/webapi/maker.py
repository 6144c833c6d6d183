"""Maker-specific ECHONET Lite properties on the Web API: the names and values both ends use.

The Machine Readable Appendix names every standard property (``operationMode``); a property in
the maker-specific range (EPC 0xF0-0xFF) has no MRA ``shortName``. The DRready items a profile
maps there (``[echonet.mapping]``: the battery's DR duration at 0xF0, the hybrid water heater's
start time, DR-possible amount and auxiliary heater at 0xF1-0xF3) still have to be read and
written through the maker's cloud, so the harness and the reference cloud agree on a convention:

* **name**: the profile's item name in lowerCamelCase (``dr_duration_s`` -> ``drDurationS``),
  which keeps the unit suffix and can never collide with an MRA name (the MRA has no names that
  end in a unit letter run like ``S`` / ``Wh``); when two items share an EPC (the hybrid's start
  time and its plan, both 0xF1), the item whose name sorts first names it (``drStartTimeS``);
* **value**: a JSON number in the item's unit, ``raw x scale`` as the profile declares it (the
  same codec the ECHONET Lite binding decodes the EDT with); an integer when it is whole.

A maker whose cloud uses other names declares the profile's item names accordingly; a standard
EPC in the mapping keeps its MRA name and JSON shape.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drready.webapi.values import ValueConversionError

if TYPE_CHECKING:
    from drready.echonet.mapping import EpcMapping

__all__ = ["MakerProperty", "maker_properties", "maker_property_name"]


def maker_property_name(item_name: str) -> str:
    """The Web API name of a profile item, in lowerCamelCase (``dr_possible_wh`` ->
    ``drPossibleWh``)."""
    head, *rest = [part for part in item_name.split("_") if part]
    return head.lower() + "".join(part[:1].upper() + part[1:].lower() for part in rest)


@dataclass(frozen=True)
class MakerProperty:
    """One maker-specific EPC as the Web API carries it."""

    name: str
    item: EpcMapping

    @property
    def epc(self) -> int:
        return self.item.epc

    def to_json(self, edt: bytes) -> int | float:
        try:
            value = self.item.decode(edt)
        except ValueError as exc:
            raise ValueConversionError(f"{self.name}: {exc}") from exc
        return int(value) if float(value).is_integer() else value

    def to_edt(self, value: Any) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueConversionError(f"{self.name}: expected a number, got {value!r}")
        try:
            return self.item.encode(float(value))
        except (OverflowError, ValueError) as exc:
            raise ValueConversionError(f"{self.name}: {value!r} does not fit: {exc}") from exc

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the value: a number within what ``size`` bytes can hold."""
        bits = 8 * self.item.size
        if self.item.signed:
            low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        else:
            low, high = 0, 2**bits - 1
        scale = self.item.scale
        whole = float(scale).is_integer()
        return {
            "type": "integer" if whole else "number",
            "minimum": int(low * scale) if whole else low * scale,
            "maximum": int(high * scale) if whole else high * scale,
        }


def maker_properties(
    mapping: Mapping[str, EpcMapping], standard_epcs: Collection[int]
) -> dict[int, MakerProperty]:
    """EPC -> its Web API property, for the mapped items on EPCs the MRA class does not define."""
    names: dict[int, list[str]] = {}
    for item_name, item in mapping.items():
        if item.epc not in standard_epcs:
            names.setdefault(item.epc, []).append(item_name)
    found = {}
    for epc, item_names in names.items():
        first = min(item_names)
        found[epc] = MakerProperty(maker_property_name(first), mapping[first])
    return found
