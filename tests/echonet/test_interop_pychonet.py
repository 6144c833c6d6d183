"""Interoperability: pychonet, a HEMS controller library, drives our battery and heat-pump
simulators over UDP.

Everything else in the harness talks to the simulators through drready's own codec, so a mistake
shared by both sides (a byte order, a property map layout, an instance list) would go unnoticed.
Here an independent implementation discovers the simulator, reads its property maps and identity,
sends it a DR request and reads its state back, and every value is checked against the simulator.

pychonet always addresses port 3610 of the host it asks and only accepts replies whose source is
that host, so the simulator must own 127.0.0.2:3610 for the duration of the test. Multicast does
not work on loopback, so discovery is unicast.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import pytest_asyncio
from drready.simulators.battery import SIMULATOR_MAKER_CODE, BatteryConfig
from drready.simulators.battery_model import BatteryParams
from drready.simulators.runtime import SimulatedBattery
from drready.simulators.water_heater import WaterHeaterConfig
from drready.simulators.water_heater_runtime import SimulatedWaterHeater
from pychonet import ECHONETAPIClient, Factory
from pychonet.lib.const import MANUFACTURERS
from pychonet.lib.udpserver import UDPServer

from drready.echonet.codec import ECHONET_LITE_PORT
from drready.echonet.mapping import BATTERY_MAPPING_DEFAULTS
from drready.echonet.node import EPC_GET_MAP, EPC_SET_MAP, EPC_STATUS_CHANGE_MAP
from drready.echonet.transport import DatagramHandler, UdpEndpoint, open_udp_endpoint

#: The simulator's DR duration property (maker-specific; DRready has no standard EPC yet).
DR_DURATION_EPC = BATTERY_MAPPING_DEFAULTS["dr_duration_s"].epc

SIM_HOST = "127.0.0.2"
CONTROLLER_HOST = "127.0.0.1"
GROUP, CLASS, INSTANCE = 0x02, 0x7D, 0x01
#: pychonet waits in 0.1 s ticks; 2 s is ample on loopback and keeps a hang short.
MESSAGE_TIMEOUT_TICKS = 20
#: A DR discharge request of this many watts is what pychonet sends.
DR_TARGET_W = 1234
DR_DURATION_S = 600

# Also under strict asyncio mode (the project configures auto).
pytestmark = pytest.mark.asyncio


def _check_port_free(host: str, port: int) -> None:
    """Fail (not skip) when the simulator's address cannot be had.

    drready's UDP endpoint sets SO_REUSEADDR, and on Linux a second SO_REUSEADDR socket may bind
    the same unicast address and silently take its datagrams. A probe bound *without* the option
    gets EADDRINUSE whenever any socket holds the address, so it is asked first.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((host, port))
        return
    except OSError as exc:
        error = exc
    finally:
        probe.close()
    if error.errno == errno.EADDRINUSE:
        pytest.fail(
            f"UDP {host}:{port} is in use by another process or test (a running "
            "`drready simulate battery --bind`, or another ECHONET Lite node?). pychonet only "
            "talks to port 3610, so this test needs that address; stop whatever holds it.",
            pytrace=False,
        )
    if error.errno == errno.EADDRNOTAVAIL:
        pytest.fail(
            f"cannot bind {host}: this machine does not route 127.0.0.0/8 to loopback "
            "(on macOS: `sudo ifconfig lo0 alias 127.0.0.2`)",
            pytrace=False,
        )
    raise error


@contextlib.asynccontextmanager
async def _pychonet_and(sim: SimulatedBattery | SimulatedWaterHeater) -> AsyncIterator[Any]:
    """Start ``sim`` and a pychonet client on the controller's address; stop both after."""
    udp = UDPServer(local_ip=CONTROLLER_HOST)
    loop = asyncio.get_running_loop()
    try:
        await sim.start()
        udp.run(CONTROLLER_HOST, 0, loop=loop)
        api = ECHONETAPIClient(udp)
        api.configure(message_timeout=MESSAGE_TIMEOUT_TICKS, logger=lambda *args: None)
        yield api
        sim.check()
    finally:
        # UDPServer.close() cancels its tasks but leaves its reader registered on the loop.
        with contextlib.suppress(Exception):
            loop.remove_reader(udp._sock.fileno())
        udp.close()
        sim.close()
        await asyncio.sleep(0)  # let cancelled pychonet tasks finish


