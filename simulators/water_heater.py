"""The reference water heaters: ECHONET Lite nodes (0x0EF001 + 0x026B01 heat pump "EcoCute", or
0x02A601 hybrid) with the DRready energy-shift logic on top of
:mod:`drready.simulators.water_heater_model`.

DR behaviour, as the water-heater requirements (HP-2.x / HY-2.x) are read by the harness:
- a DR request names a start time T (time of day, device-local): the heat pump sends
  SetC [0xC7 participation = 0x01, 0xCA shift time = hour], the hybrid SetC [0xF1 = minutes]
  (wherever the profile's mapping puts ``dr_start_time_s``);
- T outside every published acceptance window: the whole SetC is refused (SNA), nothing applied;
- T inside: the plan is for the next occurrence of T. Until T the device does not heat except in
  its night window (whose target is lowered by the DR heat); at T it heats the DR-possible amount
  at rated power, then stops; plan and participation clear at T;
- the DR-possible amount for T is 0 outside the windows, else
  min(share x daily heating, rated power x (demand deadline - T)).

Faults (``drready.simulators.faults``) switch parts of this behaviour off through
:class:`WaterHeaterBehaviour`.

One idea past ~500 lines: the ECHONET Lite face of the water heater (properties, staged Sets,
the DR rules); the physics is :mod:`drready.simulators.water_heater_model`, the node's timers
:mod:`drready.simulators.water_heater_runtime`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from drready.simulators.battery import NODE_VERSION, SIMULATOR_MAKER_CODE
from drready.simulators.water_heater_model import (
    DAY_S,
    EVALUATION_DRAW_OFFS,
    HOUR_S,
    INLET_C,
    STORE_C,
    WATER_WH_PER_L_K,
    DrawOff,
    ThermalParams,
    WaterHeaterModel,
    local_midnight,
    next_occurrence,
    tod,
)

from drready.echonet.codec import EOJ, NODE_PROFILE
from drready.echonet.errors import DecodeError
from drready.echonet.mapping import WATER_HEATER_MAPPING_DEFAULTS, EpcMapping
from drready.echonet.node import Node, ObjectBase
from drready.echonet.properties import ClassDef, load_class
from drready.model import DeviceClass

CLASS_CODES = {"heatpump": 0x026B, "hybrid": 0x02A6}
#: ECHONET Lite Appendix release the simulators implement (EPC 0x82: 0x00 0x00 'R' 0x00).
APPENDIX_RELEASE = "R"
#: 0xC8 "standard time to start heating" can only name these hours (24 = midnight).
_STANDARD_START_HOURS = (1, 20, 21, 22, 23, 24)
#: 0xCB/0xCC give amounts for these shift times (hour, MRA element name).
SHIFT_TIMES = ((10, "at1000"), (13, "at1300"), (15, "at1500"), (17, "at1700"))
#: The standard shift time property: raw 0x00 is "cleared" (no plan), 9..17 an hour.
EPC_SHIFT_TIME_1 = 0xCA


def eoj_for(device_class: str) -> EOJ:
    code = CLASS_CODES[device_class]
    return EOJ(code >> 8, code & 0xFF, 0x01)


@dataclass
class WaterHeaterBehaviour:
    """Switches that faults turn; every default is the conforming behaviour."""

    #: The DR share the device computes with (None: the configured, published one).
    dr_share: float | None = None
    accept_outside_window: bool = False
    refuse_window_end: bool = False
    #: DR heating starts at the first acceptance window's start on T's day (not at T).
    heat_at_first_window_start: bool = False
    #: DR heating starts this long before T.
    heat_early_s: float = 0.0
    report_plan: bool = True
    power_stuck_zero: bool = False
    idle_power_w: float = 0.0
    stable_identity: bool = True
    release_letter: str = APPENDIX_RELEASE
    #: The mapped DR-possible amount is share x daily whatever the start time.
    dr_possible_ignores_start: bool = False
    #: The auxiliary gas heater does the DR heating instead of the heat pump.
    aux_does_dr_heating: bool = False
    #: Instantaneous power (0x84) reads this, whatever the heat pump does (None: the model's).
    power_constant_w: float | None = None
    #: The energy counter (0x85) restarts from 0 when a DR heating starts.
    energy_restarts_at_dr: bool = False


@dataclass
class WaterHeaterConfig:
    """A water heater's published figures and identity; defaults are the built-in heat pump.

    Mutable on purpose: a session starts from :meth:`for_class` and overwrites the figures a
    profile declares. Everything derived is computed when the device is built.
    """

    device_class: str = "heatpump"
    tank_litres: float = 370.0
    rated_heating_power_w: float = 1300.0
    cop: float = 3.0
    daily_heating_wh: float = 6000.0
    dr_share: float = 0.6
    acceptance_windows: tuple[tuple[float, float], ...] = ((10 * HOUR_S, 15 * HOUR_S),)
    evaluation_start_s: float = 13 * HOUR_S
    night_heating: tuple[float, float] = (23 * HOUR_S, 7 * HOUR_S)
    demand_deadline_s: float = 19 * HOUR_S
    utc_offset_s: float = 9 * HOUR_S
    draw_offs: tuple[DrawOff, ...] = EVALUATION_DRAW_OFFS
    mapping: Mapping[str, EpcMapping] = field(
        default_factory=lambda: dict(WATER_HEATER_MAPPING_DEFAULTS["heatpump"])
    )
    serial_number: str = "SIM0000101"
    product_code: str = "DRR-HP-SIM"
    maker_code: bytes = SIMULATOR_MAKER_CODE
    boot_count: int = 0
    #: Heat in the tank at start, as a share of the day's heat demand (None: the model's 0.85).
    initial_fill: float | None = None
    #: Mean tank temperature at start (°C), its stored heat above the cold inlet (a seeded
    #: run's); it takes precedence over ``initial_fill``.
    initial_tank_temp_c: float | None = None

    @classmethod
    def for_class(cls, device_class: str) -> WaterHeaterConfig:
        """The built-in profile's device (drready/profile/builtin/heatpump.toml, hybrid.toml)."""
        if device_class == DeviceClass.HEATPUMP:
            return cls()
        if device_class == DeviceClass.HYBRID:
            return cls(
                device_class="hybrid",
                tank_litres=160.0,
                rated_heating_power_w=900.0,
                daily_heating_wh=2600.0,
                acceptance_windows=((9 * HOUR_S, 16.5 * HOUR_S),),
                demand_deadline_s=18 * HOUR_S,
                mapping=dict(WATER_HEATER_MAPPING_DEFAULTS["hybrid"]),
                serial_number="SIM0000201",
                product_code="DRR-HY-SIM",
            )
        raise ValueError(f"not a water-heater class: {device_class!r} (heatpump or hybrid)")

    def thermal_params(self) -> ThermalParams:
        return ThermalParams(
            tank_litres=self.tank_litres,
            rated_heating_power_w=self.rated_heating_power_w,
            cop=self.cop,
            daily_heating_wh=self.daily_heating_wh,
            acceptance_windows=tuple((float(a), float(b)) for a, b in self.acceptance_windows),
            night_heating=(float(self.night_heating[0]), float(self.night_heating[1])),
            demand_deadline_s=self.demand_deadline_s,
            utc_offset_s=self.utc_offset_s,
            draw_offs=self.draw_offs,
            has_aux_heater=self.device_class == DeviceClass.HYBRID,
        )


