"""Open a DUT from a profile: the in-process simulator on virtual time, or a real device.

This is where the pieces meet: clock, transport, simulator, gateway, binding, facade. Suites never
see any of it; a maker can call :func:`open_dut` from a REPL and drive the same objects.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from pymodbus.transport import NULLMODEM_HOST

from drready.bindings.echonet_battery import EchonetBatteryBinding
from drready.bindings.echonet_water_heater import EchonetWaterHeaterBinding
from drready.bindings.modbus_battery import Meter, ModbusBatteryBinding
from drready.clock import Clock, LoopRunner, RealClock, VirtualClock
from drready.device import DeviceBinding, DeviceUnderTest, facade_for
from drready.echonet.codec import ECHONET_LITE_PORT, MULTICAST_GROUP
from drready.echonet.gateway import Gateway
from drready.echonet.impair import ImpairedLink
from drready.echonet.monitor import ProtocolMonitor
from drready.echonet.transport import (
    DatagramEndpoint,
    DatagramHandler,
    MemoryNetwork,
    open_controller_endpoints,
    open_group_endpoint,
)
from drready.errors import SessionError
from drready.evidence import EvidenceLog
from drready.impairment import attempts_under, link_impairment
from drready.modbus.client import SunSpecClient
from drready.modbus.pointmap import Declared
from drready.modbus.sunspec import BASE_ADDRESSES
from drready.model import Binding, DeviceClass
from drready.profile import Profile
from drready.run.options import echonet_local_address
from drready.run.session_specs import device_spec, identity, ratings
from drready.simulation import StartState, SunSpecSpec, backend

#: In-memory addresses of a simulated run: the harness (gateway) and the device.
GATEWAY_HOST = "127.0.0.1"
SIMULATOR_HOST = "127.0.0.2"

#: The profile setting that makes each binding's device the built-in simulator.
_SIMULATOR_SETTING = {
    Binding.MODBUS: "modbus.address = 'simulator'",
    Binding.OPENADR3: "openadr3.ven = 'simulator'",
    Binding.WEBAPI: "webapi.base_url = 'simulator'",
}


def open_dut(
    profile: Profile,
    *,
    faults: Sequence[str] = (),
    evidence_path: Path | None = None,
    clock: Clock | None = None,
    start: StartState | None = None,
) -> DeviceUnderTest:
    """The device under test the profile describes. ``start``: where a seeded run's simulators
    start (:mod:`drready.run.seeding`); None, their fixed start."""
    start = start or StartState()
    topology = profile.device.topology
    if not profile.device.supports(topology):
        raise SessionError(
            f"the {profile.device.binding} binding tests the {topology} topology, which the "
            "profile does not declare (device.topologies)"
        )
    if faults and not profile.is_simulated:
        setting = _SIMULATOR_SETTING.get(
            Binding(profile.device.binding), "echonet.address = 'simulator'"
        )
        raise SessionError(f"--fault needs the built-in simulator ({setting})")
    if profile.device.binding == Binding.OPENADR3:
        # Imported here: a gateway run need not load aiohttp and the servicer (~0.2 s).
        from drready.run.session_openadr import open_openadr

        return open_openadr(profile, faults, evidence_path, clock, start)
    if profile.device.binding == Binding.WEBAPI:
        from drready.run.session_webapi import open_webapi

        return open_webapi(profile, faults, evidence_path, clock, start)
    meter = profile.meter
    if meter is not None and meter.address == "simulator" and not profile.is_simulated:
        raise SessionError(
            "meter.address = 'simulator' measures the built-in simulator only; give the lab "
            "meter's address for a real device"
        )
    if profile.device.binding == Binding.MODBUS:
        return _open_modbus(profile, faults, evidence_path, clock, start)
    if profile.echonet is None:
        raise SessionError("the ECHONET Lite binding needs an [echonet] table")
    if profile.is_simulated:
        return _open_simulated(profile, faults, evidence_path, clock or VirtualClock(), start)
    return _open_real(profile, evidence_path, clock or RealClock())


def _binding(
    profile: Profile, gateway: Gateway, address: tuple[str, int], meter: Meter | None = None
) -> DeviceBinding:
    """The ECHONET Lite binding of the profile's device class, the harness as home gateway
    (with the independent meter a battery profile declares)."""
    settings = profile.echonet
    if settings is None:
        raise SessionError("an ECHONET Lite device needs an [echonet] table in the profile")
    discovery = (MULTICAST_GROUP, address[1]) if settings.multicast_discovery else None
    binding: EchonetBatteryBinding | EchonetWaterHeaterBinding
    if profile.device.device_class == DeviceClass.BATTERY:
        binding = EchonetBatteryBinding(
            gateway,
            address,
            settings.instance,
            profile.mapping,
            discovery_address=discovery,
            meter=meter,
        )
    else:
        if profile.water_heater is None:
            raise SessionError("a water heater needs a [water_heater] table in the profile")
        binding = EchonetWaterHeaterBinding(
            gateway,
            address,
            profile.device.device_class,
            profile.water_heater,
            settings.instance,
            profile.mapping,
            discovery_address=discovery,
        )
    # The facade closes the binding: the gateway's sockets (UDP 3610 on a bench) go with it.
    binding.release = gateway.close
    return binding


def _open_simulated(
    profile: Profile,
    faults: Sequence[str],
    evidence_path: Path | None,
    clock: Clock,
    start: StartState,
) -> DeviceUnderTest:
    """The profile's reference device in-process (virtual time, an in-memory network), the
    harness's gateway in front of it, and the simulated lab meter beside a battery that
    declares one."""
    settings = profile.echonet
    if settings is None:
        raise SessionError("the simulator needs an [echonet] table in the profile")
    runner = LoopRunner(clock)
    with ExitStack() as opening:
        opening.callback(runner.close)
        evidence = EvidenceLog(clock.now, evidence_path)
        network = MemoryNetwork()

        async def open_sim_endpoint(handler: DatagramHandler) -> DatagramEndpoint:
            return network.endpoint(handler, SIMULATOR_HOST, ECHONET_LITE_PORT)

        battery = profile.device.device_class == DeviceClass.BATTERY
        meter_unit = profile.meter.unit_id if battery and profile.meter is not None else None
        spec = device_spec(profile, faults, meter_unit=meter_unit, start=start)
        simulator = backend().echonet_device(spec, open_sim_endpoint)
        link = ImpairedLink(profile.impair, evidence)  # the harness's side of the wire
        # Created before the simulator starts, so its boot announcement is judged too; what the
        # link impairment made (a duplicate, a corrupted TID) is the link's doing, not the device's.
        monitor = ProtocolMonitor(
            [],
            device_host=SIMULATOR_HOST,
            mapping=profile.mapping,
            excused=link.explains if link.active else None,
        )
        gateway = Gateway(
            evidence,
            timeout_s=settings.request_timeout_s,
            retries=link.retries(settings.retries),
            observer=monitor,
        )
        # Requests leave from an ephemeral port, and port 3610 of the harness's host listens
        # too: a device answering to the source port and one answering to 3610 both reach it.
        gateway.attach(
            link.endpoint(network.endpoint(link.receiver(gateway.datagram_received), GATEWAY_HOST)),
            network.endpoint(
                link.receiver(gateway.datagram_received), GATEWAY_HOST, ECHONET_LITE_PORT
            ),
        )
        opening.callback(simulator.close)
        runner.run(simulator.start())
        meter_address = simulator.meter_address
        lab_meter = None if meter_address is None else _meter(profile, evidence, meter_address)
        address = (SIMULATOR_HOST, ECHONET_LITE_PORT)
        binding = _binding(profile, gateway, address, lab_meter)
        dut = facade_for(runner, binding, profile, evidence, simulator)
        dut.findings = monitor.findings
        opening.pop_all()
    return dut


def _open_modbus(
    profile: Profile,
    faults: Sequence[str],
    evidence_path: Path | None,
    clock: Clock | None,
    start: StartState,
) -> DeviceUnderTest:
    """A SunSpec battery over Modbus TCP, with the independent meter when one is declared: the
    built-in simulator in-process (pymodbus's null modem, virtual time), or a real device."""
    settings, meter = profile.modbus, profile.meter
    if settings is None or profile.device.device_class != DeviceClass.BATTERY:
        raise SessionError("the Modbus binding is for batteries, with a [modbus] table")
    simulated = profile.is_simulated
    runner = LoopRunner(clock or (VirtualClock() if simulated else RealClock()))
    with ExitStack() as opening:
        opening.callback(runner.close)
        evidence = EvidenceLog(runner.clock.now, evidence_path)
        host, port = settings.address, settings.port
        meter_host, meter_port = (meter.address, meter.port) if meter is not None else ("", 0)
        simulator = None
        if simulated:
            if profile.ratings is None:
                raise SessionError("the battery simulator needs [ratings] in the profile")
            spec = SunSpecSpec(
                faults=tuple(faults),
                ratings=ratings(profile),
                identity=identity(profile),
                unit_id=settings.unit_id,
                comms_loss_timeout_s=profile.timings.comms_loss_timeout_s,
                storage_model=settings.storage_model or 802,
                sunspec_marker=settings.sunspec,
                meter_unit=meter.unit_id if meter is not None else None,
                start=start,
            )
            simulator = backend().sunspec_battery(spec, NULLMODEM_HOST, 0)
            opening.callback(simulator.close)
            runner.run(simulator.start())
            host, port = simulator.address
            meter_host, meter_port = simulator.address
        bases = BASE_ADDRESSES if settings.base_address is None else (settings.base_address,)
        device = SunSpecClient(
            host,
            port,
            evidence=evidence,
            unit=settings.unit_id,
            timeout_s=settings.request_timeout_s,
            attempts=attempts_under(profile.impair, settings.retries + 1),
            base_addresses=bases,
            impairment=link_impairment(profile.impair, "modbus/device"),
        )
        declared = profile.ratings
        figures: dict[str, Declared] = {}
        if declared is not None:
            why = "declared in [ratings]"
            figures = {
                "capacity_wh": Declared(declared.capacity_wh, why),
                "max_charge_w": Declared(declared.max_charge_w, why),
                "max_discharge_w": Declared(declared.max_discharge_w, why),
            }
        binding = ModbusBatteryBinding(
            device,
            _meter(profile, evidence, (meter_host, meter_port)),
            heartbeat_s=settings.heartbeat_s,
            sunspec=settings.sunspec,
            storage_model=settings.storage_model,
            overrides=settings.register_points(),
            declared=figures,
        )
        dut = facade_for(runner, binding, profile, evidence, simulator)
        opening.pop_all()
    return dut


def _meter(profile: Profile, evidence: EvidenceLog, address: tuple[str, int]) -> Meter | None:
    """The independent meter the profile declares, at ``address`` (the simulator's in a
    simulated run): SunSpec model 203, or the registers of ``[meter.points]``."""
    settings = profile.meter
    if settings is None:
        return None
    client = SunSpecClient(
        address[0],
        address[1],
        evidence=evidence,
        unit=settings.unit_id,
        timeout_s=settings.request_timeout_s,
        attempts=attempts_under(profile.impair, settings.retries + 1),
        impairment=link_impairment(profile.impair, "modbus/meter"),
    )
    return Meter(client, settings.register_points().get("power_w"))


def _open_real(profile: Profile, evidence_path: Path | None, clock: Clock) -> DeviceUnderTest:
    settings = profile.echonet
    if settings is None:
        raise SessionError("an ECHONET Lite device needs an [echonet] table in the profile")
    with ExitStack() as stack:
        runner = LoopRunner(clock)
        stack.callback(runner.close)
        evidence = EvidenceLog(clock.now, evidence_path)
        stack.callback(evidence.close)
        link = ImpairedLink(profile.impair, evidence)  # the harness's side of the wire
        monitor = ProtocolMonitor(
            [],
            device_host=_host_ip(settings.address),
            mapping=profile.mapping,
            excused=link.explains if link.active else None,
        )
        gateway = Gateway(
            evidence,
            timeout_s=settings.request_timeout_s,
            retries=link.retries(settings.retries),
            observer=monitor,
        )
        local = echonet_local_address(profile)
        handler = gateway.datagram_received
        try:
            unicast, _ = runner.run(
                open_controller_endpoints(link.receiver(handler), local, multicast=False)
            )
        except OSError as exc:
            raise SessionError(
                f"cannot open the ECHONET Lite socket on {local}: {exc.strerror or exc}"
            ) from None
        listeners: list[DatagramEndpoint] = []
        if ":" not in local:
            # The group is joined even when discovery is by unicast: a node's INF goes there.
            # A network that cannot join it still lets the harness talk to the node; the
            # evidence says what is not heard.
            try:
                listeners.append(runner.run(open_group_endpoint(link.receiver(handler), local)))
            except OSError as exc:
                evidence.add(
                    "note",
                    "echonet",
                    f"{MULTICAST_GROUP}:{ECHONET_LITE_PORT}",
                    f"cannot join {MULTICAST_GROUP} on {local} ({exc.strerror or exc}): "
                    "announcements and replies to the group are not received",
                )
        gateway.attach(link.endpoint(unicast), *listeners)
        stack.callback(gateway.close)  # until the binding takes the sockets over
        meter = None
        if profile.meter is not None and profile.device.device_class == DeviceClass.BATTERY:
            meter = _meter(profile, evidence, (profile.meter.address, profile.meter.port))
        binding = _binding(profile, gateway, (settings.address, settings.port), meter)
        dut = facade_for(runner, binding, profile, evidence)
        dut.findings = monitor.findings
        stack.pop_all()  # the facade owns them now: its close() lets them go
    return dut


def _host_ip(host: str) -> str | None:
    """The device's address as its datagrams will carry it (a profile may name it by host name);
    None when it cannot be resolved, and the monitor then judges every node."""
    try:
        return str(socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)[0][4][0])
    except (OSError, IndexError):
        return None
