"""Several units in one run, through the real command line: ``drready run --simulate battery
--units 3`` (with and without the shared-identity fault), two ``--profile`` units, and
``--shard K/N`` shares that partition a run's parts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drready.report.json_report import load_report
from drready.report.units import UNIQUENESS_NODEID
from tests.helpers import GATEWAY_REQUIREMENTS

#: Its runs are whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

#: Bound on one run here: three simulated batteries take about 15 s on two cores.
RUN_TIMEOUT_S = 300
_ROOT = Path(__file__).resolve().parents[2]
BATTERY_PROFILE = _ROOT / "fixtures" / "profiles" / "battery-simulator.toml"
HEATPUMP_PROFILE = _ROOT / "drready" / "profile" / "builtin" / "heatpump.toml"


def _drready(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "drready.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def _run(run_dir: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """``drready run ARGS --report-dir RUN_DIR``; pytest arguments after ``--`` stay last."""
    cut = args.index("--") if "--" in args else len(args)
    done = _drready("run", *args[:cut], "--report-dir", str(run_dir), *args[cut:])
    return done.returncode, load_report(run_dir / "report.json"), done.stdout + done.stderr


def _verdicts(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Each unit's verdict per requirement (a unit's parts are folded into one)."""
    return {(r["unit"], r["id"]): r["verdict"] for r in document["requirements"]}


def _failed(document: dict[str, Any]) -> set[str]:
    return {r["id"] for r in document["requirements"] if r["verdict"] == "fail"}


