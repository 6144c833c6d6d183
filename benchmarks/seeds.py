#!/usr/bin/env python3
"""Randomised starts: the golden simulators of every class and binding over many seeds.

    python3 benchmarks/seeds.py [--seeds 50] [--first 1] [--binding NAME ...] [--jobs N] [--json]

Each (class, binding, seed) is one ``drready run --simulate CLASS [--profile BUILTIN] --seed N``
in a subprocess, ``--jobs`` at a time (default: one per CPU). A golden simulator conforms, so
every requirement that ends fail or inconclusive is a false fail: a bug in the suite or the
simulator. Prints, per class and binding, the seeds run and the false fails, then each false
fail (seed, requirement, message) with the command that repeats it. Reports; never asserts
(tests/plugin/test_seeds.py asserts on a smaller sweep). Exit status 0 unless a run could not be
started at all.
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
BAD = ("fail", "inconclusive")


@dataclass(frozen=True)
class Target:
    device_class: str
    binding: str

    @property
    def name(self) -> str:
        return f"{self.device_class}/{self.binding}"

    def command(self, seed: int, report_dir: Path) -> list[str]:
        command = [sys.executable, "-m", "drready.cli", "run", "--simulate", self.device_class]
        if self.binding != "echonet":
            profile = BUILTIN / f"{self.device_class}-{self.binding}.toml"
            command += ["--profile", str(profile)]
        return [*command, "--seed", str(seed), "--report-dir", str(report_dir)]


@dataclass
class SeedRun:
    target: str
    seed: int
    exit_status: int | None
    wall_s: float
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


def run_one(target: Target, seed: int, root: Path) -> SeedRun:
    report_dir = root / f"{target.device_class}-{target.binding}-{seed}"
    command = target.command(seed, report_dir)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
        )
        status: int | None = proc.returncode
        tail = (proc.stderr or proc.stdout)[-400:]
    except subprocess.TimeoutExpired:
        status, tail = None, f"did not end within {RUN_TIMEOUT_S:g} s"
    run = SeedRun(target.name, seed, status, time.perf_counter() - started)
    run.command = " ".join(command[1:]).replace(str(report_dir), "DIR")
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
    return run


def sweep(
    chosen: Sequence[Target],
    seeds: Sequence[int],
    *,
    jobs: int | None = None,
    on_run: Callable[[SeedRun], None] = lambda run: None,
) -> list[SeedRun]:
    """Every target over every seed, ``jobs`` runs at a time."""
    jobs = jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="drready-seeds-") as tmp:
        root = Path(tmp)

        def one(item: tuple[Target, int]) -> SeedRun:
            run = run_one(item[0], item[1], root)
            on_run(run)
            return run

        work = [(target, seed) for seed in seeds for target in chosen]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(one, work))


def table(runs: Sequence[SeedRun]) -> list[str]:
    names = list(dict.fromkeys(run.target for run in runs))
    lines = [
        f"{'class/binding':<20} {'seeds':>5} {'false fails':>11} {'problems':>8} {'wall s':>7}"
    ]
    for name in names:
        mine = [run for run in runs if run.target == name]
        bad = sum(1 for run in mine if run.false_fails)
        problems = sum(1 for run in mine if run.problem)
        wall = sum(run.wall_s for run in mine) / len(mine)
        lines.append(f"{name:<20} {len(mine):>5} {bad:>11} {problems:>8} {wall:>7.1f}")
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
    runs = sweep(chosen, seeds, jobs=args.jobs, on_run=progress)
    if args.json:
        print(json.dumps([asdict(run) for run in runs], indent=2))
    else:
        print("\n".join(table(runs)))
        print(f"wall {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
