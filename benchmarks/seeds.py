#!/usr/bin/env python3
"""Randomised starts: the golden simulators of every class and binding over many seeds.

    python3 benchmarks/seeds.py [--seeds 50] [--first 1] [--binding NAME ...] [--class CLASS ...]
                                [--jobs N] [--cold] [--json]

Each (class, binding, seed) is one ``drready run --simulate CLASS [--profile BUILTIN] --seed N``,
``--jobs`` at a time (default: one per CPU). By default every run is forked from one warm
process (:mod:`tests.warm_runner`, as the detection matrix runs its rows): the command's own
``main`` with the run's arguments, less interpreter start and imports; ``--cold`` starts a fresh
``python -m drready.cli`` per run instead. A golden simulator conforms, so every requirement that
ends fail or inconclusive is a false fail: a bug in the suite or the simulator. Prints, per class
and binding, the seeds run and the false fails, then each false fail (seed, requirement, message)
with what the seed drew and the command that repeats it, then the wall time. Reports; never
asserts (tests/plugin/test_seeds.py asserts on 20 seeds). Exit status 0 unless the runs could not
be started at all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BUILTIN = REPO / "drready" / "profile" / "builtin"
CLASSES = ("battery", "heatpump", "hybrid")
#: Every binding the reference designs have, and the classes each serves.
BINDINGS: dict[str, tuple[str, ...]] = {
    "echonet": CLASSES,
    "modbus": ("battery",),
    "openadr3": CLASSES,
    "webapi": CLASSES,
}
#: One run of a simulated class takes seconds; this bounds a stuck one.
RUN_TIMEOUT_S = 600.0
#: Bound on a whole warm sweep (the runner and every run it forked stop past it).
SWEEP_TIMEOUT_S = 7200.0
BAD = ("fail", "inconclusive")


@dataclass(frozen=True)
class Target:
    device_class: str
    binding: str

    @property
    def name(self) -> str:
        return f"{self.device_class}/{self.binding}"

    def argv(self, seed: int, report_dir: Path) -> list[str]:
        """The ``drready`` arguments of this target's run from ``seed``."""
        argv = ["run", "--simulate", self.device_class]
        if self.binding != "echonet":
            profile = BUILTIN / f"{self.device_class}-{self.binding}.toml"
            argv += ["--profile", str(profile)]
        return [*argv, "--seed", str(seed), "--report-dir", str(report_dir)]

    def command(self, seed: int, report_dir: Path) -> list[str]:
        return [sys.executable, "-m", "drready.cli", *self.argv(seed, report_dir)]

    @property
    def rank(self) -> int:
        """Longest first, so that the workers end together: the server topology, Modbus, the
        gateway water heaters, the gateway battery."""
        if self.binding in ("openadr3", "webapi"):
            return 0 if self.device_class != "battery" else 1
        return 2 if self.binding == "modbus" or self.device_class != "battery" else 3


@dataclass
class SeedRun:
    target: str
    seed: int
    exit_status: int | None
    wall_s: float
    #: CPU seconds of the run's process (user + system; warm runs only).
    cpu_s: float | None = None
    #: (requirement, verdict, what its tests said) for every fail or inconclusive.
    false_fails: list[tuple[str, str, str]] = field(default_factory=list)
    start: dict[str, Any] | None = None
    problem: str | None = None
    command: str = ""


def targets(bindings: Iterable[str] = BINDINGS) -> list[Target]:
    return [Target(cls, b) for b in bindings for cls in BINDINGS[b]]


def _messages(requirement: dict[str, Any]) -> str:
    said = [
        f"{t.get('outcome')}: {' '.join(str(t.get('message') or '').split())[:300]}"
        for t in requirement.get("tests", [])
        if t.get("outcome") not in ("passed", "skipped")
    ]
    return "; ".join(said) or str(requirement.get("reason", ""))


def _text(command: Sequence[str], report_dir: Path) -> str:
    """A command line to give back to a person at the checkout's root."""
    return " ".join(command).replace(str(report_dir), "DIR").replace(f"{REPO}{os.sep}", "")