def test_three_simulated_units_each_their_own_identity(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    status, document, output = _run(run_dir, "--simulate", "battery", "--units", "3")
    assert status == 0, output[-4000:]
    names = ["battery-1", "battery-2", "battery-3"]
    assert [p["name"] for p in document["parts"]] == names
    assert document["device_classes"] == ["battery"]
    identities = [p["device"]["identity"] for p in document["parts"]]
    assert [i["serial_number"] for i in identities] == ["SIM0000001", "SIM0000002", "SIM0000003"]
    assert len({i["identification_number"] for i in identities}) == 3
    verdicts = _verdicts(document)
    for name in names:
        assert (run_dir / name / "report.json").is_file()
        assert (run_dir / name / "manifest.json").is_file()  # its own evidence bundle
        for rid in GATEWAY_REQUIREMENTS["battery"]:
            assert verdicts[(name, rid)] == "pass", (name, rid)
    ids = [r for r in document["requirements"] if r["id"] == "BAT-ID"]
    assert [r["tests"][-1]["nodeid"] for r in ids] == [UNIQUENESS_NODEID] * 3
    assert {r["tests"][-1]["outcome"] for r in ids} == {"passed"}
    assert _drready("verify", str(run_dir)).returncode == 0
    declaration = _drready("report", str(run_dir), "--format", "html")
    assert declaration.returncode == 0, declaration.stderr
    html = (run_dir / "declaration.html").read_text(encoding="utf-8")
    assert all(f"({name})" in html for name in names)


def test_units_sharing_an_identity_fail_exactly_star_id(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    status, document, output = _run(
        run_dir, "--simulate", "battery", "--units", "3", "--fault", "shared_identity"
    )
    assert status == 1, output[-4000:]
    assert _failed(document) == {"BAT-ID"}
    assert document["faults"] == ["shared_identity"]
    # Each unit's own run passed: only the combined step, which sees all three, fails BAT-ID.
    assert [p["exit_status"] for p in document["parts"]] == [0, 0, 0]
    for requirement in document["requirements"]:
        if requirement["id"] == "BAT-ID":
            assert requirement["verdict"] == "fail"
            assert (
                "units battery-1, battery-2 and battery-3 share the identification number"
                in (requirement["reason"])
            )
            assert requirement["tests"][-1]["outcome"] == "failed"
        elif requirement["id"] in GATEWAY_REQUIREMENTS["battery"]:
            assert requirement["verdict"] == "pass", requirement
    declaration = _drready("report", str(run_dir), "--format", "html")
    assert declaration.returncode == 0, declaration.stderr
    html = (run_dir / "declaration.html").read_text(encoding="utf-8")
    assert html.count("not unique across the units of this run") >= 3


def test_two_profiles_are_two_units(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    status, document, output = _run(
        run_dir, "--profile", str(BATTERY_PROFILE), "--profile", str(HEATPUMP_PROFILE)
    )
    assert status == 0, output[-4000:]
    assert [p["name"] for p in document["parts"]] == ["battery-simulator", "heatpump"]
    assert document["device_classes"] == ["battery", "heatpump"]
    assert (run_dir / "battery-simulator" / "report.json").is_file()
    assert (run_dir / "heatpump" / "report.json").is_file()
    assert _failed(document) == set()


def test_two_units_declaring_one_identity_fail_star_id(tmp_path: Path) -> None:
    """The same profile twice: two units with the same declared (and reported) identity."""
    run_dir = tmp_path / "run"
    status, document, output = _run(
        run_dir, "--profile", str(BATTERY_PROFILE), "--profile", str(BATTERY_PROFILE)
    )
    assert status == 1, output[-4000:]
    assert [p["name"] for p in document["parts"]] == ["battery-simulator", "battery-simulator-2"]
    assert _failed(document) == {"BAT-ID"}
    reason = next(r["reason"] for r in document["requirements"] if r["id"] == "BAT-ID")
    assert "share the serial number (0x8D) SIM0000001" in reason


def test_shards_run_each_part_once(tmp_path: Path) -> None:
    shares = []
    for index in (1, 2):
        run_dir = tmp_path / f"shard-{index}"
        status, document, output = _run(
            run_dir, "--simulate", "battery", "--units", "3", "--shard", f"{index}/2"
        )
        assert status == 0, output[-4000:]
        everything = ["battery-1", "battery-2", "battery-3"]
        assert document["shard"] == {
            "index": index,
            "count": 2,
            "parts": everything,
            "classes": dict.fromkeys(everything, "battery"),
            "units": {name: name for name in everything},
        }
        names = [p["name"] for p in document["parts"]]
        assert sorted(p.name for p in run_dir.iterdir() if p.is_dir()) == names
        shares.append(names)
        assert _drready("verify", str(run_dir)).returncode == 0
    assert shares == [["battery-1", "battery-3"], ["battery-2"]]


def test_shards_made_apart_then_merged_give_the_plain_runs_verdicts(tmp_path: Path) -> None:
    """The issue's round trip: ``--shard 1/2`` and ``2/2`` (no common --run-id), merged, give a
    plain run's verdicts, and the merged run verifies."""
    status, plain, output = _run(tmp_path / "plain", "--", "-k", "identity or discovery")
    assert status == 0, output[-4000:]
    shards = []
    for index in (1, 2):
        run_dir = tmp_path / f"shard-{index}"
        status, _, output = _run(
            run_dir, "--shard", f"{index}/2", "--", "-k", "identity or discovery"
        )
        assert status == 0, output[-4000:]
        shards.append(str(run_dir))
    merged = tmp_path / "merged"
    done = _drready("merge", *shards, "--report-dir", str(merged))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = load_report(merged / "report.json")
    assert _verdicts(document) == _verdicts(plain)
    assert _drready("verify", str(merged)).returncode == 0


def test_a_shared_identity_split_over_shards_still_fails_star_id_once_merged(
    tmp_path: Path,
) -> None:
    """Each shard alone holds one unit and sees no clash; the merge compares the units of the
    whole run, fails exactly BAT-ID, and exits 1. With a shard left out, the missing unit's
    requirements are not tested (its class recorded by the shards), and the merge exits 1."""
    shards = []
    for index in (1, 2):
        run_dir = tmp_path / f"shard-{index}"
        status, document, output = _run(
            run_dir,
            "--simulate",
            "battery",
            "--units",
            "2",
            "--fault",
            "shared_identity",
            "--shard",
            f"{index}/2",
            "--",
            "-k",
            "identity",
        )
        assert status == 0, output[-4000:]
        assert not _failed(document)
        shards.append(str(run_dir))
    merged = tmp_path / "merged"
    done = _drready("merge", *shards, "--report-dir", str(merged))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    document = load_report(merged / "report.json")
    assert _failed(document) == {"BAT-ID"}
    assert document["exit_status"] == 1
    assert _drready("verify", str(merged)).returncode == 0

    alone = tmp_path / "alone"
    done = _drready("merge", shards[0], "--report-dir", str(alone))
    assert done.returncode == 1
    assert "battery-2" in done.stderr
    document = load_report(alone / "report.json")
    missing = [r for r in document["requirements"] if r["unit"] == "battery-2"]
    assert missing and {r["verdict"] for r in missing} == {"not-tested"}
