"""Open a DUT over the server topology, OpenADR 3 shape: the harness runs the DR servicer (VTN)
and the device's VEN polls it.

``openadr3.ven = "simulator"``: everything in-process on virtual time: the servicer (HTTPS with a
CA made for the run) and the simulator backend's VEN in front of its reference ECHONET Lite
device (:meth:`drready.simulation.SimulatorBackend.openadr_ven`), which trusts the run's CA.
``"external"``: the servicer listens on ``bind:port`` in real time; the CA certificate a real
VEN must trust is written next to the evidence file (``openadr3-ca.pem``), and the session
waits, bounded, for the VEN to register.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from drready.bindings.openadr_device import (
    MARGIN_S,
    OpenAdrBatteryBinding,
    OpenAdrDeviceBinding,
    OpenAdrLink,
    OpenAdrWaterHeaterBinding,
)
from drready.clock import Clock, LoopRunner, RealClock, VirtualClock
from drready.device import DeviceUnderTest, facade_for
from drready.errors import SessionError
from drready.evidence import EvidenceLog
from drready.impairment import EVIDENCE_KIND, link_impairment
from drready.model import Binding, DeviceClass
from drready.openadr import vocab
from drready.openadr.server import Servicer, ServicerTimeout
from drready.openadr.tls import RunTls, thawed
from drready.profile import OpenAdrSettings, Profile
from drready.run.session_specs import VenSession, device_spec, run_on
from drready.simulation import StartState, VenSpec, backend, get_fault

#: Where a real VEN finds the CA it must trust, next to the evidence file.
CA_FILE_NAME = "openadr3-ca.pem"
#: How long a real VEN has to register once the servicer listens (seconds, real time).
EXTERNAL_REGISTRATION_S = 120.0


def open_openadr(
    profile: Profile,
    faults: Sequence[str],
    evidence_path: Path | None,
    clock: Clock | None,
    start: StartState | None = None,
) -> DeviceUnderTest:
    settings = profile.openadr3
    if settings is None:
        raise SessionError("the OpenADR 3 binding needs an [openadr3] table in the profile")
    if profile.is_simulated:
        return _open_simulated(
            profile, settings, faults, evidence_path, clock or VirtualClock(), start
        )
    return _open_external(profile, settings, evidence_path, clock or RealClock())


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
        impairment=link_impairment(profile.impair, "openadr3"),
        spec_version=settings.version,
    )
    if servicer.impairment is not None:
        note = f"HTTP link impaired: {servicer.impairment.impairment.describe()}"
        values = {"action": "settings", "direction": ""}
        evidence.add(EVIDENCE_KIND, "http", settings.bind, note, values=values)
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


def _binding(
    profile: Profile, link: OpenAdrLink, release: ExitStack | None = None
) -> OpenAdrDeviceBinding:
    on_close = release.close if release is not None else None
    if profile.device.device_class == DeviceClass.BATTERY:
        return OpenAdrBatteryBinding(link, on_close)
    return OpenAdrWaterHeaterBinding(link, on_close)


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


def _open_simulated(
    profile: Profile,
    settings: OpenAdrSettings,
    faults: Sequence[str],
    evidence_path: Path | None,
    clock: Clock,
    start: StartState | None = None,
) -> DeviceUnderTest:
    chosen = [get_fault(name) for name in faults]
    device_faults = [f.name for f in chosen if f.binding is Binding.ECHONET]
    ven_faults = tuple(f.name for f in chosen if f.binding is Binding.OPENADR3)
    others = [f.name for f in chosen if f.binding not in (Binding.ECHONET, Binding.OPENADR3)]
    if others:
        raise SessionError(f"--fault {others[0]}: not a fault of the OpenADR 3 simulator")
    echonet = profile.echonet
    if echonet is None:
        raise SessionError("the simulator needs an [echonet] table in the profile")
    runner = LoopRunner(clock)
    with ExitStack() as opening:
        opening.callback(runner.close)
        evidence = EvidenceLog(clock.now, evidence_path)
        # What the facade's close releases; on a failure here, the opening releases it.
        owned = opening.enter_context(ExitStack())
        tls = _tls(settings, clock)
        servicer, link = runner.run(_start_servicer(profile, settings, evidence, tls))
        owned.callback(servicer.forget)  # once closed (callbacks run last first)
        owned.callback(run_on(runner, servicer.close))
        ven = backend().openadr_ven(
            VenSpec(
                device=device_spec(profile, device_faults, start=start),
                base_url=servicer.base_url,
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                ven_name=settings.ven_name,
                ca_pem=tls.ca_pem if tls is not None else None,
                poll_interval_s=settings.poll_interval_s,
                report_interval_s=settings.report_interval_s,
                comms_loss_timeout_s=profile.timings.comms_loss_timeout_s,
                faults=ven_faults,
                request_timeout_s=echonet.request_timeout_s,
                retries=echonet.retries,
            )
        )
        owned.callback(run_on(runner, ven.aclose))
        runner.run(ven.start())
        timeout = 3 * settings.poll_interval_s + MARGIN_S
        problem = runner.run(_wait_ready(servicer, link, timeout))
        ven.check()
        if problem is not None:
            raise SessionError(
                f"the reference VEN is not working: {problem} within {timeout:g} s "
                f"({ven.last_error or 'no error seen'})"
            )
        control = VenSession(ven, owned.pop_all(), checks=[servicer.check])
        dut = facade_for(runner, _binding(profile, link), profile, evidence, control)
        opening.pop_all()
    return dut


def _open_external(
    profile: Profile, settings: OpenAdrSettings, evidence_path: Path | None, clock: Clock
) -> DeviceUnderTest:
    runner = LoopRunner(clock)
    with ExitStack() as opening:
        opening.callback(runner.close)
        evidence = EvidenceLog(clock.now, evidence_path)
        owned = opening.enter_context(ExitStack())
        tls = _tls(settings, clock)
        servicer, link = runner.run(_start_servicer(profile, settings, evidence, tls))
        owned.callback(run_on(runner, servicer.close))
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
        # No simulator to hand the facade: the binding releases the servicer when closed.
        binding = _binding(profile, link, owned.pop_all())
        dut = facade_for(runner, binding, profile, evidence)
        opening.pop_all()
    return dut


__all__ = ["CA_FILE_NAME", "open_openadr"]
