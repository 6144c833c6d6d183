"""``drready run``: one class's run as a pytest session, or every class's in parallel."""

from __future__ import annotations

import argparse
import re
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from drready.cli.status import EXIT_INTERRUPTED, EXIT_USAGE
from drready.errors import UsageError

if TYPE_CHECKING:
    import pytest

    from drready.pytest_plugin import DrreadyOptions


_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def _suites_dir() -> Path:
    """The conformance suites: the checkout's ``suites/`` or the installed package."""
    return Path(str(files("drready.suites")))


def _checked_options(
    args: argparse.Namespace, simulate: str | None, run_id: str, report_dir: Path
) -> DrreadyOptions:
    """The options of one class's run, refused here, in one line, before pytest starts."""
    import pytest

    from drready.profile import ProfileError
    from drready.pytest_plugin import DrreadyOptions, check_run, resolve_profile

    options = DrreadyOptions(
        profile_path=args.profile,
        simulate=simulate,
        faults=tuple(args.fault),
        report_dir=report_dir,
        time_scale=args.time_scale or 1.0,
        run_id=run_id,
    )
    try:
        check_run(options, resolve_profile(options))
    except pytest.UsageError as exc:
        raise UsageError(str(exc)) from None
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(f"--time-scale: {exc}") from None
    return options


def _run_id(args: argparse.Namespace) -> str:
    from drready.pytest_plugin import new_run_id

    if args.run_id is None:
        return new_run_id()
    if not _RUN_ID.fullmatch(args.run_id):
        raise UsageError(
            f"--run-id: expected letters, digits, '.', '_' or '-' (a directory name), "
            f"got {args.run_id!r}"
        )
    return str(args.run_id)


def _fault_class(names: Sequence[str]) -> str:
    """The one device class the named faults belong to."""
    from drready.simulators.faults import UnknownFaultError, get_fault

    first: dict[str, str] = {}
    for name in names:
        try:
            fault = get_fault(name)
        except UnknownFaultError as exc:
            raise UsageError(f"--fault: {exc}") from None
        first.setdefault(fault.device_class, name)
    if len(first) > 1:
        which = " and ".join(f"{name} is a {cls} fault" for cls, name in first.items())
        raise UsageError(f"--fault: {which}; one run tests one device class")
    return next(iter(first))


def cmd_run(args: argparse.Namespace) -> int:
    if args.profile or args.simulate:
        return _run_one(args, args.simulate)
    if args.fault:
        # A fault belongs to one class's simulator: test that class alone.
        return _run_one(args, _fault_class(args.fault))
    return _run_all(args, args.combined_classes)


def _run_one(args: argparse.Namespace, simulate: str | None) -> int:
    """One device class, in this process: one pytest session."""
    import pytest

    run_id = _run_id(args)
    report_dir = args.report_dir or Path("reports") / run_id
    options = _checked_options(args, simulate, run_id, report_dir)
    argv = [
        str(_suites_dir()),
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
        argv += ["--simulate", options.simulate]
    for name in args.fault:
        argv += ["--fault", name]
    if args.time_scale:
        argv += ["--time-scale", str(args.time_scale)]
    argv += ["--rootdir", str(_suites_dir().parent), *args.pytest_args]
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
    """Every class against its built-in simulator, in parallel, with one combined report."""
    from drready.run.multirun import run_all

    if not classes:
        raise UsageError("run: no device class to test")
    run_id = _run_id(args)
    run_dir: Path = args.report_dir or Path("reports") / run_id
    for cls in classes:  # refuse now, before anything runs
        _checked_options(args, cls, f"{run_id}-{cls}", run_dir / cls)
    return run_all(classes, run_id, run_dir, args.pytest_args)
