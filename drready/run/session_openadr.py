"""Open a DUT over the server topology, OpenADR 3 shape: the harness runs the DR servicer (VTN)
and the device's VEN polls it.

``openadr3.ven = "simulator"``: everything in-process on virtual time: the servicer (HTTPS with a
CA made for the run), the reference ECHONET Lite device, and the reference VEN in front of it
(:mod:`drready.simulators.ven`), which trusts the run's CA. ``"external"``: the servicer listens on
``bind:port`` in real time; the CA certificate a real VEN must trust is written next to the
evidence file (``openadr3-ca.pem``), and the session waits, bounded, for the VEN to register.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drready.bindings.openadr_device import (
    MARGIN_S,
    OpenAdrBatteryBinding,
    OpenAdrDeviceBinding,
    OpenAdrLink,
    OpenAdrWaterHeaterBinding,
)
from drready.clock import Clock, LoopRunner, RealClock, VirtualClock
from drready.device import DeviceUnderTest, facade_for
from drready.evidence import EvidenceLog, Record
from drready.openadr import vocab
from drready.openadr.server import Servicer, ServicerTimeout
from drready.openadr.tls import RunTls, thawed
from drready.profile import OpenAdrSettings, Profile

if TYPE_CHECKING:
    from drready.device import SimulatorControl
    from drready.simulators.ven import ReferenceVen

#: Where a real VEN finds the CA it must trust, next to the evidence file.
CA_FILE_NAME = "openadr3-ca.pem"
#: How long a real VEN has to register once the servicer listens (seconds, real time).
EXTERNAL_REGISTRATION_S = 120.0


def open_openadr(
    profile: Profile, faults: Sequence[str], evidence_path: Path | None, clock: Clock | None
) -> DeviceUnderTest:
    from drready.errors import SessionError

    settings = profile.openadr3
    if settings is None:
        raise SessionError("the OpenADR 3 binding needs an [openadr3] table in the profile")
    if profile.is_simulated:
        return _open_simulated(profile, settings, faults, evidence_path, clock or VirtualClock())
    return _open_external(profile, settings, evidence_path, clock or RealClock())


class _Discard(EvidenceLog):
    """The ECHONET Lite link between the reference VEN and its device is inside the DUT: the
    harness's evidence is what crosses the servicer, so that link's frames are not kept."""

    def add(
        self,
        kind: str,
        channel: str,
        peer: str,
        summary: str,
        *,
        data: bytes = b"",
        values: dict[str, Any] | None = None,
    ) -> Record:
        return Record(0, 0.0, kind, channel, peer, summary)


def _tls(settings: OpenAdrSettings, clock: Clock) -> RunTls | None:
    if not settings.tls:
        return None
    hosts = [settings.server_name, settings.bind]
    if settings.bind in ("0.0.0.0", "::"):
        hosts.append("127.0.0.1")
    with thawed(clock):
        return RunTls(hosts)


async def _start_servicer(
    profile: Profile, settings: OpenAdrSettings, evidence: EvidenceLog, tls: RunTls | None
) -> tuple[Servicer, OpenAdrLink]:
    from drready.errors import SessionError

    servicer = Servicer(
        evidence,
        clients={settings.client_id: settings.client_secret},
        ssl_context=tls.server_context() if tls is not None else None,
        host=settings.bind,
        port=settings.port,
    )
    try:
        await servicer.start()
    except OSError as exc:
        raise SessionError(
            f"openadr3: cannot serve on {settings.bind}:{settings.port}: {exc.strerror or exc}"
        ) from None
    program = await servicer.add_program(vocab.PROGRAM_NAME)
    telemetry = await servicer.publish_event(
        program["id"],
        start=datetime.now(UTC),
        duration_s=None,
        payload_type=vocab.TELEMETRY,
        values=[settings.report_interval_s],
        name="telemetry",
    )
    spec = profile.water_heater
    link = OpenAdrLink(
        servicer=servicer,
        tls=tls,
        evidence=evidence,
        client_id=settings.client_id,
        ven_name=settings.ven_name,
        program_id=program["id"],
        telemetry_event_id=telemetry["id"],
        poll_interval_s=settings.poll_interval_s,
        report_interval_s=settings.report_interval_s,
        own_mode=profile.device.own_modes[0] if profile.device.own_modes else "auto",
        probe_start=spec.evaluation_start_time if spec is not None else "13:00",
    )
    return servicer, link


def _binding(profile: Profile, link: OpenAdrLink) -> OpenAdrDeviceBinding:
    if profile.device.device_class == "battery":
        return OpenAdrBatteryBinding(link)
    return OpenAdrWaterHeaterBinding(link)


async def _wait_ready(servicer: Servicer, link: OpenAdrLink, timeout_s: float) -> str | None:
    """None once the VEN registered, polled and reported; else what it did not do."""
    try:
        await servicer.wait_for_poll(link.client_id, float("-inf"), timeout_s)
    except ServicerTimeout:
        registered = any(v.get("clientID") == link.client_id for v in servicer.vens())
        return f"it {'registered but ' if registered else 'did not register and '}did not poll"
    try:
        await servicer.wait_for_report(
            lambda r: r.report.get("eventID") == link.telemetry_event_id,
            link.report_interval_s + MARGIN_S,
            since=0,
        )
    except ServicerTimeout:
        return "it polls but sends no telemetry report"
    return None


class _SimulatedVen:
    """The reference VEN, its device and the servicer, as the facade's simulator control."""

    def __init__(
        self,
        runner: LoopRunner,
        ven: ReferenceVen,
        servicer: Servicer,
        device: SimulatorControl,
    ) -> None:
        self.runner = runner
        self.ven = ven
        self.servicer = servicer
        self.device = device
        self._closed = False

    async def start(self) -> object:
        await self.ven.start()
        return self

    def restart(self) -> None:
        self.device.restart()
        self.ven.restart()

    def check(self) -> None:
        self.device.check()
        self.servicer.check()
        self.ven.check()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.runner.run(self.ven.close())
            self.runner.run(self.servicer.close())
        finally:
            self.device.close()


