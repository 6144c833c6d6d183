"""Open a DUT from a profile: the in-process simulator on virtual time, or a real device.

This is where the pieces meet: clock, transport, simulator, gateway, binding, facade. Suites never
see any of it; a maker can call :func:`open_dut` from a REPL and drive the same objects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drready.bindings.echonet_battery import EchonetBatteryBinding
from drready.bindings.echonet_water_heater import EchonetWaterHeaterBinding
from drready.clock import Clock, LoopRunner, RealClock, VirtualClock
from drready.device import DeviceBinding, DeviceUnderTest, SimulatorControl, facade_for
from drready.echonet.codec import ECHONET_LITE_PORT, MULTICAST_GROUP
from drready.echonet.gateway import Gateway
from drready.echonet.transport import (
    DatagramEndpoint,
    DatagramHandler,
    MemoryNetwork,
    open_udp_endpoint,
)
from drready.errors import SessionError
from drready.evidence import EvidenceLog
from drready.profile import Profile

if TYPE_CHECKING:
    from drready.bindings.modbus_battery import Meter

#: In-memory addresses of a simulated run: the harness (gateway) and the device.
GATEWAY_HOST = "127.0.0.1"
SIMULATOR_HOST = "127.0.0.2"

EndpointFactory = Callable[[DatagramHandler], Awaitable[DatagramEndpoint]]


#: The profile setting that makes each binding's device the built-in simulator.
_SIMULATOR_SETTING = {
    "modbus": "modbus.address = 'simulator'",
    "openadr3": "openadr3.ven = 'simulator'",
    "webapi": "webapi.base_url = 'simulator'",
}


def open_dut(
    profile: Profile,
    *,
    faults: Sequence[str] = (),
    evidence_path: Path | None = None,
    clock: Clock | None = None,
) -> DeviceUnderTest:
    topology = profile.device.topology
    if not profile.device.supports(topology):
        raise SessionError(
            f"the {profile.device.binding} binding tests the {topology} topology, which the "
            "profile does not declare (device.topologies)"
        )
    if faults and not profile.is_simulated:
        setting = _SIMULATOR_SETTING.get(profile.device.binding, "echonet.address = 'simulator'")
        raise SessionError(f"--fault needs the built-in simulator ({setting})")
    if profile.device.binding == "openadr3":
        from drready.run.session_openadr import open_openadr

        return open_openadr(profile, faults, evidence_path, clock)
    if profile.device.binding == "webapi":
        from drready.run.session_webapi import open_webapi

        return open_webapi(profile, faults, evidence_path, clock)
    meter = profile.meter
    if meter is not None and meter.address == "simulator" and not profile.is_simulated:
        raise SessionError(
            "meter.address = 'simulator' measures the built-in simulator only; give the lab "
            "meter's address for a real device"
        )
    if profile.device.binding == "modbus":
        return _open_modbus(profile, faults, evidence_path, clock)
    if profile.echonet is None:
        raise SessionError("the ECHONET Lite binding needs an [echonet] table")
    if profile.is_simulated:
        return _open_simulated(profile, faults, evidence_path, clock or VirtualClock())
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
    if profile.device.device_class == "battery":
        return EchonetBatteryBinding(
            gateway,
            address,
            settings.instance,
            profile.mapping,
            discovery_address=discovery,
            meter=meter,
        )
    if profile.water_heater is None:
        raise SessionError("a water heater needs a [water_heater] table in the profile")
    return EchonetWaterHeaterBinding(
        gateway,
        address,
        profile.device.device_class,
        profile.water_heater,
        settings.instance,
        profile.mapping,
        discovery_address=discovery,
    )


def _declare_identity(config: Any, profile: Profile) -> None:
    """The simulator takes on the identity the profile declares (its maker, product, serial)."""
    declared = profile.device
    if declared.serial_number:
        config.serial_number = declared.serial_number
    if declared.product_code:
        config.product_code = declared.product_code
    if declared.manufacturer_code:
        config.maker_code = bytes.fromhex(declared.manufacturer_code.removeprefix("0x"))


def _battery_params(profile: Profile) -> Any:
    """The reference battery's physics, sized by the profile's ratings."""
    from drready.simulators.battery_model import BatteryParams

    ratings = profile.ratings
    if ratings is None:
        raise SessionError("the battery simulator needs [ratings] in the profile")
    return BatteryParams(
        capacity_wh=ratings.capacity_wh,
        max_charge_w=ratings.max_charge_w,
        max_discharge_w=ratings.max_discharge_w,
        min_charge_w=ratings.min_charge_w,
        min_discharge_w=ratings.min_discharge_w,
    )


def _battery_simulator(
    profile: Profile, faults: Sequence[str], open_endpoint: EndpointFactory
) -> SimulatorControl:
    from drready.simulators.battery import BatteryConfig
    from drready.simulators.runtime import SimulatedBattery

    config = BatteryConfig(
        params=_battery_params(profile),
        comms_loss_timeout_s=profile.timings.comms_loss_timeout_s,
        mapping=dict(profile.mapping),
        own_mode=profile.device.own_modes[0],
    )
    _declare_identity(config, profile)
    return SimulatedBattery(open_endpoint, config, faults)


def _water_heater_simulator(
    profile: Profile, faults: Sequence[str], open_endpoint: EndpointFactory
) -> SimulatorControl:
    from drready.simulators.water_heater import WaterHeaterConfig
    from drready.simulators.water_heater_runtime import SimulatedWaterHeater

    spec = profile.water_heater
    if spec is None:
        raise SessionError("the water-heater simulator needs [water_heater] in the profile")
    # The simulator becomes the device the profile declares: its published figures, identity
    # and EPC mapping.
    config = WaterHeaterConfig.for_class(profile.device.device_class)
    config.rated_heating_power_w = spec.rated_heating_power_w
    config.daily_heating_wh = spec.daily_heating_wh
    config.dr_share = spec.published_dr_share
    config.acceptance_windows = spec.windows_s
    config.evaluation_start_s = spec.evaluation_start_s
    config.night_heating = spec.night_heating_s
    if spec.tank_litres is not None:
        config.tank_litres = spec.tank_litres
    config.mapping = dict(profile.mapping)
    _declare_identity(config, profile)
    return SimulatedWaterHeater(open_endpoint, config, faults)


@dataclass
class EchonetSide:
    """A reference device on the in-memory ECHONET Lite network, the harness's gateway in front
    of it, and the binding that drives it: what a server-topology simulator (a VEN bridge, a
    maker's cloud) stands in front of."""

    simulator: SimulatorControl
    gateway: Gateway
    address: tuple[str, int]
    binding: DeviceBinding


def start_echonet_simulator(
    profile: Profile,
    faults: Sequence[str],
    runner: LoopRunner,
    evidence: EvidenceLog,
    *,
    meter: bool = True,
) -> EchonetSide:
    """Start the profile's reference device in-process (virtual time) and attach a gateway."""
    settings = profile.echonet
    if settings is None:
        raise SessionError("the simulator needs an [echonet] table in the profile")
    network = MemoryNetwork()

    async def open_sim_endpoint(handler: DatagramHandler) -> DatagramEndpoint:
        return network.endpoint(handler, SIMULATOR_HOST, ECHONET_LITE_PORT)

    build = (
        _battery_simulator if profile.device.device_class == "battery" else _water_heater_simulator
    )
    simulator = build(profile, faults, open_sim_endpoint)
    gateway = Gateway(evidence, timeout_s=settings.request_timeout_s, retries=settings.retries)
    gateway.attach(network.endpoint(gateway.datagram_received, GATEWAY_HOST, ECHONET_LITE_PORT))
    runner.run(simulator.start())
    lab_meter = None
    if meter and profile.meter is not None and profile.device.device_class == "battery":
        metered = _MeteredSimulator(simulator, profile.meter.unit_id)
        runner.run(metered.start_meter())
        simulator = metered
        lab_meter = _meter(profile, evidence, metered.meter_address)
    address = (SIMULATOR_HOST, ECHONET_LITE_PORT)
    binding = _binding(profile, gateway, address, lab_meter)
    return EchonetSide(simulator, gateway, address, binding)


def _open_simulated(
    profile: Profile, faults: Sequence[str], evidence_path: Path | None, clock: Clock
) -> DeviceUnderTest:
    runner = LoopRunner(clock)
    evidence = EvidenceLog(clock.now, evidence_path)
    side = start_echonet_simulator(profile, faults, runner, evidence)
    return facade_for(runner, side.binding, profile, evidence, side.simulator)


class _MeteredSimulator:
    """An ECHONET Lite reference battery with the simulated independent meter beside it: a
    SunSpec model 203 meter on pymodbus's null modem, measuring the battery's true power."""

    def __init__(self, simulator: SimulatorControl, meter_unit: int) -> None:
        self.simulator = simulator
        self.meter_unit = meter_unit
        self.meter: Any = None
        self.meter_address = ("", 0)

    async def start_meter(self) -> None:
        from pymodbus.transport import NULLMODEM_HOST

        from drready.simulators.sunspec_meter import SunSpecMeterConfig, SunSpecMeterDevice
        from drready.simulators.sunspec_runtime import SimulatedMeter

        device = self.simulator.device  # type: ignore[attr-defined]
        config = SunSpecMeterConfig(unit_id=self.meter_unit)
        self.meter = await SimulatedMeter(
            NULLMODEM_HOST, 0, SunSpecMeterDevice(config, device)
        ).start()
        self.meter_address = self.meter.address

    def __getattr__(self, name: str) -> Any:
        return getattr(self.simulator, name)  # faults, the device, the node: the battery's

    async def start(self) -> object:
        return await self.simulator.start()

    def restart(self) -> None:
        self.simulator.restart()

    def check(self) -> None:
        self.simulator.check()
        if self.meter is not None:
            self.meter.check()

    def close(self) -> None:
        if self.meter is not None:
            self.meter.close()
        self.simulator.close()


def _open_modbus(
    profile: Profile, faults: Sequence[str], evidence_path: Path | None, clock: Clock | None
) -> DeviceUnderTest:
    """A SunSpec battery over Modbus TCP, with the independent meter when one is declared: the
    built-in simulator in-process (pymodbus's null modem, virtual time), or a real device."""
    from drready.bindings.modbus_battery import ModbusBatteryBinding
    from drready.modbus.client import SunSpecClient
    from drready.modbus.pointmap import Declared
    from drready.modbus.sunspec import BASE_ADDRESSES

    settings, meter = profile.modbus, profile.meter
    if settings is None or profile.device.device_class != "battery":
        raise SessionError("the Modbus binding is for batteries, with a [modbus] table")
    simulated = profile.is_simulated
    runner = LoopRunner(clock or (VirtualClock() if simulated else RealClock()))
    evidence = EvidenceLog(runner.clock.now, evidence_path)
    simulator: SimulatorControl | None = None
    host, port = settings.address, settings.port
    meter_host, meter_port = (meter.address, meter.port) if meter is not None else ("", 0)
    if simulated:
        from pymodbus.transport import NULLMODEM_HOST

        from drready.simulators.sunspec_battery import SunSpecBatteryConfig
        from drready.simulators.sunspec_runtime import SimulatedSunSpecBattery

        config = SunSpecBatteryConfig(
            params=_battery_params(profile),
            unit_id=settings.unit_id,
            comms_loss_timeout_s=profile.timings.comms_loss_timeout_s,
            storage_model=settings.storage_model or 802,
            sunspec_marker=settings.sunspec,
        )
        declared = profile.device
        if declared.serial_number:
            config.serial_number = declared.serial_number
        if declared.product_code:
            config.model_name = declared.product_code
        sim = SimulatedSunSpecBattery(
            NULLMODEM_HOST,
            0,
            config,
            faults,
            meter_unit=meter.unit_id if meter is not None else None,
        )
        runner.run(sim.start())
        simulator = sim
        host, port = sim.address
        meter_host, meter_port = sim.address
    bases = BASE_ADDRESSES if settings.base_address is None else (settings.base_address,)
    device = SunSpecClient(
        host,
        port,
        evidence=evidence,
        unit=settings.unit_id,
        timeout_s=settings.request_timeout_s,
        attempts=settings.retries + 1,
        base_addresses=bases,
    )
    ratings = profile.ratings
    figures: dict[str, Declared] = {}
    if ratings is not None:
        why = "declared in [ratings]"
        figures = {
            "capacity_wh": Declared(ratings.capacity_wh, why),
            "max_charge_w": Declared(ratings.max_charge_w, why),
            "max_discharge_w": Declared(ratings.max_discharge_w, why),
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
    return facade_for(runner, binding, profile, evidence, simulator)


def _meter(profile: Profile, evidence: EvidenceLog, address: tuple[str, int]) -> Meter | None:
    """The independent meter the profile declares, at ``address`` (the simulator's in a
    simulated run): SunSpec model 203, or the registers of ``[meter.points]``."""
    from drready.bindings.modbus_battery import Meter
    from drready.modbus.client import SunSpecClient

    settings = profile.meter
    if settings is None:
        return None
    client = SunSpecClient(
        address[0],
        address[1],
        evidence=evidence,
        unit=settings.unit_id,
        timeout_s=settings.request_timeout_s,
        attempts=settings.retries + 1,
    )
    return Meter(client, settings.register_points().get("power_w"))


def _open_real(profile: Profile, evidence_path: Path | None, clock: Clock) -> DeviceUnderTest:
    settings = profile.echonet
    if settings is None:
        raise SessionError("an ECHONET Lite device needs an [echonet] table in the profile")
    runner = LoopRunner(clock)
    evidence = EvidenceLog(clock.now, evidence_path)
    gateway = Gateway(evidence, timeout_s=settings.request_timeout_s, retries=settings.retries)
    try:
        endpoint = runner.run(open_udp_endpoint(gateway.datagram_received, "0.0.0.0", 0))
    except OSError as exc:
        runner.close()
        raise SessionError(f"cannot open a UDP socket for ECHONET Lite: {exc}") from None
    gateway.attach(endpoint)
    meter = None
    if profile.meter is not None and profile.device.device_class == "battery":
        meter = _meter(profile, evidence, (profile.meter.address, profile.meter.port))
    binding = _binding(profile, gateway, (settings.address, settings.port), meter)
    return facade_for(runner, binding, profile, evidence)
