"""Named faults of the reference water heaters whose readings contradict each other: the
regression cases of issue 11's "one witness never enough" (a power reading that is wrong while
the heat pump heats on time) and "counters across transitions" (an energy counter that restarts
when a DR heating starts). Each must fail exactly the reporting requirement (*-2.4): execution
(*-2.3) is judged by every witness, and the others still show it. Registered into
:data:`drready.simulators.fault_registry.FAULTS` on import.
"""

from __future__ import annotations

from drready.simulators.fault_registry import WaterHeaterSimulator, fault

#: What the broken power reading shows: a standby figure, plausible on its own.
CONSTANT_POWER_W = 8.0


def _constant_power(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.power_constant_w = CONSTANT_POWER_W


def _counter_restarts(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.energy_restarts_at_dr = True


for _prefix, _class in (("hp", "heatpump"), ("hy", "hybrid")):
    _id = "HP" if _prefix == "hp" else "HY"
    fault(
        f"{_prefix}_power_constant_while_heating",
        _class,
        (f"{_id}-2.4",),
        f"Its instantaneous power (0x84) reads a constant {CONSTANT_POWER_W:.0f} W while it heats "
        "on time; its energy counter (0x85) and heating status (0xB2) show the heating.",
    )(_constant_power)
    fault(
        f"{_prefix}_energy_counter_restarts_at_dr",
        _class,
        (f"{_id}-2.4",),
        "Its cumulative energy counter (0x85) restarts from 0 when a DR heating starts.",
    )(_counter_restarts)
