"""Logical points over Modbus: register maps (for devices that are not SunSpec) and model 124."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from drready.simulators.battery_model import BatteryParams
from drready.simulators.sunspec_battery import SunSpecBatteryConfig
from drready.simulators.sunspec_runtime import NULLMODEM_HOST, SimulatedSunSpecBattery

from drready.bindings.modbus_battery import ModbusBatteryBinding
from drready.clock import LoopRunner, VirtualClock
from drready.evidence import EvidenceLog
from drready.modbus.client import SunSpecClient
from drready.modbus.errors import ModbusError
from drready.modbus.pointmap import (
    LOGICAL_POINTS,
    Declared,
    PointMap,
    RegisterPoint,
    SunSpecRef,
    sunspec_sources,
)
from drready.profile import ProfileError, load_profile

ROOT = Path(__file__).resolve().parents[2]
REGISTER_MAP = ROOT / "fixtures" / "profiles" / "battery-register-map.toml"


@pytest.mark.parametrize(
    ("point", "words", "value"),
    [
        (RegisterPoint(1, "int16"), [0xFFFE], -2),
        (RegisterPoint(1, "uint16", scale=0.1), [1234], 123.4),
        (RegisterPoint(1, "int32"), [0xFFFF, 0xFC18], -1000),
        (RegisterPoint(1, "uint32"), [0x0001, 0x0000], 65536),
        (RegisterPoint(1, "int16", scale=-1.0), [1500], -1500),
        (RegisterPoint(1, "string", registers=3), [0x4142, 0x4300, 0x0000], "ABC"),
    ],
)
def test_register_points_decode_and_encode(
    point: RegisterPoint, words: list[int], value: float | str
) -> None:
    decoded = point.decode(words, None)
    assert decoded == pytest.approx(value) if isinstance(value, float) else decoded == value
    if point.type != "string":
        assert point.encode(float(value), None) == words  # type: ignore[arg-type]


def test_register_point_with_a_scale_factor_register() -> None:
    point = RegisterPoint(1, "int16", sf_address=2)
    assert point.decode([1234], -1) == pytest.approx(123.4)
    assert point.encode(123.4, -1) == [1234]
    with pytest.raises(ModbusError, match=r"register 1: 5000 is 50000 raw, outside int16"):
        point.encode(5000, -1)


def test_sources_of_each_storage_model() -> None:
    assert sunspec_sources(802)["power_w"] == SunSpecRef(802, "W")
    assert sunspec_sources(802)["heartbeat"] == SunSpecRef(802, "CtrlHb")
    assert sunspec_sources(124)["power_w"] == SunSpecRef(101, "W")
    assert sunspec_sources(124)["soc_pct"] == SunSpecRef(124, "ChaState")
    assert "heartbeat" not in sunspec_sources(124)
    assert "capacity_wh" not in sunspec_sources(124)  # declared: 124 has no Wh rating
    assert set(sunspec_sources(802)) <= set(LOGICAL_POINTS)
    with pytest.raises(ModbusError, match="expected 802 or 124"):
        sunspec_sources(803)


def test_points_read_along_are_those_of_the_same_model() -> None:
    sources = sunspec_sources(802) | {"charged_wh": RegisterPoint(40500, "uint32")}
    points = PointMap(None, sources)  # type: ignore[arg-type]
    assert points.read_along("power_w", ["soc_pct", "setpoint_w", "charged_wh", "nope"]) == [
        "soc_pct"
    ]
    mapped = PointMap(None, sources | {"power_w": RegisterPoint(40100)})  # type: ignore[arg-type]
    assert mapped.read_along("power_w", ["soc_pct"]) == []  # a register alone: nothing along
    assert (
        PointMap(None, sunspec_sources(124)).read_along(  # type: ignore[arg-type]
            "power_w", ["soc_pct", "reserve_pct"]
        )
        == []
    )  # model 101's power, model 124's charge


def _with_simulator(config: SunSpecBatteryConfig, body: object) -> None:
    runner = LoopRunner(VirtualClock())
    evidence = EvidenceLog(time.time)

    async def main() -> None:
        sim = SimulatedSunSpecBattery(NULLMODEM_HOST, 0, config, meter_unit=None)
        await sim.start()
        client = SunSpecClient(*sim.address, evidence=evidence, unit=1, timeout_s=1.0)
        try:
            await client.connect()
            await body(client)  # type: ignore[operator]
        finally:
            client.close()
            sim.close()

    try:
        runner.run(main())
    finally:
        runner.close()


def test_the_register_map_fixture_reads_what_sunspec_reads() -> None:
    """The fixture's addresses are those of the reference battery's 802 layout: read through
    the map they give the same values as through the SunSpec model chain."""
    profile = load_profile(REGISTER_MAP)
    assert profile.modbus is not None and not profile.modbus.sunspec
    mapped = profile.modbus.register_points()

    async def body(client: SunSpecClient) -> None:
        by_register = await PointMap(client, mapped).read(
            ["soc_pct", "power_w", "capacity_wh", "serial", "max_charge_w", "setpoint_enable"]
        )
        by_sunspec = await PointMap(client, sunspec_sources(802)).read(
            ["soc_pct", "power_w", "capacity_wh", "serial", "max_charge_w", "setpoint_enable"]
        )
        assert by_register == pytest.approx(by_sunspec)
        await PointMap(client, mapped).write({"setpoint_w": -1200.0, "reserve_pct": 30.0})
        after = await PointMap(client, sunspec_sources(802)).read(["setpoint_w", "reserve_pct"])
        assert after == {"setpoint_w": -1200, "reserve_pct": 30.0}

    # The marker is on here so that the SunSpec reading is possible; the golden run of the
    # detection matrix uses the same map against the device with the marker off.
    _with_simulator(SunSpecBatteryConfig(), body)


def test_model_124_device_through_the_binding() -> None:
    async def body(client: SunSpecClient) -> None:
        binding = ModbusBatteryBinding(
            client,
            declared={
                "capacity_wh": Declared(9800, "declared"),
                "max_discharge_w": Declared(3000, "declared"),
            },
        )
        report = await binding.communication_check()
        assert report.discovered and not report.problems, report
        assert any("model 124" in i for i in report.instances)
        status = await binding.status()
        assert status.reserve_pct == pytest.approx(BatteryParams().reserve_pct)
        assert status.charged_wh is None
        assert await binding.read_ratings() == (3000, 3000)
        ack = await binding.request_power(-2000, 600)  # discharge 2 kW for 10 minutes
        assert ack.accepted
        await asyncio.sleep(120)
        assert (await binding.status()).power_w == pytest.approx(-2000, abs=1)
        await binding.set_backup_reserve_pct(40)
        assert (await binding.status()).reserve_pct == pytest.approx(40)

    _with_simulator(SunSpecBatteryConfig(storage_model=124), body)


def test_a_register_mapped_device_must_map_the_essentials(tmp_path: Path) -> None:
    text = REGISTER_MAP.read_text(encoding="utf-8")
    broken = text.replace(
        'soc_pct = { address = 40081, type = "uint16", sf_address = 40126 }\n', ""
    )
    path = tmp_path / "p.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ProfileError) as raised:
        load_profile(path)
    assert "modbus.points" in str(raised.value) and "soc_pct" in str(raised.value)


def test_an_unknown_logical_point_is_refused(tmp_path: Path) -> None:
    text = REGISTER_MAP.read_text(encoding="utf-8")
    path = tmp_path / "p.toml"
    path.write_text(text.replace("heartbeat = {", "heart_beat = {"), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"modbus\.points"):
        load_profile(path)
