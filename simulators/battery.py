"""The reference home storage battery: an ECHONET Lite node (0x0EF001 + 0x027D01) with DR logic.

DR behaviour, as REQUIREMENTS.md reads BAT-2.x:
- a SetC carrying a target power (0xEB charge / 0xEC discharge, W) with 0xDA charging/discharging is
  a DR request; the optional maker-specific duration (0xF0, s) in the same frame ends it by itself;
- a SetC of 0xDA alone is the user choosing the device's own mode;
- when DR ends (duration over) the device returns to the mode it had before the DR;
- when nothing has come from the gateway for the comms-loss timeout during DR, it returns to its own
  mode too.

Own modes (0xDA written alone): "standby" holds 0 W, "charging" and "discharging" run at the rated
power, and "auto" does self-consumption (:mod:`drready.simulators.battery_household`): it charges
from the PV surplus around midday and discharges into the house load in the evening and at night,
by the device's local time of day (UTC+9 unless configured), so a run finds it at rest only when
it is full, at its reserve, or at the moments the surplus crosses zero. The simulated runs give
the battery its household; a bare :class:`BatteryConfig` (``household = None``) makes "auto"
hold 0 W, which the simulator's own unit tests rely on.

Faults (``drready.simulators.faults``) switch parts of this behaviour off through
:class:`Behaviour`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from drready.simulators.battery_household import HOUR_S, Household, self_consumption
from drready.simulators.battery_model import BatteryModel, BatteryParams

from drready.echonet.codec import EOJ, NODE_PROFILE
from drready.echonet.mapping import BATTERY_MAPPING_DEFAULTS, EpcMapping
from drready.echonet.node import Node, ObjectBase
from drready.echonet.properties import ClassDef, load_class

BATTERY_EOJ = EOJ(0x02, 0x7D, 0x01)
#: ECHONET Lite Appendix release the simulator implements (EPC 0x82: 0x00 0x00 'R' 0x00).
APPENDIX_RELEASE = "R"
#: Node profile EPC 0x82: ECHONET Lite Spec. version 1.14, specified message format only.
NODE_VERSION = bytes((0x01, 0x0E, 0x01, 0x00))
#: 0xFFFFFF is not assigned to any maker, so a simulator never impersonates a real product.
SIMULATOR_MAKER_CODE = bytes.fromhex("FFFFFF")

DR_MODES = ("charging", "discharging")
OWN_MODES = ("charging", "discharging", "standby", "auto")


@dataclass
class Behaviour:
    """Switches that faults turn; every default is the conforming behaviour."""

    ignore_target_value: bool = False
    clamp_to_rating: bool = True
    end_dr_on_duration: bool = True
    restore_mode_on_duration: bool = True
    restore_on_comms_loss: bool = True
    energy_counter_scale: float = 1.0
    energy_counter_rollback_wh: float = 0.0
    dischargeable_respects_reserve: bool = True
    discharge_respects_reserve: bool = True
    report_reserve_changes: bool = True
    stable_identity: bool = True
    #: True: the identification number (0x83) is derived from the product code, not the
    #: serial number: every unit of the model reports the same one.
    identification_from_product: bool = False
    power_reading_sign: int = 1
    refuse_updates_during_dr: bool = False
    release_letter: str = APPENDIX_RELEASE
    serve_serial_number: bool = True
    freeze_chargeable: bool = False
    #: False: every write is stored and read back, but no power ever flows (own mode or DR).
    move_power: bool = True
    #: False: a mode written alone while a DR runs is answered Set_Res and ignored.
    release_ends_dr: bool = True
    #: Not None: 0xD3 reads this constant, whatever flows.
    power_reading_stuck_w: float | None = None
    #: True: the cumulative counters (0xA8/0xA9) restart from 0 when a DR discharge starts.
    counters_reset_at_dr_start: bool = False


@dataclass
class DrState:
    mode: str  # as requested: a 0 W charging request is still charging
    target_w: float
    pre_mode: str
    ends_at: float | None


@dataclass
class _Staged:
    charge_w: float | None = None
    discharge_w: float | None = None
    duration_s: float | None = None
    mode: str | None = None
    reserve_pct: float | None = None


@dataclass
class BatteryConfig:
    params: BatteryParams = field(default_factory=BatteryParams)
    serial_number: str = "SIM0000001"
    product_code: str = "DRR-BAT-SIM"
    maker_code: bytes = SIMULATOR_MAKER_CODE
    #: Where the DRready items live; a profile's mapping makes the simulator that maker's device.
    mapping: Mapping[str, EpcMapping] = field(
        default_factory=lambda: dict(BATTERY_MAPPING_DEFAULTS)
    )
    own_mode: str = "auto"
    comms_loss_timeout_s: float = 1800.0
    boot_count: int = 0
    #: What own mode "auto" follows (self-consumption); None: "auto" holds 0 W. The simulated
    #: runs and ``drready simulate`` give it a :class:`Household`
    #: (:func:`drready.simulators.devices.battery_config`).
    household: Household | None = None
    #: The device's local time zone (0x97/0x98 and the household's day): Japan, UTC+9.
    utc_offset_s: float = 9 * HOUR_S


def _ascii12(text: str) -> bytes:
    # 0x8C / 0x8D are 12 ASCII bytes, space padded (ECHONET Lite Appendix, superclass).
    return text.encode("ascii")[:12].ljust(12, b" ")


class BatteryDevice:
    """One battery object plus its node profile. Time is given by the caller (``now``)."""

    def __init__(
        self,
        config: BatteryConfig,
        now: Callable[[], float],
        behaviour: Behaviour | None = None,
        *,
        epoch_at_zero_s: float = 0.0,
    ) -> None:
        self.config = config
        self.behaviour = behaviour or Behaviour()
        self._now = now
        #: The device's wall clock (seconds since the epoch) when ``now()`` reads 0.
        self.epoch_at_zero_s = epoch_at_zero_s
        #: What the counters (0xA8/0xA9) subtract from the energy that flowed (a fault's reset).
        self.counter_origin_wh = (0.0, 0.0)
        self.classdef: ClassDef = load_class(0x027D)
        self.model = BatteryModel(config.params, now())
        self.own_mode = config.own_mode
        self.dr: DrState | None = None
        self.charge_setting_w = 0.0
        self.discharge_setting_w = 0.0
        self.duration_setting_s = 0.0
        self.reserve_pct = config.params.reserve_pct
        self.reported_reserve_pct = config.params.reserve_pct
        self.last_contact = now()
        self._staged = _Staged()
        self.log: list[str] = []
        self.battery = ObjectBase(BATTERY_EOJ)
        self.node_profile = ObjectBase(NODE_PROFILE)
        self._serve()
        self.node = Node(self.node_profile, [self.battery])
        self._apply_setpoint()

    # -- identity --------------------------------------------------------------------------
    def identification_number(self) -> bytes:
        seed = self.config.serial_number
        if self.behaviour.identification_from_product:
            seed = self.config.product_code
        if not self.behaviour.stable_identity:
            seed += f"/boot{self.config.boot_count}"
        unique = hashlib.sha256(seed.encode()).digest()[:13]
        # 0x83: 0xFE, then the 3-byte maker code, then 13 bytes unique to the unit.
        return b"\xfe" + self.config.maker_code + unique

    def serial_number(self) -> str:
        if self.behaviour.stable_identity:
            return self.config.serial_number
        return f"{self.config.serial_number[:8]}{self.config.boot_count:04d}"

    # -- property table --------------------------------------------------------------------
    def _enc(self, epc: int, value: object) -> bytes:
        return self.classdef.properties[epc].encode(value)

    def _serve(self) -> None:
        b = self.battery
        p = self.config.params
        get = self._getter
        b.serve(0x80, lambda: b"\x30", announce=True)  # operation status: ON
        b.serve(0x81, lambda: b"\x00")  # installation location: not set
        b.serve(0x82, lambda: b"\x00\x00" + self.behaviour.release_letter.encode() + b"\x00")
        b.serve(0x83, self.identification_number)
        b.serve(0x88, lambda: b"\x42", announce=True)  # fault status: no fault
        b.serve(0x89, get(0x89, lambda: "noFault"))
        # Current time and date: the device's local clock (virtual time in simulated runs).
        b.serve(0x97, get(0x97, lambda: self.local_datetime().time().replace(second=0)))
        b.serve(0x98, get(0x98, lambda: self.local_datetime().date()))
        b.serve(0x8A, lambda: self.config.maker_code)
        b.serve(0x8C, lambda: _ascii12(self.config.product_code))
        if self.behaviour.serve_serial_number:
            b.serve(0x8D, lambda: _ascii12(self.serial_number()))
        b.serve(0xA0, get(0xA0, lambda: round(p.capacity_wh)))
        b.serve(0xA1, get(0xA1, lambda: round(p.capacity_wh)))
        b.serve(0xA2, get(0xA2, lambda: round(p.capacity_wh)))
        b.serve(0xA3, get(0xA3, lambda: round(p.capacity_wh)))
        b.serve(0xA4, get(0xA4, self._chargeable_wh))
        b.serve(0xA5, get(0xA5, self._dischargeable_wh))
        b.serve(0xA8, get(0xA8, lambda: self._counter(self._advance().charged_wh, 0)))
        b.serve(0xA9, get(0xA9, lambda: self._counter(self._advance().discharged_wh, 1)))
        b.serve(0xAA, get(0xAA, lambda: "noSetting"), lambda edt: len(edt) == 4)
        b.serve(0xAB, get(0xAB, lambda: "noSetting"), lambda edt: len(edt) == 4)
        b.serve(0xC1, get(0xC1, lambda: "designatedPower"))
        b.serve(0xC2, get(0xC2, lambda: "designatedPower"))
        b.serve(
            0xC8,
            get(
                0xC8, lambda: {"minValue": round(p.min_charge_w), "maxValue": round(p.max_charge_w)}
            ),
        )
        b.serve(
            0xC9,
            get(
                0xC9,
                lambda: {
                    "minValue": round(p.min_discharge_w),
                    "maxValue": round(p.max_discharge_w),
                },
            ),
        )
        b.serve(0xCF, get(0xCF, self.actual_mode), announce=True)
        b.serve(0xD0, get(0xD0, lambda: round(p.capacity_wh)))
        b.serve(0xD3, get(0xD3, self._power_reading))
        b.serve(0xDA, get(0xDA, self.mode_setting), self._set_mode, announce=True)
        b.serve(0xDB, get(0xDB, lambda: "reversePowerFlowNotAcceptable"))
        b.serve(0xE2, get(0xE2, lambda: round(self._advance().soc_wh)))
        b.serve(0xE4, get(0xE4, lambda: round(self._advance().soc_pct)))
        b.serve(0xE6, lambda: b"\x04")  # lithium ion
        # The DRready items, wherever the mapping puts them (defaults: 0xEB, 0xEC, 0xF0, 0xA7).
        self._serve_item("target_charge_power_w", lambda: self.charge_setting_w, "charge_w")
        self._serve_item(
            "target_discharge_power_w", lambda: self.discharge_setting_w, "discharge_w"
        )
        self._serve_item("dr_duration_s", lambda: self.duration_setting_s, "duration_s")
        self._serve_item(
            "backup_reserve_pct",
            lambda: self.reported_reserve_pct,
            "reserve_pct",
            valid=lambda pct: 0 <= pct <= 100,  # a percentage (Appendix 0xA7: 0..100 %)
        )
        n = self.node_profile
        n.serve(0x80, lambda: b"\x30")
        n.serve(0x82, lambda: NODE_VERSION)
        n.serve(0x83, self.identification_number)
        n.serve(0x8A, lambda: self.config.maker_code)
        n.serve(0xD3, lambda: (1).to_bytes(3, "big"))  # number of self-node instances
        n.serve(0xD4, lambda: (2).to_bytes(2, "big"))  # classes, node profile included
        n.serve(0xD7, lambda: b"\x01\x02\x7d")  # self-node class list S

    def _getter(self, epc: int, value: Callable[[], object]) -> Callable[[], bytes]:
        return lambda: self._enc(epc, value())

    def _advance(self) -> BatteryModel:
        self.model.advance(self._now())
        return self.model

    def advance(self) -> BatteryModel:
        """The physics advanced to now (what an independent meter measures)."""
        return self._advance()

    def true_power_w(self) -> float:
        """The power that really flows, model sign (+ charging)."""
        return self._advance().power_w

    def _power_reading(self) -> int:
        power = self._advance().power_w
        if self.behaviour.power_reading_stuck_w is not None:
            return round(self.behaviour.power_reading_stuck_w)
        return round(power * self.behaviour.power_reading_sign)

    # -- the local clock -------------------------------------------------------------------
    def epoch_s(self) -> float:
        """The device's wall clock: seconds since the epoch (UTC)."""
        return self.epoch_at_zero_s + self._now()

    def local_datetime(self) -> datetime:
        """The device's local time (naive), in its zone (``config.utc_offset_s``)."""
        local = datetime.fromtimestamp(self.epoch_s(), UTC) + timedelta(
            seconds=self.config.utc_offset_s
        )
        return local.replace(tzinfo=None, microsecond=0)

    def _counter(self, energy_wh: float, which: int) -> float:
        energy_wh = max(0.0, energy_wh - self.counter_origin_wh[which])
        scaled = energy_wh * self.behaviour.energy_counter_scale
        rollback = self.behaviour.energy_counter_rollback_wh
        if rollback and int(self._now() // 600) % 2:
            scaled = max(0.0, scaled - rollback)  # goes back every other ten minutes
        # 0xA8/0xA9 count in 0.001 kWh steps: floor so the counter never runs ahead of the meter.
        return int(scaled) / 1000.0

    def _chargeable_wh(self) -> int:
        m = self._advance()
        if self.behaviour.freeze_chargeable:
            return round(m.params.capacity_wh / 2)
        return max(0, round(m.params.capacity_wh - m.soc_wh))

    def _dischargeable_wh(self) -> int:
        m = self._advance()
        reserve_wh = m.params.capacity_wh * self.reserve_pct / 100.0
        floor = reserve_wh if self.behaviour.dischargeable_respects_reserve else 0.0
        return max(0, round(m.soc_wh - floor))

    # -- modes -------------------------------------------------------------------------------
    def mode_setting(self) -> str:
        if self.dr is not None:
            return self.dr.mode
        return self.own_mode

    def actual_mode(self) -> str:
        power = self._advance().power_w
        if power > 0:
            return "charging"
        if power < 0:
            return "discharging"
        return "auto" if self.mode_setting() == "auto" else "standby"

    # -- setters stage; commit() applies a whole request at once -----------------------------
    def _decode(self, epc: int, edt: bytes) -> object | None:
        try:
            return self.classdef.properties[epc].decode(edt)
        except ValueError:
            return None

    def _set_mode(self, edt: bytes) -> bool:
        mode = self._decode(0xDA, edt)
        if mode not in OWN_MODES:
            return False
        self._staged.mode = str(mode)
        return True

    def _serve_item(
        self,
        name: str,
        value: Callable[[], float],
        staged_field: str,
        valid: Callable[[float], bool] = lambda value: value >= 0,
    ) -> None:
        item = self.config.mapping[name]

        def setter(edt: bytes) -> bool:
            try:
                decoded = item.decode(edt)
            except ValueError:
                return False
            if not valid(decoded):
                return False
            setattr(self._staged, staged_field, decoded)
            return True

        self.battery.serve(item.epc, lambda: item.encode(value()), setter)

    def contact(self) -> None:
        """Anything arrived from the gateway: the link is alive."""
        self.last_contact = self._now()

    def commit(self) -> bool:
        """Apply what one request staged. Returns False if a DR update must be refused."""
        staged, self._staged = self._staged, _Staged()
        now = self._now()
        self.model.advance(now)
        if staged.reserve_pct is not None:
            self.reserve_pct = staged.reserve_pct
            if self.behaviour.report_reserve_changes:
                self.reported_reserve_pct = staged.reserve_pct
        if staged.duration_s is not None:
            self.duration_setting_s = staged.duration_s
        if staged.charge_w is not None:
            self.charge_setting_w = staged.charge_w
        if staged.discharge_w is not None:
            self.discharge_setting_w = staged.discharge_w
        power_given = staged.charge_w is not None or staged.discharge_w is not None
        if staged.mode in DR_MODES and power_given:
            if self.dr is not None and self.behaviour.refuse_updates_during_dr:
                return False
            target = (
                self.charge_setting_w if staged.mode == "charging" else -self.discharge_setting_w
            )
            duration = staged.duration_s
            ends_at = now + duration if duration else None
            pre_mode = self.dr.pre_mode if self.dr is not None else self.own_mode
            if self.behaviour.counters_reset_at_dr_start and staged.mode == "discharging":
                self.counter_origin_wh = (self.model.charged_wh, self.model.discharged_wh)
            self.dr = DrState(staged.mode, target, pre_mode, ends_at)
            self.log.append(f"{now:.0f} DR start target={target:.0f} W until={ends_at}")
        elif staged.mode is not None and self.dr is not None and not self.behaviour.release_ends_dr:
            self.log.append(f"{now:.0f} mode {staged.mode} written during DR: ignored")
        elif staged.mode is not None:
            # The user picks a mode: that is the device's own mode from now on.
            self.own_mode = staged.mode
            if self.dr is not None:
                self.log.append(f"{now:.0f} DR ended by a mode change to {staged.mode}")
            self.dr = None
        self._apply_setpoint()
        return True

    def _apply_setpoint(self) -> None:
        p = self.config.params
        m = self.model
        m.floor_pct = self.reserve_pct if self.behaviour.discharge_respects_reserve else 0.0
        m.schedule = None
        if not self.behaviour.move_power:
            m.setpoint_w = 0.0
        elif self.dr is not None:
            target = self.dr.target_w
            if self.behaviour.ignore_target_value:
                target = p.max_charge_w if target > 0 else -p.max_discharge_w
            if self.behaviour.clamp_to_rating:
                target = (
                    min(target, p.max_charge_w) if target > 0 else max(target, -p.max_discharge_w)
                )
            else:
                limit = p.hardware_limit_factor
                target = max(min(target, p.max_charge_w * limit), -p.max_discharge_w * limit)
            m.setpoint_w = target
        elif self.own_mode == "charging":
            m.setpoint_w = p.max_charge_w
        elif self.own_mode == "discharging":
            m.setpoint_w = -p.max_discharge_w
        elif self.own_mode == "auto" and self.config.household is not None:
            m.schedule = self_consumption(
                self.config.household, p, self.epoch_at_zero_s, self.config.utc_offset_s
            )
            m.setpoint_w = m.schedule(m.time)[0]
        else:
            m.setpoint_w = 0.0  # standby (or auto without a household to follow)

    # -- time --------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        if self.dr is None:
            return None
        deadlines = []
        if self.dr.ends_at is not None and self.behaviour.end_dr_on_duration:
            deadlines.append(self.dr.ends_at)
        if self.behaviour.restore_on_comms_loss:
            deadlines.append(self.last_contact + self.config.comms_loss_timeout_s)
        return min(deadlines) if deadlines else None

    def on_time(self) -> None:
        """Called at (or after) ``next_deadline()``: end DR by duration or by comms loss."""
        now = self._now()
        self.model.advance(now)
        dr = self.dr
        if dr is None:
            return
        if dr.ends_at is not None and self.behaviour.end_dr_on_duration and now >= dr.ends_at:
            restore = dr.pre_mode if self.behaviour.restore_mode_on_duration else "standby"
            self.log.append(f"{now:.0f} DR duration over, back to {restore}")
            self.own_mode = restore
            self.dr = None
        elif (
            self.behaviour.restore_on_comms_loss
            and now >= self.last_contact + self.config.comms_loss_timeout_s
        ):
            self.log.append(f"{now:.0f} comms lost, back to {dr.pre_mode}")
            self.own_mode = dr.pre_mode
            self.dr = None
        self._apply_setpoint()

    def restart(self) -> None:
        """Power cycle: DR and volatile state are lost, identity must survive."""
        self.model.advance(self._now())
        self.config.boot_count += 1
        if self.dr is not None:
            self.own_mode = self.dr.pre_mode
            self.dr = None
        self._apply_setpoint()