@dataclass
class Rig:
    sim: SimulatedBattery
    api: Any  # ECHONETAPIClient (untyped library)
    host: str


@pytest_asyncio.fixture
async def rig() -> AsyncIterator[Rig]:
    _check_port_free(SIM_HOST, ECHONET_LITE_PORT)

    async def endpoint(handler: DatagramHandler) -> UdpEndpoint:
        return await open_udp_endpoint(handler, SIM_HOST, ECHONET_LITE_PORT)

    # A ramp far faster than the default 100 W/s: the battery reaches its DR set point within
    # milliseconds, so 0xD3 is steady by the time pychonet (100 ms per request) reads it.
    config = BatteryConfig(params=BatteryParams(ramp_w_per_s=1_000_000.0))
    sim = SimulatedBattery(endpoint, config)
    async with _pychonet_and(sim) as api:
        yield Rig(sim, api, SIM_HOST)


async def test_pychonet_discovers_and_reads_the_battery_simulator(rig: Rig) -> None:
    api, host, sim = rig.api, rig.host, rig.sim
    device = sim.device

    # -- discovery (unicast Get of the node profile: 0x8A, 0x8C, 0x83, 0xD6) -------------------
    assert await api.discover(host), "pychonet got no reply to discovery"
    state = api._state[host]
    assert state.get("discovered") is True
    instances = state["instances"]
    listed = {
        (group << 16) | (cls << 8) | inst
        for group, classes in instances.items()
        for cls, insts in classes.items()
        for inst in insts
    }
    assert 0x027D01 in listed, f"instance list as pychonet decoded it: {sorted(map(hex, listed))}"
    assert listed == {obj.eoj.class_id << 8 | obj.eoj.instance for obj in device.node.objects}

    # -- property maps ------------------------------------------------------------------------
    assert await api.getAllPropertyMaps(host, GROUP, CLASS, INSTANCE)
    battery_state = instances[GROUP][CLASS][INSTANCE]
    assert set(battery_state[EPC_GET_MAP]) == set(device.battery.get_map())
    assert set(battery_state[EPC_SET_MAP]) == set(device.battery.set_map())
    assert set(battery_state[EPC_STATUS_CHANGE_MAP]) == set(device.battery.announce_map())
    # The EPCs the DR tests depend on are among them.
    assert {0xD3, 0xDA, 0xE4, 0xEB, 0xEC, DR_DURATION_EPC} <= set(battery_state[EPC_GET_MAP])

    # -- identity -----------------------------------------------------------------------------
    assert await api.getIdentificationInformation(host, GROUP, CLASS, INSTANCE)
    maker_code = int.from_bytes(SIMULATOR_MAKER_CODE, "big")
    assert maker_code == 0xFFFFFF
    # pychonet turns the maker code into its name when it knows it ("Experimental" for FFFFFF).
    assert state["manufacturer"] == MANUFACTURERS[maker_code]
    assert battery_state[0x8A] == MANUFACTURERS[maker_code]
    # pychonet keeps 0x83 as hex without its first byte (the 0xFE type byte), for the node
    # profile (state["uid"], from discovery) and for the device object alike.
    identification = device.identification_number()
    assert identification[0] == 0xFE
    assert state["uid"] == identification[1:].hex()
    assert battery_state[0x83] == identification[1:].hex()

    # -- a DR request from the HEMS: discharge DR_TARGET_W for DR_DURATION_S -----------------
    battery = Factory(host, api, GROUP, CLASS, INSTANCE)
    mode_edt = device.classdef.properties[0xDA].encode("discharging")
    accepted = await battery.setMessages(
        [
            {"EPC": DR_DURATION_EPC, "PDC": 4, "EDT": DR_DURATION_S},
            {"EPC": 0xEC, "PDC": 4, "EDT": DR_TARGET_W},
            {"EPC": 0xDA, "PDC": len(mode_edt), "EDT": int.from_bytes(mode_edt, "big")},
        ]
    )
    assert accepted, "the simulator refused pychonet's DR request (SetC_SNA)"
    assert device.dr is not None and device.dr.target_w == -DR_TARGET_W

    # -- typed reads --------------------------------------------------------------------------
    power = await battery.update(0xD3)
    assert power == round(device.model.power_w)
    # The ramp is near-instant, so the read is the set point, not a value on the way to it.
    assert power == -DR_TARGET_W

    values = await battery.update([0x80, 0xD3, 0xDA, 0xCF, 0xE4])
    model = device.model
    assert values[0x80] == "on" and device.battery.read(0x80) == b"\x30"
    assert values[0xD3] == round(model.power_w)
    assert values[0xDA] == device.mode_setting() == "discharging"
    assert values[0xCF] == device.actual_mode()
    assert values[0xE4] == round(model.soc_pct)
    assert 0 < values[0xE4] < 100
    assert sim.received >= 6


