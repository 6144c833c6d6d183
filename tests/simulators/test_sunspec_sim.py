"""The SunSpec reference battery and its meter over Modbus TCP: real sockets and the null modem.

Real-time tests keep every wait short: fast ramps, and a device clock running ``time_scale``
times faster than the loop for the timers. The long scenarios (the default 30-minute comms-loss
timeout) run on the virtual clock through the null modem.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
from drready.simulators.battery_model import BatteryParams
from drready.simulators.faults import FAULTS, MODBUS_BATTERY_REQUIREMENTS, faults_for, get_fault
from drready.simulators.runtime import SimulatorError
from drready.simulators.sunspec_battery import BATTERY_W_SIGN, SunSpecBatteryConfig
from drready.simulators.sunspec_meter import METER_W_SIGN
from drready.simulators.sunspec_runtime import NULLMODEM_HOST, SimulatedSunSpecBattery
from pymodbus.client import AsyncModbusTcpClient

from drready.clock import LoopRunner, VirtualClock
from drready.evidence import EvidenceLog
from drready.modbus.client import SunSpecClient
from drready.modbus.errors import ModbusExceptionResponse, SunSpecNotFound
from drready.modbus.registers import ModelBlock
from drready.modbus.sunspec import MODELS, SUNS_REGISTERS

BASE = 40000
MODBUS_FAULTS = sorted(f.name for f in faults_for("battery") if f.binding == "modbus")
HOSTS = {"tcp": "127.0.0.1", "nullmodem": NULLMODEM_HOST}

pytestmark = pytest.mark.timeout(30)

# Kept in a dict: freezegun, if another test left a freeze running, rewrites module attributes
# that are the real time functions, and asyncio's loop reads time.monotonic.
_REAL = {"monotonic": time.monotonic}


class _RealTimeLoop(asyncio.SelectorEventLoop):
    """A loop on the real monotonic clock whatever freezegun does to the ``time`` module."""

    def time(self) -> float:
        return _REAL["monotonic"]()


def realtime(
    test: Callable[..., Coroutine[Any, Any, None]],
) -> Callable[..., None]:
    """Run an async test on its own real-time loop (not pytest-asyncio's)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        loop = _RealTimeLoop()
        try:
            loop.run_until_complete(test(*args, **kwargs))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    return run


def fast_config(**changes: Any) -> SunSpecBatteryConfig:
    """Ramps 1 kW in 0.1 s, so power settles well inside a real-time test."""
    params = BatteryParams(ramp_w_per_s=10_000.0)
    return SunSpecBatteryConfig(params=params, **changes)


@asynccontextmanager
async def running(
    host: str,
    config: SunSpecBatteryConfig | None = None,
    faults: tuple[str, ...] = (),
    *,
    time_scale: float = 1.0,
) -> AsyncIterator[tuple[SimulatedSunSpecBattery, SunSpecClient, SunSpecClient]]:
    loop = asyncio.get_running_loop()
    evidence = EvidenceLog(loop.time)
    sim = await SimulatedSunSpecBattery(
        host, 0, config or fast_config(), faults, time_scale=time_scale
    ).start()
    address, port = sim.address
    battery = SunSpecClient(address, port, evidence=evidence, unit=1, attempts=1)
    meter = SunSpecClient(address, port, evidence=evidence, unit=2, attempts=1)
    try:
        await battery.connect()
        await meter.connect()
        yield sim, battery, meter
        sim.check()
    finally:
        battery.close()
        meter.close()
        sim.close()


async def points(client: SunSpecClient, model_id: int, *names: str) -> dict[str, Any]:
    return await client.read_points(model_id, names)


async def start_dr(client: SunSpecClient, watts: float, seconds: int = 0) -> None:
    await client.write_points(
        704, {"WSetMod": 1, "WSet": watts, "WSetEna": 1, "WSetRvrtTms": seconds}
    )


# --------------------------------------------------------------------------- image and chain


@pytest.mark.parametrize("transport", HOSTS)
@realtime
async def test_marker_and_model_chain(transport: str) -> None:
    async with running(HOSTS[transport]) as (sim, battery, meter):
        if transport == "tcp":
            assert sim.address[0] == "127.0.0.1" and sim.address[1] > 0
        assert await battery.read_registers(BASE, 2) == list(SUNS_REGISTERS)
        chain = [(m.id, m.address, m.length) for m in await battery.discover()]
        assert chain == [(1, 40002, 66), (802, 40070, 62), (704, 40134, 65)]
        assert await battery.read_registers(40201, 2) == [0xFFFF, 0]
        common = await points(battery, 1, "Mn", "Md", "SN", "DA", "Vr")
        assert common == {
            "Mn": "drready",
            "Md": "DRR-BAT-SIM",
            "SN": "SIM0000001",
            "DA": 1,
            "Vr": "1.0.0",
        }
        # The whole image decodes with registers.py, scale factors and all.
        image = await battery.read_registers(BASE, 203)
        block = ModelBlock(MODELS[802], image[70:134])
        assert block.values(["WHRtg", "WChaRteMax", "WDisChaRteMax", "SoC", "SoCRsvMin"]) == {
            "WHRtg": 9800,
            "WChaRteMax": 3000,
            "WDisChaRteMax": 3000,
            "SoC": 50.0,
            "SoCRsvMin": 20.0,
        }
        assert block.get("W") == 0 and block.get("State") == 3 and block.get("ChaSt") == 6
        controls = ModelBlock(MODELS[704], image[134:201]).values(
            ["WSetEna", "WSetMod", "WSet", "WSetEnaRvrt", "WSetRvrtTms", "WSetRvrtRem"]
        )
        assert controls == {
            "WSetEna": 0,
            "WSetMod": 1,
            "WSet": 0,
            "WSetEnaRvrt": 0,
            "WSetRvrtTms": 0,
            "WSetRvrtRem": 0,
        }
        assert [(m.id, m.length) for m in await meter.discover()] == [(1, 66), (203, 105)]
        assert (await points(meter, 1, "Md"))["Md"] == "DRR-MTR-SIM"
        # Nothing outside the image: 0 and 50000 are not SunSpec bases here.
        with pytest.raises(ModbusExceptionResponse) as refused:
            await battery.read_registers(0, 2)
        assert refused.value.code == 2


@pytest.mark.slow
@pytest.mark.parametrize("transport", HOSTS)
@realtime
async def test_wset_dr_runs_at_the_target_and_the_meter_sees_it(transport: str) -> None:
    async with running(HOSTS[transport]) as (_sim, battery, meter):
        await start_dr(battery, 1000)  # + discharging
        assert (await points(battery, 704, "WSetEna"))["WSetEna"] == 1
        first = (await points(battery, 802, "W"))["W"]
        assert 0 <= first < 1000  # still ramping (10 kW/s)
        await asyncio.sleep(0.3)
        got = await points(battery, 802, "W", "ChaSt", "A")
        assert got["W"] == 1000 and got["ChaSt"] == 3  # DISCHARGING
        assert got["A"] == pytest.approx(1000 / 51.2, abs=0.1)
        metered = await points(meter, 203, "W", "WphA", "TotWhImp", "TotWhExp")
        assert metered["W"] == -1000 == metered["WphA"]  # meter: + charging
        assert metered["TotWhImp"] == 1000 and metered["TotWhExp"] >= 1000
        # Now charge beyond the rating: clamped to WChaRteMax.
        await battery.write_points(704, {"WSet": -5000})
        await asyncio.sleep(0.5)
        assert (await points(battery, 802, "W"))["W"] == -3000
        assert (await points(meter, 203, "W"))["W"] == 3000
        assert (await points(battery, 802, "ChaSt"))["ChaSt"] == 4  # CHARGING
        # WSetEna = DISABLED ends the DR at once: back to the own mode (auto: 0 W).
        await battery.write_points(704, {"WSetEna": 0})
        await asyncio.sleep(0.5)
        assert (await points(battery, 802, "W"))["W"] == 0
        assert (await points(meter, 203, "W"))["W"] == 0


@realtime
async def test_reversion_after_wsetrvrttms() -> None:
    # The device clock runs 20x: 10 s of reversion time is 0.5 s here.
    async with running(HOSTS["tcp"], time_scale=20.0) as (sim, battery, _meter):
        await start_dr(battery, -2000, seconds=10)
        remaining = (await points(battery, 704, "WSetRvrtRem"))["WSetRvrtRem"]
        assert 8 <= remaining <= 10
        await asyncio.sleep(0.2)
        assert (await points(battery, 802, "W"))["W"] == -2000
        await asyncio.sleep(0.5)
        after = await points(battery, 704, "WSetEna", "WSetRvrtRem", "WSet")
        assert after == {"WSetEna": 0, "WSetRvrtRem": 0, "WSet": 0}
        assert (await points(battery, 802, "W"))["W"] == 0
        assert any("reverted" in line for line in sim.device.log)


@realtime
async def test_reversion_to_an_enabled_wsetrvrt() -> None:
    async with running(HOSTS["nullmodem"], time_scale=20.0) as (_sim, battery, _meter):
        await battery.write_points(704, {"WSetRvrt": 500, "WSetEnaRvrt": 1})
        await start_dr(battery, -1000, seconds=4)
        await asyncio.sleep(0.4)
        after = await points(battery, 704, "WSetEna", "WSet", "WSetRvrtRem")
        assert after == {"WSetEna": 1, "WSet": 500, "WSetRvrtRem": 0}
        assert (await points(battery, 802, "W"))["W"] == 500


@realtime
async def test_ctrlhb_silence_ends_the_dr_and_a_live_heartbeat_keeps_it() -> None:
    config = fast_config(comms_loss_timeout_s=4.0)
    async with running(HOSTS["tcp"], config, time_scale=20.0) as (sim, battery, _meter):
        await start_dr(battery, 1000)
        for beat in range(1, 6):  # 0.5 s real = 10 s device: longer than the timeout
            await asyncio.sleep(0.1)
            await battery.write_points(802, {"CtrlHb": beat})
        assert (await points(battery, 704, "WSetEna"))["WSetEna"] == 1
        assert (await points(battery, 802, "CtrlHb"))["CtrlHb"] == 5
        await asyncio.sleep(0.35)  # 7 s device of silence
        assert (await points(battery, 704, "WSetEna"))["WSetEna"] == 0
        await asyncio.sleep(0.05)
        assert (await points(battery, 802, "W"))["W"] == 0
        assert any("CtrlHb silent" in line for line in sim.device.log)


@realtime
async def test_heartbeat_counts_seconds() -> None:
    async with running(HOSTS["nullmodem"], time_scale=20.0) as (_sim, battery, _meter):
        first = (await points(battery, 802, "Hb"))["Hb"]
        await asyncio.sleep(0.25)  # 5 s device
        assert 4 <= (await points(battery, 802, "Hb"))["Hb"] - first <= 6


@realtime
async def test_reserve_is_settable_and_stops_discharge() -> None:
    config = fast_config()
    config.params = BatteryParams(ramp_w_per_s=10_000.0, capacity_wh=100.0, initial_soc_pct=50.0)
    async with running(HOSTS["nullmodem"], config, time_scale=100.0) as (sim, battery, meter):
        await battery.write_points(802, {"SoCRsvMin": 45.5})
        assert (await points(battery, 802, "SoCRsvMin"))["SoCRsvMin"] == 45.5
        await start_dr(battery, 3000)  # 5.5 Wh above the reserve: 6.6 s device at 3 kW
        await asyncio.sleep(0.3)  # 30 s device
        got = await points(battery, 802, "W", "SoC", "State")
        assert got["W"] == 0 and got["SoC"] == pytest.approx(45.5, abs=0.1)
        assert got["State"] == 5  # SOC PROTECTION
        assert (await points(meter, 203, "W"))["W"] == 0
        assert sim.device.model.soc_pct == pytest.approx(45.5, abs=0.01)


# --------------------------------------------------------------------------- writes refused


@realtime
async def test_invalid_writes_are_refused_with_exception_codes() -> None:
    async with running(HOSTS["nullmodem"]) as (sim, battery, meter):
        cases = [
            (40070 + 11, [500], 2),  # SoC: read-only
            (40070 + 47, [100], 2),  # W: read-only
            (40000, [0, 0], 2),  # the SunS marker
            (40134 + 24, [0], 2),  # half of WSet (int32)
            (40134 + 2, [1], 2),  # PFWInjEna: not implemented
            (40070 + 10, [1001], 3),  # SoCRsvMin 100.1 %
            (40134 + 22, [2], 3),  # WSetEna: no such enum value
            (40134 + 23, [0], 3),  # WSetMod W_MAX_PCT: not supported
            (40070 + 19, [0xFFFF], 3),  # CtrlHb: the "not implemented" value
            (40002 + 66, [7], 3),  # DA: not this unit
        ]
        for address, values, code in cases:
            with pytest.raises(ModbusExceptionResponse) as refused:
                await battery.write_registers(address, values)
            assert refused.value.code == code, (address, values)
        with pytest.raises(ModbusExceptionResponse) as refused:
            await meter.write_registers(40070 + 18, [1])  # meter W
        assert refused.value.code == 2
        # A refused write changed nothing, not even its valid part.
        with pytest.raises(ModbusExceptionResponse):
            await battery.write_registers(40134 + 22, [1, 1, 0, 100, 7])  # + half of WSetRvrt
        assert (await points(battery, 704, "WSetEna", "WSet")) == {"WSetEna": 0, "WSet": 0}
        assert sim.device.dr is None
        await battery.write_registers(40002 + 66, [1])  # DA: its own unit is fine


@realtime
async def test_restart_keeps_identity_and_ends_dr() -> None:
    async with running(HOSTS["nullmodem"], time_scale=20.0) as (sim, battery, _meter):
        await battery.write_points(802, {"SoCRsvMin": 30})
        await start_dr(battery, 1000)
        await asyncio.sleep(0.2)
        assert (await points(battery, 802, "Hb"))["Hb"] >= 3
        sim.restart()
        assert (await points(battery, 1, "SN"))["SN"] == "SIM0000001"
        after = await points(battery, 802, "Hb", "CtrlHb", "SoCRsvMin")
        assert after == {"Hb": 0, "CtrlHb": 0, "SoCRsvMin": 30.0}
        assert (await points(battery, 704, "WSetEna"))["WSetEna"] == 0
        assert sim.device.dr is None


@realtime
async def test_close_is_idempotent_and_check_reraises() -> None:
    sim = await SimulatedSunSpecBattery(NULLMODEM_HOST, 0, fast_config()).start()
    client = AsyncModbusTcpClient(NULLMODEM_HOST, port=sim.address[1], timeout=1, retries=0)
    try:
        await client.connect()

        def broken(offset: int, count: int) -> tuple[int, list[int]]:
            raise ZeroDivisionError("inside the image")

        sim.device.registers_part = broken  # type: ignore[method-assign]
        response = await client.read_holding_registers(BASE, count=2, device_id=1)
        assert response.isError() and response.exception_code == 4
        with pytest.raises(SimulatorError, match="inside the image"):
            sim.check()
    finally:
        client.close()
        sim.close()
        sim.close()
    with pytest.raises(RuntimeError, match="not running"):
        _ = SimulatedSunSpecBattery("127.0.0.1", 0).address


# --------------------------------------------------------------------------- virtual time


def test_virtual_time_default_timeouts_through_the_null_modem() -> None:
    """The default 30-minute comms-loss timeout and a 1-hour reversion, in virtual time."""
    runner = LoopRunner(VirtualClock(freeze_wall_clock=False))
    started = _REAL["monotonic"]()

    async def scenario() -> None:
        async with running(HOSTS["nullmodem"], SunSpecBatteryConfig()) as (sim, battery, meter):
            await start_dr(battery, -3000, seconds=3600)
            await asyncio.sleep(60)  # 3 kW reached after 30 s at 100 W/s
            assert (await points(battery, 802, "W"))["W"] == -3000
            assert (await points(meter, 203, "W"))["W"] == 3000
            assert (await points(battery, 704, "WSetRvrtRem"))["WSetRvrtRem"] == 3540
            await asyncio.sleep(1800 - 60 - 1)
            assert (await points(battery, 704, "WSetEna"))["WSetEna"] == 1
            await asyncio.sleep(2)  # CtrlHb never written: silent for 1800 s since the DR began
            assert (await points(battery, 704, "WSetEna"))["WSetEna"] == 0
            await asyncio.sleep(60)
            assert (await points(battery, 802, "W"))["W"] == 0
            # The meter's counters are the integrals: a 30 s ramp up, 1770 s at 3 kW, a 30 s ramp
            # down: 12.5 + 1475 + 12.5 Wh.
            imported = (await points(meter, 203, "TotWhImp"))["TotWhImp"] - 1000
            assert imported == pytest.approx(1500, abs=1)
            assert (await points(meter, 203, "TotWhExp"))["TotWhExp"] == 1000
            # A reversion time ends the next DR before any comms loss.
            await start_dr(battery, 1000, seconds=600)
            for beat in range(1, 20):
                await asyncio.sleep(30)
                await battery.write_points(802, {"CtrlHb": beat})
            assert (await points(battery, 704, "WSetEna"))["WSetEna"] == 1
            await asyncio.sleep(31)
            assert (await points(battery, 704, "WSetEna"))["WSetEna"] == 0
            assert sim.now() > 2400  # 41 minutes of device time

    try:
        runner.run(scenario())
    finally:
        runner.close()
    assert _REAL["monotonic"]() - started < 5


# --------------------------------------------------------------------------- faults


def test_modbus_faults_are_registered_with_their_binding() -> None:
    assert MODBUS_FAULTS == [
        "mb_heartbeat_not_checked",
        "mb_ignores_reversion",
        "mb_power_not_delivered",
        "mb_suns_marker_missing",
        "mb_wrong_scale_factor",
    ]
    expected = {
        "mb_power_not_delivered": ("BAT-2.2", "BAT-2.5"),
        "mb_ignores_reversion": ("BAT-2.6",),
        "mb_heartbeat_not_checked": ("BAT-2.7",),
        "mb_wrong_scale_factor": ("BAT-2.2", "BAT-2.5"),
        "mb_suns_marker_missing": MODBUS_BATTERY_REQUIREMENTS,
    }
    for name, requirements in expected.items():
        fault = get_fault(name)
        assert fault.device_class == "battery" and fault.binding == "modbus"
        assert fault.requirements == requirements
        assert fault.to_json()["binding"] == "modbus"
    echonet = FAULTS["slow_ramp"]
    assert echonet.binding == "echonet" and "binding" not in echonet.to_json()


def test_a_modbus_fault_refuses_an_echonet_simulator() -> None:
    class EchonetLike:
        binding = "echonet"

    with pytest.raises(TypeError, match="Modbus/SunSpec"):
        get_fault("mb_ignores_reversion").apply(EchonetLike())


@realtime
async def test_fault_power_not_delivered_only_the_meter_sees_it() -> None:
    async with running(HOSTS["nullmodem"], faults=("mb_power_not_delivered",)) as (
        _sim,
        battery,
        meter,
    ):
        await start_dr(battery, 2000)
        await asyncio.sleep(0.4)
        assert (await points(battery, 802, "W"))["W"] == 2000
        assert (await points(meter, 203, "W"))["W"] == -1000


@realtime
async def test_fault_ignores_reversion() -> None:
    async with running(HOSTS["nullmodem"], faults=("mb_ignores_reversion",), time_scale=20.0) as (
        _sim,
        battery,
        meter,
    ):
        await start_dr(battery, -1000, seconds=4)
        await asyncio.sleep(0.4)  # 8 s device
        after = await points(battery, 704, "WSetEna", "WSetRvrtRem")
        assert after == {"WSetEna": 1, "WSetRvrtRem": 0}
        assert (await points(meter, 203, "W"))["W"] == 1000


@realtime
async def test_fault_heartbeat_not_checked() -> None:
    config = fast_config(comms_loss_timeout_s=2.0)
    async with running(
        HOSTS["nullmodem"], config, ("mb_heartbeat_not_checked",), time_scale=20.0
    ) as (_sim, battery, meter):
        await start_dr(battery, 1000)
        await asyncio.sleep(0.3)  # 6 s device of silence
        assert (await points(battery, 704, "WSetEna"))["WSetEna"] == 1
        assert (await points(meter, 203, "W"))["W"] == -1000


@realtime
async def test_fault_wrong_scale_factor() -> None:
    async with running(HOSTS["nullmodem"], faults=("mb_wrong_scale_factor",)) as (
        _sim,
        battery,
        meter,
    ):
        await start_dr(battery, -1500)
        await asyncio.sleep(0.4)
        block = await battery.read_model(802)
        assert block.raw("W") == -1500 and block.raw("W_SF") == 1
        assert block.get("W") == -15000  # ten times the real power
        assert (await points(meter, 203, "W"))["W"] == 1500


@realtime
async def test_fault_suns_marker_missing() -> None:
    async with running(HOSTS["nullmodem"], faults=("mb_suns_marker_missing",)) as (
        _sim,
        battery,
        meter,
    ):
        assert await battery.read_registers(BASE, 2) == [0, 0]
        with pytest.raises(SunSpecNotFound):
            await battery.discover()
        assert [m.id for m in await meter.discover()] == [1, 203]  # the meter is not the DUT


def test_sign_constants() -> None:
    assert BATTERY_W_SIGN == -1  # 802 W / 704 WSet: + discharging; the model: + charging
    assert METER_W_SIGN == 1  # 203 W: + import (charging), like the model


@pytest.mark.parametrize("transport", HOSTS)
@realtime
async def test_a_port_in_use_is_refused(transport: str) -> None:
    first = await SimulatedSunSpecBattery(HOSTS[transport], 0, fast_config()).start()
    try:
        second = SimulatedSunSpecBattery(HOSTS[transport], first.address[1], fast_config())
        with pytest.raises(OSError):
            await second.start()
        second.close()
    finally:
        first.close()


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="own_mode"):
        SunSpecBatteryConfig(own_mode="dancing")
    with pytest.raises(ValueError, match="serial_number"):
        SunSpecBatteryConfig(serial_number="X" * 33)
    with pytest.raises(ValueError, match="unit_id"):
        SunSpecBatteryConfig(unit_id=0)
    with pytest.raises(ValueError, match="share unit"):
        SimulatedSunSpecBattery("127.0.0.1", 0, meter_unit=1)


def test_the_server_comes_without_aiohttp_which_stays_importable() -> None:
    """pymodbus.server would import aiohttp (15 MB, SSL contexts built on import) for its HTTP
    simulator: the runtime hides it for that import only."""
    script = (
        "import sys\n"
        "import drready.simulators.sunspec_runtime\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'\n"
        "from aiohttp import web\n"
        "print(web.Application.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Application"
