"""Runs a reference water heater as a network node (see :mod:`drready.simulators.runtime`).

The device keeps its own clock: at :meth:`SimulatedWaterHeater.start` it takes the wall clock
(virtual, frozen by freezegun, in simulated runs) and the loop's time; from then on
``now() = epoch0 + (loop.time() - loop0) * time_scale``. Plans and the night window are in the
device's local time (UTC+9). One timer is always armed at the model's next event (a heating start
or stop, a draw-off boundary, the plan's start time, the night window), so changes are announced
when they happen and a virtual-time loop jumps straight to them; nothing polls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from drready.simulators.faults import get_fault
from drready.simulators.runtime import EndpointFactory, SimulatedNode
from drready.simulators.water_heater import (
    WaterHeaterBehaviour,
    WaterHeaterConfig,
    WaterHeaterDevice,
)

from drready.echonet.codec import ESV, Frame
from drready.echonet.node import Node, ObjectBase

_REFUSALS = frozenset({ESV.SETC_SNA, ESV.SETI_SNA, ESV.SETGET_SNA})


class SimulatedWaterHeater(SimulatedNode):
    """A reference heat-pump or hybrid water heater on a datagram endpoint (async context
    manager, idempotent close)."""

    def __init__(
        self,
        open_endpoint: EndpointFactory,
        config: WaterHeaterConfig | None = None,
        faults: Sequence[str] = (),
        *,
        announce_port: int = 3610,
        time_scale: float = 1.0,
        start_time: float | None = None,
    ) -> None:
        super().__init__(open_endpoint, faults, announce_port=announce_port, time_scale=time_scale)
        self.config = config or WaterHeaterConfig()
        #: Where the device's clock starts (epoch seconds); None: the wall clock at start().
        self.start_time = start_time
        for name in self.fault_names:
            fault = get_fault(name)
            if fault.device_class != self.config.device_class:
                raise ValueError(
                    f"fault {name!r} is a {fault.device_class} fault; this simulator is a "
                    f"{self.config.device_class}"
                )
        self.epoch0 = time.time()
        self.loop0 = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.device = WaterHeaterDevice(self.config, lambda: self.epoch0, WaterHeaterBehaviour())

    def now(self) -> float:
        """The device's clock: seconds since the epoch (UTC)."""
        if self._loop is None:
            return self.epoch0
        return self.epoch0 + (self._loop.time() - self.loop0) * self.time_scale

    # -- SimulatedNode hooks -------------------------------------------------------------------
    def _build_device(self, loop: asyncio.AbstractEventLoop) -> None:
        self.epoch0 = time.time() if self.start_time is None else self.start_time
        self.loop0 = loop.time()
        self.device = WaterHeaterDevice(self.config, self.now, WaterHeaterBehaviour())

    def _loop_time(self, device_time: float) -> float:
        return self.loop0 + (device_time - self.epoch0) / self.time_scale

    def _node(self) -> Node:
        return self.device.node

    def _announcing_object(self) -> ObjectBase:
        return self.device.heater

    def _commit(self, responses: list[Frame]) -> list[Frame]:
        refused = any(r.esv in _REFUSALS for r in responses)
        if not self.device.commit(refused=refused):
            return [self._refuse(r) for r in responses]
        return responses

    def _after_request(self, changed: bool) -> None:
        if changed:
            self._announce_changed()
            self._arm_timer()

    def _started(self) -> None:
        self._arm_timer()

    def _handles(self) -> list[asyncio.TimerHandle | None]:
        return [self._timer]

    def _drop_handles(self) -> None:
        self._timer = None

    # -- timers ----------------------------------------------------------------------------------
    def _arm_timer(self) -> None:
        due = self.device.next_event()
        self._timer = self._schedule(self._timer, due, lambda: self._on_timer(due))

    def _on_timer(self, due: float | None) -> None:
        self._timer = None
        self.device.advance(due)
        self._announce_changed()
        self._arm_timer()

    def restart(self) -> None:
        """Power-cycle the device: identity survives, then it announces itself again."""
        self.device.restart()
        self._announce_instances()
        self._announce_changed()
        self._arm_timer()
