"""Several units in one run, without running one: unit identities, shard shares, the *-ID check
across units, and the refusals of ``drready run --units/--shard``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from drready.cli.main import main
from drready.cli.run import shard_names, shard_option
from drready.errors import UsageError
from drready.profile import default_profile
from drready.report.combined import PartResult, build_combined
from drready.report.json_report import validate_report
from drready.report.units import UNIQUENESS_NODEID, check_unique_identities
from tests.helpers import battery_identity, battery_part_report


def test_each_unit_has_an_identity_of_its_own() -> None:
    battery = default_profile("battery")
    serials = [battery.as_unit(k).device.serial_number for k in (1, 2, 10)]
    assert serials == ["SIM0000001", "SIM0000002", "SIM0000010"]
    webapi = default_profile("battery", "webapi")
    assert [webapi.as_unit(k).webapi.device_id for k in (1, 2)] == [  # type: ignore[union-attr]
        "battery-1",
        "battery-2",
    ]
    with pytest.raises(ValueError, match="unit must be >= 1"):
        battery.as_unit(0)


def test_shards_partition_the_parts_deterministically() -> None:
    names = ["hybrid", "battery", "heatpump", "battery-2", "battery-1"]
    shares = [shard_names(names, k, 2) for k in (1, 2)]
    assert shares == [["battery", "battery-2", "hybrid"], ["battery-1", "heatpump"]]
    for count in (1, 2, 3, 5):
        taken = [n for k in range(1, count + 1) for n in shard_names(names, k, count)]
        assert sorted(taken) == sorted(names)  # every part once, in exactly one share
    assert shard_option("2/3") == (2, 3)
    assert shard_option(None) is None
    for bad in ("0/2", "3/2", "1/0", "x", "1-2", "/2"):
        with pytest.raises(UsageError, match="--shard: expected K/N with 1 <= K <= N"):
            shard_option(bad)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--shard", "3/2"],
            "drready: --shard: expected K/N with 1 <= K <= N (e.g. 1/2), got '3/2'",
        ),
        (
            ["--simulate", "battery", "--units", "2", "--shard", "1/3"],
            "drready: --shard 1/3: this run has 2 part(s) (battery-1, battery-2); expected N <= 2",
        ),
        (["--units", "0"], "drready: --units: expected a number from 1 to 64, got 0"),
    ],
)
def test_bad_units_or_shard_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", *args, "--report-dir", str(tmp_path / "run")])
    assert status == 2
    err = capsys.readouterr().err
    assert err == message + "\n"
    assert not (tmp_path / "run").exists()  # refused before anything ran


def _parts(*identities: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    parts, requirements = [], []
    for k, identity in enumerate(identities, 1):
        name = f"battery-{k}"
        parts.append({"name": name, "device_class": "battery", "device": {"identity": identity}})
        test = {"nodeid": "suites/x.py::test_id", "outcome": "passed", "message": ""}
        requirements.append(
            {"id": "BAT-ID", "part": name, "verdict": "pass", "reason": "ok", "tests": [test]}
        )
        requirements.append(
            {"id": "BAT-1.1", "part": name, "verdict": "pass", "reason": "ok", "tests": [test]}
        )
    return parts, requirements


def test_two_units_sharing_an_identification_number_fail_star_id_naming_them() -> None:
    parts, requirements = _parts(
        battery_identity("SIM0000001", "FE01"),
        battery_identity("SIM0000002", "FE01"),
        battery_identity("S3", "FE03"),
    )
    check_unique_identities(parts, requirements)
    by = {(r["part"], r["id"]): r for r in requirements}
    for unit in ("battery-1", "battery-2"):
        requirement = by[(unit, "BAT-ID")]
        assert requirement["verdict"] == "fail"
        expected = "units battery-1 and battery-2 share the identification number (0x83) FE01"
        assert requirement["reason"] == f"not unique across the units of this run: {expected}"
        entry = requirement["tests"][-1]
        assert (entry["nodeid"], entry["outcome"], entry["message"]) == (
            UNIQUENESS_NODEID,
            "failed",
            expected,
        )
    assert by[("battery-3", "BAT-ID")]["verdict"] == "pass"
    assert by[("battery-3", "BAT-ID")]["tests"][-1]["outcome"] == "passed"
    assert all(by[(f"battery-{k}", "BAT-1.1")]["verdict"] == "pass" for k in (1, 2, 3))


def test_a_serial_number_is_unique_within_its_product_only() -> None:
    same = _parts(battery_identity("S1", "FE01"), battery_identity("S1", "FE02"))
    check_unique_identities(*same)
    assert [r["verdict"] for r in same[1] if r["id"] == "BAT-ID"] == ["fail", "fail"]
    assert "share the serial number (0x8D) S1" in same[1][0]["reason"]
    other = _parts(battery_identity("S1", "FE01"), battery_identity("S1", "FE02", product="OTHER"))
    check_unique_identities(*other)
    assert [r["verdict"] for r in other[1] if r["id"] == "BAT-ID"] == ["pass", "pass"]


def test_one_unit_changes_nothing() -> None:
    parts, requirements = _parts(battery_identity("S1", "FE01"))
    before = copy.deepcopy(requirements)
    check_unique_identities(parts, requirements)
    assert requirements == before


def _part_report(run_dir: Path, name: str, serial: str, number: str) -> PartResult:
    requirements = [
        {"id": rid, "verdict": "pass", "reason": "1 test(s) passed", "tests": []}
        for rid in ("BAT-1.1", "BAT-ID")
    ]
    return battery_part_report(run_dir, name, battery_identity(serial, number), requirements)


def test_the_combined_report_of_a_shard_fails_shared_ids_and_says_its_share(
    tmp_path: Path,
) -> None:
    parts = [
        _part_report(tmp_path, "battery-1", "S1", "FE01"),
        _part_report(tmp_path, "battery-3", "S3", "FE01"),
    ]
    shard = {"index": 1, "count": 2, "parts": ["battery-1", "battery-2", "battery-3"]}
    document = build_combined(
        "r", tmp_path, parts, started_at=0.0, finished_at=1.0, exit_status=1, shard=shard
    )
    validate_report(document)
    assert document["shard"] == shard
    assert [p["name"] for p in document["parts"]] == ["battery-1", "battery-3"]
    assert document["device_classes"] == ["battery"]
    verdicts = {(r["part"], r["id"]): r["verdict"] for r in document["requirements"]}
    assert verdicts == {
        ("battery-1", "BAT-1.1"): "pass",
        ("battery-3", "BAT-1.1"): "pass",
        ("battery-1", "BAT-ID"): "fail",
        ("battery-3", "BAT-ID"): "fail",
    }
    assert document["summary"]["fail"] == 2
    assert [p["summary"]["fail"] for p in document["parts"]] == [1, 1]


def test_diff_tells_the_units_apart() -> None:
    from drready.report.diff import diff_reports

    def run(verdict: str) -> dict[str, Any]:
        parts, requirements = _parts(battery_identity("S1", "FE01"), battery_identity("S2", "FE02"))
        requirements[2]["verdict"] = verdict  # battery-2's BAT-ID
        return {"parts": parts, "device_classes": ["battery"], "requirements": requirements}

    changes = diff_reports(run("pass"), run("fail"))
    assert [(c.kind, c.key, c.before, c.after) for c in changes] == [
        ("verdict", "BAT-ID [battery-2]", "pass", "fail")
    ]