def _report_dir(root: Path, target: Target, seed: int) -> Path:
    return root / f"{target.device_class}-{target.binding}-{seed}"


def _read(
    target: Target, seed: int, report_dir: Path, status: int | None, wall_s: float, tail: str
) -> SeedRun:
    """What one run's report says: its false fails, or why there is no report to read."""
    run = SeedRun(target.name, seed, status, wall_s)
    command = ["-m", "drready.cli", *target.argv(seed, report_dir)]
    run.command = _text(command, report_dir)
    try:
        document = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        run.problem = f"no report (exit status {status}): {tail.strip()}"
        return run
    run.start = document.get("start")
    for requirement in document["requirements"]:
        if requirement["verdict"] in BAD:
            run.false_fails.append(
                (requirement["id"], requirement["verdict"], _messages(requirement))
            )
    if status != 0 and not run.false_fails:
        run.problem = f"exit status {status}: {tail.strip()}"
    elif document.get("complete") is False:
        run.problem = f"report incomplete (exit status {status}): {tail.strip()}"
    return run


def run_one(target: Target, seed: int, root: Path) -> SeedRun:
    """One run in a fresh interpreter (``--cold``)."""
    report_dir = _report_dir(root, target, seed)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            target.command(seed, report_dir),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        status: int | None = proc.returncode
        tail = (proc.stderr or proc.stdout)[-400:]
    except subprocess.TimeoutExpired:
        status, tail = None, f"did not end within {RUN_TIMEOUT_S:g} s"
    return _read(target, seed, report_dir, status, time.perf_counter() - started, tail)


def _work(chosen: Sequence[Target], seeds: Sequence[int]) -> list[tuple[Target, int]]:
    """Every (target, seed), each seed's longest runs first."""
    ordered = sorted(chosen, key=lambda target: target.rank)
    return [(target, seed) for seed in seeds for target in ordered]


def _sweep_cold(
    work: Sequence[tuple[Target, int]], root: Path, jobs: int, on_run: Callable[[SeedRun], None]
) -> list[SeedRun]:
    def one(item: tuple[Target, int]) -> SeedRun:
        run = run_one(item[0], item[1], root)
        on_run(run)
        return run

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, work))


def _sweep_warm(
    work: Sequence[tuple[Target, int]], root: Path, jobs: int, on_run: Callable[[SeedRun], None]
) -> list[SeedRun]:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.warm_runner import Ended, Job, run_jobs

    by_name = {f"{target.name}/{seed}": (target, seed) for target, seed in work}
    logs = root / "logs"

    def job(name: str) -> Job:
        target, seed = by_name[name]
        argv = target.argv(seed, _report_dir(root, target, seed))
        return Job(name, tuple(argv), logs / name.replace("/", "-"))

    runs: dict[str, SeedRun] = {}

    def read(end: Ended) -> SeedRun:
        target, seed = by_name[end.name]
        log = logs / end.name.replace("/", "-")
        tail = end.problem or end.stderr(log)[-400:]
        run = _read(
            target, seed, _report_dir(root, target, seed), end.exit_status, end.wall_s, tail
        )
        run.cpu_s = end.cpu_s
        return run

    def ended(end: Ended) -> None:
        runs[end.name] = read(end)
        on_run(runs[end.name])

    run_jobs(
        [job(name) for name in by_name],
        workers=jobs,
        job_timeout_s=RUN_TIMEOUT_S,
        timeout_s=SWEEP_TIMEOUT_S,
        work_dir=root / "runner",
        on_ended=ended,
    )
    missing = [name for name in by_name if name not in runs]
    for name in missing:
        target, seed = by_name[name]
        run = SeedRun(target.name, seed, None, 0.0)
        run.problem = f"did not end within the sweep's {SWEEP_TIMEOUT_S:g} s"
        run.command = _text(["-m", "drready.cli", *target.argv(seed, Path("DIR"))], Path("DIR"))
        runs[name] = run
        on_run(run)
    return [runs[name] for name in by_name]


