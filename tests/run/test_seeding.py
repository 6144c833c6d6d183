"""Randomised starts (``--seed N``): what a seed draws, that the simulators start there, and
that a run without one is today's fixed start."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from drready.errors import ProfileError, UsageError
from drready.model import DeviceClass
from drready.profile import SimulationRanges, default_profile, parse_profile
from drready.report.json_report import report_schema
from drready.run.options import RunOptions, check_run
from drready.run.seeding import SEED_EPOCH, part_key, seeded_start
from drready.run.session import open_dut
from drready.simulation import StartState

BUILTIN = Path(__file__).resolve().parents[2] / "drready" / "profile" / "builtin"


def test_a_seed_draws_the_same_start_every_time_and_each_part_its_own() -> None:
    battery = default_profile("battery")
    assert seeded_start(battery, 7) == seeded_start(battery, 7)
    assert seeded_start(battery, 7) != seeded_start(battery, 8)
    heater = default_profile("heatpump")
    assert seeded_start(heater, 7).clock_start != seeded_start(battery, 7).clock_start
    # A unit of a run of several is a part of its own.
    assert part_key(battery.as_unit(2)) != part_key(battery)
    assert seeded_start(battery.as_unit(2), 7) != seeded_start(battery, 7)


def test_what_a_seed_draws_stays_within_the_declared_ranges() -> None:
    ranges = SimulationRanges(
        soc_range_pct=(40.0, 45.0),
        tank_temp_range_c=(50.0, 52.0),
        time_of_day_range_h=(13.0, 14.0),
        date_range_days=3,
        meter_noise_w=2.0,
        reply_latency_ms=(10.0, 20.0),
    )
    metered = parse_profile((BUILTIN / "battery-modbus.toml").read_text())
    for profile in (default_profile("battery"), default_profile("hybrid"), metered):
        profile = replace(profile, simulation=ranges)
        for seed in range(40):
            drawn = seeded_start(profile, seed)
            state = drawn.state
            local = drawn.clock_start
            assert 13 <= local.hour < 14 and 0 <= (local.date() - SEED_EPOCH.date()).days <= 3
            assert 0.010 <= state.reply_latency_s <= 0.020
            if profile.device.device_class == DeviceClass.BATTERY:
                assert state.soc_pct is not None and 40 <= state.soc_pct <= 45
                assert state.tank_temp_c is None
            else:
                assert state.tank_temp_c is not None and 50 <= state.tank_temp_c <= 52
                assert state.soc_pct is None
            assert 0 <= state.meter_noise_w <= (2.0 if profile.meter is not None else 0.0)


def test_simulation_ranges_are_validated_in_one_line() -> None:
    text = (BUILTIN / "battery.toml").read_text()
    with pytest.raises(ProfileError, match=r"simulation\.soc_range_pct: expected \[low, high\]"):
        parse_profile(text + "\n[simulation]\nsoc_range_pct = [80, 40]\n")
    with pytest.raises(ProfileError, match=r"simulation\.tank_temp_c"):
        parse_profile(text + "\n[simulation]\ntank_temp_c = [40, 50]\n")
    declared = parse_profile(text + "\n[simulation]\nsoc_range_pct = [40, 80]\n")
    assert declared.simulation is not None
    assert declared.simulation.soc_range_pct == (40.0, 80.0)
    assert declared.to_json()["simulation"]["soc_range_pct"] == [40.0, 80.0]
    assert "simulation" not in default_profile("battery").to_json()  # a built-in declares none


def test_a_latency_near_the_request_timeout_is_refused_before_the_run() -> None:
    text = (BUILTIN / "battery.toml").read_text()
    profile = parse_profile(text + "\n[simulation]\nreply_latency_ms = [0, 1500]\n")
    options = RunOptions(None, DeviceClass.BATTERY, (), Path("x"), 1.0, "r", seed=1)
    with pytest.raises(UsageError, match=r"simulation\.reply_latency_ms: expected an upper bound"):
        check_run(options, profile)
    check_run(replace(options, seed=None), profile)  # without a seed the ranges are not used


def test_a_seed_is_refused_for_an_external_device() -> None:
    external = parse_profile(
        (BUILTIN / "battery.toml")
        .read_text()
        .replace('address = "simulator"', 'address = "192.0.2.10"')
    )
    with pytest.raises(UsageError, match="--seed: only a simulated run"):
        seeded_start(external, 1)


def test_the_simulators_start_where_the_seed_says() -> None:
    start = StartState(soc_pct=71.5, reply_latency_s=0.150)
    dut = open_dut(default_profile("battery"), start=start)
    try:
        assert dut.simulator is not None
        device = dut.simulator.device  # type: ignore[attr-defined]
        assert device.model.soc_pct == pytest.approx(71.5)
        sent = dut.runner.clock.monotonic()
        dut.read_mode()
        # The node answers each request 150 ms later (the gateway's requests are serial).
        assert dut.runner.clock.monotonic() - sent >= 0.150
    finally:
        dut.close()
    heater = open_dut(default_profile("heatpump"), start=StartState(tank_temp_c=40.0))
    try:
        model = heater.simulator.device.model  # type: ignore[attr-defined,union-attr]
        litres = model.params.tank_litres
        assert model.q_wh == pytest.approx(litres * 1.163 * (40.0 - 15.0))
    finally:
        heater.close()


def test_the_meter_is_noisy_within_its_bound_and_repeatably() -> None:
    from drready.simulators.battery import BatteryConfig, BatteryDevice
    from drready.simulators.sunspec_meter import SunSpecMeterConfig, SunSpecMeterDevice

    class Still:
        def __init__(self) -> None:
            self.device = BatteryDevice(BatteryConfig(), lambda: 0.0)

        def advance(self) -> object:
            return self.device.model

        def true_power_w(self) -> float:
            return 1000.0

    def readings(seed: int) -> list[float]:
        config = SunSpecMeterConfig(noise_w=4.0, noise_seed=seed)
        meter = SunSpecMeterDevice(config, Still())  # type: ignore[arg-type]
        return [meter.power_w() for _ in range(200)]

    first = readings(3)
    assert first == readings(3) and first != readings(4)
    assert all(996.0 <= w <= 1004.0 for w in first) and len(set(first)) > 100
    exact = SunSpecMeterDevice(SunSpecMeterConfig(), Still())  # type: ignore[arg-type]
    assert exact.power_w() == 1000.0


def test_without_a_seed_the_start_is_the_fixed_one() -> None:
    assert RunOptions(None, None, (), Path("x"), 1.0, "r").seed is None
    assert StartState().fixed
    dut = open_dut(default_profile("battery"))
    try:
        assert dut.simulator.device.model.soc_pct == 50.0  # type: ignore[union-attr]
        assert dut.simulator.reply_delay_s == 0.0  # type: ignore[union-attr]
    finally:
        dut.close()


def test_a_seeded_run_writes_its_seed_and_start_into_the_report(tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    done = subprocess.run(
        [*command, "--seed", "11", "--report-dir", str(run), "--", "-k", "identity"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    document = json.loads((run / "report.json").read_text())
    jsonschema.validate(document, report_schema())
    drawn = seeded_start(default_profile("battery"), 11)
    assert document["seed"] == 11
    assert document["start"] == json.loads(json.dumps(drawn.to_json()))
    started = datetime.fromisoformat(document["device_time"]["start"])
    assert abs((started - drawn.clock_start).total_seconds()) < 60


def test_every_part_of_a_combined_run_is_given_the_seed(tmp_path: Path) -> None:
    from drready.report.combined import build_combined
    from drready.run.ledger import PartResult
    from drready.run.multirun import part_command

    options = RunOptions(None, DeviceClass.HYBRID, (), tmp_path / "hybrid", 1.0, "r-hybrid", seed=9)
    command = part_command(options)
    assert command[command.index("--seed") + 1] == "9"
    assert "--seed" not in part_command(replace(options, seed=None))
    assert RunOptions.from_json(options.to_json()) == options
    part = PartResult("hybrid", "r-hybrid", None, "has not started yet", "hybrid")
    combined = build_combined(
        "r", tmp_path, [part], started_at=0.0, finished_at=None, exit_status=None, seed=9
    )
    assert combined["seed"] == 9
    jsonschema.validate(combined, report_schema())


def test_a_shift_is_judged_on_the_samples_clock_not_the_requests() -> None:
    from drready.suites.water_heater import scenarios

    # Requested at 12:00 for 13:00; the request and the reads after it took 2 min (over a
    # server, a poll and a report interval), so sampling began at 12:02: the start is 58 min in.
    run = scenarios.ShiftRun(12 * 3600.0, 13 * 3600.0, 13 * 3600.0, [], None, None, 120.0)
    assert run.ahead_s == 3600.0 and run.start_elapsed_s == 3480.0
