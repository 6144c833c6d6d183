"""``drready run``: one class's run as a pytest session, or every class's in parallel."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from drready.cli.status import EXIT_INTERRUPTED, EXIT_NOT_CONFORMANT, EXIT_USAGE
from drready.errors import UsageError
from drready.model import DeviceClass
from drready.report.verdicts import Verdict
from drready.run.options import (
    RunOptions,
    check_run,
    fault_class,
    impairment_option,
    jcstar_list,
    new_run_id,
    resolve_profile,
    suites_dir,
)

if TYPE_CHECKING:
    import pytest

    from drready.run.ledger import PartResult


_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def _checked_options(
    args: argparse.Namespace, simulate: DeviceClass | None, run_id: str, report_dir: Path
) -> RunOptions:
    """The options of one class's run, refused here, in one line, before pytest starts."""
    options = RunOptions(
        profile_path=args.profile,
        simulate=simulate,
        faults=tuple(args.fault),
        report_dir=report_dir,
        time_scale=args.time_scale or 1.0,
        run_id=run_id,
        impair=impairment_option(args.impair),
        jcstar_list=args.jcstar_list,
    )
    profile = resolve_profile(options)
    check_run(options, profile)
    jcstar_list(options, profile)  # a list that cannot be read is refused before anything runs
    return options


def _run_id(args: argparse.Namespace) -> str:
    if args.run_id is None:
        return new_run_id()
    if not _RUN_ID.fullmatch(args.run_id):
        raise UsageError(
            f"--run-id: expected letters, digits, '.', '_' or '-' (a directory name), "
            f"got {args.run_id!r}"
        )
    return str(args.run_id)


def cmd_run(args: argparse.Namespace) -> int:
    simulate = DeviceClass(args.simulate) if args.simulate else None
    if args.profile or simulate:
        return _run_one(args, simulate)
    if args.fault:
        # A fault belongs to one class's simulator: test that class alone.
        return _run_one(args, fault_class(args.fault))
    return _run_all(args, args.combined_classes)


def _run_one(args: argparse.Namespace, simulate: DeviceClass | None) -> int:
    """One device class, in this process: one pytest session."""
    import pytest

    run_id = _run_id(args)
    report_dir = args.report_dir or Path("reports") / run_id
    options = _checked_options(args, simulate, run_id, report_dir)
    argv = [
        str(suites_dir()),
        "-p",
        "no:cacheprovider",
        "--run-id",
        run_id,
        "--report-dir",
        str(report_dir),
        "-o",
        "console_output_style=classic",
    ]
    if args.profile:
        argv += ["--profile", str(args.profile)]
    if options.simulate:
        argv += ["--simulate", str(options.simulate)]
    for name in args.fault:
        argv += ["--fault", name]
    if args.time_scale:
        argv += ["--time-scale", str(args.time_scale)]
    if args.clock:
        argv += ["--clock", args.clock]
    if args.impair is not None:
        argv += ["--impair", args.impair]
    if args.no_operator:
        argv += ["--no-operator"]
    if args.jcstar_list is not None:
        argv += ["--jcstar-list", str(args.jcstar_list)]
    argv += ["--rootdir", str(suites_dir().parent), *args.pytest_args]
    stopper = _StopAfterTest() if args.interrupt_after_test else None
    with _interrupt_handlers(stopper):
        code = pytest.main(argv, plugins=[stopper] if stopper is not None else [])
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    if code == pytest.ExitCode.INTERRUPTED:
        return EXIT_INTERRUPTED
    return int(code)


class _StopAfterTest:
    """pytest plugin for ``--interrupt-after-test``: the first SIGINT or SIGTERM lets the test in
    progress finish and then stops the session; a second one interrupts at once."""

    def __init__(self) -> None:
        self.session: pytest.Session | None = None
        self.asked = False

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def interrupt(self, signum: int, frame: FrameType | None) -> None:
        if self.asked or self.session is None:
            signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt
            return
        self.asked = True
        name = signal.Signals(signum).name
        self.session.shouldstop = f"{name}: stopped after the test in progress"


@contextmanager
def _interrupt_handlers(stopper: _StopAfterTest | None) -> Iterator[None]:
    """While pytest runs, SIGTERM interrupts it as Ctrl-C does, so the report is finished (as
    incomplete) rather than cut off; with a stopper, both stop it after the test in progress."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = stopper.interrupt if stopper is not None else signal.default_int_handler
    signums = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _run_all(args: argparse.Namespace, classes: Sequence[str]) -> int:
    """Every class against its built-in simulator, one child run each, in parallel, and one
    combined report."""
    from drready.bundle import BundleError, write_combined_manifest
    from drready.clock import RealClock
    from drready.report.combined import build_combined, format_combined
    from drready.report.json_report import write_report
    from drready.report.junit import write_combined_junit
    from drready.run.multirun import banner, run_children

    if not classes:
        raise UsageError("run: no device class to test")
    if args.clock:
        raise UsageError("--clock: give it with --simulate CLASS (one class's run)")
    run_id = _run_id(args)
    run_dir: Path = args.report_dir or Path("reports") / run_id
    # Refused now, before anything runs.
    parts = [
        _checked_options(args, DeviceClass(cls), f"{run_id}-{cls}", run_dir / cls)
        for cls in classes
    ]
    clock = RealClock()
    started = clock.now()
    report_path = run_dir / "report.json"

    def document(results: Sequence[PartResult], exit_status: int | None = None) -> dict[str, Any]:
        finished = clock.now() if exit_status is not None else None
        return build_combined(
            run_id,
            run_dir,
            results,
            started_at=started,
            finished_at=finished,
            exit_status=exit_status,
        )

    interrupted, results = run_children(
        parts, args.pytest_args, lambda now: write_report(report_path, document(now))
    )
    status = _combined_exit(interrupted, results, document(results))
    final = document(results, status)
    write_report(report_path, final)
    problems = {r.device_class: r.problem for r in results if r.problem}
    write_combined_junit(run_dir, [r.device_class for r in results], run_id, problems)
    try:
        write_combined_manifest(run_dir)
        sealed = None
    except BundleError as exc:
        sealed = str(exc)
        status = status or 1
    print(banner(f"DRready requirements: {', '.join(classes)}"), end="")
    for line in format_combined(final):
        print(line)
    print(f"report: {report_path}", flush=True)
    if sealed is not None:
        print(f"drready: evidence bundle NOT written: {sealed}", file=sys.stderr)
    if interrupted:
        print("drready: interrupted", file=sys.stderr)
    return status


def _combined_exit(
    interrupted: bool, results: Sequence[PartResult], document: dict[str, Any]
) -> int:
    """130 if interrupted; 0 only if every class's run exited 0; 1 if a verdict fails or is
    inconclusive, or a run went wrong (stopped, killed, never started); otherwise the first
    class's own status."""
    if interrupted:
        return EXIT_INTERRUPTED
    statuses = [result.exit_status for result in results]
    if all(status == 0 for status in statuses):
        return 0
    not_conformant = (Verdict.FAIL, Verdict.INCONCLUSIVE)
    if any(r["verdict"] in not_conformant for r in document["requirements"]):
        return EXIT_NOT_CONFORMANT
    if any(result.problem for result in results):
        return EXIT_NOT_CONFORMANT
    return next((s for s in statuses if s not in (0, None)), EXIT_NOT_CONFORMANT)
