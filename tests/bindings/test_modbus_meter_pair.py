"""The Modbus battery binding reads the device's power and the meter's back to back and times
both, and the meter comparison judges only pairs read at nearly one instant."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import pytest
from drready.suites.battery.test_meter import MAX_PAIR_LAG_S, comparable

from drready.bindings.modbus_battery import Meter, ModbusBatteryBinding
from drready.bindings.types import Sample, Status
from drready.clock import LoopRunner, VirtualClock
from drready.modbus.registers import Value

TIMEOUT_S = 2.0


class FakeClient:
    connected = True
    timeout_s = TIMEOUT_S

    def close(self) -> None:
        pass


class FakePoints:
    """The device's registers: power ramps by 100 W a second of loop time. The first ``lost``
    power reads take a timeout more after the value is read (a scale factor read retried)."""

    def __init__(self, lost: int = 0, one_model: bool = False) -> None:
        self.reads: list[list[str]] = []
        self.lost = lost
        #: The battery's quantities come in the power's read (a SunSpec model), not on their own.
        self.one_model = one_model

    def has(self, name: str) -> bool:
        return name != "heartbeat"

    def read_along(self, name: str, others: Iterable[str]) -> list[str]:
        return [o for o in others if self.has(o)] if self.one_model else []

    async def read(self, names: Iterable[str]) -> dict[str, Value | None]:
        wanted = list(names)
        self.reads.append(wanted)
        power = 100.0 * asyncio.get_running_loop().time()
        values: dict[str, Value | None] = {
            "power_w": -power,  # SunSpec sign: the device charges
            "soc_pct": 50.0,
            "reserve_pct": 10.0,
            "capacity_wh": 10000.0,
            "charged_wh": None,
            "discharged_wh": None,
            "setpoint_enable": 0,
            "setpoint_w": 0.0,
        }
        if "power_w" in wanted and self.lost:
            self.lost -= 1
            await asyncio.sleep(TIMEOUT_S)
        return {name: values[name] for name in wanted}

    async def write(self, values: Mapping[str, Value | None]) -> None:
        pass


class SlowMeter(Meter):
    """A meter whose first ``lost`` readings come a timeout late (an attempt lost, a retry)."""

    def __init__(self, lost: int) -> None:
        super().__init__(FakeClient())  # type: ignore[arg-type]
        self.lost = lost
        self.reads = 0

    async def power_w(self) -> float:
        self.reads += 1
        if self.reads <= self.lost:
            await asyncio.sleep(TIMEOUT_S)
        return 100.0 * asyncio.get_running_loop().time()


def _status(
    lost: int, device_lost: int = 0, one_model: bool = False
) -> tuple[Status, SlowMeter, FakePoints]:
    meter = SlowMeter(lost)
    points = FakePoints(device_lost, one_model)
    binding = ModbusBatteryBinding(FakeClient(), meter, sunspec=False)  # type: ignore[arg-type]
    binding._points = points  # type: ignore[assignment]
    runner = LoopRunner(VirtualClock())
    try:
        return runner.run(binding.status()), meter, points
    finally:
        runner.close()


def test_power_and_meter_are_read_back_to_back_and_timed() -> None:
    status, meter, points = _status(lost=0)
    assert points.reads[0] == ["power_w"]  # the power alone, right before the meter
    assert meter.reads == 1
    assert status.power_read_at is not None and status.meter_read_at is not None
    assert status.meter_lag_s == pytest.approx(0.0, abs=1e-6)
    assert status.meter_power_w == pytest.approx(status.power_w, abs=1.0)


def test_quantities_of_the_powers_model_come_in_the_power_read() -> None:
    status, meter, points = _status(lost=0, one_model=True)
    quantities = ["soc_pct", "reserve_pct", "capacity_wh", "charged_wh", "discharged_wh"]
    assert points.reads[0] == ["power_w", *quantities]
    assert not any(name in read for read in points.reads[1:] for name in quantities)
    assert meter.reads == 1 and status.meter_lag_s == pytest.approx(0.0, abs=1e-6)
    assert (status.soc_pct, status.reserve_pct) == (50.0, 10.0)
    assert status.chargeable_wh == pytest.approx(5000.0)


def test_a_pair_torn_by_a_lost_attempt_is_read_again() -> None:
    status, meter, points = _status(lost=1)
    assert meter.reads == 2 and points.reads[:2] == [["power_w"], ["power_w"]]
    assert status.meter_lag_s == pytest.approx(0.0, abs=1e-6)
    assert status.meter_power_w == pytest.approx(status.power_w, abs=1.0)


def test_a_retry_inside_the_power_read_tears_the_pair_too() -> None:
    status, meter, points = _status(lost=0, device_lost=1)
    assert meter.reads == 2 and points.reads[:2] == [["power_w"], ["power_w"]]
    assert status.meter_power_w == pytest.approx(status.power_w, abs=1.0)


def test_a_pair_torn_twice_reports_its_lag() -> None:
    status, meter, _ = _status(lost=2)
    assert meter.reads == 2
    assert status.meter_lag_s == pytest.approx(TIMEOUT_S)
    # Read a timeout apart during the ramp, the two witnesses differ by the ramp.
    assert status.meter_power_w is not None
    assert status.meter_power_w - status.power_w == pytest.approx(100.0 * TIMEOUT_S)


def _sample(elapsed_s: float, lag_s: float | None) -> Sample:
    status = Status(
        power_w=-1500.0,
        mode="discharging",
        actual_mode="discharging",
        soc_pct=50.0,
        chargeable_wh=0.0,
        dischargeable_wh=0.0,
        charged_wh=None,
        discharged_wh=None,
        reserve_pct=10.0,
        meter_power_w=-1300.0,
        power_read_at=None if lag_s is None else 100.0,
        meter_read_at=None if lag_s is None else 100.0 + lag_s,
    )
    return Sample(elapsed_s, 0.0, status)


def test_only_pairs_read_close_together_are_compared() -> None:
    samples = [_sample(0, 0.0), _sample(10, TIMEOUT_S), _sample(20, None), _sample(30, 0.5)]
    kept, torn = comparable(samples, time_scale=1.0)
    assert [s.elapsed_s for s in kept] == [0, 20, 30]
    assert [(s.elapsed_s, lag) for s, lag in torn] == [(10, TIMEOUT_S)]
    # The lag is judged in device seconds: a device clock 10 times faster tears the 0.5 s pair.
    kept, torn = comparable(samples, time_scale=10.0)
    assert [s.elapsed_s for s in kept] == [0, 20]
    assert MAX_PAIR_LAG_S < TIMEOUT_S


def _metered(elapsed_s: float, reported_w: float, metered_w: float) -> Sample:
    status = Status(
        power_w=reported_w,
        mode="discharging",
        actual_mode="discharging",
        soc_pct=50.0,
        chargeable_wh=0.0,
        dischargeable_wh=0.0,
        charged_wh=None,
        discharged_wh=None,
        reserve_pct=20.0,
        meter_power_w=metered_w,
    )
    return Sample(elapsed_s=elapsed_s, time=elapsed_s, status=status)


def test_a_reading_taken_while_the_power_moved_is_not_compared_but_a_steady_lie_is() -> None:
    from drready.suites.battery.test_meter import moving

    def accuracy(reading_w: float) -> float:
        return 20.0

    # Rest, then a ramp to -1500 W at 100 W/s polled every 10 s (+20 s is mid-ramp), then
    # held: the readings on either side of a move are left out, the held ones compared.
    powers = [0, 0, -960, -1500, -1500, -1500]
    ramp = [_metered(10 * k, w - 40 * (w == -960), w) for k, w in enumerate(powers)]
    assert moving(ramp, accuracy) == ramp[1:4]
    # A device that says -1500 W while nothing flows: the meter holds, every reading compared.
    lying = [_metered(10 * k, -1500, 0) for k in range(6)]
    assert moving(lying, accuracy) == []
