"""Named faults of the ECHONET Lite reference battery that bend what it does, not what it says
on the wire: the device behaviours behind the classes of wrong verdict issue 11 found on devices
this project did not write. Registered into
:data:`drready.simulators.fault_registry.FAULTS` on import.

Each names exactly the requirements the suite must fail; where a fault also makes other tests
impossible (a device that never moves power leaves nothing to return from), those tests are
inconclusive, naming the failed requirement as the cause, never passed or failed.
"""

from __future__ import annotations

from drready.simulators.fault_registry import BatterySimulator, fault


@fault(
    "ignores_release",
    "battery",
    ("BAT-2.6",),
    "Keeps executing a DR after its duration and after the gateway writes the own mode (0xDA "
    "alone, answered Set_Res): only a comms loss ends it.",
)
def _ignores_release(sim: BatterySimulator) -> None:
    sim.device.behaviour.end_dr_on_duration = False
    sim.device.behaviour.release_ends_dr = False


@fault(
    "store_only",
    "battery",
    ("BAT-2.2", "BAT-2.5"),
    "Stores every write and reads it back, reports consistent static values (0 W, counters and "
    "SoC still), but never moves any power, in DR or in its own modes.",
)
def _store_only(sim: BatterySimulator) -> None:
    sim.device.behaviour.move_power = False


@fault(
    "power_reads_stuck",
    "battery",
    ("BAT-2.5",),
    "Instantaneous power (0xD3) reads a constant 8 W while the battery charges and discharges "
    "as asked: its energy counters (0xA8/0xA9) and working status (0xCF) show the flow.",
)
def _power_reads_stuck(sim: BatterySimulator) -> None:
    sim.device.behaviour.power_reading_stuck_w = 8.0


@fault(
    "counter_resets_at_dr_start",
    "battery",
    ("BAT-2.5",),
    "The cumulative energy counters (0xA8/0xA9) restart from 0 whenever a DR discharge starts.",
)
def _counter_resets(sim: BatterySimulator) -> None:
    sim.device.behaviour.counters_reset_at_dr_start = True


@fault(
    "dischargeable_ignores_reserve_near_reserve",
    "battery",
    ("BAT-2.3",),
    "Reports the whole stored energy as dischargeable (0xA5), ignoring the backup reserve, and "
    "runs close to its reserve (SoC 30 %, reserve 20 %): a plan sized from 0xA5 would ask for "
    "more than it may give.",
)
def _dischargeable_near_reserve(sim: BatterySimulator) -> None:
    device = sim.device
    device.behaviour.dischargeable_respects_reserve = False
    # A battery that has run itself down to near its reserve, in standby (no own-mode flow to
    # refill it before the tests start).
    model = device.model
    model.soc_wh = model.params.capacity_wh * 0.30
    device.config.household = None
    model.schedule, model.setpoint_w = None, 0.0
