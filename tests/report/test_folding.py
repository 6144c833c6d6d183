"""One unit over several bindings: the folding of its parts' verdicts, *-ID across units x
bindings, and the parts a combined run plans (without running one)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drready.cli.main import main
from drready.cli.run import _plan, class_bindings
from drready.model import Binding, DeviceClass
from drready.report.combined import PartResult, build_combined, format_combined
from drready.report.folding import fold_units, folded_verdict
from drready.report.json_report import load_report, validate_report, write_report
from tests.helpers import battery_identity, battery_part_report


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        (["pass", "fail", "not-tested"], "fail"),
        (["pass", "inconclusive", "not-tested"], "inconclusive"),
        (["fail", "inconclusive"], "fail"),
        (["not-tested", "pass", "not-tested"], "pass"),
        (["pass", "not-applicable", "declared"], "pass"),
        (["declared", "not-tested"], "declared"),
        (["not-tested", "not-applicable"], "not-tested"),
        (["not-applicable", "not-applicable"], "not-applicable"),
        ([], "not-tested"),
    ],
)
def test_folding_rules(verdicts: list[str], expected: str) -> None:
    assert folded_verdict(verdicts) == expected


def _test(nodeid: str, outcome: str, message: str = "") -> dict[str, Any]:
    return {"nodeid": nodeid, "outcome": outcome, "message": message}


def _requirement(part: str, verdict: str, reason: str, *tests: dict[str, Any]) -> dict[str, Any]:
    return {"id": "BAT-2.2", "part": part, "verdict": verdict, "reason": reason, "tests": [*tests]}


def _part(name: str, unit: str, binding: str) -> dict[str, Any]:
    return {"name": name, "unit": unit, "profile": {"device": {"binding": binding}}}


def test_a_meter_over_one_binding_covers_the_others_and_a_fail_over_one_fails_the_unit() -> None:
    meter = "suites/battery/test_meter.py::test_meter"
    parts = [
        _part("battery", "battery", "echonet"),
        _part("battery-modbus", "battery", "modbus"),
        _part("battery-openadr3", "battery", "openadr3"),
    ]
    no_meter = _test(meter, "skipped", "no independent meter")
    requirements = [
        _requirement(
            "battery",
            "pass",
            "1 test(s) passed; not exercised: no meter",
            _test("t::power", "passed"),
            no_meter,
        ),
        _requirement(
            "battery-modbus",
            "pass",
            "2 test(s) passed",
            _test("t::power", "passed"),
            _test(meter, "passed"),
        ),
        _requirement(
            "battery-openadr3",
            "not-tested",
            "needs the gateway topology",
            _test("t::other", "skipped", "needs the gateway topology"),
        ),
    ]
    [folded] = fold_units(parts, requirements)
    assert folded["verdict"] == "pass"
    assert folded["unit"] == "battery" and "part" not in folded
    assert folded["reason"] == "3 test(s) passed over echonet, modbus"  # no note survives
    assert [(b["part"], b["binding"], b["verdict"]) for b in folded["bindings"]] == [
        ("battery", "echonet", "pass"),
        ("battery-modbus", "modbus", "pass"),
        ("battery-openadr3", "openadr3", "not-tested"),
    ]
    assert {t["part"] for t in folded["tests"]} == {"battery", "battery-modbus", "battery-openadr3"}

    requirements[2] = _requirement("battery-openadr3", "fail", "test_x: too slow")
    [folded] = fold_units(parts, requirements)
    assert folded["verdict"] == "fail"
    assert folded["reason"] == "over openadr3: test_x: too slow"


def test_a_test_no_binding_passed_keeps_its_note() -> None:
    parts = [_part("battery", "battery", "echonet"), _part("battery-webapi", "battery", "webapi")]
    note = _test("t::meter", "skipped", "no independent meter")
    requirements = [
        _requirement("battery", "pass", "", _test("t::a", "passed"), note),
        _requirement("battery-webapi", "pass", "", _test("t::a", "passed"), note),
    ]
    [folded] = fold_units(parts, requirements)
    assert folded["reason"] == (
        "2 test(s) passed over echonet, webapi; not exercised: no independent meter"
    )


def test_a_unit_of_one_part_keeps_its_verdict_and_reason() -> None:
    parts = [_part("battery-1", "battery-1", "echonet"), _part("battery-2", "battery-2", "echonet")]
    requirements = [
        _requirement("battery-1", "pass", "1 test(s) passed; not exercised: no meter"),
        _requirement("battery-2", "not-tested", "why"),
    ]
    folded = fold_units(parts, requirements)
    assert [(r["part"], r["unit"], r["verdict"], r["reason"]) for r in folded] == [
        ("battery-1", "battery-1", "pass", "1 test(s) passed; not exercised: no meter"),
        ("battery-2", "battery-2", "not-tested", "why"),
    ]


def _part_report(
    run_dir: Path, name: str, unit: str, binding: str, identity: dict[str, Any]
) -> PartResult:
    """A battery part over ``binding``: BAT-1.1 is the gateway's (not tested over a server)."""
    server = binding in ("openadr3", "webapi")
    requirements = [
        {
            "id": "BAT-1.1",
            "verdict": "not-tested" if server else "pass",
            "reason": "needs the gateway topology" if server else "1 test(s) passed",
            "tests": [],
        },
        {"id": "BAT-ID", "verdict": "pass", "reason": "1 test(s) passed", "tests": []},
    ]
    return battery_part_report(
        run_dir, name, identity, requirements, binding=binding, unit="" if name == unit else unit
    )


