"""What each part of a combined run cost (wall time, CPU time, peak RSS), as its parent measured it
when it reaped the part's child (``os.wait4``), and how the combined report carries it."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
from pathlib import Path

import jsonschema
import pytest

from drready.report.combined import build_combined
from drready.report.json_report import validate_report
from drready.run.children import rss_mb as _rss_mb
from drready.run.ledger import PartResult, PartUsage
from drready.run.multirun import _Part, _run_parts

#: A child that holds ``sys.argv[1]`` MB, touched page by page, for ``sys.argv[2]`` seconds of
#: CPU, then says so and exits with ``sys.argv[3]``.
HOG = (
    "import sys, time\n"
    "block = bytearray(int(sys.argv[1]) * 10**6)\n"
    "for i in range(0, len(block), 4096): block[i] = 1\n"
    "end = time.process_time() + float(sys.argv[2])\n"
    "while time.process_time() < end: pass\n"
    "print('held', len(block))\n"
    "sys.exit(int(sys.argv[3]))\n"
)
#: A child that kills itself.
SUICIDE = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"


def _part(name: str, *argv: str) -> _Part:
    return _Part(name, "battery", f"r-{name}", [sys.executable, *argv])


def _run(parts: list[_Part], jobs: int = 2) -> bool:
    return asyncio.run(_run_parts(parts, jobs, dict(os.environ), lambda: None))


def _own_peak_rss_mb() -> float:
    return _rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def test_each_part_gets_its_own_wall_time_cpu_time_and_peak_rss(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Linux counts in a child's peak its parent's resident set when it was spawned (exec keeps
    # the larger of the two): the big child must stand clear of that floor.
    floor_mb = _own_peak_rss_mb()
    held_mb = int(floor_mb) + 80
    big = _part("big", "-c", HOG, str(held_mb), "0.3", "0")
    small = _part("small", "-c", HOG, "1", "0", "1")
    assert _run([big, small]) is False
    assert f"held {held_mb * 10**6}" in capsys.readouterr().out  # its output still relayed
    assert (big.exit_status, small.exit_status) == (0, 1)
    assert big.usage is not None and small.usage is not None
    # Each child's own peak, not the largest of them (RUSAGE_CHILDREN would give that).
    assert big.usage.peak_rss_mb >= held_mb
    assert small.usage.peak_rss_mb < max(floor_mb, _own_peak_rss_mb()) + 30
    assert small.usage.peak_rss_mb < big.usage.peak_rss_mb - 50
    assert big.usage.cpu_s >= 0.3
    assert big.usage.wall_s >= big.usage.cpu_s * 0.9  # one thread: no more CPU than wall time
    assert 0 < small.usage.cpu_s < big.usage.cpu_s
    assert big.result().usage == big.usage


def test_a_part_killed_by_a_signal_still_has_its_cost() -> None:
    killed = _part("killed", "-c", SUICIDE)
    _run([killed], jobs=1)
    assert killed.exit_status == 128 + 9
    assert killed.usage is not None and killed.usage.wall_s > 0


def test_a_part_that_never_started_has_no_cost() -> None:
    missing = _Part("missing", "battery", "r-missing", ["/nonexistent/drready-child"])
    _run([missing], jobs=1)
    assert missing.problem is not None and missing.problem.startswith("could not start")
    assert missing.usage is None and missing.result().usage is None


def test_the_combined_report_carries_each_parts_cost(tmp_path: Path) -> None:
    usage = PartUsage(wall_s=3.21049, cpu_s=2.5, peak_rss_mb=81.234)
    parts = [
        PartResult("battery", "r-battery", 0, usage=usage),
        PartResult("heatpump", "r-heatpump", None, "did not start: the run was interrupted"),
    ]
    document = build_combined(
        "r", tmp_path, parts, started_at=0.0, finished_at=1.0, exit_status=130
    )
    validate_report(document)
    battery, heatpump = document["parts"]
    assert battery["usage"] == {"wall_s": 3.21, "cpu_s": 2.5, "peak_rss_mb": 81.2}
    assert "usage" not in heatpump
    battery["usage"]["peak_rss_mb"] = -1.0
    with pytest.raises(jsonschema.ValidationError):
        validate_report(document)
    battery["usage"] = {"wall_s": 1.0}
    with pytest.raises(jsonschema.ValidationError):
        validate_report(document)