def _open_simulated(
    profile: Profile,
    settings: OpenAdrSettings,
    faults: Sequence[str],
    evidence_path: Path | None,
    clock: Clock,
) -> DeviceUnderTest:
    from drready.errors import SessionError
    from drready.run.session import start_echonet_simulator
    from drready.simulators.faults import get_fault
    from drready.simulators.ven import ReferenceVen, VenConfig

    chosen = [get_fault(name) for name in faults]
    device_faults = [f.name for f in chosen if f.binding == "echonet"]
    ven_faults = [f for f in chosen if f.binding == "openadr3"]
    others = [f.name for f in chosen if f.binding not in ("echonet", "openadr3")]
    if others:
        raise SessionError(f"--fault {others[0]}: not a fault of the OpenADR 3 simulator")
    runner = LoopRunner(clock)
    evidence = EvidenceLog(clock.now, evidence_path)
    servicer: Servicer | None = None
    side = None
    try:
        tls = _tls(settings, clock)
        servicer, link = runner.run(_start_servicer(profile, settings, evidence, tls))
        side = start_echonet_simulator(profile, device_faults, runner, _Discard(clock.now))
        config = VenConfig(
            base_url=servicer.base_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            ven_name=settings.ven_name,
            ca_pem=tls.ca_pem if tls is not None else None,
            poll_interval_s=settings.poll_interval_s,
            report_interval_s=settings.report_interval_s,
            comms_loss_timeout_s=profile.timings.comms_loss_timeout_s,
        )
        ven = ReferenceVen(config, side.binding, profile.device.device_class)
        for fault in ven_faults:
            fault.apply(ven)
        simulator = _SimulatedVen(runner, ven, servicer, side.simulator)
        runner.run(simulator.start())
        timeout = 3 * settings.poll_interval_s + MARGIN_S
        problem = runner.run(_wait_ready(servicer, link, timeout))
        ven.check()
        if problem is not None:
            raise SessionError(
                f"the reference VEN is not working: {problem} within {timeout:g} s "
                f"({ven.last_error or 'no error seen'})"
            )
    except BaseException:
        if side is not None:
            side.simulator.close()
        if servicer is not None:
            runner.run(servicer.close())
        runner.close()
        raise
    return facade_for(runner, _binding(profile, link), profile, evidence, simulator)


def _open_external(
    profile: Profile, settings: OpenAdrSettings, evidence_path: Path | None, clock: Clock
) -> DeviceUnderTest:
    from drready.errors import SessionError

    runner = LoopRunner(clock)
    evidence = EvidenceLog(clock.now, evidence_path)
    try:
        tls = _tls(settings, clock)
        servicer, link = runner.run(_start_servicer(profile, settings, evidence, tls))
    except BaseException:
        runner.close()
        raise
    try:
        if tls is not None:
            directory = evidence_path.parent if evidence_path is not None else Path.cwd()
            directory.mkdir(parents=True, exist_ok=True)
            (directory / CA_FILE_NAME).write_bytes(tls.ca_pem)
        timeout = max(EXTERNAL_REGISTRATION_S, 3 * settings.poll_interval_s)
        problem = runner.run(_wait_ready(servicer, link, timeout))
        if problem is not None:
            raise SessionError(
                f"no VEN as client {settings.client_id!r} at {servicer.base_url}: {problem} "
                f"within {timeout:g} s"
            )
    except BaseException:
        runner.run(servicer.close())
        runner.close()
        raise
    binding = _binding(profile, link)

    def close() -> None:
        runner.run(servicer.close())

    binding.close_hook = close
    return facade_for(runner, binding, profile, evidence)


__all__ = ["CA_FILE_NAME", "open_openadr"]
