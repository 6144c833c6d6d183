"""The DeviceUnderTest facade: what the suites call, in requirement terms, never in bytes.

It is synchronous on purpose: a suite, or a maker at a Python REPL, calls ``dut.request_power(...)``
and gets an answer. Underneath, one long-lived event loop runs the binding (and, in simulated runs,
the simulator); between calls that loop is idle, so virtual time only moves while the harness waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from drready.bindings.types import (
    CommunicationReport,
    DrAck,
    HeaterSample,
    HeaterStatus,
    Identity,
    ProbeResult,
    Sample,
    Status,
    StructuredDataReport,
)
from drready.clock import LoopRunner
from drready.evidence import EvidenceLog
from drready.model import DAY_S
from drready.timeofday import tod_text

if TYPE_CHECKING:
    from drready.profile import Profile


T = TypeVar("T")

#: How far past a time of day a wait for it may end (the device clock read late, or coarse).
LATE_S = 300.0


class DeviceBinding(Protocol):
    """What every binding offers, whatever the device class."""

    protocol: str
    topology: str

    async def communication_check(self) -> CommunicationReport: ...
    async def identity(self) -> Identity: ...
    async def appendix_release(self) -> str | None: ...
    async def node_version(self) -> str | None: ...
    def cut_comms(self) -> None: ...
    def restore_comms(self) -> None: ...


class BatteryBinding(DeviceBinding, Protocol):
    async def request_power(self, target_w: float, duration_s: float | None) -> DrAck: ...
    async def read_target_w(self) -> float: ...
    async def set_own_mode(self, mode: str) -> None: ...
    async def read_mode(self) -> str: ...
    async def read_ratings(self) -> tuple[float, float]: ...
    async def status(self) -> Status: ...
    async def set_backup_reserve_pct(self, pct: float) -> None: ...


class WaterHeaterBinding(DeviceBinding, Protocol):
    async def device_time(self) -> datetime: ...
    def start_time_step_s(self) -> float: ...
    async def request_start_time(self, tod_s: float) -> DrAck: ...
    async def planned_start(self) -> float | None: ...
    async def dr_possible_wh(self) -> float: ...
    async def heater_status(self) -> HeaterStatus: ...


class ServerPathBinding(Protocol):
    """What a binding of the server topology offers besides its device class's operations."""

    async def structured_data(self) -> StructuredDataReport:
        """*-1.2: the documents the device sent so far, and those that broke the schema."""
        ...

    def probe_kinds(self) -> tuple[str, ...]:
        """The security checks of this shape (see :data:`drready.device.PROBES`)."""
        ...

    async def probe(self, kind: str) -> ProbeResult: ...


#: Security checks of the server path, by the side the device plays. As a client (it polls an
#: OpenADR 3 servicer), it must refuse a servicer over plain HTTP, with TLS below 1.2, with a
#: certificate from an untrusted CA or for another host, or redirecting to another host; and it
#: must not execute an event replayed (same id and modification time), tampered with, or
#: delivered unauthenticated, and must present its credentials on every request. As a server
#: (a maker's cloud the harness calls), it must refuse control without or with wrong
#: credentials, a replayed request and plain HTTP, rate-limit repeated bad credentials, and not
#: disclose the unit's identity to an unauthenticated peer.
PROBES: dict[str, str] = {
    "plain-http": "a servicer over plain HTTP",
    "tls-1.1": "a servicer offering TLS 1.1 at most",
    "untrusted-ca": "a servicer certificate from a CA the device does not trust",
    "wrong-host": "a servicer certificate for another host name",
    "redirect": "a servicer redirecting to another host",
    "replayed-event": "an event replayed with the same id and modification time",
    "tampered-event": "an event altered without a new modification time",
    "unauthenticated-notification": "an event notification without the subscription's token",
    "missing-credentials": "a request from the device without its credentials",
    "no-credentials": "control without credentials",
    "wrong-credentials": "control with wrong credentials",
    "replayed-request": "a control request replayed as sent",
    "plain-http-control": "control over plain HTTP",
    "rate-limit": "repeated bad credentials are rate-limited",
    "identity-unauthenticated": "the unit's identity asked for without credentials",
}


class SimulatorControl(Protocol):
    """What only an in-process simulator offers the harness."""

    async def start(self) -> object: ...
    def restart(self) -> None: ...
    def check(self) -> None: ...
    def close(self) -> None: ...