def sweep(
    chosen: Sequence[Target],
    seeds: Sequence[int],
    *,
    jobs: int | None = None,
    on_run: Callable[[SeedRun], None] = lambda run: None,
    cold: bool = False,
) -> list[SeedRun]:
    """Every target over every seed, ``jobs`` runs at a time, forked from one warm process
    (``cold``: each in a fresh interpreter). ``on_run`` sees each run as it ends."""
    jobs = jobs or os.cpu_count() or 1
    work = _work(chosen, seeds)
    with tempfile.TemporaryDirectory(prefix="drready-seeds-") as tmp:
        if cold:
            return _sweep_cold(work, Path(tmp), jobs, on_run)
        return _sweep_warm(work, Path(tmp), jobs, on_run)


def table(runs: Sequence[SeedRun]) -> list[str]:
    names = list(dict.fromkeys(run.target for run in runs))
    lines = [
        f"{'class/binding':<20} {'seeds':>5} {'false fails':>11} {'problems':>8} {'wall s':>7} "
        f"{'CPU s':>6}"
    ]
    for name in names:
        mine = [run for run in runs if run.target == name]
        bad = sum(1 for run in mine if run.false_fails)
        problems = sum(1 for run in mine if run.problem)
        wall = sum(run.wall_s for run in mine) / len(mine)
        cpus = [run.cpu_s for run in mine if run.cpu_s is not None]
        cpu = f"{sum(cpus) / len(cpus):>6.1f}" if cpus else f"{'-':>6}"
        lines.append(f"{name:<20} {len(mine):>5} {bad:>11} {problems:>8} {wall:>7.1f} {cpu}")
    total = sum(1 for run in runs if run.false_fails or run.problem)
    lines.append(f"{len(runs)} runs, {total} with a false fail or a problem")
    for run in runs:
        for rid, verdict, message in run.false_fails:
            lines.append(f"  seed {run.seed} {run.target}: {rid} {verdict}: {message}")
        if run.problem:
            lines.append(f"  seed {run.seed} {run.target}: {run.problem}")
        if run.false_fails or run.problem:
            lines.append(f"    start {json.dumps(run.start)}")
            lines.append(f"    repeat: python3 {run.command}")
    return lines


def summary(runs: Sequence[SeedRun], wall_s: float) -> str:
    """One line: seeds run, parts, false fails, wall time."""
    seeds = sorted({run.seed for run in runs})
    parts = len({run.target for run in runs})
    false_fails = sum(len(run.false_fails) for run in runs)
    bad = sum(1 for run in runs if run.false_fails or run.problem)
    span = f"{seeds[0]}-{seeds[-1]}" if seeds else "none"
    return (
        f"seeds run: {len(seeds)} ({span}) over {parts} parts, {len(runs)} runs; false fails: "
        f"{false_fails} in {bad} runs (with problems); wall {wall_s:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50, help="how many seeds (default 50)")
    parser.add_argument("--first", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument(
        "--binding",
        action="append",
        choices=sorted(BINDINGS),
        help="only this binding (repeatable; default: every binding)",
    )
    parser.add_argument("--class", dest="classes", action="append", choices=CLASSES)
    parser.add_argument("--jobs", type=int, help="runs at once (default: one per CPU)")
    parser.add_argument(
        "--cold", action="store_true", help="a fresh interpreter per run (default: warm forks)"
    )
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    args = parser.parse_args(argv)
    chosen = [
        t
        for t in targets(args.binding or BINDINGS)
        if not args.classes or t.device_class in args.classes
    ]
    seeds = range(args.first, args.first + args.seeds)

    def progress(run: SeedRun) -> None:
        if not args.json:
            mark = "ok" if not (run.false_fails or run.problem) else "FALSE FAIL"
            print(f"seed {run.seed:>4} {run.target:<20} {run.wall_s:5.1f} s {mark}", flush=True)

    started = time.perf_counter()
    runs = sweep(chosen, seeds, jobs=args.jobs, on_run=progress, cold=args.cold)
    wall_s = time.perf_counter() - started
    if args.json:
        print(json.dumps([asdict(run) for run in runs], indent=2))
    else:
        print("\n".join(table(runs)))
        print(summary(runs, wall_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
