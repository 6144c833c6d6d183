"""Named faults of the reference battery over SunSpec Modbus. Registered into
:data:`drready.simulators.fault_registry.FAULTS` on import.
"""

from __future__ import annotations

from drready.simulators.fault_registry import SunSpecBatterySimulator, fault

from drready.model import Binding

# These bend the SunSpec battery (drready.simulators.sunspec_runtime) only; the requirements are
# those a suite that compares the battery against the independent meter must fail.

#: Every battery requirement the Modbus binding exercises (gateway topology, tested; BAT-3.3
#: reads the device's version from model 1), in catalog order.
MODBUS_BATTERY_REQUIREMENTS = (
    "BAT-1.1",
    "BAT-2.1",
    "BAT-2.2",
    "BAT-2.3",
    "BAT-2.4",
    "BAT-2.5",
    "BAT-2.6",
    "BAT-2.7",
    "BAT-ID",
    "BAT-3.3",
)


def _sunspec(sim: SunSpecBatterySimulator, name: str) -> SunSpecBatterySimulator:
    if getattr(sim, "binding", Binding.ECHONET) is not Binding.MODBUS:
        raise TypeError(
            f"fault {name!r} bends the Modbus/SunSpec battery simulator, not a {type(sim).__name__}"
        )
    return sim


@fault(
    "mb_power_not_delivered",
    "battery",
    ("BAT-2.2", "BAT-2.5"),
    "Under DR delivers only half the WSet power while model 802 W reports the whole target: "
    "only the independent meter sees the difference.",
    binding="modbus",
)
def _mb_power_not_delivered(sim: SunSpecBatterySimulator) -> None:
    _sunspec(sim, "mb_power_not_delivered").device.behaviour.delivered_fraction = 0.5


@fault(
    "mb_ignores_reversion",
    "battery",
    ("BAT-2.6",),
    "WSetRvrtRem counts down to 0 but the DR never ends: WSetEna stays ENABLED at WSet.",
    binding="modbus",
)
def _mb_ignores_reversion(sim: SunSpecBatterySimulator) -> None:
    _sunspec(sim, "mb_ignores_reversion").device.behaviour.end_dr_on_reversion = False


@fault(
    "mb_heartbeat_not_checked",
    "battery",
    ("BAT-2.7",),
    "Never watches the controller heartbeat (CtrlHb): a silent controller's DR runs for ever.",
    binding="modbus",
)
def _mb_heartbeat_not_checked(sim: SunSpecBatterySimulator) -> None:
    _sunspec(sim, "mb_heartbeat_not_checked").device.behaviour.check_controller_heartbeat = False


@fault(
    "mb_wrong_scale_factor",
    "battery",
    ("BAT-2.2", "BAT-2.5"),
    "Model 802 W_SF reads one decade too high (1 instead of 0) while W stays in watts, so the "
    "reported power scales to ten times the real one.",
    binding="modbus",
)
def _mb_wrong_scale_factor(sim: SunSpecBatterySimulator) -> None:
    _sunspec(sim, "mb_wrong_scale_factor").device.behaviour.w_sf_error = 1


@fault(
    "mb_suns_marker_missing",
    "battery",
    MODBUS_BATTERY_REQUIREMENTS,
    "No SunS marker at any base address (40000 reads 0x0000 0x0000; 0 and 50000 are not "
    "served), so no SunSpec model can be found.",
    binding="modbus",
)
def _mb_suns_marker_missing(sim: SunSpecBatterySimulator) -> None:
    _sunspec(sim, "mb_suns_marker_missing").device.behaviour.serve_suns_marker = False
