"""The detection matrix: each class's golden simulator passes, and every named fault fails exactly
the requirements it lists, through the real command line (``drready run --simulate CLASS``).

A test that cannot fail is a defect; this is where each conformance test is shown to fail.

Its second axis is a lossy link (``drready run --impair``, :mod:`drready.impairment`): every
named fault again, under 5 % loss and 1 % duplication with a seed of its own, must fail exactly
the same requirements; and the golden runs, under a few seeds each, must fail nothing (no
``fail`` verdict at all), and over ECHONET Lite leave nothing inconclusive either.

Every row is a ``drready run`` command line, run by :mod:`tests.warm_runner`: one warm process
imports drready, pytest, the simulators and the suites once, then forks a child per row that calls
the command's own ``main`` with the row's arguments (the code path of ``python -m drready.cli run
--simulate CLASS --fault NAME``, less interpreter start and imports), three at a time on two cores.
``DRREADY_MATRIX_ROWS=REGEX`` runs only the rows whose name it matches (the others' tests skip);
the fixture prints each row's wall and CPU time.
"""

from __future__ import annotations

import json
import os
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from drready.simulators.faults import FAULTS, faults_for

from drready.catalog import Kind, for_class
from tests.helpers import GATEWAY_REQUIREMENTS
from tests.warm_runner import Ended, Job, run_jobs

#: Bound on one row's run: a row takes about 1 s of CPU over the gateway and Modbus, up to 6 s
#: over the server topology.
RUN_TIMEOUT_S = 300
#: Bound on the whole matrix, run in the first test's setup: under 3 minutes on two idle cores
#: today (about 300 s of CPU); the bound leaves room for a slower machine.
MATRIX_TIMEOUT_S = 1200
pytestmark = pytest.mark.timeout(MATRIX_TIMEOUT_S + 120)
#: Rows at once: one per core and one more. A simulated run computes, but not all the time (its
#: report and bundle are written to disk, a server-topology run lets loopback sockets settle
#: before each jump of its virtual clock): with one row per core, a tenth of the cores idled.
WORKERS = (os.cpu_count() or 2) + 1
#: ``DRREADY_MATRIX_ROWS``: a regular expression; only the rows whose name it matches run.
ROWS = re.compile(os.environ.get("DRREADY_MATRIX_ROWS", ""))
GOLDEN = "(golden)"
CLASSES = ("battery", "heatpump", "hybrid")
#: Faults per class we require at least.
MIN_FAULTS = {"battery": 12, "heatpump": 8, "hybrid": 8}


_ROOT = Path(__file__).resolve().parents[2]
#: The battery again, over Modbus with an independent meter: SunSpec model 802 (the built-in
#: profile), SunSpec model 124 with 101, and a device that is not SunSpec (a register map).
MODBUS = "battery-modbus"
MODBUS_PROFILES = {
    MODBUS: _ROOT / "drready" / "profile" / "builtin" / "battery-modbus.toml",
    "battery-sunspec-124": _ROOT / "fixtures" / "profiles" / "battery-sunspec-124.toml",
    "battery-register-map": _ROOT / "fixtures" / "profiles" / "battery-register-map.toml",
}


#: Each class over the server topology, in both shapes (the built-in <class>-<shape> profiles).
SHAPES = ("openadr3", "webapi")
SERVER_PROFILES = {
    f"{c}-{shape}": _ROOT / "drready" / "profile" / "builtin" / f"{c}-{shape}.toml"
    for c in CLASSES
    for shape in SHAPES
}


#: The impairment axis: what every impaired row runs under, with its own seed.
IMPAIR = "loss=0.05,duplicate=0.01"
#: A row's name under impairment: "<row> ~impaired <seed>".
IMPAIRED = " ~impaired "
#: Seeds of the golden runs under impairment. Each fault's row runs under impairment too, with a
#: seed of its own (96 seeds over every binding); the golden runs add a few per variant, to show a
#: lossy link fails nothing on a conforming device.
GOLDEN_SEEDS = {
    **{c: range(1, 4) for c in CLASSES},
    **{v: range(1, 2) for v in MODBUS_PROFILES},
    **{v: range(1, 2) for v in SERVER_PROFILES},
}


def _golden(device_class: str) -> str:
    return f"{GOLDEN}{device_class}"


def fault_seed(fault: str) -> int:
    """The seed of a fault's impaired row: from its name, so adding a fault moves no other."""
    return zlib.crc32(fault.encode()) % 10_000


def _impaired(name: str, seed: int) -> str:
    return f"{name}{IMPAIRED}{seed}"