def _ascii12(text: str) -> bytes:
    # 0x8C / 0x8D are 12 ASCII bytes, space padded (ECHONET Lite Appendix, superclass).
    return text.encode("ascii")[:12].ljust(12, b" ")


def _no_plan_value(item: EpcMapping) -> float:
    """The item value that means "no plan": raw 0 on the standard 0xCA, else the largest raw."""
    if item.epc == EPC_SHIFT_TIME_1:
        return 0.0
    bits = 8 * item.size - (1 if item.signed else 0)
    return float((1 << bits) - 1) * item.scale


@dataclass
class _Staged:
    """What one request asks for; applied by :meth:`WaterHeaterDevice.commit` only if every
    property of the request was accepted."""

    refused: bool = False
    participation: bool | None = None
    start_s: float | None = None
    cancel: bool = False
    settings: list[Callable[[], None]] = field(default_factory=list)


class WaterHeaterDevice:
    """One water-heater object plus its node profile. Time is given by the caller (``now``)."""

    def __init__(
        self,
        config: WaterHeaterConfig,
        now: Callable[[], float],
        behaviour: WaterHeaterBehaviour | None = None,
    ) -> None:
        if config.device_class not in CLASS_CODES:
            raise ValueError(f"not a water-heater class: {config.device_class!r}")
        self.config = config
        self.behaviour = behaviour or WaterHeaterBehaviour()
        self._now = now
        self.params = config.thermal_params()
        self.classdef: ClassDef = load_class(CLASS_CODES[config.device_class])
        initial = None
        if config.initial_fill is not None:
            initial = config.initial_fill * self.params.daily_demand_wh
        if config.initial_tank_temp_c is not None:
            litres = self.params.tank_litres
            initial = litres * WATER_WH_PER_L_K * max(0.0, config.initial_tank_temp_c - INLET_C)
        self.model = WaterHeaterModel(self.params, now(), initial)
        self.installation_location = b"\x00"
        self.auto_heating = "auto"
        self.daytime_reheating = True
        self.solar_linkage = "modeOff"
        self._staged = _Staged()
        self.log: list[str] = []
        self.heater = ObjectBase(eoj_for(config.device_class))
        self.node_profile = ObjectBase(NODE_PROFILE)
        self._serve()
        self.node = Node(self.node_profile, [self.heater])

    @property
    def is_hybrid(self) -> bool:
        return self.config.device_class == DeviceClass.HYBRID

    # -- time ----------------------------------------------------------------------------------
    def now(self) -> float:
        return self._now()

    def local_datetime(self) -> datetime:
        """The device's local wall-clock time (naive)."""
        local = datetime.fromtimestamp(self._now(), UTC) + timedelta(
            seconds=self.config.utc_offset_s
        )
        return local.replace(tzinfo=None)

    def advance(self, at: float | None = None) -> WaterHeaterModel:
        """Bring the model up to now (or to ``at``, a due event, if that is later)."""
        now = self._now()
        self.model.advance(now if at is None else max(now, at))
        return self.model

    def next_event(self) -> float | None:
        return self.model.next_event()

    # -- identity ------------------------------------------------------------------------------
    def identification_number(self) -> bytes:
        seed = self.config.serial_number
        if not self.behaviour.stable_identity:
            seed += f"/boot{self.config.boot_count}"
        unique = hashlib.sha256(seed.encode()).digest()[:13]
        # 0x83: 0xFE, then the 3-byte maker code, then 13 bytes unique to the unit.
        return b"\xfe" + self.config.maker_code + unique

    def serial_number(self) -> str:
        if self.behaviour.stable_identity:
            return self.config.serial_number
        return f"{self.config.serial_number[:8]}{self.config.boot_count:04d}"

    # -- DR figures ------------------------------------------------------------------------------
    @property
    def share(self) -> float:
        share = self.behaviour.dr_share
        return self.config.dr_share if share is None else share

    def dr_possible_wh(self, start_s: float) -> float:
        """The DR-possible amount the device computes for a start at ``start_s`` (tod)."""
        return self.params.dr_possible_wh(start_s, self.share)

    def planned_start_s(self) -> float | None:
        """The start time of the pending plan (tod seconds), None when there is none."""
        plan_at = self.advance().plan_at
        if plan_at is None:
            return None
        return tod(plan_at, self.config.utc_offset_s)

    def reported_dr_possible_wh(self) -> float:
        """The mapped single DR-possible amount: for the planned start, else the evaluation's."""
        if self.behaviour.dr_possible_ignores_start:
            return self.share * self.config.daily_heating_wh
        planned = self.planned_start_s()
        start = self.config.evaluation_start_s if planned is None else planned
        return self.dr_possible_wh(start)

    def accepts_start(self, start_s: float) -> bool:
        if self.behaviour.accept_outside_window:
            return 0 <= start_s < DAY_S
        for first, last in self.config.acceptance_windows:
            if first <= start_s <= last:
                return not (self.behaviour.refuse_window_end and start_s == last)
        return False

    # -- readings ----------------------------------------------------------------------------------
    def power_reading_w(self) -> int:
        if self.behaviour.power_stuck_zero:
            return 0
        if self.behaviour.power_constant_w is not None:
            return round(self.behaviour.power_constant_w)
        model = self.advance()
        if not model.heating:
            return round(self.behaviour.idle_power_w)
        return round(model.power_w)

    def energy_reading_kwh(self) -> float:
        # 0x85 counts in 0.001 kWh steps: floor, so the counter never runs ahead of the meter.
        model = self.advance()
        counted = model.electric_wh
        if self.behaviour.energy_restarts_at_dr and model.electric_at_dr_start_wh is not None:
            counted -= model.electric_at_dr_start_wh
        return math.floor(counted) / 1000.0

    def remaining_water_l(self) -> int:
        # Litres of hot water at the storage temperature, at most the tank.
        litres = self.advance().q_wh / (WATER_WH_PER_L_K * (STORE_C - INLET_C))
        return min(round(self.config.tank_litres), max(0, math.floor(litres)))

    def standard_start_hour(self) -> int:
        hour = round(self.config.night_heating[0] / HOUR_S) % 24 or 24
        return hour if hour in _STANDARD_START_HOURS else 23

    def shift_amounts(self) -> dict[str, int]:
        return {name: round(self.dr_possible_wh(hour * HOUR_S)) for hour, name in SHIFT_TIMES}

    def shift_rates(self) -> dict[str, int]:
        # 0xCC: electricity per hour while shifted heating runs (rated power, Wh/h).
        rated = round(self.config.rated_heating_power_w)
        return {
            name: rated if self.dr_possible_wh(hour * HOUR_S) > 0 else 0
            for hour, name in SHIFT_TIMES
        }

    def shift_hour(self) -> int:
        """0xCA as the standard reads it: the planned hour (9..17) or 0 (cleared)."""
        planned = self.planned_start_s() if self.behaviour.report_plan else None
        if planned is None or planned % HOUR_S:
            return 0
        return int(planned // HOUR_S)

    # -- property table ----------------------------------------------------------------------------
    def _enc(self, epc: int, value: object) -> bytes:
        return self.classdef.properties[epc].encode(value)

    def _getter(self, epc: int, value: Callable[[], object]) -> Callable[[], bytes]:
        return lambda: self._enc(epc, value())

    def _decode(self, epc: int, edt: bytes) -> object | None:
        try:
            return self.classdef.properties[epc].decode(edt)
        except (DecodeError, ValueError):
            return None

    def _setting(self, epc: int, allowed: tuple[str, ...], apply: Callable[[str], None]) -> None:
        """Serve a settable state property whose value is one of ``allowed`` (MRA names)."""

        def setter(edt: bytes) -> bool:
            value = self._decode(epc, edt)
            if not isinstance(value, str) or value not in allowed:
                return False
            self._staged.settings.append(lambda: apply(value))
            return True

        self._serve_set(epc, setter)

    def _serve_set(self, epc: int, setter: Callable[[bytes], bool]) -> None:
        slot = self.heater.slots[epc]
        self.heater.serve(epc, slot.getter, self._guard(setter), announce=slot.announce)

    def _guard(self, setter: Callable[[bytes], bool]) -> Callable[[bytes], bool]:
        def guarded(edt: bytes) -> bool:
            ok = setter(edt)
            if not ok:
                self._staged.refused = True
            return ok

        return guarded

    def _serve(self) -> None:
        h = self.heater
        get = self._getter
        h.serve(0x80, lambda: b"\x30", announce=True)  # operation status: ON
        h.serve(0x81, lambda: self.installation_location, announce=True)
        self._serve_set(0x81, self._set_location)
        h.serve(0x82, lambda: b"\x00\x00" + self.behaviour.release_letter.encode() + b"\x00")
        h.serve(0x83, self.identification_number)
        h.serve(0x84, get(0x84, self.power_reading_w), announce=True)
        h.serve(0x85, get(0x85, self.energy_reading_kwh))
        h.serve(0x88, lambda: b"\x42", announce=True)  # fault status: no fault
        h.serve(0x8A, lambda: self.config.maker_code)
        h.serve(0x8C, lambda: _ascii12(self.config.product_code))
        h.serve(0x8D, lambda: _ascii12(self.serial_number()))
        # Current time and date: the device's own clock, in local time.
        h.serve(
            0x97, get(0x97, lambda: self.local_datetime().time().replace(second=0, microsecond=0))
        )
        h.serve(0x98, get(0x98, lambda: self.local_datetime().date()))
        h.serve(0xB0, get(0xB0, lambda: self.auto_heating), announce=True)
        self._setting(
            0xB0, ("auto", "manualHeating", "manualNoHeating", "manualNotHeating"), self._set_auto
        )
        h.serve(
            0xB2, get(0xB2, lambda: "true" if self.advance().heating else "false"), announce=True
        )
        h.serve(
            0xC3, get(0xC3, lambda: "true" if self.advance().supplying else "false"), announce=True
        )
        h.serve(0xE1, get(0xE1, self.remaining_water_l))
        h.serve(0xE2, get(0xE2, lambda: round(self.config.tank_litres)))
        if self.is_hybrid:
            h.serve(0xB8, get(0xB8, lambda: self.solar_linkage), announce=True)
            self._setting(
                0xB8,
                (
                    "modeOff",
                    "householdConsumption",
                    "prioritizingElectricitySales",
                    "economicEfficiency",
                ),
                self._set_solar_linkage,
            )
        else:
            self._serve_energy_shift()
        self._serve_items()
        n = self.node_profile
        code = CLASS_CODES[self.config.device_class]
        n.serve(0x80, lambda: b"\x30")
        n.serve(0x82, lambda: NODE_VERSION)
        n.serve(0x83, self.identification_number)
        n.serve(0x8A, lambda: self.config.maker_code)
        n.serve(0xD3, lambda: (1).to_bytes(3, "big"))  # number of self-node instances
        n.serve(0xD4, lambda: (2).to_bytes(2, "big"))  # classes, node profile included
        n.serve(0xD7, lambda: b"\x01" + code.to_bytes(2, "big"))  # self-node class list S

    def _serve_energy_shift(self) -> None:
        """The heat pump's standard energy-shift properties (0x026B, all Get-required)."""
        h = self.heater
        get = self._getter
        h.serve(0xC0, get(0xC0, lambda: "true" if self.daytime_reheating else "false"))
        self._setting(0xC0, ("true", "false"), self._set_daytime_reheating)
        h.serve(0xC7, get(0xC7, lambda: "true" if self.advance().participation else "false"))
        self._serve_set(0xC7, self._set_participation)
        h.serve(0xC8, get(0xC8, self.standard_start_hour))
        h.serve(0xC9, get(0xC9, lambda: 1))  # one energy shift a day
        h.serve(EPC_SHIFT_TIME_1, lambda: bytes((self.shift_hour(),)))
        self._serve_set(EPC_SHIFT_TIME_1, self._set_shift_hour)
        h.serve(0xCB, get(0xCB, self.shift_amounts))
        h.serve(0xCC, get(0xCC, self.shift_rates))
        # Shift time 2 is not used (one shift a day): it stays cleared, and only that is accepted.
        h.serve(0xCD, lambda: b"\x00")
        self._serve_set(0xCD, lambda edt: edt == b"\x00")
        h.serve(0xCE, get(0xCE, lambda: {"at1300": 0, "at1500": 0, "at1700": 0}))
        h.serve(0xCF, get(0xCF, lambda: {"at1300": 0, "at1500": 0, "at1700": 0}))

    def _serve_items(self) -> None:
        """The DRready items, wherever the mapping puts them (like the battery's)."""
        mapping = self.config.mapping
        h = self.heater
        start = mapping.get("dr_start_time_s")
        planned = mapping.get("planned_start_time_s")
        if planned is not None:
            h.serve(planned.epc, self._plan_getter(planned))
        if start is not None:
            setter = self._guard(self._start_setter(start))
            h.serve(start.epc, self._plan_getter(start), setter)
        possible = mapping.get("dr_possible_wh")
        if possible is not None:
            h.serve(possible.epc, lambda: possible.encode(self.reported_dr_possible_wh()))
        aux = mapping.get("aux_heater_on")
        if aux is not None:
            h.serve(
                aux.epc, lambda: aux.encode(1.0 if self.advance().aux_on else 0.0), announce=True
            )

    def _plan_getter(self, item: EpcMapping) -> Callable[[], bytes]:
        def read() -> bytes:
            planned = self.planned_start_s() if self.behaviour.report_plan else None
            return item.encode(_no_plan_value(item) if planned is None else planned)

        return read

    # -- setters stage; commit() applies a whole request at once -------------------------------
    def _set_location(self, edt: bytes) -> bool:
        if len(edt) == 1 or (len(edt) == 17 and edt[0] == 0x01):
            self._staged.settings.append(lambda: setattr(self, "installation_location", edt))
            return True
        return False

    def _set_auto(self, value: str) -> None:
        self.auto_heating = value

    def _set_solar_linkage(self, value: str) -> None:
        self.solar_linkage = value

    def _set_daytime_reheating(self, value: str) -> None:
        self.daytime_reheating = value == "true"
        self.model.permit_top_up(self.daytime_reheating)

    def _set_participation(self, edt: bytes) -> bool:
        value = self._decode(0xC7, edt)
        if value not in ("true", "false"):
            return False
        self._staged.participation = value == "true"
        return True

    def _set_shift_hour(self, edt: bytes) -> bool:
        if len(edt) != 1:
            return False
        return self._stage_start(edt[0] * HOUR_S, cleared=edt[0] == 0)

    def _start_setter(self, item: EpcMapping) -> Callable[[bytes], bool]:
        def setter(edt: bytes) -> bool:
            try:
                value = item.decode(edt)
            except (DecodeError, ValueError):
                return False
            cleared = (item.epc == EPC_SHIFT_TIME_1 and value == 0) or value >= DAY_S
            return self._stage_start(value, cleared=cleared)

        return setter

    def _stage_start(self, start_s: float, *, cleared: bool) -> bool:
        if cleared:
            self._staged.cancel = True
            return True
        if start_s < 0 or not self.accepts_start(start_s):
            return False  # outside every acceptance window: the request is refused
        self._staged.start_s = start_s
        return True

    def contact(self) -> None:
        """Anything arrived from the gateway (water heaters have no comms-loss rule)."""

    def commit(self, *, refused: bool = False) -> bool:
        """Apply what one request staged, only if all of it was accepted (``refused``: the node
        already refused part of it). Returns False if the request must be refused as a whole."""
        staged, self._staged = self._staged, _Staged()
        if staged.refused or refused:
            return True  # answered SNA already: nothing of the request is applied
        model = self.advance()
        participation = model.participation
        if staged.participation is not None:
            participation = staged.participation
        needs_participation = not self.is_hybrid and staged.start_s is not None
        if needs_participation and not participation:
            self.log.append(f"{model.time:.0f} shift time without participation: refused")
            return False
        for apply in staged.settings:
            apply()
        if staged.participation is not None:
            model.set_participation(staged.participation)
        if staged.cancel:
            model.cancel_plan()
        if staged.start_s is not None:
            self._plan(staged.start_s)
        return True

    def _plan(self, start_s: float) -> None:
        model = self.model
        now = model.time
        offset = self.config.utc_offset_s
        plan_at = next_occurrence(now, start_s, offset)
        heat_at = plan_at
        b = self.behaviour
        if b.heat_at_first_window_start:
            first = min(a for a, _ in self.config.acceptance_windows)
            heat_at = max(now, local_midnight(plan_at, offset) + first)
        elif b.heat_early_s:
            heat_at = max(now, plan_at - b.heat_early_s)
        amount = self.dr_possible_wh(start_s)
        model.set_plan(plan_at, heat_at, amount, by_aux=b.aux_does_dr_heating)
        self.log.append(f"{now:.0f} DR plan for {start_s / HOUR_S:.2f} h: {amount:.0f} Wh")

    def restart(self) -> None:
        """Power cycle: the tank keeps its heat and the plan is kept (non-volatile); identity
        must survive."""
        self.advance()
        self.config.boot_count += 1