class DeviceUnderTest:
    def __init__(
        self,
        runner: LoopRunner,
        binding: DeviceBinding,
        profile: Profile,
        evidence: EvidenceLog,
        simulator: SimulatorControl | None = None,
    ) -> None:
        self.runner = runner
        self.binding = binding
        self.profile = profile
        self.evidence = evidence
        self.simulator = simulator
        self._start = runner.clock.monotonic()
        #: Figures tests measured, in order: (name, value, unit). The recorder files each
        #: under the test that was running.
        self.metrics: list[tuple[str, float, str]] = []
        #: Told when a DR starts (label, device seconds or None): the progress display.
        self.on_dr: Callable[[str, float | None], None] | None = None

    @property
    def local_address(self) -> tuple[str, int] | None:
        """The harness's own ECHONET Lite socket (host, port), for the bundle's pcapng trace;
        None where the binding has none."""
        gateway = getattr(self.binding, "gateway", None)
        address: tuple[str, int] | None = getattr(gateway, "local_address", None)
        return address

    # -- time ------------------------------------------------------------------------------
    @property
    def virtual_time(self) -> bool:
        return self.runner.clock.virtual

    def now(self) -> float:
        """Seconds since the epoch on the run's clock."""
        return self.runner.clock.now()

    @property
    def time_scale(self) -> float:
        """How many times faster than real time the device's clock runs (``--time-scale``)."""
        return self.profile.time_scale

    def elapsed_s(self) -> float:
        """Seconds of device time since the session opened (simulated time in virtual runs)."""
        return (self.runner.clock.monotonic() - self._start) * self.time_scale

    def wait(self, seconds: float) -> None:
        """Let the device run for ``seconds`` of its own clock with the harness saying nothing."""
        self._note(f"wait {seconds:.0f} s")
        self.runner.sleep(seconds / self.time_scale)

    def _run(self, coro: Any) -> Any:
        try:
            return self.runner.run(coro)
        finally:
            if self.simulator is not None:
                self.simulator.check()

    def record_metric(self, name: str, value: float, unit: str) -> None:
        """File a figure the running test measured (a response time, an offset) in the report,
        where `drready diff` compares it with another run's."""
        self.metrics.append((name, float(value), unit))
        self._note(f"metric {name} = {value:g} {unit}", metric=name, value=value, unit=unit)

    def _note(self, text: str, **values: Any) -> None:
        self.evidence.add("note", "harness", "", text, values=values)

    @property
    def device_class(self) -> str:
        return self.profile.device.device_class

    @property
    def _battery(self) -> BatteryBinding:
        if self.device_class != "battery":
            raise TypeError(f"a battery operation on a {self.device_class} device")
        return cast(BatteryBinding, self.binding)

    @property
    def _heater(self) -> WaterHeaterBinding:
        if self.device_class not in ("heatpump", "hybrid"):
            raise TypeError(f"a water-heater operation on a {self.device_class} device")
        return cast(WaterHeaterBinding, self.binding)

    # -- requirement-level operations ------------------------------------------------------
    def communication_check(self) -> CommunicationReport:
        report: CommunicationReport = self._run(self.binding.communication_check())
        return report

    def identity(self) -> Identity:
        identity: Identity = self._run(self.binding.identity())
        self._note("identity read", **identity.to_json())
        return identity

    def appendix_release(self) -> str | None:
        release: str | None = self._run(self.binding.appendix_release())
        return release

    def node_version(self) -> str | None:
        version: str | None = self._run(self.binding.node_version())
        return version

    def request_power(self, target_w: float, duration_s: float | None = None) -> DrAck:
        """A DR request: signed target power (+ charge, - discharge) and an optional duration."""
        self._note(
            f"DR request {target_w:+.0f} W for {duration_s} s",
            target_w=target_w,
            duration_s=duration_s,
        )
        ack: DrAck = self._run(self._battery.request_power(target_w, duration_s))
        self._note(f"DR request {'accepted' if ack.accepted else 'refused'}: {ack.detail}")
        if ack.accepted and self.on_dr is not None:
            self.on_dr(f"DR {target_w:+.0f} W", duration_s)
        return ack

    # -- server path (*-1.2, *-3.2) --------------------------------------------------------
    @property
    def _server(self) -> ServerPathBinding:
        if self.binding.topology != "server":
            raise TypeError(f"a server-path operation over the {self.binding.topology} topology")
        return cast(ServerPathBinding, self.binding)

    def structured_data(self) -> StructuredDataReport:
        report: StructuredDataReport = self._run(self._server.structured_data())
        return report

    def security_probe_kinds(self) -> tuple[str, ...]:
        return self._server.probe_kinds()

    def security_probe(self, kind: str) -> ProbeResult:
        """Try one insecure exchange on the server path (:data:`PROBES`) and say what the device
        did."""
        if kind not in PROBES:
            raise ValueError(f"unknown security probe {kind!r}")
        self._note(f"security probe: {PROBES[kind]}", probe=kind)
        result: ProbeResult = self._run(self._server.probe(kind))
        self._note(
            f"security probe {kind}: {'refused' if result.refused else 'ACCEPTED'}: "
            f"{result.detail}",
            probe=kind,
            refused=result.refused,
        )
        return result

    def read_target_w(self) -> float:
        value: float = self._run(self._battery.read_target_w())
        return value

    def set_own_mode(self, mode: str) -> None:
        """The user (not DR) chooses the device's own operation mode."""
        self._note(f"own mode set to {mode}")
        self._run(self._battery.set_own_mode(mode))

    def read_mode(self) -> str:
        mode: str = self._run(self._battery.read_mode())
        return mode

    def read_ratings(self) -> tuple[float, float]:
        """(max charge W, max discharge W) as the device reports them."""
        ratings: tuple[float, float] = self._run(self._battery.read_ratings())
        return ratings

    def status(self) -> Status:
        status: Status = self._run(self._battery.status())
        self._record(status)
        return status

    def _record(self, status: Status) -> None:
        self.evidence.add(
            "measurement",
            "echonet",
            "",
            f"power {status.power_w:+.0f} W mode {status.mode}",
            values=asdict(status),
        )

    def set_backup_reserve_pct(self, pct: float) -> None:
        self._note(f"backup reserve set to {pct:.0f} %")
        self._run(self._battery.set_backup_reserve_pct(pct))

    def sample(self, duration_s: float, interval_s: float | None = None) -> list[Sample]:
        """Read the status every ``interval_s`` (default: the profile's poll interval).

        Durations and ``Sample.elapsed_s`` are in seconds of the device's clock.
        """
        battery = self._battery

        async def read(elapsed: float) -> Sample:
            status = await battery.status()
            self._record(status)
            return Sample(elapsed, self.now(), status)

        return self._poll(read, duration_s, interval_s)

    def _poll(
        self,
        read: Callable[[float], Awaitable[T]],
        duration_s: float,
        interval_s: float | None,
    ) -> list[T]:
        """``read(elapsed device seconds)`` on absolute ticks for ``duration_s``, both ends in."""
        interval = interval_s or self.profile.timings.poll_interval_s
        scale = self.time_scale
        samples: list[T] = []

        async def run() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            tick = 0
            while True:
                samples.append(await read((loop.time() - start) * scale))
                tick += 1
                if tick * interval > duration_s + 1e-9:
                    return
                # Absolute ticks: a slow read on real hardware does not stretch the window.
                await asyncio.sleep(max(0.0, start + tick * interval / scale - loop.time()))

        self._run(run())
        return samples

    def wait_until(
        self, predicate: Callable[[Status], bool], timeout_s: float, interval_s: float | None = None
    ) -> Sample | None:
        """Poll until ``predicate(status)`` holds; None if ``timeout_s`` (device seconds) passes."""
        interval = interval_s or self.profile.timings.poll_interval_s
        scale = self.time_scale
        found: list[Sample] = []

        async def run() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            while True:
                status = await self._battery.status()
                elapsed = (loop.time() - start) * scale
                self._record(status)
                if predicate(status):
                    found.append(Sample(elapsed, self.now(), status))
                    return
                if elapsed >= timeout_s:
                    return
                await asyncio.sleep(min(interval, max(0.0, timeout_s - elapsed)) / scale)

        self._run(run())
        return found[0] if found else None

    # -- water heaters (*-2.1 to *-2.4 of heatpump and hybrid) ------------------------------
    def device_time(self) -> datetime:
        """The device's own local date and time (its plan runs on this clock)."""
        when: datetime = self._run(self._heater.device_time())
        return when

    def time_of_day_s(self) -> float:
        """Seconds after the device's local midnight, on the device's clock."""
        when = self.device_time()
        return when.hour * 3600.0 + when.minute * 60.0 + when.second

    def wait_until_time_of_day(self, tod_s: float, *, max_wait_s: float = DAY_S) -> float:
        """Let the device run until its clock next shows ``tod_s`` (seconds after midnight).

        Returns the device seconds waited. The device's clock has minute resolution, and is read
        a little after the wait (scheduling, the request's round trip: at a high
        ``--time-scale`` a millisecond is seconds of device time), so the wait ends up to
        :data:`LATE_S` after ``tod_s``. ``max_wait_s`` bounds it (a clock that does not move
        must not hang the run): past it, AssertionError names what was seen.
        """
        waited = 0.0
        for _ in range(4):  # a wait, then corrections for a drifting or coarse device clock
            now = self.time_of_day_s()
            ahead = (tod_s - now) % DAY_S
            if ahead < 60.0 or ahead >= DAY_S - LATE_S:
                return waited
            if waited + ahead > max_wait_s + 60.0:
                break
            self._note(f"wait until device time {tod_text(tod_s)} ({ahead:.0f} s)")
            self.runner.sleep(ahead / self.time_scale)
            waited += ahead
        raise AssertionError(
            f"the device clock did not reach {tod_text(tod_s)} within {max_wait_s:.0f} s "
            f"(it shows {tod_text(self.time_of_day_s())} after {waited:.0f} s)"
        )

    @property
    def start_time_step_s(self) -> float:
        """Resolution of a DR start time on this device (e.g. 3600 s for the standard 0xCA)."""
        return self._heater.start_time_step_s()

    def request_start_time(self, tod_s: float) -> DrAck:
        """A DR request: start heating at ``tod_s`` (seconds after the device's midnight)."""
        self._note(f"DR request: heating start {tod_text(tod_s)}", start_s=tod_s)
        ack: DrAck = self._run(self._heater.request_start_time(tod_s))
        self._note(f"DR request {'accepted' if ack.accepted else 'refused'}: {ack.detail}")
        if ack.accepted and self.on_dr is not None:
            # The window until the heating starts: the device must not heat before it.
            until = (tod_s - self.time_of_day_s()) % DAY_S
            self.on_dr(f"DR heating start {tod_text(tod_s)}", until)
        return ack

    def planned_start(self) -> float | None:
        """The heating start time the device reports it has planned (None: no DR plan)."""
        planned: float | None = self._run(self._heater.planned_start())
        return planned

    def dr_possible_wh(self) -> float:
        """The DR-possible amount (Wh) the device reports for its planned start time."""
        amount: float = self._run(self._heater.dr_possible_wh())
        self._note(f"DR-possible amount {amount:.0f} Wh", dr_possible_wh=amount)
        return amount

    def heater_status(self) -> HeaterStatus:
        status: HeaterStatus = self._run(self._heater.heater_status())
        self._record_heater(status)
        return status

    def _record_heater(self, status: HeaterStatus) -> None:
        self.evidence.add(
            "measurement",
            "echonet",
            "",
            f"power {status.power_w:.0f} W heating {status.heating} aux {status.aux_on}",
            values=asdict(status),
        )

    def sample_heater(
        self, duration_s: float, interval_s: float | None = None
    ) -> list[HeaterSample]:
        """Read the water heater every ``interval_s`` device seconds for ``duration_s``.

        Each sample carries the device's time of day, reckoned from one read of its clock at
        the start (the clock has minute resolution; the harness's own clock is finer).
        """
        heater = self._heater
        start_tod = self.time_of_day_s()

        async def read(elapsed: float) -> HeaterSample:
            status = await heater.heater_status()
            self._record_heater(status)
            return HeaterSample(elapsed, (start_tod + elapsed) % DAY_S, status)

        return self._poll(read, duration_s, interval_s)

    @contextmanager
    def comms_cut(self) -> Iterator[None]:
        """The harness falls silent: nothing is sent to the device inside the block."""
        self._note("communication cut: the harness sends nothing")
        self.binding.cut_comms()
        try:
            yield
        finally:
            self.binding.restore_comms()
            self._note("communication restored")

    @property
    def can_restart(self) -> bool:
        return self.simulator is not None

    def restart(self) -> None:
        """Power-cycle the device (in-process simulator only)."""
        if self.simulator is None:
            raise RuntimeError("restart needs the in-process simulator")
        self._note("device restarted (power cycle)")
        simulator = self.simulator

        async def restart() -> None:
            simulator.restart()  # inside the loop: the restarted node announces itself

        self._run(restart())

    def close(self) -> None:
        close_binding = getattr(self.binding, "close", None)
        if callable(close_binding):
            close_binding()  # a binding that holds connections (Modbus TCP) lets them go
        if self.simulator is not None:
            self.simulator.close()
        self.runner.close()


def facade_for(
    runner: LoopRunner,
    binding: DeviceBinding,
    profile: Profile,
    evidence: EvidenceLog,
    simulator: SimulatorControl | None = None,
) -> DeviceUnderTest:
    """The facade of the profile's device class over ``binding``: what a session hands the
    suites."""
    return DeviceUnderTest(runner, binding, profile, evidence, simulator)
