"""Many ``drready run`` command lines, fast, each through the command's own code path.

A fresh ``python -m drready.cli run ...`` spends about a second (more without cached bytecode)
starting Python, importing drready, pytest, its plugins, the simulators and the suites (rewriting
their asserts), before the suite runs for about as long. The detection matrix runs hundreds of
them. Here one warm process (``python -m tests.warm_runner``) pays for that once: it imports
everything, collects the suites once (so their modules are imported and rewritten as a run would),
then forks a child per command line, which calls :func:`drready.cli.main.main` with that command
line's arguments, exactly as ``python -m drready.cli`` does, and exits with its status. Nothing is
decided in the warm process: each child opens its own simulator, event loop, pytest session,
report and bundle.

Forking is safe because the warm process has no thread but the main one and no event loop when it
forks (checked before every fork). A child past its bound gets SIGTERM, which a run takes as
Ctrl-C (it finishes its report as incomplete and stops the runs it started, ``--units N``), then
SIGKILL; the runner and its children share a process group, which goes whole when the runner
overruns the bound on all of them or its caller stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]
#: After a run's bound, SIGTERM (the run finishes its report as incomplete); then this long until
#: SIGKILL.
TERM_GRACE_S = 15.0
#: Exit status of a child whose call ended in an exception no command catches.
EXIT_CRASHED = 70
#: With ``on_ended``: how often the caller looks for jobs that ended.
FOLLOW_S = 0.5


@dataclass(frozen=True)
class Job:
    """One command line: ``argv`` as given to ``drready`` (``["run", "--simulate", ...]``); its
    output goes to ``<log>.out`` and ``<log>.err``."""

    name: str
    argv: tuple[str, ...]
    log: Path


@dataclass(frozen=True)
class Ended:
    """How one command line ended: its exit status (None if it had to be killed), wall and CPU
    time (user + system, its own runs included), and what went wrong, if anything did."""

    name: str
    exit_status: int | None
    wall_s: float
    cpu_s: float
    problem: str | None

    def stderr(self, log: Path) -> str:
        path = log.with_suffix(log.suffix + ".err")
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def run_jobs(
    jobs: Sequence[Job],
    *,
    workers: int,
    job_timeout_s: float,
    timeout_s: float,
    work_dir: Path,
    on_ended: Callable[[Ended], None] | None = None,
) -> tuple[dict[str, Ended], float]:
    """Run every job in one warm runner, ``workers`` at a time; each is stopped after
    ``job_timeout_s`` and the whole after ``timeout_s``. Returns how each ended (a job that did
    not end is missing) and the runner's own warm-up CPU seconds. ``on_ended`` is called with
    each job as it ends (within :data:`FOLLOW_S`), in this process, for progress."""
    work_dir.mkdir(parents=True, exist_ok=True)
    request = work_dir / "jobs.json"
    results = work_dir / "ended.jsonl"
    results.unlink(missing_ok=True)
    request.write_text(
        json.dumps(
            {
                "workers": workers,
                "job_timeout_s": job_timeout_s,
                "cwd": os.getcwd(),
                "results": str(results),
                "jobs": [{"name": j.name, "argv": list(j.argv), "log": str(j.log)} for j in jobs],
            }
        ),
        encoding="utf-8",
    )
    log = work_dir / "runner.log"
    with log.open("wb") as output:
        # A process group of its own: on timeout, the runner and every run it forked go at once.
        runner = subprocess.Popen(
            [sys.executable, "-m", "tests.warm_runner", str(request)],
            cwd=_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        try:
            if on_ended is None:
                runner.wait(timeout=timeout_s)
            else:
                _follow(runner, results, on_ended, time.monotonic() + timeout_s)
        except subprocess.TimeoutExpired:
            pass
        finally:  # overrun, or the caller stopped (a test's timeout): nothing is left running
            if runner.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(runner.pid, signal.SIGKILL)
                runner.wait(timeout=TERM_GRACE_S)
    ended: dict[str, Ended] = {}
    warm_cpu_s = 0.0
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item.get("warm_cpu_s") is not None:
                warm_cpu_s = float(item["warm_cpu_s"])
            else:
                ended[item["name"]] = Ended(**item)
    if runner.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"the warm runner exited with {runner.returncode}: {tail}")
    return ended, warm_cpu_s


def _follow(
    runner: subprocess.Popen[bytes],
    results: Path,
    on_ended: Callable[[Ended], None],
    deadline: float,
) -> None:
    """Wait for the runner until ``deadline`` (TimeoutExpired past it), handing each job's end
    to ``on_ended`` as its line appears in ``results``."""
    told = 0

    def tell() -> None:
        nonlocal told
        if not results.exists():
            return
        with results.open("rb") as lines:
            lines.seek(told)
            for line in lines:
                if not line.endswith(b"\n"):
                    break  # written in part: read again next time
                told += len(line)
                item = json.loads(line)
                if item.get("warm_cpu_s") is None:
                    on_ended(Ended(**item))

    while True:
        try:
            runner.wait(timeout=max(0.0, min(FOLLOW_S, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            tell()
            if time.monotonic() >= deadline:
                raise
            continue
        tell()
        return


# -- the runner process ---------------------------------------------------------------------------


def _child(job: dict[str, Any], cwd: str) -> None:
    """In the forked child: the command line, as ``python -m drready.cli`` runs it, in the
    runner's process group (which goes whole when the runner's caller stops)."""
    from drready.run.forkserver import run_in_fork

    log = job["log"]
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    out = os.open(f"{log}.out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(f"{log}.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    run_in_fork("drready.cli", list(job["argv"]), out, err, cwd=cwd, own_group=False)


@dataclass
class _Running:
    job: dict[str, Any]
    pid: int
    pidfd: int
    started: float
    deadline: float
    terminated: bool = False
    killed: bool = False


def _fork(job: dict[str, Any], cwd: str, job_timeout_s: float) -> _Running:
    if threading.active_count() != 1:
        raise RuntimeError(f"cannot fork safely: {threading.enumerate()}")
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(job, cwd)
    return _Running(job, pid, os.pidfd_open(pid), started, started + job_timeout_s)


def serve(request: dict[str, Any]) -> None:
    workers = int(request["workers"])
    job_timeout_s = float(request["job_timeout_s"])
    cwd = str(request["cwd"])
    pending = list(reversed(request["jobs"]))
    running: dict[int, _Running] = {}
    with open(request["results"], "a", encoding="utf-8") as results:
        usage = os.times()
        results.write(json.dumps({"warm_cpu_s": usage.user + usage.system}) + "\n")
        results.flush()
        while pending or running:
            while pending and len(running) < workers:
                child = _fork(pending.pop(), cwd, job_timeout_s)
                running[child.pidfd] = child
            now = time.monotonic()
            wait_s = max(0.0, min(r.deadline for r in running.values()) - now)
            ready, _, _ = select.select(list(running), [], [], wait_s)
            for pidfd in ready:
                child = running.pop(pidfd)
                _, status, rusage = os.wait4(child.pid, 0)
                os.close(pidfd)
                exit_status = os.waitstatus_to_exitcode(status)
                problem = None
                if child.killed:
                    problem = f"killed: still running {TERM_GRACE_S:g} s after SIGTERM"
                elif child.terminated:
                    problem = f"did not end within {job_timeout_s:g} s and was stopped"
                line = {
                    "name": child.job["name"],
                    "exit_status": None if child.killed else exit_status,
                    "wall_s": round(time.monotonic() - child.started, 3),
                    "cpu_s": round(rusage.ru_utime + rusage.ru_stime, 3),
                    "problem": problem,
                }
                results.write(json.dumps(line) + "\n")
                results.flush()
            now = time.monotonic()
            for child in running.values():
                if now < child.deadline:
                    continue
                if not child.terminated:
                    child.terminated = True
                    child.deadline = now + TERM_GRACE_S
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.pid, signal.SIGTERM)
                elif not child.killed:
                    child.killed = True
                    child.deadline = now + TERM_GRACE_S
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.pid, signal.SIGKILL)


def _main(argv: Sequence[str]) -> int:
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    from drready.cli.warm import warm_up

    warm_up()
    serve(request)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
