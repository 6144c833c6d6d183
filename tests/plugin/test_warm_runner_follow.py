"""The warm runner's ``on_ended``: each job is handed to the caller as it ends, once, with what
:func:`tests.warm_runner.run_jobs` returns for it (``benchmarks/seeds.py`` prints progress so)."""

from __future__ import annotations

from pathlib import Path

from tests.warm_runner import Ended, Job, run_jobs


def test_each_job_is_handed_over_once_as_it_ends(tmp_path: Path) -> None:
    jobs = [Job(f"catalog-{n}", ("catalog",), tmp_path / "logs" / f"catalog-{n}") for n in range(3)]
    seen: list[Ended] = []
    ended, _ = run_jobs(
        jobs,
        workers=2,
        job_timeout_s=120.0,
        timeout_s=300.0,
        work_dir=tmp_path / "runner",
        on_ended=seen.append,
    )
    assert sorted(e.name for e in seen) == sorted(ended) == [j.name for j in jobs]
    assert all(ended[e.name] == e and e.exit_status == 0 for e in seen)