def _impaired_goldens(variants: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(variant, row name) of every impaired golden row of these variants."""
    for variant in variants:
        for seed in GOLDEN_SEEDS[variant]:
            yield variant, _impaired(_golden(variant), seed)


@dataclass(frozen=True)
class Run:
    exit_status: int | None
    report: dict[str, Any]
    stderr: str

    def verdicts(self) -> dict[str, str]:
        return {r["id"]: r["verdict"] for r in self.report["requirements"]}

    def failed(self) -> set[str]:
        # A run of several units (a fault with units > 1) has each requirement once per unit.
        return {r["id"] for r in self.report["requirements"] if r["verdict"] == "fail"}


def _argv(row: str, report_dir: Path) -> tuple[str, ...]:
    """The row's ``drready`` command line (what follows ``python -m drready.cli``)."""
    profile: list[str] = []
    name, _, seed = row.partition(IMPAIRED)
    impair = ["--impair", f"{IMPAIR},seed={seed}"] if seed else []
    variant = name.removeprefix(GOLDEN)
    if variant in MODBUS_PROFILES:
        device_class, fault = "battery", None
        profile = ["--profile", str(MODBUS_PROFILES[variant])]
    elif variant in SERVER_PROFILES:
        device_class, fault = variant.split("-")[0], None
        profile = ["--profile", str(SERVER_PROFILES[variant])]
    elif name.startswith(GOLDEN):
        device_class, fault = name.removeprefix(GOLDEN), None
    else:
        device_class, fault = str(FAULTS[name].device_class), name
    command = ["run", "--simulate", device_class, *profile]
    if fault is not None:
        command += ["--fault", fault]
        if FAULTS[fault].units > 1:  # seen only across units (two sharing an identity)
            command += ["--units", str(FAULTS[fault].units)]
    return (*command, *impair, "--report-dir", str(report_dir))


def _server_row(row: str) -> bool:
    """Whether the row runs over the server topology."""
    name = row.partition(IMPAIRED)[0]
    if name.startswith(GOLDEN):
        return name.removeprefix(GOLDEN) in SERVER_PROFILES
    return str(FAULTS[name].binding) in SHAPES


def _start_rank(row: str) -> int:
    """Longest rows start first, so that two workers end together: the server topology's, then
    Modbus and several units (a run of its own per unit), the water heaters, the battery."""
    name = row.partition(IMPAIRED)[0]
    if _server_row(row):
        return 0
    if name.startswith(GOLDEN):
        variant = name.removeprefix(GOLDEN)
        return 1 if variant in MODBUS_PROFILES else 2 if variant != "battery" else 3
    fault = FAULTS[name]
    if str(fault.binding) == "modbus" or fault.units > 1:
        return 1
    return 3 if str(fault.device_class) == "battery" else 2


class Matrix(dict[str, Run]):
    """Row name -> its run. A row that ran but left no report fails the tests that read it; a row
    ``DRREADY_MATRIX_ROWS`` left out skips them."""

    def __init__(self, runs: dict[str, Run], problems: dict[str, str]) -> None:
        super().__init__(runs)
        self.problems = problems

    def __missing__(self, row: str) -> Run:
        if row in self.problems:
            raise AssertionError(f"{row}: {self.problems[row]}")
        pytest.skip(f"{row}: not among the rows DRREADY_MATRIX_ROWS selects")


def _rows() -> list[str]:
    variants = (*CLASSES, *MODBUS_PROFILES, *SERVER_PROFILES)
    names = [*(_golden(v) for v in variants), *sorted(FAULTS)]
    names += [row for _, row in _impaired_goldens(variants)]
    names += [_impaired(fault, fault_seed(fault)) for fault in sorted(FAULTS)]
    return [name for name in names if ROWS.search(name)]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Matrix:
    base = tmp_path_factory.mktemp("matrix")

    def folder(name: str) -> Path:
        return base / name.replace(IMPAIRED, "-impaired-").strip("()").replace(")", "-")

    names = sorted(_rows(), key=_start_rank)
    jobs = [Job(n, _argv(n, folder(n)), base / "logs" / folder(n).name) for n in names]
    started = time.monotonic()
    ended, warm_cpu_s = run_jobs(
        jobs,
        workers=WORKERS,
        job_timeout_s=RUN_TIMEOUT_S,
        timeout_s=MATRIX_TIMEOUT_S,
        work_dir=base / "runner",
    )
    wall_s = time.monotonic() - started
    runs: dict[str, Run] = {}
    problems: dict[str, str] = {}
    for job in jobs:
        end = ended.get(job.name)
        report_path = folder(job.name) / "report.json"
        if end is None:
            problems[job.name] = f"did not end within the matrix's {MATRIX_TIMEOUT_S} s"
        elif not report_path.exists():
            problems[job.name] = (
                f"no report written ({end.problem}); stderr: {end.stderr(job.log)[-2000:]}"
            )
        else:
            report = json.loads(report_path.read_text(encoding="utf-8"))
            runs[job.name] = Run(end.exit_status, report, end.stderr(job.log))
    _print_times(request, ended, wall_s, warm_cpu_s)
    return Matrix(runs, problems)


def _print_times(
    request: pytest.FixtureRequest, ended: dict[str, Ended], wall_s: float, warm_cpu_s: float
) -> None:
    """Where the matrix's time went: the whole, the server-topology rows and the rest, the
    slowest rows."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        _write_times(reporter, ended, wall_s, warm_cpu_s)


def _binding(row: str) -> str:
    """The binding a row runs over: echonet, modbus, openadr3 or webapi."""
    name = row.partition(IMPAIRED)[0]
    if not name.startswith(GOLDEN):
        return str(FAULTS[name].binding)
    variant = name.removeprefix(GOLDEN)
    if variant in MODBUS_PROFILES:
        return "modbus"
    return variant.split("-")[1] if variant in SERVER_PROFILES else "echonet"


def _write_times(reporter: Any, ended: dict[str, Ended], wall_s: float, warm_cpu_s: float) -> None:
    reporter.write_line("")
    reporter.write_line(
        f"detection matrix: {len(ended)} rows in {wall_s:.1f} s wall, {WORKERS} workers; CPU "
        f"{sum(e.cpu_s for e in ended.values()) + warm_cpu_s:.1f} s (warm-up {warm_cpu_s:.1f} s)"
    )
    for binding in ("echonet", "modbus", *SHAPES):
        rows = [e for e in ended.values() if _binding(e.name) == binding]
        if rows:
            cpu_s = sum(e.cpu_s for e in rows)
            reporter.write_line(
                f"  {binding} rows: {len(rows)}, CPU {cpu_s:.1f} s "
                f"({cpu_s / len(rows):.2f} s a row), wall {sum(e.wall_s for e in rows):.1f} s"
            )
    for end in sorted(ended.values(), key=lambda e: -e.wall_s)[:5]:
        reporter.write_line(f"  {end.name}: {end.wall_s:.1f} s wall, {end.cpu_s:.1f} s CPU")


@pytest.mark.slow
@pytest.mark.parametrize("device_class", CLASSES)
def test_golden_simulator_passes_every_requirement(matrix: Matrix, device_class: str) -> None:
    golden = matrix[_golden(device_class)]
    assert golden.exit_status == 0, golden.stderr
    assert golden.report["complete"] is True
    verdicts = golden.verdicts()
    assert set(verdicts) == {r.id for r in for_class(device_class)}
    for rid in GATEWAY_REQUIREMENTS[device_class]:
        assert verdicts[rid] == "pass", (rid, golden.report["requirements"])
    prefix = golden.report["requirements"][0]["id"].split("-")[0]
    assert verdicts[f"{prefix}-3.1"] == "declared"
    for rid in (f"{prefix}-1.2", f"{prefix}-3.2"):  # server path: not in this run, said why
        assert verdicts[rid] == "not-tested"
    for requirement in golden.report["requirements"]:
        assert requirement["reason"], requirement["id"]
    # Battery: over 3 h of DR scenarios (3.3 h since the suite overlaps its independent waits);
    # water heaters: two days and more, across midnight.
    least = 3 * 3600 if device_class == "battery" else 48 * 3600
    assert golden.report["device_time"]["covered_s"] >= least


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "binding"),
    [
        (MODBUS, "SunSpec Modbus (gateway)"),
        ("battery-sunspec-124", "SunSpec Modbus (gateway)"),
        ("battery-register-map", "Modbus (register map) (gateway)"),
    ],
)
def test_golden_modbus_battery_passes_every_requirement_that_maps(
    matrix: Matrix, variant: str, binding: str
) -> None:
    golden = matrix[_golden(variant)]
    assert golden.exit_status == 0, golden.stderr
    verdicts = golden.verdicts()
    for rid in GATEWAY_REQUIREMENTS["battery"]:
        assert verdicts[rid] == "pass", (rid, golden.report["requirements"])
    assert golden.report["binding"] == binding
    reasons = {r["id"]: r["reason"] for r in golden.report["requirements"]}
    # What does not map is said, not hidden: the energy counters, as a not-applicable test.
    assert "not applicable: cumulative energy" in reasons["BAT-2.5"]
    outcomes = {
        t["nodeid"].split("::")[-1]: t["outcome"]
        for r in golden.report["requirements"]
        for t in r["tests"]
    }
    assert outcomes["test_power_sign_and_energy_counters_match"] == "not-applicable"
    assert outcomes["test_reported_power_matches_the_independent_meter"] == "passed"


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(SERVER_PROFILES))
def test_golden_server_shape_passes_every_server_requirement(matrix: Matrix, variant: str) -> None:
    """Over the server topology, in both shapes, every class passes *-1.2, every
    *-2.x, *-ID, *-3.2 and *-3.3; *-1.1 (the gateway's) is not tested, saying why."""
    device_class = variant.split("-")[0]
    golden = matrix[_golden(variant)]
    assert golden.exit_status == 0, golden.stderr[-3000:]
    assert golden.report["complete"] is True
    verdicts = golden.verdicts()
    prefix = golden.report["requirements"][0]["id"].split("-")[0]
    server = [
        r.id
        for r in for_class(device_class)
        if r.kind == Kind.TESTED and "server" in {str(t) for t in r.topologies}
    ]
    assert {f"{prefix}-1.2", f"{prefix}-3.2", f"{prefix}-ID"} <= set(server)
    for rid in server:
        assert verdicts[rid] == "pass", (rid, golden.report["requirements"])
    assert verdicts[f"{prefix}-1.1"] == "not-tested"
    assert golden.report["binding"].endswith("(server)")


def _fails_exactly_its_requirements(run: Run, fault: str) -> None:
    listed = set(FAULTS[fault].requirements)
    assert run.failed() == listed, (
        f"{fault} should fail exactly {sorted(listed)}; failed {sorted(run.failed())}"
    )
    if listed:  # a link fault the harness copes with lists nothing, and fails nothing
        assert run.exit_status != 0
    assert run.report["faults"] == [fault]
    for requirement in run.report["requirements"]:
        if requirement["id"] in listed:
            failing = [t for t in requirement["tests"] if t["outcome"] in ("failed", "error")]
            assert failing and all(t["message"] for t in failing)


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_fails_exactly_its_requirements(matrix: Matrix, fault: str) -> None:
    _fails_exactly_its_requirements(matrix[fault], fault)


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_fails_exactly_its_requirements_on_a_lossy_link(matrix: Matrix, fault: str) -> None:
    """The same verdicts under 5 % loss and 1 % duplication: the link changes none."""
    seed = fault_seed(fault)
    run = matrix[_impaired(fault, seed)]
    _fails_exactly_its_requirements(run, fault)
    # A run of several units has its profiles in its parts.
    profiles = [p["profile"] for p in run.report.get("parts", [])] or [run.report["profile"]]
    for profile in profiles:
        impair = profile["impair"]
        assert (impair["loss"], impair["duplicate"], impair["seed"]) == (0.05, 0.01, seed)


def _counts(runs: list[tuple[str, Run]], verdict: str) -> dict[str, list[str]]:
    """Row name -> the requirements with that verdict, for the rows that have any."""
    found = {
        name: sorted(rid for rid, v in run.verdicts().items() if v == verdict) for name, run in runs
    }
    return {name: ids for name, ids in found.items() if ids}


@pytest.mark.slow
@pytest.mark.parametrize("variant", [*CLASSES, *MODBUS_PROFILES, *SERVER_PROFILES])
def test_golden_runs_on_a_lossy_link_fail_nothing(matrix: Matrix, variant: str) -> None:
    """No false fail under any seed: a lossy link is not a device fault. Over ECHONET Lite
    (the gateway classes) nothing is left inconclusive either: the harness's retries and the
    suites' gaps absorb the loss."""
    runs = [(row, matrix[row]) for _, row in _impaired_goldens((variant,))]
    assert runs
    assert _counts(runs, "fail") == {}
    for row, run in runs:
        assert run.report["complete"] is True, row
        assert run.report["profile"]["impair"]["loss"] == 0.05, row
    if variant in CLASSES:
        assert _counts(runs, "inconclusive") == {}
        for row, run in runs:
            assert run.exit_status == 0, (row, run.stderr[-2000:])


@pytest.mark.parametrize("device_class", CLASSES)
def test_every_exercisable_requirement_has_a_fault(device_class: str) -> None:
    covered = {rid for f in faults_for(device_class) for rid in f.requirements}
    tested = {r.id for r in for_class(device_class) if r.kind == Kind.TESTED}
    gateway = {
        r.id
        for r in for_class(device_class)
        if r.kind == Kind.TESTED and "gateway" in {str(t) for t in r.topologies}
    }
    # Every requirement a test decides, over either topology, has a fault that fails it.
    assert tested - covered == set()
    assert gateway == set(GATEWAY_REQUIREMENTS[device_class])
    for shape in SHAPES:  # each shape proves its own *-1.2 and *-3.2 checks can fail
        shape_covered = {
            rid for f in faults_for(device_class) if f.binding == shape for rid in f.requirements
        }
        prefix = next(iter(gateway)).split("-")[0]
        assert {f"{prefix}-1.2", f"{prefix}-3.2"} <= shape_covered, shape
    assert len(faults_for(device_class)) >= MIN_FAULTS[device_class]
