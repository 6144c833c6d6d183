"""Runs a simulated device as a network node: a transport, the codec, the node, timers and faults.

:class:`SimulatedNode` is what every simulated device shares; :class:`SimulatedBattery` is the
reference battery (the water heaters are in :mod:`drready.simulators.water_heater_runtime`). The
same classes serve a simulated run (in-memory network, virtual time) and ``drready simulate`` (UDP,
real time). Errors inside the receive path are recorded and re-raised by :meth:`check`, so a
simulator bug fails the run instead of disappearing into the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Self

from drready.simulators.battery import BatteryConfig, BatteryDevice, Behaviour
from drready.simulators.faults import get_fault

from drready.echonet.codec import ESV, MULTICAST_GROUP, Frame, Property, decode
from drready.echonet.errors import DecodeError
from drready.echonet.node import EPC_INSTANCE_LIST_NOTIFICATION, Node, ObjectBase
from drready.echonet.transport import Address, DatagramEndpoint, DatagramHandler

EndpointFactory = Callable[[DatagramHandler], Awaitable[DatagramEndpoint]]
ResponseFilter = Callable[[Frame], Frame | None]


class SimulatorError(RuntimeError):
    """Something went wrong inside the simulator itself (not a device fault)."""


class SimulatedNode:
    """What every simulated ECHONET Lite device does the same way on its endpoint: receive and
    answer, refuse, schedule timers on device time, announce status changes and instances.

    Subclasses build the device (:meth:`_build_device`), say which object's status changes are
    announced (:meth:`_announcing_object`), how device time maps onto the loop
    (:meth:`_loop_time`) and what happens after a request (:meth:`_after_request`).
    """

    def __init__(
        self,
        open_endpoint: EndpointFactory,
        faults: Sequence[str] = (),
        *,
        announce_port: int = 3610,
        time_scale: float = 1.0,
    ) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        # The device's clock runs time_scale times faster than the event loop's: an accelerated
        # device, like a maker's firmware-in-the-loop build, for testing `drready run --time-scale`.
        self.time_scale = time_scale
        self._open_endpoint = open_endpoint
        self.fault_names = tuple(faults)
        self.announce_port = announce_port
        #: Where responses go: None, the request's source port; a port number, that port of the
        #: requester's host (3610 is a common and conforming habit: the ECHONET Lite port).
        self.reply_port: int | None = None
        #: How long the node takes to answer a request (a seeded run's reply latency, in device
        #: time); 0, at once.
        self.reply_delay_s = 0.0
        self.response_filters: list[ResponseFilter] = []
        self._endpoint: DatagramEndpoint | None = None
        self._announced: dict[int, bytes | None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._errors: list[BaseException] = []
        self._tid = 0
        self.received = 0

    # -- what a device class provides -----------------------------------------------------
    def _build_device(self, loop: asyncio.AbstractEventLoop) -> None:
        raise NotImplementedError

    def _node(self) -> Node:
        raise NotImplementedError

    def _announcing_object(self) -> ObjectBase:
        raise NotImplementedError

    def _commit(self, responses: list[Frame]) -> list[Frame]:
        """Apply a Set request's staged changes; return the responses to send."""
        raise NotImplementedError

    def _contact(self) -> None:
        """Anything arrived from the gateway."""

    def _loop_time(self, device_time: float) -> float:
        return device_time / self.time_scale

    def _after_request(self, changed: bool) -> None:
        """Re-arm timers and announce what a request changed."""

    def _started(self) -> None:
        """Called at the end of :meth:`start`."""

    def restart(self) -> None:
        """Power-cycle the device (inside the loop)."""
        raise NotImplementedError

    def _handles(self) -> list[asyncio.TimerHandle | None]:
        return []

    def _drop_handles(self) -> None:
        pass

    # -- life cycle --------------------------------------------------------------------------
    @property
    def address(self) -> Address:
        if self._endpoint is None:
            raise RuntimeError("simulator is not running")
        return self._endpoint.local_address

    @property
    def meter_address(self) -> Address | None:
        """Where an independent meter beside the device serves (None: there is none)."""
        return None

    async def start(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._build_device(self._loop)
        for name in self.fault_names:
            get_fault(name).apply(self)
        self._endpoint = await self._open_endpoint(self._datagram)
        self._announce_instances()
        self._announced = self._announce_snapshot()
        self._started()
        return self

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for handle in self._handles():
            if handle is not None:
                handle.cancel()
        self._drop_handles()
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None

    def check(self) -> None:
        """Re-raise the first error the simulator hit while serving requests."""
        if self._errors:
            raise SimulatorError(f"simulator failed: {self._errors[0]!r}") from self._errors[0]

    # -- receive path --------------------------------------------------------------------
    def _datagram(self, data: bytes, source: Address) -> None:
        try:
            self._serve(data, source)
        except Exception as exc:  # recorded and re-raised by check(): never lost
            self._errors.append(exc)

    def _serve(self, data: bytes, source: Address) -> None:
        try:
            frame = decode(data)
        except DecodeError:
            return  # a node ignores what it cannot parse (Spec. Part 2, 3.2)
        if not isinstance(frame, Frame) or not frame.esv.is_request:
            return
        self.received += 1
        self._contact()
        responses = self._node().handle(frame)
        changed = frame.esv in (ESV.SETC, ESV.SETI, ESV.SETGET)
        if changed:
            responses = self._commit(responses)
        destination = source if self.reply_port is None else (source[0], self.reply_port)
        replies: list[bytes] = []
        for response in responses:
            filtered: Frame | None = response
            for keep in self.response_filters:
                filtered = keep(filtered) if filtered is not None else None
            if filtered is not None:
                replies.append(filtered.encode())
        if self.reply_delay_s > 0 and self._loop is not None and replies:
            # The request took effect now; only its answer is late, as a busy node's is.
            self._loop.call_later(
                self.reply_delay_s / self.time_scale, self._send_all, replies, destination
            )
        else:
            self._send_all(replies, destination)
        self._after_request(changed)

    def _send_all(self, replies: Sequence[bytes], destination: Address) -> None:
        if self._endpoint is not None:
            for reply in replies:
                self._endpoint.send(reply, destination)

    @staticmethod
    def _refuse(response: Frame) -> Frame:
        esv = {ESV.SET_RES: ESV.SETC_SNA, ESV.SETGET_RES: ESV.SETGET_SNA}.get(response.esv)
        if esv is None:
            return response
        return Frame(
            response.tid,
            response.seoj,
            response.deoj,
            esv,
            tuple(Property(p.epc, b"\x00") for p in response.properties),
            response.get_properties,
        )

    # -- timers --------------------------------------------------------------------------
    def _schedule(
        self,
        old: asyncio.TimerHandle | None,
        device_time: float | None,
        callback: Callable[[], None],
    ) -> asyncio.TimerHandle | None:
        """Replace ``old`` by a call of ``callback`` at ``device_time`` (None: no call).

        Device time runs ``time_scale`` times faster than the loop's. Errors in the callback are
        recorded for :meth:`check`, as on the receive path.
        """
        if old is not None:
            old.cancel()
        if device_time is None or self._loop is None:
            return None

        def guarded() -> None:
            try:
                callback()
            except Exception as exc:
                self._errors.append(exc)

        return self._loop.call_at(self._loop_time(device_time), guarded)

    # -- announcements -------------------------------------------------------------------
    # Status changes of the properties in the 0x9D map (ECHONET Lite Spec. Part 2, 4.3.1).
    def _announce_snapshot(self) -> dict[int, bytes | None]:
        obj = self._announcing_object()
        return {epc: obj.read(epc) for epc in sorted(obj.announce_map())}

    def _announce_changed(self) -> None:
        """INF the announced properties whose value changed since the last snapshot."""
        snapshot = self._announce_snapshot()
        changed = [epc for epc, value in snapshot.items() if self._announced.get(epc) != value]
        self._announced = snapshot
        if changed and self._endpoint is not None:
            frame = self._node().announcement(self._announcing_object(), changed, self._next_tid())
            if frame is not None:
                self._endpoint.send(frame.encode(), (MULTICAST_GROUP, self.announce_port))

    def _next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid

    def _announce_instances(self) -> None:
        # A node announces its instances when it starts (Spec. Part 2, 4.3.1).
        node = self._node()
        frame = node.announcement(
            node.node_profile, [EPC_INSTANCE_LIST_NOTIFICATION], self._next_tid()
        )
        if frame is not None and self._endpoint is not None:
            self._endpoint.send(frame.encode(), (MULTICAST_GROUP, self.announce_port))


class SimulatedBattery(SimulatedNode):
    """The reference battery on a datagram endpoint, an async context manager (idempotent close)."""

    def __init__(
        self,
        open_endpoint: EndpointFactory,
        config: BatteryConfig | None = None,
        faults: Sequence[str] = (),
        *,
        announce_port: int = 3610,
        time_scale: float = 1.0,
        start_time: float | None = None,
    ) -> None:
        super().__init__(open_endpoint, faults, announce_port=announce_port, time_scale=time_scale)
        self.config = config or BatteryConfig()
        #: Where the device's wall clock starts (epoch seconds); None: the wall clock at start(),
        #: which is the run's virtual clock in a simulated run.
        self.start_time = start_time
        self._timer: asyncio.TimerHandle | None = None
        self._watch: asyncio.TimerHandle | None = None
        self.device: BatteryDevice = BatteryDevice(self.config, lambda: 0.0, Behaviour())

    def _build_device(self, loop: asyncio.AbstractEventLoop) -> None:
        scale = self.time_scale
        started = time.time() if self.start_time is None else self.start_time
        self.device = BatteryDevice(
            self.config,
            lambda: loop.time() * scale,
            Behaviour(),
            epoch_at_zero_s=started - loop.time() * scale,
        )

    def _node(self) -> Node:
        return self.device.node

    def _announcing_object(self) -> ObjectBase:
        return self.device.battery

    def _contact(self) -> None:
        self.device.contact()

    def _commit(self, responses: list[Frame]) -> list[Frame]:
        if not self.device.commit():
            return [self._refuse(r) for r in responses]
        return responses

    def _after_request(self, changed: bool) -> None:
        self._arm_timer()
        if changed:
            self._announce_changes()

    def _handles(self) -> list[asyncio.TimerHandle | None]:
        return [self._timer, self._watch]

    def _drop_handles(self) -> None:
        self._timer = self._watch = None

    # -- timers --------------------------------------------------------------------------
    def _arm_timer(self) -> None:
        self._timer = self._schedule(self._timer, self.device.next_deadline(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.device.on_time()
        self._announce_changes()
        self._arm_timer()

    # -- announcements -------------------------------------------------------------------
    def _announce_changes(self) -> None:
        """INF the announced properties whose value changed, then watch for the next change the
        physics will make by itself (a ramp crossing zero, a full battery, the reserve)."""
        self._announce_changed()
        due_s = self.device.model.next_change_in()
        # A millisecond past the change, so the model has crossed it when it is read.
        when = None if due_s is None else self.device.model.time + due_s + 1e-3
        self._watch = self._schedule(self._watch, when, self._announce_changes)

    def restart(self) -> None:
        """Power-cycle the device: volatile state is lost, then it announces itself again."""
        self.device.restart()
        self._arm_timer()
        self._announce_instances()
        self._announce_changes()