# -- the heat-pump water heater (class 0x026B): the standard energy shift ------------------------
HP_CLASS = 0x6B
#: pychonet's ElectricWaterHeater decodes these: the energy-shift properties DRready relies on.
SHIFT_EPCS = [0x84, 0xB2, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB]


@pytest_asyncio.fixture
async def heater_rig() -> AsyncIterator[tuple[SimulatedWaterHeater, Any]]:
    _check_port_free(SIM_HOST, ECHONET_LITE_PORT)

    async def endpoint(handler: DatagramHandler) -> UdpEndpoint:
        return await open_udp_endpoint(handler, SIM_HOST, ECHONET_LITE_PORT)

    # 07:30 local on the device's clock, in real time: DR start times of the day are ahead.
    sim = SimulatedWaterHeater(
        endpoint, WaterHeaterConfig.for_class("heatpump"), start_time=MORNING.timestamp()
    )
    async with _pychonet_and(sim) as api:
        yield sim, api


MORNING = datetime(2027, 4, 1, 7, 30, tzinfo=timezone(timedelta(hours=9)))


async def test_pychonet_drives_the_heat_pump_energy_shift(
    heater_rig: tuple[SimulatedWaterHeater, Any],
) -> None:
    sim, api = heater_rig
    device = sim.device
    assert await api.discover(SIM_HOST), "pychonet got no reply to discovery"
    instances = api._state[SIM_HOST]["instances"]
    assert INSTANCE in instances[GROUP][HP_CLASS], instances
    assert await api.getAllPropertyMaps(SIM_HOST, GROUP, HP_CLASS, INSTANCE)
    state = instances[GROUP][HP_CLASS][INSTANCE]
    assert set(state[EPC_GET_MAP]) == set(device.heater.get_map())
    assert set(SHIFT_EPCS) <= set(state[EPC_GET_MAP])
    assert {0xC7, 0xCA} <= set(state[EPC_SET_MAP])

    heater = Factory(SIM_HOST, api, GROUP, HP_CLASS, INSTANCE)
    before = await heater.update(SHIFT_EPCS)
    assert before[0xCA] == "cleared" and before[0xC7] == "no"
    assert before[0xB2] == "not heating" and before[0x84] == 0
    assert before[0xC8] == "23:00" and before[0xC9] == 1
    # The published share of the evaluation day, for every slot in the window before 19:00.
    assert before[0xCB] == {"10:00": 3600, "13:00": 3600, "15:00": 3600, "17:00": 0}

    # The HEMS asks for the day's heating to start at 13:00: participation and shift time 1.
    accepted = await heater.setMessages(
        [{"EPC": 0xC7, "PDC": 1, "EDT": 0x01}, {"EPC": 0xCA, "PDC": 1, "EDT": 0x0D}]
    )
    assert accepted, "the simulator refused pychonet's energy-shift request (SetC_SNA)"
    after = await heater.update([0xC7, 0xCA])
    assert after == {0xC7: "yes", 0xCA: "13:00"}
    assert device.planned_start_s() == 13 * 3600
    # 20:00 is outside the published window (and the standard's 9-17): refused, plan kept.
    refused = await heater.setMessages([{"EPC": 0xCA, "PDC": 1, "EDT": 0x14}])
    assert not refused
    assert await heater.update(0xCA) == "13:00"