def test_star_id_compares_units_never_the_bindings_of_one_unit(tmp_path: Path) -> None:
    # Two units over two bindings each: a unit's bindings report its one identity (the same
    # over both); the two units differ, so nothing is shared.
    parts = [
        _part_report(tmp_path, "battery-1", "battery-1", "echonet", battery_identity("S1", "FE01")),
        _part_report(
            tmp_path, "battery-1-webapi", "battery-1", "webapi", battery_identity("S1", "FE01")
        ),
        _part_report(tmp_path, "battery-2", "battery-2", "echonet", battery_identity("S2", "FE02")),
        _part_report(
            tmp_path, "battery-2-webapi", "battery-2", "webapi", battery_identity("S2", "FE02")
        ),
    ]
    document = build_combined("r", tmp_path, parts, started_at=0.0, finished_at=1.0, exit_status=0)
    validate_report(document)
    verdicts = {(r["unit"], r["id"]): r["verdict"] for r in document["requirements"]}
    assert verdicts == {
        ("battery-1", "BAT-1.1"): "pass",
        ("battery-2", "BAT-1.1"): "pass",
        ("battery-1", "BAT-ID"): "pass",
        ("battery-2", "BAT-ID"): "pass",
    }
    star_id = next(r for r in document["requirements"] if r["id"] == "BAT-ID")
    messages = {t["message"] for t in star_id["tests"]}
    assert any("unique across the 2 units" in m for m in messages)
    assert [p["unit"] for p in document["parts"]] == ["battery-1"] * 2 + ["battery-2"] * 2
    lines = format_combined(document)
    assert lines[0].split()[:3] == ["requirement", "verdict", "bindings"]
    assert any(
        line.startswith("BAT-1.1 battery-1") and "echonet:pass webapi:-" in line for line in lines
    )

    # Unit 2's web API part reports unit 1's identity: the units share it, both fail *-ID.
    parts[3] = _part_report(
        tmp_path, "battery-2-webapi", "battery-2", "webapi", battery_identity("S1", "FE01")
    )
    document = build_combined("r", tmp_path, parts, started_at=0.0, finished_at=1.0, exit_status=1)
    failed = {r["unit"]: r for r in document["requirements"] if r["id"] == "BAT-ID"}
    assert {unit: r["verdict"] for unit, r in failed.items()} == {
        "battery-1": "fail",
        "battery-2": "fail",
    }
    assert (
        "units battery-1 and battery-2 share the identification number (0x83) FE01"
        in (failed["battery-1"]["reason"])
    )


