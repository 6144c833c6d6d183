"""Open a DUT from a profile: the in-process simulator on virtual time, or a real device.

This is where the pieces meet: clock, transport, simulator, gateway, binding, facade. Suites never
see any of it; a maker can call :func:`open_dut` from a REPL and drive the same objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drready.bindings.echonet_battery import EchonetBatteryBinding
from drready.clock import Clock, LoopRunner, RealClock, VirtualClock
from drready.dut import DeviceUnderTest
from drready.echonet.codec import ECHONET_LITE_PORT, MULTICAST_GROUP
from drready.echonet.gateway import Gateway
from drready.echonet.transport import (
    DatagramEndpoint,
    DatagramHandler,
    MemoryNetwork,
    open_udp_endpoint,
)
from drready.evidence import EvidenceLog
from drready.profile import Profile

#: In-memory addresses of a simulated run: the harness (gateway) and the device.
GATEWAY_HOST = "127.0.0.1"
SIMULATOR_HOST = "127.0.0.2"


class SessionError(RuntimeError):
    """The DUT could not be opened (not a test failure: nothing was tested)."""


def open_dut(
    profile: Profile,
    *,
    faults: Sequence[str] = (),
    evidence_path: Path | None = None,
    clock: Clock | None = None,
) -> DeviceUnderTest:
    if profile.device.device_class != "battery":
        raise SessionError(
            f"device class {profile.device.device_class!r}: only 'battery' has a binding so far"
        )
    if profile.echonet is None or not profile.device.supports("gateway"):
        raise SessionError("the battery binding needs the gateway topology and an [echonet] table")
    if faults and not profile.is_simulated:
        raise SessionError("--fault needs the built-in simulator (echonet.address = 'simulator')")
    if profile.is_simulated:
        return _open_simulated(profile, faults, evidence_path, clock or VirtualClock())
    return _open_real(profile, evidence_path, clock or RealClock())


def _open_simulated(
    profile: Profile, faults: Sequence[str], evidence_path: Path | None, clock: Clock
) -> DeviceUnderTest:
    from simulators.battery import BatteryConfig
    from simulators.battery_model import BatteryParams
    from simulators.runtime import SimulatedBattery

    settings = profile.echonet
    ratings = profile.ratings
    if settings is None or ratings is None:
        raise SessionError("the battery simulator needs [echonet] and [ratings] in the profile")
    runner = LoopRunner(clock)
    evidence = EvidenceLog(clock.now, evidence_path)
    network = MemoryNetwork()
    config = BatteryConfig(
        params=BatteryParams(
            capacity_wh=ratings.capacity_wh,
            max_charge_w=ratings.max_charge_w,
            max_discharge_w=ratings.max_discharge_w,
            min_charge_w=ratings.min_charge_w,
            min_discharge_w=ratings.min_discharge_w,
        ),
        comms_loss_timeout_s=profile.timings.comms_loss_timeout_s,
        mapping=dict(profile.mapping),
        own_mode=profile.device.own_modes[0],
    )
    # The simulator becomes the device the profile declares: its identity and its EPC mapping.
    declared = profile.device
    if declared.serial_number:
        config.serial_number = declared.serial_number
    if declared.product_code:
        config.product_code = declared.product_code
    if declared.manufacturer_code:
        config.maker_code = bytes.fromhex(declared.manufacturer_code.removeprefix("0x"))

    async def open_sim_endpoint(handler: DatagramHandler) -> DatagramEndpoint:
        return network.endpoint(handler, SIMULATOR_HOST, ECHONET_LITE_PORT)

    simulator = SimulatedBattery(open_sim_endpoint, config, faults)
    gateway = Gateway(evidence, timeout_s=settings.request_timeout_s, retries=settings.retries)
    gateway.attach(network.endpoint(gateway.datagram_received, GATEWAY_HOST, ECHONET_LITE_PORT))
    runner.run(simulator.start())
    binding = EchonetBatteryBinding(
        gateway,
        (SIMULATOR_HOST, ECHONET_LITE_PORT),
        settings.instance,
        profile.mapping,
        discovery_address=(MULTICAST_GROUP, ECHONET_LITE_PORT)
        if settings.multicast_discovery
        else None,
    )
    return DeviceUnderTest(runner, binding, profile, evidence, simulator)


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
    binding = EchonetBatteryBinding(
        gateway,
        (settings.address, settings.port),
        settings.instance,
        profile.mapping,
        discovery_address=(MULTICAST_GROUP, settings.port)
        if settings.multicast_discovery
        else None,
    )
    return DeviceUnderTest(runner, binding, profile, evidence)
