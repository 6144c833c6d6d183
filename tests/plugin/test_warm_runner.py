"""The warm runner of the detection matrix (:mod:`tests.warm_runner`): each job is its command
line's own run, with its exit status, output and CPU time; one that overruns its bound stops."""

from __future__ import annotations

import json
from pathlib import Path

from tests.warm_runner import Job, run_jobs


def test_each_job_runs_its_command_line_and_a_job_past_its_bound_is_stopped(
    tmp_path: Path,
) -> None:
    report_dir = tmp_path / "battery"
    jobs = [
        Job("catalog", ("catalog",), tmp_path / "logs" / "catalog"),
        Job("unknown", ("run", "--fault", "no_such_fault"), tmp_path / "logs" / "unknown"),
        Job(
            "overrun",
            # The longest part of a plain run (seconds, where the others may take under one).
            (
                "run",
                "--simulate",
                "hybrid",
                "--binding",
                "openadr3",
                "--report-dir",
                str(report_dir),
            ),
            tmp_path / "logs" / "overrun",
        ),
    ]
    ended, warm_cpu_s = run_jobs(
        jobs, workers=2, job_timeout_s=1.0, timeout_s=120, work_dir=tmp_path / "runner"
    )
    assert warm_cpu_s > 0
    assert ended["catalog"].exit_status == 0 and ended["catalog"].problem is None
    catalog = (tmp_path / "logs" / "catalog.out").read_text(encoding="utf-8")
    assert "BAT-1.1" in catalog
    assert ended["catalog"].cpu_s > 0
    # A user's mistake: one line on stderr, status 2, as from the command itself.
    assert ended["unknown"].exit_status == 2
    assert "no_such_fault" in ended["unknown"].stderr(tmp_path / "logs" / "unknown")
    # Stopped after its bound with SIGTERM, as Ctrl-C stops a run: the report says incomplete.
    overrun = ended["overrun"]
    assert overrun.problem is not None and "did not end within 1 s" in overrun.problem
    assert overrun.exit_status not in (0, None)
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert report["complete"] is False
