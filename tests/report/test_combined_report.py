"""A run of every class: one child run per class, one combined report, and interrupts.

``drready run`` without --simulate, --profile or --fault tests every class against its built-in
simulator over every binding its reference design has. The orchestration is tested here on the
gateway parts (``--binding echonet``: one part per class, today's gateway run), and
``main(..., combined_classes=...)`` narrows the classes, so it is also tested on the battery
alone; the whole plain run is tested last.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest

from drready.catalog import for_class, ids
from drready.profile import DEVICE_CLASSES
from drready.report.combined import PartResult, build_combined
from drready.report.json_report import load_report, validate_report
from tests.helpers import GATEWAY_REQUIREMENTS, reaped

#: Its fixtures run whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

#: Bound on a combined run here; all three classes take a few seconds on two cores.
RUN_TIMEOUT_S = 120
#: ``drready`` with the classes of a combined run narrowed to those given.
NARROWED = (
    "import sys\n"
    "from drready.cli import main\n"
    "sys.exit(main(sys.argv[2:], combined_classes=sys.argv[1].split(',')))\n"
)


def _command(classes: tuple[str, ...] | None, *args: str) -> list[str]:
    if args and args[0] == "run":
        args = ("run", "--binding", "echonet", *args[1:])  # the gateway part of each class
    if classes is None:
        return [sys.executable, "-m", "drready.cli", *args]
    return [sys.executable, "-c", NARROWED, ",".join(classes), *args]


def _drready(
    classes: tuple[str, ...] | None, *args: str, timeout_s: float = RUN_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(classes, *args), capture_output=True, text=True, timeout=timeout_s
    )


def _report(path: Path) -> dict[str, Any]:
    return load_report(path)  # validates against the schema


# -- every class ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def every_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, int]:
    run_dir = tmp_path_factory.mktemp("combined") / "run"
    done = _drready(None, "run", "--report-dir", str(run_dir), "--run-id", "all")
    return run_dir, done.stdout, done.stderr, done.returncode


def test_every_class_passes_in_one_combined_report(
    every_class: tuple[Path, str, str, int],
) -> None:
    run_dir, out, err, status = every_class
    assert status == 0, out[-4000:] + err[-2000:]
    document = _report(run_dir / "report.json")
    assert document["complete"] is True and document["exit_status"] == 0
    assert document["device_class"] is None
    assert document["device_classes"] == list(DEVICE_CLASSES)
    assert [r["id"] for r in document["requirements"]] == list(ids())  # catalog order
    verdicts = {r["id"]: r["verdict"] for r in document["requirements"]}
    for cls in DEVICE_CLASSES:
        for rid in GATEWAY_REQUIREMENTS[cls]:
            assert verdicts[rid] == "pass", (rid, out[-4000:])
    counts = document["summary"]
    assert sum(counts.values()) == len(ids())
    assert counts["fail"] == 0


def test_each_class_keeps_its_own_report(every_class: tuple[Path, str, str, int]) -> None:
    run_dir, _, _, _ = every_class
    document = _report(run_dir / "report.json")
    for part, cls in zip(document["parts"], DEVICE_CLASSES, strict=True):
        assert part["device_class"] == cls
        assert part["complete"] is True and part["exit_status"] == 0, part
        assert part["run_id"] == f"all-{cls}"
        assert part["report"] == f"{cls}/report.json"
        assert part["evidence"]["file"] == f"{cls}/evidence.jsonl"
        own = _report(run_dir / part["report"])
        assert own["device_class"] == cls and "parts" not in own
        assert own["summary"] == part["summary"]
        assert [r["id"] for r in own["requirements"]] == [r.id for r in for_class(cls)]
        assert (run_dir / cls / "junit.xml").is_file()
        assert (run_dir / cls / "evidence.jsonl").stat().st_size > 0
        usage = part["usage"]  # what its child process cost, as the parent reaped it
        assert usage["cpu_s"] > 0 and 0 < usage["wall_s"] < RUN_TIMEOUT_S, usage
        assert 20 < usage["peak_rss_mb"] < 1000, usage


def test_output_comes_class_by_class_then_one_table(
    every_class: tuple[Path, str, str, int],
) -> None:
    run_dir, out, _, _ = every_class
    banners = [out.index(f" {cls}: {run_dir / cls} ") for cls in DEVICE_CLASSES]
    assert banners == sorted(banners)
    table = out.index("DRready requirements: battery, heatpump, hybrid")
    assert banners[-1] < table
    # Each class's own pytest session sits whole between its banner and the next one.
    bounds = [*banners, table]
    for index, cls in enumerate(DEVICE_CLASSES):
        section = out[bounds[index] : bounds[index + 1]]
        assert section.count("test session starts") == 1, cls
        assert f"report: {run_dir / cls / 'report.json'}" in section
    combined = out[table:]
    for rid in ids():
        assert f"\n{rid} " in combined
    assert f"report: {run_dir / 'report.json'}" in combined


def test_report_prints_the_combined_run(every_class: tuple[Path, str, str, int]) -> None:
    run_dir, _, _, _ = every_class
    done = _drready(None, "report", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("run all (complete), battery, heatpump, hybrid")
    for rid in ids():
        assert f"\n{rid} " in done.stdout
    for cls in DEVICE_CLASSES:
        assert f"\n{cls:<9} complete " in done.stdout
    one = _drready(None, "report", str(run_dir / "hybrid"))
    assert one.returncode == 0 and "HY-2.1" in one.stdout and "BAT-2.1" not in one.stdout


# -- the orchestration, on the battery alone ------------------------------------------------------


def test_extra_pytest_arguments_reach_each_class(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = _drready(("battery",), "run", "--report-dir", str(run_dir), "--", "-k", "identity")
    assert done.returncode == 0, done.stdout[-3000:]
    document = _report(run_dir / "report.json")
    assert document["device_classes"] == ["battery"]
    verdicts = {r["id"]: r for r in document["requirements"]}
    assert verdicts["BAT-ID"]["verdict"] == "pass"
    assert verdicts["BAT-2.2"]["verdict"] == "not-tested"
    assert verdicts["BAT-2.2"]["reason"] == "no test in this run covers it"
    assert [p["device_class"] for p in document["parts"]] == ["battery"]


def _wait_for(path: Path, process: subprocess.Popen[str], timeout_s: float) -> None:
    """Wait until ``path`` exists (the battery's run has collected its tests)."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, f"no {path} after {timeout_s} s"
        time.sleep(0.02)


def _processes_naming(run_id: str) -> list[int]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(run_id in arg for arg in process.info.get("cmdline") or ()):
            found.append(process.pid)
    return found


@pytest.mark.parametrize(
    ("classes", "signum"),
    [
        (("battery",), signal.SIGINT),
        (("battery",), signal.SIGTERM),
        (None, signal.SIGINT),
    ],
    ids=["battery-SIGINT", "battery-SIGTERM", "every-class-SIGINT"],
)
def test_an_interrupt_leaves_an_incomplete_valid_combined_report(
    tmp_path: Path, classes: tuple[str, ...] | None, signum: signal.Signals
) -> None:
    run_dir = tmp_path / "run"
    run_id = f"interrupted{tmp_path.name}"
    command = _command(classes, "run", "--report-dir", str(run_dir), "--run-id", run_id)
    with reaped(command) as process:
        _wait_for(run_dir / "battery" / "report.json", process, timeout_s=30)
        process.send_signal(signum)
        rest, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "drready: interrupted"
    document = _report(run_dir / "report.json")
    assert document["complete"] is False and document["exit_status"] == 130
    wanted = [rid for rid in ids() if any(rid.startswith(p) for p in _prefixes(classes))]
    assert [r["id"] for r in document["requirements"]] == wanted
    first = document["parts"][0]
    assert first["complete"] is False and first["exit_status"] == 130, first
    assert first["report"] == "battery/report.json"  # what the battery finished is kept
    assert _report(run_dir / "battery" / "report.json")["complete"] is False
    for part in document["parts"]:
        # Never started, or started but interrupted before its session wrote a report (parts
        # run one per CPU, so which it is depends on timing): its requirements are still listed.
        if part["report"] is None:
            assert part["problem"] in (
                "did not start: the run was interrupted",
                "was interrupted before it wrote a report",
            ), part
    assert "DRready requirements" in rest
    assert _processes_naming(run_id) == []  # no child outlives the run


def test_a_second_interrupt_kills_the_runs_at_once(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    command = _command(("battery",), "run", "--report-dir", str(run_dir), "--run-id", "twice")
    with reaped(command) as process:
        _wait_for(run_dir / "battery" / "report.json", process, timeout_s=30)
        process.send_signal(signal.SIGINT)
        time.sleep(0.1)  # two signals sent together may arrive as one
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    document = _report(run_dir / "report.json")
    assert document["complete"] is False
    (part,) = document["parts"]
    # Killed (128 + SIGKILL) unless it had already stopped after the test in progress.
    assert part["complete"] is False and part["exit_status"] in (130, 137), part
    assert _report(run_dir / "battery" / "report.json")["complete"] is False
    assert _processes_naming("twice-battery") == []


def _prefixes(classes: tuple[str, ...] | None) -> list[str]:
    names = {"battery": "BAT-", "heatpump": "HP-", "hybrid": "HY-"}
    return [names[c] for c in (classes or DEVICE_CLASSES)]


# -- the combined document ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def battery_part(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory holding the battery's own report, as a combined run leaves it."""
    run_dir = tmp_path_factory.mktemp("parts")
    done = _drready(
        None,
        "run",
        "--simulate",
        "battery",
        "--report-dir",
        str(run_dir / "battery"),
        "--run-id",
        "parts-battery",
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return run_dir


def test_a_class_that_left_no_report_still_lists_its_requirements(battery_part: Path) -> None:
    parts = [
        PartResult("battery", "parts-battery", 0),
        PartResult("heatpump", "parts-heatpump", 137, "was killed"),
        PartResult("hybrid", "parts-hybrid", None, "did not start: the run was interrupted"),
    ]
    document = build_combined(
        "parts", battery_part, parts, started_at=0.0, finished_at=1.0, exit_status=130
    )
    validate_report(document)
    assert document["complete"] is False
    assert [r["id"] for r in document["requirements"]] == list(ids())
    battery, heatpump, _ = document["parts"]
    assert battery["complete"] is True and battery["report"] == "battery/report.json"
    assert heatpump == {
        **heatpump,
        "report": None,
        "complete": False,
        "exit_status": 137,
        "problem": "was killed",
    }
    assert heatpump["summary"]["not-tested"] == len(for_class("heatpump"))
    reasons = {r["id"]: r["reason"] for r in document["requirements"]}
    assert reasons["HP-2.1"] == "the heatpump run was killed"
    assert reasons["HY-2.1"] == "the hybrid run did not start: the run was interrupted"
    assert document["summary"]["not-tested"] >= len(for_class("heatpump")) * 2


def test_a_report_left_by_an_earlier_run_is_not_taken(battery_part: Path) -> None:
    parts = [PartResult("battery", "another-run-battery", 0)]
    document = build_combined(
        "another-run", battery_part, parts, started_at=0.0, finished_at=1.0, exit_status=0
    )
    validate_report(document)
    (part,) = document["parts"]
    assert part["report"] is None and part["problem"] == "it left no report"
    assert {r["verdict"] for r in document["requirements"]} == {"not-tested"}


def test_schema_tells_combined_from_single_class_reports(battery_part: Path) -> None:
    single = _report(battery_part / "battery" / "report.json")
    combined = build_combined(
        "parts",
        battery_part,
        [PartResult("battery", "parts-battery", 0)],
        started_at=0.0,
        finished_at=1.0,
        exit_status=0,
    )
    validate_report(single)
    validate_report(combined)
    broken = [
        {**single, "device_class": None},  # a single-class report names its class
        {**single, "device_classes": ["battery"]},  # ... and is not a combined one
        {**combined, "device_class": "battery"},  # a combined report names none
        {k: v for k, v in combined.items() if k != "device_classes"},
        {**combined, "parts": [{"device_class": "battery"}]},
        {**combined, "device_classes": ["battery", "battery"]},
    ]
    for document in broken:
        with pytest.raises(jsonschema.ValidationError):
            validate_report(document)


def test_report_of_a_combined_run_names_what_is_missing(
    battery_part: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from drready.cli import main
    from drready.report.json_report import write_report

    document = build_combined(
        "parts",
        battery_part,
        [
            PartResult("battery", "parts-battery", 0),
            PartResult("hybrid", "parts-hybrid", None, "did not start: the run was interrupted"),
        ],
        started_at=0.0,
        finished_at=1.0,
        exit_status=130,
    )
    write_report(battery_part / "report.json", document)
    assert main(["report", str(battery_part)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run parts (INCOMPLETE (interrupted)), battery, hybrid")
    assert "\nbattery   complete   exit 0 " in out
    missing = f"{len(for_class('hybrid'))} not-tested"
    assert f"\nhybrid    INCOMPLETE exit -    no report: {missing}" in out
    assert "(did not start: the run was interrupted)" in out
    assert "\nHY-2.1       not-tested      the hybrid run did not start" in out
    assert json.loads((battery_part / "report.json").read_text(encoding="utf-8"))["parts"]


# -- every class over every binding ---------------------------------------------------------------

#: Bound on the whole plain run (every class over every binding): generous, for loaded machines.
FULL_RUN_TIMEOUT_S = 900


def test_the_plain_run_tests_every_requirement_over_every_binding(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "drready.cli", "run", "--report-dir", str(run_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=FULL_RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    document = _report(run_dir / "report.json")
    assert [p["name"] for p in document["parts"]] == [
        "battery",
        "battery-openadr3",
        "battery-webapi",
        "battery-modbus",
        "heatpump",
        "heatpump-openadr3",
        "heatpump-webapi",
        "hybrid",
        "hybrid-openadr3",
        "hybrid-webapi",
    ]
    assert [r["id"] for r in document["requirements"]] == list(ids())  # one per requirement
    verdicts = {r["id"]: r["verdict"] for r in document["requirements"]}
    assert set(verdicts.values()) <= {"pass", "declared"}, verdicts
    assert document["summary"]["not-tested"] == 0
    for requirement in document["requirements"]:
        assert "no independent meter" not in requirement["reason"], requirement
    bat_3_2 = next(r for r in document["requirements"] if r["id"] == "BAT-3.2")
    assert {b["binding"]: b["verdict"] for b in bat_3_2["bindings"]} == {
        "echonet": "not-tested",
        "openadr3": "pass",
        "webapi": "pass",
        "modbus": "not-tested",
    }
    assert "echonet:- openadr3:pass webapi:pass modbus:-" in done.stdout
