"""The DeviceUnderTest facade: what the suites call, in requirement terms, never in bytes.

It is synchronous on purpose: a suite, or a maker at a Python REPL, calls ``dut.request_power(...)``
and gets an answer. Underneath, one long-lived event loop runs the binding (and, in simulated runs,
the simulator); between calls that loop is idle, so virtual time only moves while the harness waits.

This module holds what every device class shares; :mod:`drready.device.battery` and
:mod:`drready.device.water_heater` add each class's operations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from drready.bindings.base import DeviceBinding, ServerPathBinding, SimulatorControl
from drready.bindings.types import (
    Capabilities,
    CommunicationReport,
    Identity,
    NotApplicable,
    ProbeResult,
    StructuredDataReport,
)
from drready.clock import LoopRunner
from drready.errors import ExchangeError, Inconclusive, NotExercised
from drready.evidence import EvidenceLog, Finding
from drready.model import DeviceClass
from drready.operator import OPERATOR_STEPS, NoOperator, Operator, OperatorAnswer
from drready.profile import OperatorSettings

if TYPE_CHECKING:
    from drready.profile import Profile

__all__ = ["PROBES", "DeviceUnderTest"]

T = TypeVar("T")

#: A gap of more than this many poll intervals between two readings is too wide to judge across.
MAX_GAP_POLLS = 3

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


class DeviceUnderTest:
    """What every device class offers: time, waits, communication, identity, the server path,
    comms cuts, restarts, metrics."""

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
        #: What this device, over this binding, lets the harness do (the suites branch on it).
        self.capabilities: Capabilities = replace(
            binding.capabilities, restart=simulator is not None
        )
        self._server_path: ServerPathBinding | None = binding.server_path
        #: Who carries out operator steps (the run sets it: a person at the terminal, the
        #: profile's power switch); by default nobody, and the steps are not exercised.
        self.operator: Operator = NoOperator("no operator in this session; not exercised")
        self._start = runner.clock.monotonic()
        #: Figures tests measured, in order: (name, value, unit). The recorder files each
        #: under the test that was running.
        self.metrics: list[tuple[str, float, str]] = []
        #: Protocol violations the binding's monitor saw, whatever test was running (the
        #: session hands the same list to the monitor; the recorder files them per test).
        self.findings: list[Finding] = []
        #: Told when a DR starts (label, device seconds or None): the progress display.
        self.on_dr: Callable[[str, float | None], None] | None = None
        # Closed in reverse: the binding (its connections, while the loop still runs), the
        # simulator, the loop, and last the evidence log, which the others may still write to.
        self._closing = ExitStack()
        self._closing.callback(evidence.close)
        self._closing.callback(runner.close)
        if simulator is not None:
            self._closing.callback(simulator.close)
        self._closing.callback(binding.close)

    @property
    def local_address(self) -> tuple[str, int] | None:
        """The harness's own ECHONET Lite socket (host, port), for the bundle's pcapng trace;
        None where the binding has none."""
        return self.binding.local_address

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

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
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
    def device_class(self) -> DeviceClass:
        return DeviceClass(self.profile.device.device_class)

    @property
    def max_gap_s(self) -> float:
        """The widest gap between two readings a series may have and still be judged across
        (device seconds): three poll intervals. Wider, and what happened in between is not known
        well enough to integrate over it."""
        return MAX_GAP_POLLS * self.profile.timings.poll_interval_s

    def _poll(
        self,
        read: Callable[[float], Awaitable[T]],
        duration_s: float,
        interval_s: float | None,
        *,
        tolerate: tuple[type[BaseException], ...] = (),
    ) -> list[T]:
        """``read(elapsed device seconds)`` on absolute ticks for ``duration_s``, both ends in.

        A read that raises one of ``tolerate`` (a poll lost on the wire, retries exhausted) is a
        gap: noted in the evidence, left out of the series, and polling goes on; if every read
        of the window is lost, the last error is raised.
        """
        interval = interval_s or self.profile.timings.poll_interval_s
        scale = self.time_scale
        samples: list[T] = []
        lost: list[BaseException] = []

        async def run() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            tick = 0
            while True:
                elapsed = (loop.time() - start) * scale
                try:
                    samples.append(await read(elapsed))
                except tolerate as exc:
                    lost.append(exc)
                    self._note_gap(elapsed, exc)
                tick += 1
                if tick * interval > duration_s + 1e-9:
                    return
                # Absolute ticks: a slow read on real hardware does not stretch the window.
                await asyncio.sleep(max(0.0, start + tick * interval / scale - loop.time()))

        self._run(run())
        if not samples and lost:
            raise lost[-1]
        return samples

    def _note_gap(self, elapsed_s: float, error: BaseException) -> None:
        """A poll lost on the wire: the series has a gap here, not a reading."""
        self._note(
            f"poll lost at +{elapsed_s:.0f} s (a gap in the series): {error}",
            gap_at_s=elapsed_s,
            error=str(error),
        )

    # -- requirement-level operations ------------------------------------------------------
    def communication_check(self) -> CommunicationReport:
        return self._run(self.binding.communication_check())

    def identity(self) -> Identity:
        identity = self._run(self.binding.identity())
        self._note("identity read", **identity.to_json())
        return identity

    def own_state(self) -> str | None:
        """What the device does on its own, where its class has such a state to compare across a
        restart (a battery's operation mode); None where it has not."""
        return None

    def settle_own_state(self) -> str | None:
        """Put the device in its own state (no DR active) and return it, as :meth:`own_state`
        reads it: a test that compares it across a restart starts from there. A device that
        cannot be brought there makes the test :class:`Inconclusive` (the class's facade says
        why and which requirement's failure caused it)."""
        return self.own_state()

    def appendix_release(self) -> str | None:
        return self._run(self.binding.appendix_release())

    def node_version(self) -> str | None:
        return self._run(self.binding.node_version())

    # -- server path (*-1.2, *-3.2) --------------------------------------------------------
    @property
    def _server(self) -> ServerPathBinding:
        if self._server_path is None:
            raise NotApplicable(
                f"the {self.binding.protocol} binding has no server path "
                f"({self.binding.topology} topology)"
            )
        return self._server_path

    def structured_data(self) -> StructuredDataReport:
        return self._run(self._server.structured_data())

    def security_probe_kinds(self) -> tuple[str, ...]:
        return self._server.probe_kinds()

    def security_probe(self, kind: str) -> ProbeResult:
        """Try one insecure exchange on the server path (:data:`PROBES`) and say what the device
        did."""
        if kind not in PROBES:
            raise ValueError(f"unknown security probe {kind!r}")
        self._note(f"security probe: {PROBES[kind]}", probe=kind)
        result = self._run(self._server.probe(kind))
        self._note(
            f"security probe {kind}: {'refused' if result.refused else 'ACCEPTED'}: "
            f"{result.detail}",
            probe=kind,
            refused=result.refused,
        )
        return result

    # -- comms loss and restarts -----------------------------------------------------------
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
        """The harness restarts the device itself (the in-process simulator); otherwise a
        restart is an operator step."""
        return self.capabilities.restart

    def restart(self) -> None:
        """Power-cycle the device, and return once it answers again: the in-process simulator
        restarts itself; an external device is restarted by the operator (or the profile's
        power switch), then polled until it answers.

        :class:`NotExercised` when nobody can do it (no terminal, ``--no-operator``) or the
        operator skips it; :class:`Inconclusive` when it could not be done, was not answered in
        time, or the device does not answer again within ``operator.boot_timeout_s``."""
        if self.simulator is None:
            self.operator_step("restart")
            self._wait_until_back()
            return
        self._note("device restarted (power cycle)")
        simulator = self.simulator

        async def restart() -> None:
            simulator.restart()  # inside the loop: the restarted node announces itself

        self._run(restart())

    def operator_step(self, step_id: str) -> OperatorAnswer:
        """Ask for operator step ``step_id`` (:data:`~drready.operator.OPERATOR_STEPS`) and
        record the question and the answer in the evidence (kind "operator"). Returns the
        answer when it was done; raises :class:`NotExercised` or :class:`Inconclusive` (see
        :meth:`restart`) otherwise."""
        step = OPERATOR_STEPS[step_id]
        self.evidence.add(
            "operator",
            "harness",
            "",
            f"operator step {step.id} asked: {step.instruction}",
            values={"state": "asked", **step.to_json()},
        )
        answer = self.operator.ask(step)
        self.evidence.add(
            "operator",
            "harness",
            "",
            f"operator step {step.id}: {answer.answer} by {answer.by} after "
            f"{answer.waited_s:.0f} s: {answer.detail}",
            values={"state": "answered", **answer.to_json()},
        )
        if answer.answer in ("not-exercised", "skipped"):
            raise NotExercised(f"{step.id} needs an operator: {answer.detail}")
        if answer.answer == "timeout":
            raise Inconclusive(f"operator step {step.id}: no answer within {answer.waited_s:.0f} s")
        if answer.answer == "could-not":
            raise Inconclusive(f"operator step {step.id} was not done: {answer.detail}")
        return answer

    def _wait_until_back(self) -> None:
        """Poll the device's identity until it answers, bounded by ``operator.boot_timeout_s``
        (real seconds: a device boots on the wall clock, whatever its DR clock's scale)."""
        settings = self.profile.operator or OperatorSettings()
        clock = self.runner.clock
        deadline = clock.monotonic() + settings.boot_timeout_s
        interval = min(5.0, settings.boot_timeout_s / 10)
        problem = ""
        while True:
            try:
                self._run(self.binding.identity())
            except ExchangeError as exc:
                problem = str(exc)
            else:
                self._note("the device answers again after the restart")
                return
            if clock.monotonic() >= deadline:
                raise Inconclusive(
                    f"the device did not answer within {settings.boot_timeout_s:g} s after the "
                    f"restart: {problem}",
                    cause="*-1.1",
                )
            self.runner.sleep(interval)

    def close(self) -> None:
        """Let go of the binding's connections, the simulator, the loop and the evidence file;
        a second call does nothing."""
        self._closing.close()
