"""The reference battery as a SunSpec device: a register image over :class:`BatteryModel`.

The physics is the same :class:`~drready.simulators.battery_model.BatteryModel` as the ECHONET Lite
reference battery; this module only presents it as SunSpec models and takes DR requests as
register writes. It is pure like the model: time comes from the ``now`` callable it is given, and
:mod:`drready.simulators.sunspec_runtime` serves it over Modbus TCP and runs its timers.

Register image (base address ``config.base_address``, default 40000, unit ``config.unit_id``)::

    base + 0    "SunS" (0x5375 0x6E53)
    base + 2    model 1   (common, L 66)   Mn "drready", Md "DRR-BAT-SIM", Vr, SN, DA
    base + 70   model 802 (battery, L 62)
    base + 134  model 704 (DER AC controls, L 65)
    base + 201  end model (0xFFFF, L 0)

Sign conventions (checked against the JSON model definitions of github.com/sunspec/models at
commit 7abdf8982d5364f8ae916deee18aac86c11be36d):

- model 704 ``WSet`` follows the DER convention: **positive = discharging (injecting), negative =
  charging**. Model 704's own text says so only in a comment of ``WSetEna`` ("Set Active Power Level
  (may be negative for charging)"); model 701 states the same convention for ``W`` ("Active power
  is positive for DER generation and negative for absorption").
- model 802 ``W`` ("Total power flowing to/from the battery bank", DC measurement) has no sign in
  the model; this device uses the same convention as ``WSet`` (positive = discharging), so a
  controller can compare ``W`` with ``WSet`` directly. :data:`BATTERY_W_SIGN` states it in code.
- :class:`BatteryModel` itself counts positive = charging; ``W = -model.power_w``.

What the device does (the harness's reading of BAT-2.x over SunSpec):

- Reads: every read recomputes the models it touches from the physics advanced to now.
- Model 802: ``WHRtg``, ``WChaRteMax``, ``WDisChaRteMax`` are the ratings; ``SoC`` (0.1 %); the
  backup reserve is ``SoCRsvMin`` (RW, %WHRtg, 0.1 % steps, 0..100; discharge stops there);
  ``SoCMax``/``SoCMin`` are 100/0; ``ChaSt`` CHARGING/DISCHARGING while power flows, else FULL,
  EMPTY or HOLDING; ``W`` the measured power (sign above) and ``A`` = W / ``V`` (``V`` the nominal
  DC voltage, 51.2 V); ``Hb`` counts whole seconds since boot (wraps to 0 before 0xFFFF, which
  means "not implemented"); ``CtrlHb`` is what the controller last wrote; ``State`` CONNECTED,
  SOC PROTECTION while discharge is asked for at the reserve, DISCONNECTED after ``SetOp`` =
  DISCONNECT (no power flows until CONNECT); ``AlmRst`` accepts 0/1 and reads 0; ``SetInvState``
  accepts 1..3 and has no effect; ``LocRemCtl`` REMOTE, ``Typ`` LITHIUM_ION. Scale factors:
  ``W_SF`` 0 (raw watts; larger only for ratings beyond int16), ``SoC_SF`` -1, ``V_SF`` -1,
  ``A_SF`` -1, ``AHRtg_SF``/``WHRtg_SF``/``WChaDisChaMax_SF`` 0 (or what fits uint16).
- Model 704: only the WSet group is implemented: ``WSetEna``, ``WSetMod``, ``WSet``, ``WSetRvrt``,
  ``WSetEnaRvrt``, ``WSetRvrtTms``, ``WSetRvrtRem`` and ``WSet_SF`` (0: watts). Every other point
  reads "not implemented".
- A DR request is a write that leaves ``WSetEna`` = ENABLED (1) with ``WSetMod`` = WATTS (1) and
  touches any of ``WSetEna``, ``WSetMod``, ``WSet``, ``WSetRvrtTms``. Each such write (re)starts
  the DR at once: target ``WSet`` (clamped to ``WChaRteMax``/``WDisChaRteMax``; discharging stops
  at the reserve; the power ramps at the model's ramp rate) until ``WSetRvrtTms`` seconds after
  that write (0: no reversion). A client that writes WSetEna/WSetMod/WSet and then WSetRvrtTms in
  two requests therefore gets a DR whose reversion time counts from the second write.
  ``WSetRvrtRem`` counts down (whole seconds, rounded up) and reads 0 when no reversion is running.
- Reversion: when ``WSetRvrtTms`` elapses, ``WSetEna`` := ``WSetEnaRvrt`` (default DISABLED) and
  ``WSet`` := ``WSetRvrt`` (default 0). If ``WSetEna`` is then DISABLED the battery returns to its
  own mode (``config.own_mode``); if ENABLED it keeps running at ``WSetRvrt`` with no reversion.
- ``WSetEna`` = DISABLED written by the controller ends the DR at once (own mode).
- Comms loss: while a DR is active, when ``CtrlHb`` has not changed for
  ``config.comms_loss_timeout_s`` (counted from the later of its last change and the start of the
  DR), ``WSetEna`` becomes DISABLED and the battery returns to its own mode.
- Own modes are those of the ECHONET simulator: "standby" holds 0 W, "charging" and
  "discharging" run at the rated power, "auto" does self-consumption by the device's local time
  of day (:mod:`drready.simulators.battery_household`; ``household = None``: 0 W).
- Writes are validated as a whole before anything changes. Exception 2 (ILLEGAL DATA ADDRESS):
  the write touches the marker, an ID/L register, the end model, a read-only point, a point this
  device does not implement, or only part of a multi-register point. Exception 3 (ILLEGAL DATA
  VALUE): a value outside the point's range (enums, ``SoCRsvMin`` beyond 0..100 %, the
  "not implemented" value of the type, ``WSetMod`` = W_MAX_PCT which is not supported, ``DA``
  other than the unit ID). A ``WSet`` beyond the ratings is accepted and clamped.
- Identity: ``SN`` is ``config.serial_number`` and survives :meth:`restart`.
- :meth:`restart` (power cycle): the DR ends (own mode), ``Hb`` restarts from 0, ``CtrlHb``,
  ``WSet*`` and ``SetOp``/``SetInvState`` return to their defaults; the reserve, the state of
  charge and the energy stay.

Faults (:mod:`drready.simulators.faults`, binding "modbus") switch parts of this off through
:class:`SunSpecBehaviour`.

One idea past ~500 lines: the register image of one device; a fifth of the module is the layout
and sign conventions written out above, which belong next to the code that follows them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from drready.simulators.battery import OWN_MODES
from drready.simulators.battery_household import HOUR_S, Household, self_consumption
from drready.simulators.battery_model import BatteryModel, BatteryParams

from drready.modbus.errors import SunSpecDecodeError
from drready.modbus.registers import (
    BlockTemplate,
    Value,
    build_block,
    decode_raw,
    encode_raw,
    scale,
)
from drready.modbus.sunspec import END_MODEL_ID, MODELS, SUNS_REGISTERS, Model, Point

__all__ = [
    "BATTERY_W_SIGN",
    "ILLEGAL_ADDRESS",
    "ILLEGAL_VALUE",
    "NOMINAL_DC_V",
    "RegisterImage",
    "SunSpecBatteryConfig",
    "SunSpecBatteryDevice",
    "SunSpecBehaviour",
    "Templates",
    "check_common_strings",
    "common_block",
    "fit_sf",
    "on_grid",
]

#: Model 802 ``W`` and model 704 ``WSet``: +1 means positive = discharging (DER convention).
BATTERY_W_SIGN = -1  # W = BATTERY_W_SIGN * model.power_w (the model counts + when charging)
#: Nominal DC bus voltage of the simulated battery bank (model 802 ``V``; ``A`` = ``W`` / ``V``).
NOMINAL_DC_V = 51.2
AC_V = 202  # single-phase 202 V, as Japanese homes have (model 101 PhVphA)
#: Modbus exception codes the devices answer with.
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3

ENABLED, DISABLED = 1, 0
WATTS = 1
CONNECT, DISCONNECT = 1, 2
#: A timer that fires this much early (float rounding of loop time x time_scale) still counts.
_EPSILON_S = 1e-6
_HB_MODULUS = 0xFFFF  # uint16 0xFFFF is "not implemented": the heartbeat wraps before it


def fit_sf(largest: float, limit: int) -> int:
    """The smallest scale factor ≥ 0 that lets ``largest`` fit a register holding ``limit``."""
    sf = 0
    while abs(largest) / 10**sf > limit:
        sf += 1
    return sf


def on_grid(value: float, sf: int) -> int | float:
    """``value`` rounded to the 10**sf grid, as a value :func:`build_block` accepts."""
    if sf >= 0:
        step: int = 10**sf
        return int(round(value / step)) * step  # noqa: RUF046 - round() of a float is an int
    divisor: int = 10**-sf
    return round(value * divisor) / divisor


class Templates:
    """A :class:`BlockTemplate` per model, made again when its fixed points change: the ratings
    and scale factors are encoded once, the measurements on every read."""

    def __init__(self) -> None:
        self._made: dict[int, tuple[dict[str, Value | None], BlockTemplate]] = {}

    def build(
        self, model_id: int, fixed: dict[str, Value | None], values: dict[str, Value | None]
    ) -> list[int]:
        """What ``build_block(MODELS[model_id], {**fixed, **values})`` gives."""
        made = self._made.get(model_id)
        if made is None or made[0] != fixed:
            made = self._made[model_id] = (fixed, BlockTemplate(MODELS[model_id], fixed))
        return made[1].build(values)


class RegisterImage:
    """Where each model sits: the marker at ``base``, the models in order, then the end model."""

    def __init__(self, base: int, models: Sequence[Model]) -> None:
        self.base = base
        self.models = tuple(models)
        self.addresses: dict[int, int] = {}  # model ID -> address of its ID register
        address = base + 2
        for m in self.models:
            self.addresses[m.id] = address
            address += m.block_size
        self.end_address = address
        self.size = address + 2 - base
        if base + self.size > 0x10000:
            raise ValueError(f"a register image of {self.size} registers does not fit at {base}")

    def assemble_part(
        self,
        marker: Sequence[int],
        builders: Mapping[int, Callable[[], Sequence[int]]],
        offset: int,
        count: int,
    ) -> tuple[int, list[int]]:
        """The registers of the parts (marker, model blocks, end model) that overlap registers
        ``offset`` .. ``offset + count - 1`` (counted from ``base``), and the offset of the first
        of them. Only the blocks of those models are built: a read of one model need not compute
        the others."""
        end = offset + count
        first: int | None = None
        registers: list[int] = []
        if offset < 2 and end > 0:
            first = 0
            registers.extend(marker)
        for m in self.models:
            start = self.addresses[m.id] - self.base
            if start < end and start + m.block_size > offset:
                block = builders[m.id]()
                if len(block) != m.block_size:  # pragma: no cover - build_block gives whole blocks
                    raise AssertionError(f"model {m.id}: {len(block)} registers")
                if first is None:
                    first = start
                registers.extend(block)
        end_start = self.end_address - self.base
        if end_start < end and end_start + 2 > offset:
            if first is None:
                first = end_start
            registers.extend((END_MODEL_ID, 0))
        return (offset if first is None else first), registers

    def split_write(
        self, address: int, values: Sequence[int]
    ) -> list[tuple[Model, Point, list[int]]] | int:
        """The whole points a write covers, or :data:`ILLEGAL_ADDRESS` if it touches anything
        but whole points of a model (marker, ID, L, the end model, part of a point)."""
        end = address + len(values)
        found: list[tuple[Model, Point, list[int]]] = []
        covered = 0
        for m in self.models:
            start = self.addresses[m.id]
            for point in m.points:
                p_start = start + point.offset
                p_end = p_start + point.size
                if p_end <= address or p_start >= end:
                    continue
                if p_start < address or p_end > end or point.name in ("ID", "L"):
                    return ILLEGAL_ADDRESS
                found.append((m, point, list(values[p_start - address : p_end - address])))
                covered += point.size
        if covered != len(values):
            return ILLEGAL_ADDRESS  # the marker or the end model
        return found


@dataclass
class SunSpecBehaviour:
    """Switches that faults turn; every default is the conforming behaviour."""

    #: Fraction of the DR target the power electronics really deliver (the report still shows
    #: the power as if all of it were delivered).
    delivered_fraction: float = 1.0
    end_dr_on_reversion: bool = True
    check_controller_heartbeat: bool = True
    #: Added to the W_SF register only: the raw W stays on the true scale factor.
    w_sf_error: int = 0
    serve_suns_marker: bool = True


@dataclass
class SunSpecBatteryConfig:
    params: BatteryParams = field(default_factory=BatteryParams)
    manufacturer: str = "drready"
    model_name: str = "DRR-BAT-SIM"
    serial_number: str = "SIM0000001"
    version: str = "1.0.0"
    base_address: int = 40000
    unit_id: int = 1
    comms_loss_timeout_s: float = 1800.0
    own_mode: str = "auto"
    boot_count: int = 0
    #: 802: models 1, 802, 704. 124: models 1, 101 (inverter: the power), 124 (storage), 704;
    #: model 124 has no controller heartbeat, so any request from the controller is its sign of
    #: life.
    storage_model: int = 802
    #: False: the device is not announced as SunSpec (no SunS marker; a register map finds it).
    sunspec_marker: bool = True
    #: What own mode "auto" follows (self-consumption); None: "auto" holds 0 W. The simulated
    #: runs give it a :class:`Household` (the reference backend).
    household: Household | None = None
    #: The device's local time zone (the household's day): Japan, UTC+9.
    utc_offset_s: float = 9 * HOUR_S

    def __post_init__(self) -> None:
        if self.storage_model not in (802, 124):
            raise ValueError(f"storage_model {self.storage_model} is not 802 or 124")
        if self.own_mode not in OWN_MODES:
            raise ValueError(f"own_mode {self.own_mode!r} is not one of {', '.join(OWN_MODES)}")
        if not 1 <= self.unit_id <= 247:
            raise ValueError(f"unit_id {self.unit_id} outside 1..247")
        if not self.comms_loss_timeout_s > 0:
            raise ValueError("comms_loss_timeout_s must be > 0")
        check_common_strings(self.manufacturer, self.model_name, self.serial_number, self.version)


def common_block(
    manufacturer: str, model_name: str, version: str, serial: str, unit: int
) -> list[int]:
    """Model 1 of a device: its identity and its unit ID (``DA``), built once per identity (a
    device is read thousands of times and its identity rarely changes)."""
    return list(_common_registers(manufacturer, model_name, version, serial, unit))


@lru_cache(maxsize=64)
def _common_registers(
    manufacturer: str, model_name: str, version: str, serial: str, unit: int
) -> tuple[int, ...]:
    return tuple(
        build_block(
            MODELS[1],
            {"Mn": manufacturer, "Md": model_name, "Vr": version, "SN": serial, "DA": unit},
        )
    )


def check_common_strings(manufacturer: str, model_name: str, serial: str, version: str) -> None:
    """Model 1 strings: Mn, Md and SN hold 1..32 bytes of UTF-8, Vr 1..16, no NUL."""
    for name, text, room in (
        ("manufacturer", manufacturer, 32),
        ("model_name", model_name, 32),
        ("serial_number", serial, 32),
        ("version", version, 16),
    ):
        data = text.encode("utf-8")
        if not data or len(data) > room or b"\0" in data:
            raise ValueError(f"{name} {text!r} must be 1..{room} bytes of UTF-8 without NUL")


@dataclass
class DrState:
    target_w: float  # SunSpec sign: + discharging
    started_at: float
    ends_at: float | None  # None: no reversion


class SunSpecBatteryDevice:
    """The battery's SunSpec register image and DR logic. Time is given by ``now``."""

    def __init__(
        self,
        config: SunSpecBatteryConfig,
        now: Callable[[], float],
        behaviour: SunSpecBehaviour | None = None,
        *,
        epoch_at_zero_s: float = 0.0,
    ) -> None:
        self.config = config
        self.behaviour = behaviour or SunSpecBehaviour()
        self._now = now
        #: The device's wall clock (seconds since the epoch) when ``now()`` reads 0.
        self.epoch_at_zero_s = epoch_at_zero_s
        self.model = BatteryModel(config.params, now())
        chain = (1, 802, 704) if config.storage_model == 802 else (1, 101, 124, 704)
        self.image = RegisterImage(config.base_address, [MODELS[m] for m in chain])
        self.reserve_pct = config.params.reserve_pct
        self.log: list[str] = []
        #: Each model's fixed points (ratings, scale factors) encoded once, until they change.
        self._templates = Templates()
        self._boot()

    def _boot(self) -> None:
        now = self._now()
        self.booted_at = now
        self.own_mode = self.config.own_mode
        self.dr: DrState | None = None
        self.ctrl_hb = 0
        self.ctrl_hb_changed_at = now
        self.heard_at = now  # the controller's last request (model 124's sign of life)
        self.set_op = CONNECT
        self.set_inv_state = 3  # INVERTER_STARTED
        self.wset_ena = DISABLED
        self.wset_mod = WATTS
        self.wset_w = 0.0
        self.wset_rvrt_w = 0.0
        self.wset_ena_rvrt = DISABLED
        self.wset_rvrt_tms = 0
        self._apply_setpoint()

    # -- scale factors ---------------------------------------------------------------------
    def _power_sf(self) -> int:
        p = self.config.params
        return fit_sf(max(p.max_charge_w, p.max_discharge_w) * p.hardware_limit_factor * 2, 32767)

    # -- physics -----------------------------------------------------------------------------
    def advance(self) -> BatteryModel:
        self.model.advance(self._now())
        return self.model

    def true_power_w(self) -> float:
        """The power that really flows, model sign (+ charging): what a meter sees."""
        return self.advance().power_w

    def reported_power_w(self) -> float:
        """Model 802 ``W`` before scaling: SunSpec sign (+ discharging)."""
        power = self.advance().power_w
        if self.dr is not None and self.behaviour.delivered_fraction not in (0.0, 1.0):
            power /= self.behaviour.delivered_fraction
        return BATTERY_W_SIGN * power

    def _apply_setpoint(self) -> None:
        p = self.config.params
        m = self.model
        m.floor_pct = self.reserve_pct
        m.schedule = None
        if self.set_op == DISCONNECT:
            m.setpoint_w = 0.0
        elif self.dr is not None:
            target = BATTERY_W_SIGN * self.dr.target_w  # model sign: + charging
            target = min(target, p.max_charge_w) if target > 0 else max(target, -p.max_discharge_w)
            m.setpoint_w = target * self.behaviour.delivered_fraction
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
            m.setpoint_w = 0.0

    # -- the image ----------------------------------------------------------------------------
    def registers(self) -> list[int]:
        """The whole register image from ``base_address``, computed for now."""
        return self.registers_part(0, self.image.size)[1]

    def registers_part(self, offset: int, count: int) -> tuple[int, list[int]]:
        """The image's parts covering registers ``offset`` .. ``offset + count - 1`` (from
        ``base_address``), computed for now, and the offset where they start: only the models
        a request touches are built."""
        self.advance()
        announced = self.behaviour.serve_suns_marker and self.config.sunspec_marker
        marker = SUNS_REGISTERS if announced else (0, 0)
        return self.image.assemble_part(marker, self._builders, offset, count)

    @property
    def _builders(self) -> dict[int, Callable[[], list[int]]]:
        builders = {1: self._common, 704: self._controls}
        if self.config.storage_model == 802:
            builders[802] = self._battery
        else:
            builders |= {101: self._inverter, 124: self._storage}
        return builders

    def heard(self) -> None:
        """The controller sent a request (any): it is alive."""
        self.heard_at = self._now()

    def _common(self) -> list[int]:
        c = self.config
        return common_block(c.manufacturer, c.model_name, c.version, c.serial_number, c.unit_id)

    def _hb(self) -> int:
        return int(max(0.0, self._now() - self.booted_at)) % _HB_MODULUS

    def _state(self) -> int:
        m = self.model
        if self.set_op == DISCONNECT:
            return 1  # DISCONNECTED
        if m.setpoint_w < 0 and m.soc_wh <= m.floor_wh:
            return 5  # SOC PROTECTION
        return 3  # CONNECTED

    def _charge_status(self) -> int:
        m = self.model
        if m.power_w > 0:
            return 4  # CHARGING
        if m.power_w < 0:
            return 3  # DISCHARGING
        if m.soc_wh >= m.params.capacity_wh:
            return 5  # FULL
        if m.soc_wh <= 0:
            return 2  # EMPTY
        return 6  # HOLDING

    def _battery(self) -> list[int]:
        p = self.config.params
        m = self.model
        wh_sf = fit_sf(p.capacity_wh, 65534)
        ah = p.capacity_wh / NOMINAL_DC_V
        ah_sf = fit_sf(ah, 65534)
        rate_sf = fit_sf(max(p.max_charge_w, p.max_discharge_w), 65534)
        w_sf = self._power_sf()
        reported_w = on_grid(self.reported_power_w(), w_sf)
        amps = on_grid(reported_w / NOMINAL_DC_V, -1)
        fixed: dict[str, Value | None] = {
            "AHRtg": on_grid(ah, ah_sf),
            "WHRtg": on_grid(p.capacity_wh, wh_sf),
            "WChaRteMax": on_grid(p.max_charge_w, rate_sf),
            "WDisChaRteMax": on_grid(p.max_discharge_w, rate_sf),
            "SoCMax": 100,
            "SoCMin": 0,
            "LocRemCtl": 0,  # REMOTE
            "AlmRst": 0,
            "Typ": 4,  # LITHIUM_ION
            "Evt1": 0,
            "Evt2": 0,
            "EvtVnd1": 0,
            "EvtVnd2": 0,
            "V": NOMINAL_DC_V,
            "AHRtg_SF": ah_sf,
            "WHRtg_SF": wh_sf,
            "WChaDisChaMax_SF": rate_sf,
            "SoC_SF": -1,
            "V_SF": -1,
            "CellV_SF": -3,
            "A_SF": -1,
            "AMax_SF": 0,
            "W_SF": w_sf,
        }
        values: dict[str, Value | None] = {
            "SoCRsvMin": on_grid(self.reserve_pct, -1),
            "SoC": on_grid(min(100.0, max(0.0, m.soc_pct)), -1),
            "ChaSt": self._charge_status(),
            "Hb": self._hb(),
            "CtrlHb": self.ctrl_hb,
            "State": self._state(),
            "A": amps,
            "W": reported_w,
            "SetOp": self.set_op,
            "SetInvState": self.set_inv_state,
        }
        block = self._templates.build(802, fixed, values)
        if self.behaviour.w_sf_error:
            point = MODELS[802].point("W_SF")
            block[point.offset] = encode_raw(MODELS[802], point, w_sf + self.behaviour.w_sf_error)[
                0
            ]
        return block

    def _storage(self) -> list[int]:
        """Model 124: charge state and reserve (0.1 %), the charge rating (W)."""
        p = self.config.params
        m = self.model
        rate_sf = fit_sf(p.max_charge_w, 65534)
        fixed: dict[str, Value | None] = {
            "WChaMax": on_grid(p.max_charge_w, rate_sf),
            "WChaGra": 100,
            "WDisChaGra": 100,
            "StorCtl_Mod": 0,
            "WChaMax_SF": rate_sf,
            "WChaDisChaGra_SF": 0,
            "MinRsvPct_SF": -1,
            "ChaState_SF": -1,
        }
        values: dict[str, Value | None] = {
            "MinRsvPct": on_grid(self.reserve_pct, -1),
            "ChaState": on_grid(min(100.0, max(0.0, m.soc_pct)), -1),
            "ChaSt": self._charge_status(),
        }
        return self._templates.build(124, fixed, values)

    def _inverter(self) -> list[int]:
        """Model 101: the AC power (+ output, i.e. discharging) and the mandatory readings."""
        w_sf = self._power_sf()
        reported_w = on_grid(self.reported_power_w(), w_sf)
        fixed: dict[str, Value | None] = {
            "A_SF": -1,
            "PhVphA": AC_V,
            "V_SF": 0,
            "W_SF": w_sf,
            "Hz": 500,
            "Hz_SF": -1,
            "WH": None,
            "WH_SF": 0,
            "TmpCab": 250,
            "Tmp_SF": -1,
            "Evt1": 0,
            "Evt2": 0,
        }
        values: dict[str, Value | None] = {
            "A": on_grid(abs(reported_w) / AC_V, -1),
            "AphA": on_grid(abs(reported_w) / AC_V, -1),
            "W": reported_w,
            "St": 4 if reported_w else 8,  # MPPT (running) / STANDBY
        }
        block = self._templates.build(101, fixed, values)
        if self.behaviour.w_sf_error:
            point = MODELS[101].point("W_SF")
            block[point.offset] = encode_raw(MODELS[101], point, w_sf + self.behaviour.w_sf_error)[
                0
            ]
        return block

    def reversion_remaining_s(self) -> int:
        dr = self.dr
        if dr is None or dr.ends_at is None:
            return 0
        return max(0, math.ceil(dr.ends_at - self._now() - 1e-9))

    def _controls(self) -> list[int]:
        values: dict[str, Value | None] = {
            "WSetEna": self.wset_ena,
            "WSetMod": self.wset_mod,
            "WSet": on_grid(self.wset_w, 0),
            "WSetRvrt": on_grid(self.wset_rvrt_w, 0),
            "WSetEnaRvrt": self.wset_ena_rvrt,
            "WSetRvrtTms": self.wset_rvrt_tms,
            "WSetRvrtRem": self.reversion_remaining_s(),
        }
        return self._templates.build(704, {"WSet_SF": 0}, values)

    # -- writes ------------------------------------------------------------------------------
    _WRITABLE: Mapping[int, frozenset[str]] = {
        1: frozenset({"DA"}),
        802: frozenset({"SoCRsvMin", "CtrlHb", "AlmRst", "SetOp", "SetInvState"}),
        124: frozenset({"MinRsvPct"}),
        704: frozenset({"WSetEna", "WSetMod", "WSet", "WSetRvrt", "WSetEnaRvrt", "WSetRvrtTms"}),
    }
    _SF: Mapping[str, int] = {"SoCRsvMin": -1, "MinRsvPct": -1, "WSet": 0, "WSetRvrt": 0}
    _CHOICES: Mapping[str, frozenset[int]] = {
        "AlmRst": frozenset({0, 1}),
        "SetOp": frozenset({CONNECT, DISCONNECT}),
        "SetInvState": frozenset({1, 2, 3}),
        "WSetEna": frozenset({DISABLED, ENABLED}),
        "WSetEnaRvrt": frozenset({DISABLED, ENABLED}),
        "WSetMod": frozenset({WATTS}),  # W_MAX_PCT (0) is not supported
    }

    def _check(self, model: Model, point: Point, registers: list[int]) -> tuple[int, float] | int:
        """The decoded value of one written point, or the exception code refusing it."""
        if point.name not in self._WRITABLE.get(model.id, frozenset()):
            return ILLEGAL_ADDRESS
        try:
            raw = decode_raw(model, point, registers)
        except SunSpecDecodeError:
            return ILLEGAL_VALUE
        if raw is None or not isinstance(raw, int):
            return ILLEGAL_VALUE  # the type's "not implemented" value
        value = float(scale(raw, self._SF[point.name])) if point.name in self._SF else float(raw)
        name = point.name
        if name in self._CHOICES and raw not in self._CHOICES[name]:
            return ILLEGAL_VALUE
        if name == "DA" and raw != self.config.unit_id:
            return ILLEGAL_VALUE
        if name in ("SoCRsvMin", "MinRsvPct") and not 0 <= value <= 100:
            return ILLEGAL_VALUE
        return raw, value

    def write(self, address: int, values: Sequence[int]) -> int | None:
        """Apply a Write (Multiple) Registers request; an exception code refuses all of it."""
        split = self.image.split_write(address, values)
        if isinstance(split, int):
            return split
        written: dict[str, float] = {}
        for model, point, registers in split:
            checked = self._check(model, point, registers)
            if isinstance(checked, int):
                return checked
            written[point.name] = checked[1]
        self._commit(written)
        return None

    def _commit(self, written: Mapping[str, float]) -> None:
        now = self._now()
        self.model.advance(now)
        for reserve in ("SoCRsvMin", "MinRsvPct"):
            if reserve in written:
                self.reserve_pct = written[reserve]
        if "CtrlHb" in written:
            hb = int(written["CtrlHb"])
            if hb != self.ctrl_hb:
                self.ctrl_hb_changed_at = now
            self.ctrl_hb = hb
        if "SetOp" in written:
            self.set_op = int(written["SetOp"])
        if "SetInvState" in written:
            self.set_inv_state = int(written["SetInvState"])
        if "WSetMod" in written:
            self.wset_mod = int(written["WSetMod"])
        if "WSet" in written:
            self.wset_w = written["WSet"]
        if "WSetRvrt" in written:
            self.wset_rvrt_w = written["WSetRvrt"]
        if "WSetEnaRvrt" in written:
            self.wset_ena_rvrt = int(written["WSetEnaRvrt"])
        if "WSetRvrtTms" in written:
            self.wset_rvrt_tms = int(written["WSetRvrtTms"])
        if "WSetEna" in written:
            self.wset_ena = int(written["WSetEna"])
        dr_write = any(k in written for k in ("WSetEna", "WSetMod", "WSet", "WSetRvrtTms"))
        if self.wset_ena == DISABLED and self.dr is not None:
            self.log.append(f"{now:.3f} DR ended by WSetEna = DISABLED")
            self.dr = None
        elif self.wset_ena == ENABLED and self.wset_mod == WATTS and dr_write:
            ends_at = now + self.wset_rvrt_tms if self.wset_rvrt_tms else None
            self.dr = DrState(self.wset_w, now, ends_at)
            self.log.append(f"{now:.3f} DR WSet={self.wset_w:g} W until={ends_at}")
        self._apply_setpoint()

    # -- time --------------------------------------------------------------------------------
    def _comms_deadline(self) -> float | None:
        if self.dr is None or not self.behaviour.check_controller_heartbeat:
            return None
        alive = self.ctrl_hb_changed_at if self.config.storage_model == 802 else self.heard_at
        since = max(alive, self.dr.started_at)
        return since + self.config.comms_loss_timeout_s

    def next_deadline(self) -> float | None:
        """When :meth:`on_time` next has something to do (device time), None if never."""
        deadlines = [d for d in (self._comms_deadline(),) if d is not None]
        dr = self.dr
        if dr is not None and dr.ends_at is not None and self.behaviour.end_dr_on_reversion:
            deadlines.append(dr.ends_at)
        return min(deadlines) if deadlines else None

    def on_time(self) -> None:
        """Called at (or after) :meth:`next_deadline`: reversion or comms loss."""
        now = self._now()
        self.model.advance(now)
        dr = self.dr
        if dr is None:
            return
        comms = self._comms_deadline()
        if (
            dr.ends_at is not None
            and self.behaviour.end_dr_on_reversion
            and now >= dr.ends_at - _EPSILON_S
        ):
            self.wset_ena = self.wset_ena_rvrt
            self.wset_w = self.wset_rvrt_w
            if self.wset_ena == ENABLED and self.wset_mod == WATTS:
                self.dr = DrState(self.wset_w, dr.started_at, None)
                self.log.append(f"{now:.3f} reverted to WSetRvrt={self.wset_w:g} W")
            else:
                self.dr = None
                self.log.append(f"{now:.3f} reverted, back to own mode {self.own_mode}")
        elif comms is not None and now >= comms - _EPSILON_S:
            self.wset_ena = DISABLED
            self.dr = None
            self.log.append(f"{now:.3f} CtrlHb silent, back to own mode {self.own_mode}")
        self._apply_setpoint()

    def restart(self) -> None:
        """Power cycle: the DR and the volatile settings are lost, identity and charge stay."""
        self.model.advance(self._now())
        self.config.boot_count += 1
        self._boot()