def _args(*argv: str) -> argparse.Namespace:
    from drready.cli.main import _parser

    args = _parser().parse_args(["run", *argv])
    args.combined_classes = ("battery", "heatpump", "hybrid")
    return args


def test_the_plain_run_plans_every_class_over_every_binding_of_its_design() -> None:
    assert class_bindings(DeviceClass.BATTERY) == [
        Binding.ECHONET,
        Binding.OPENADR3,
        Binding.WEBAPI,
        Binding.MODBUS,
    ]
    assert class_bindings(DeviceClass.HEATPUMP) == [
        Binding.ECHONET,
        Binding.OPENADR3,
        Binding.WEBAPI,
    ]
    planned = _plan(_args(), None, 1)
    assert [(p.name, p.unit_name, str(p.binding)) for p in planned] == [
        ("battery", "battery", "echonet"),
        ("battery-openadr3", "battery", "openadr3"),
        ("battery-webapi", "battery", "webapi"),
        ("battery-modbus", "battery", "modbus"),
        ("heatpump", "heatpump", "echonet"),
        ("heatpump-openadr3", "heatpump", "openadr3"),
        ("heatpump-webapi", "heatpump", "webapi"),
        ("hybrid", "hybrid", "echonet"),
        ("hybrid-openadr3", "hybrid", "openadr3"),
        ("hybrid-webapi", "hybrid", "webapi"),
    ]
    # The longest first: the server topology's parts, the hybrid's before the battery's.
    first = max(planned, key=lambda p: p.weight)
    assert first.name == "hybrid-openadr3"
    # --binding echonet: today's gateway run, part for part.
    assert [p.name for p in _plan(_args("--binding", "echonet"), None, 1)] == [
        "battery",
        "heatpump",
        "hybrid",
    ]
    # A binding one class lacks is skipped while another has it; units x bindings.
    narrowed = _plan(_args("--binding", "modbus", "--binding", "webapi", "--units", "2"), None, 2)
    assert [p.name for p in narrowed] == [
        "battery-1-webapi",
        "battery-1-modbus",
        "battery-2-webapi",
        "battery-2-modbus",
        "heatpump-1-webapi",
        "heatpump-2-webapi",
        "hybrid-1-webapi",
        "hybrid-2-webapi",
    ]
    # --simulate CLASS alone stays the gateway run of that class.
    assert [p.name for p in _plan(_args("--simulate", "heatpump"), DeviceClass.HEATPUMP, 1)] == [
        "heatpump"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--simulate", "heatpump", "--binding", "modbus"],
            "drready: --binding modbus: no class of this run has it (heatpump has echonet, "
            "openadr3, webapi)",
        ),
        (
            ["--binding", "zigbee"],
            "drready: --binding: expected one of echonet, modbus, openadr3, webapi, got 'zigbee'",
        ),
    ],
)
def test_a_binding_that_leaves_nothing_is_refused_in_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", *args, "--report-dir", str(tmp_path / "run")])
    assert status == 2
    assert capsys.readouterr().err == message + "\n"
    assert not (tmp_path / "run").exists()


def test_a_part_whose_bundle_was_not_written_says_so_in_the_combined_report(
    tmp_path: Path,
) -> None:
    passed = [{"id": "BAT-1.1", "verdict": "pass", "reason": "1 test(s) passed", "tests": []}]
    part = battery_part_report(tmp_path, "battery", battery_identity("S1", "FE01"), passed)
    own = load_report(tmp_path / "battery" / "report.json")
    own.update(exit_status=1, bundle_problem="run: credentials would be in the evidence bundle")
    write_report(tmp_path / "battery" / "report.json", own)
    part = replace(part, exit_status=1)
    document = build_combined("r", tmp_path, [part], started_at=0.0, finished_at=1.0, exit_status=1)
    validate_report(document)
    entry = document["parts"][0]
    assert entry["problem"] == (
        "evidence bundle not written: run: credentials would be in the evidence bundle"
    )
    assert entry["complete"] is False and entry["exit_status"] == 1
