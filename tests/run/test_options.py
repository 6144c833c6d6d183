"""Run options and the checks that refuse a run before anything starts (drready.run.options)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drready.errors import ProfileError, UsageError
from drready.model import Binding, DeviceClass
from drready.run.options import (
    RunOptions,
    check_run,
    fault_binding,
    fault_class,
    new_run_id,
    resolve_profile,
    run_options,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "profiles"


def _options(**changes: object) -> RunOptions:
    given: dict[str, object] = {
        "profile_path": None,
        "simulate": "battery",
        "faults": (),
        "report_dir": None,
        "time_scale": None,
        "run_id": "r1",
    }
    given.update(changes)
    return run_options(**given)  # type: ignore[arg-type]


def test_defaults_are_filled_in() -> None:
    options = _options()
    assert options.simulate is DeviceClass.BATTERY
    assert options.report_dir == Path("reports") / "r1"
    assert options.report_path == Path("reports") / "r1" / "report.json"
    assert options.time_scale == 1.0 and options.active
    assert not _options(simulate=None).active
    assert RunOptions.from_json(options.to_json()) == options


def test_a_new_run_id_sorts_by_time_and_is_a_directory_name() -> None:
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", new_run_id())
    assert _options(run_id=None).report_dir.parent == Path("reports")


def test_a_time_scale_below_one_is_refused() -> None:
    with pytest.raises(UsageError, match=r"^--time-scale: expected a number >= 1, got 0.5$"):
        _options(time_scale=0.5)


def test_the_simulator_runs_in_virtual_time_already() -> None:
    with pytest.raises(ProfileError, match=r"echonet\.address"):
        resolve_profile(_options(time_scale=10.0))


def test_a_fault_of_another_binding_picks_its_binding() -> None:
    assert fault_binding(()) is Binding.ECHONET
    assert fault_binding(("slow_ramp",)) is Binding.ECHONET
    assert fault_binding(("no_such_fault",)) is Binding.ECHONET  # check_run refuses it
    assert fault_class(("slow_ramp",)) is DeviceClass.BATTERY
    assert fault_class(("hp_power_stuck",)) is DeviceClass.HEATPUMP


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (("no_such_fault",), "--fault: unknown fault 'no_such_fault' (known: "),
        (
            ("slow_ramp", "hp_power_stuck"),
            "--fault: slow_ramp is a battery fault and hp_power_stuck is a heatpump fault; "
            "one run tests one device class",
        ),
    ],
)
def test_faults_of_no_class_or_of_two_are_refused(faults: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        fault_class(faults)
    assert str(caught.value).startswith(message)


def test_check_run_refuses_a_fault_of_another_class() -> None:
    options = _options(simulate="hybrid", faults=("hp_power_stuck",))
    with pytest.raises(UsageError, match="--fault hp_power_stuck: a heatpump fault, but the"):
        check_run(options, resolve_profile(options))


def test_check_run_refuses_a_profile_that_would_test_nothing() -> None:
    options = _options(simulate=None, profile_path=FIXTURES / "heatpump-server.toml")
    with pytest.raises(UsageError, match="the heatpump is tested over the gateway topology"):
        check_run(options, resolve_profile(options))


def test_check_run_accepts_a_simulated_fault_run() -> None:
    options = _options(faults=("slow_ramp",))
    profile = resolve_profile(options)
    check_run(options, profile)
    assert profile.is_simulated and profile.device.device_class == DeviceClass.BATTERY
