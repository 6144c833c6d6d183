"""benchmarks/run.py's figures of the plain run, the detection matrix and the seeded starts, read
from canned reports and output: what it parses and how it judges, without running anything."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers import load_script

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script(_SCRIPT, "drready_benchmark_run")


def _entry(name: str, cls: str, topology: str, usage: dict[str, float] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "device_class": cls,
        "topology": topology,
        "binding": "OpenADR 3 (server)" if topology == "server" else "ECHONET Lite (gateway)",
        "exit_status": 0,
        "complete": True,
        "report": f"{name}/report.json",
    }
    if usage is not None:
        entry["usage"] = usage
    return entry


#: A plain run of three parts as its combined report and the parts' own reports leave it.
COMBINED: dict[str, Any] = {
    "requirements": [{"id": "BAT-1.1", "verdict": "pass"}, {"id": "HP-3.1", "verdict": "declared"}],
    "summary": {"pass": 1, "fail": 0, "declared": 1},
    "parts": [
        _entry("battery", "battery", "gateway", {"wall_s": 3.8, "cpu_s": 1.8, "peak_rss_mb": 92.6}),
        _entry(
            "battery-openadr3",
            "battery",
            "server",
            {"wall_s": 7.25, "cpu_s": 6.1, "peak_rss_mb": 151.0},
        ),
        _entry("heatpump-webapi", "heatpump", "server", None),
    ],
}
OWN = {
    "battery": {"device_time": {"covered_s": 11892.0}},
    "battery-openadr3": {"device_time": {"covered_s": 11531.0}},
    "heatpump-webapi": {"device_time": {"covered_s": 287401.0}},
}


def _by_key(figures: list[Any]) -> dict[str, Any]:
    return {figure.key: figure for figure in figures}


def test_each_part_of_the_plain_run_is_read_from_its_reports(bench: ModuleType) -> None:
    read = bench.plain_run(COMBINED, OWN)
    assert read["requirements"] == 2
    assert read["covered_s"] == {"battery": 11892.0 + 11531.0, "heatpump": 287401.0}
    battery, openadr3, webapi = read["parts"]
    assert battery == {
        "name": "battery",
        "device_class": "battery",
        "topology": "gateway",
        "binding": "ECHONET Lite (gateway)",
        "exit_status": 0,
        "complete": True,
        "covered_s": 11892.0,
        "wall_s": 3.8,
        "cpu_s": 1.8,
        "peak_rss_mb": 92.6,
    }
    assert openadr3["wall_s"] == 7.25 and openadr3["topology"] == "server"
    assert webapi["wall_s"] is None and webapi["peak_rss_mb"] is None


def test_parts_are_judged_against_their_targets(bench: ModuleType) -> None:
    everything = {"wall_s": 12.0, "exit_status": 0, **bench.plain_run(COMBINED, OWN)}
    figures = _by_key(bench._all_figures(everything) + bench._part_figures(everything))
    assert figures["all_wall_s"].result == "PASS"  # 12 s: within 15 s, over the 10 s goal
    assert figures["all_wall_s"].target == "<= 15 s (target 10 s)"
    assert figures["all_wall_s"].label.startswith("7  plain `drready run`, 3 parts")
    gateway = figures["part_battery_wall_s"]
    assert gateway.label.startswith("10 ") and gateway.result == "info"
    assert "device time 3.3 h" in gateway.note and "CPU 1.8 s" in gateway.note
    server = figures["part_battery-openadr3_wall_s"]
    assert (server.value, server.target, server.result) == (7.25, "<= 5 s", "MISS")
    assert figures["part_battery_rss_mb"].result == "PASS"
    assert figures["part_battery-openadr3_rss_mb"].result == "MISS"  # 151 MB
    unmeasured = figures["part_heatpump-webapi_wall_s"]
    assert unmeasured.result == "n/a" and "no parts[].usage" in unmeasured.note
    assert figures["part_heatpump-webapi_rss_mb"].result == "n/a"
    slow = _by_key(bench._all_figures({**everything, "wall_s": 15.5}))
    assert slow["all_wall_s"].result == "MISS"
    failed = _by_key(bench._all_figures({**everything, "exit_status": 1}))
    assert failed["all_wall_s"].result == "MISS"


#: The end of `pytest -q tests/plugin/test_detection_matrix.py`.
MATRIX_OUTPUT = """\
.
detection matrix: 219 rows in 171.4 s wall, 2 workers; CPU 301.5 s (warm-up 1.2 s)
  echonet rows: 150, CPU 120.0 s (0.80 s a row), wall 130.2 s
  (golden)hybrid-openadr3: 9.1 s wall, 8.8 s CPU
........................................................................ [ 33%]
217 passed, 2 skipped in 175.03s (0:02:55)
"""


def test_the_matrix_figures_come_from_its_output(bench: ModuleType) -> None:
    parsed = bench.parse_matrix(MATRIX_OUTPUT)
    assert parsed == {
        "matrix_rows": 219,
        "rows_wall_s": 171.4,
        "workers": 2,
        "cpu_s": 301.5,
        "counts": {"passed": 217, "skipped": 2},
    }
    (figure,) = bench._matrix_figures({"wall_s": 176.2, "exit_status": 0, **parsed})
    assert (figure.value, figure.target, figure.result) == (176.2, "<= 3 min", "PASS")
    assert "219 rows in 171.4 s" in figure.note and "217 passed" in figure.note
    (slow,) = bench._matrix_figures({"wall_s": 181.0, "exit_status": 0, **parsed})
    assert slow.result == "MISS"
    failing = bench.parse_matrix("3 failed, 214 passed, 1 error in 99.00s\n")
    assert failing["counts"] == {"failed": 3, "passed": 214, "errors": 1}
    (failed,) = bench._matrix_figures({"wall_s": 100.0, "exit_status": 1, **failing})
    assert failed.result == "MISS"
    (some,) = bench._matrix_figures({"wall_s": 9.0, "exit_status": 0, "rows": "golden", **parsed})
    assert some.result == "info" and "ONLY the rows matching 'golden'" in some.note
    (skipped,) = bench._matrix_figures(None)
    assert skipped.result == "n/a" and "--matrix" in skipped.note


def test_the_seeds_figures_count_false_fails(bench: ModuleType) -> None:
    def run(seed: int, target: str, fails: list[tuple[str, str, str]]) -> dict[str, Any]:
        return {"seed": seed, "target": target, "false_fails": fails, "problem": None}

    swept = {
        "seeds": 2,
        "targets": ["battery/echonet", "hybrid/openadr3"],
        "wall_s": 61.0,
        "runs": [
            run(1, "battery/echonet", []),
            run(1, "hybrid/openadr3", [("HY-2.3", "fail", "heating before the start time")]),
            run(2, "battery/echonet", []),
            run(2, "hybrid/openadr3", []),
        ],
    }
    runs, false_fails = bench._seeds_figures(swept)
    assert (runs.value, runs.result) == (4, "info")
    assert bench._fmt(runs.value, runs.unit) == "4 runs"
    assert "seeds 1-2 x 2 class/bindings" in runs.note
    assert (false_fails.value, false_fails.target, false_fails.result) == (1, "0", "MISS")
    assert false_fails.note == "seed 1 hybrid/openadr3: HY-2.3 fail"
    assert bench._fmt(false_fails.value, false_fails.unit) == "1 run"
    clean = {**swept, "runs": [run(1, "battery/echonet", [])]}
    assert bench._seeds_figures(clean)[1].result == "PASS"
    (skipped,) = bench._seeds_figures(None)
    assert skipped.result == "n/a" and "--seeds N" in skipped.note
