"""Named faults for the reference simulators.

A fault is a small function that bends one part of a conforming simulator, and names the
requirements it must make fail. The detection matrix test runs the suite once per fault and checks
that exactly those requirements fail: that is how we know each test can fail.
Faults compose: ``--fault a --fault b`` applies both, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drready.echonet.codec import ESV, NODE_PROFILE, Frame

if TYPE_CHECKING:
    from simulators.runtime import SimulatedBattery


class UnknownFaultError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Fault:
    name: str
    device_class: str
    requirements: tuple[str, ...]
    description: str
    apply: Callable[[SimulatedBattery], None]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "device_class": self.device_class,
            "requirements": list(self.requirements),
            "description": self.description,
        }


FAULTS: dict[str, Fault] = {}


def fault(
    name: str, device_class: str, requirements: tuple[str, ...], description: str
) -> Callable[[Callable[[SimulatedBattery], None]], Callable[[SimulatedBattery], None]]:
    def register(apply: Callable[[SimulatedBattery], None]) -> Callable[[SimulatedBattery], None]:
        if name in FAULTS:
            raise ValueError(f"fault {name!r} registered twice")
        FAULTS[name] = Fault(name, device_class, requirements, description, apply)
        return apply

    return register


def get_fault(name: str) -> Fault:
    try:
        return FAULTS[name]
    except KeyError:
        raise UnknownFaultError(
            f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})"
        ) from None


def faults_for(device_class: str) -> list[Fault]:
    return [f for f in FAULTS.values() if f.device_class == device_class]


# -- battery ---------------------------------------------------------------------------------


@fault(
    "wrong_tid_node_profile",
    "battery",
    ("BAT-1.1",),
    "The node profile answers with the request's TID plus one, so discovery never completes.",
)
def _wrong_tid(sim: SimulatedBattery) -> None:
    def shift_tid(frame: Frame) -> Frame:
        if frame.seoj == NODE_PROFILE and frame.esv != ESV.INF:
            return Frame(
                (frame.tid + 1) & 0xFFFF,
                frame.seoj,
                frame.deoj,
                frame.esv,
                frame.properties,
                frame.get_properties,
            )
        return frame

    sim.response_filters.append(shift_tid)


@fault(
    "property_map_lists_unserved_epc",
    "battery",
    ("BAT-1.1",),
    "The Get property map (0x9F) lists EPC 0xE5 (state of health), which the device cannot serve.",
)
def _unserved(sim: SimulatedBattery) -> None:
    sim.device.battery.advertise_unserved(0xE5)


@fault(
    "refuses_updates_during_dr",
    "battery",
    ("BAT-2.1",),
    "Accepts a first DR request but answers SetC_SNA to any further request while DR runs.",
)
def _refuse_updates(sim: SimulatedBattery) -> None:
    sim.device.behaviour.refuse_updates_during_dr = True


@fault(
    "ignores_target_power",
    "battery",
    ("BAT-2.2",),
    "Acknowledges DR and enters the mode, but runs at rated power whatever the target.",
)
def _ignore_target(sim: SimulatedBattery) -> None:
    sim.device.behaviour.ignore_target_value = True


@fault(
    "exceeds_max_power",
    "battery",
    ("BAT-2.2",),
    "Executes a target above the rated maximum instead of clamping or refusing it.",
)
def _exceeds(sim: SimulatedBattery) -> None:
    sim.device.behaviour.clamp_to_rating = False


@fault(
    "slow_ramp",
    "battery",
    ("BAT-2.2",),
    "Ramps at 0.5 W/s, so the target is not reached within the declared response time.",
)
def _slow_ramp(sim: SimulatedBattery) -> None:
    model = sim.device.model
    model.params = type(model.params)(**{**vars(model.params), "ramp_w_per_s": 0.5})


@fault(
    "dischargeable_ignores_reserve",
    "battery",
    ("BAT-2.3",),
    "Reports the whole stored energy as dischargeable (0xA5), ignoring the backup reserve.",
)
def _dischargeable(sim: SimulatedBattery) -> None:
    sim.device.behaviour.dischargeable_respects_reserve = False


@fault(
    "chargeable_frozen",
    "battery",
    ("BAT-2.3",),
    "Reports a fixed chargeable energy (0xA4) that does not move while charging.",
)
def _chargeable_frozen(sim: SimulatedBattery) -> None:
    sim.device.behaviour.freeze_chargeable = True


@fault(
    "discharges_below_reserve",
    "battery",
    ("BAT-2.4",),
    "Keeps discharging under DR past the configured backup reserve.",
)
def _below_reserve(sim: SimulatedBattery) -> None:
    sim.device.behaviour.discharge_respects_reserve = False


@fault(
    "reserve_change_not_reported",
    "battery",
    ("BAT-2.4",),
    "Accepts a new backup reserve (0xA7) but keeps reporting the old one.",
)
def _reserve_not_reported(sim: SimulatedBattery) -> None:
    sim.device.behaviour.report_reserve_changes = False


@fault(
    "energy_counter_not_monotonic",
    "battery",
    ("BAT-2.5",),
    "The cumulative energy counters (0xA8/0xA9) step back by 50 Wh every other ten minutes.",
)
def _not_monotonic(sim: SimulatedBattery) -> None:
    sim.device.behaviour.energy_counter_rollback_wh = 50.0


@fault(
    "energy_counter_mismatch",
    "battery",
    ("BAT-2.5",),
    "The cumulative energy counters count 60 % of the energy that really flows.",
)
def _mismatch(sim: SimulatedBattery) -> None:
    sim.device.behaviour.energy_counter_scale = 0.6


@fault(
    "power_sign_inverted",
    "battery",
    ("BAT-2.2", "BAT-2.5"),
    "Reports instantaneous power (0xD3) with the sign inverted: discharging reads as charging.",
)
def _sign(sim: SimulatedBattery) -> None:
    sim.device.behaviour.power_reading_sign = -1


@fault(
    "stays_in_dr",
    "battery",
    ("BAT-2.6",),
    "Ignores the end of the DR duration and keeps executing the request.",
)
def _stays(sim: SimulatedBattery) -> None:
    sim.device.behaviour.end_dr_on_duration = False


@fault(
    "restores_wrong_mode",
    "battery",
    ("BAT-2.6",),
    "When DR ends on its duration, goes to standby instead of the mode it had before DR.",
)
def _wrong_mode(sim: SimulatedBattery) -> None:
    sim.device.behaviour.restore_mode_on_duration = False


@fault(
    "ignores_comms_loss",
    "battery",
    ("BAT-2.7",),
    "Keeps executing DR for ever when the gateway falls silent.",
)
def _comms(sim: SimulatedBattery) -> None:
    sim.device.behaviour.restore_on_comms_loss = False


@fault(
    "identity_changes_on_restart",
    "battery",
    ("BAT-ID",),
    "Derives its identification number (0x83) and serial (0x8D) from the boot count.",
)
def _identity(sim: SimulatedBattery) -> None:
    sim.device.behaviour.stable_identity = False


@fault(
    "serial_number_missing",
    "battery",
    ("BAT-ID",),
    "Does not serve the production number (0x8D), so the unit cannot be told apart.",
)
def _no_serial(sim: SimulatedBattery) -> None:
    sim.device.behaviour.serve_serial_number = False
    sim.device.battery.withdraw(0x8D)


@fault(
    "wrong_release",
    "battery",
    ("BAT-3.3",),
    "Reports Appendix release 'J' in 0x82 while the profile declares 'R'.",
)
def _release(sim: SimulatedBattery) -> None:
    sim.device.behaviour.release_letter = "J"
