"""The ``drready`` command: run | simulate | catalog | faults | profile | report.

User mistakes (a bad profile, an unknown fault, a busy port) print one line on stderr and exit with
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from drready import __version__
from drready.errors import UsageError
from drready.profile import DEVICE_CLASSES

if TYPE_CHECKING:
    import pytest

    from drready.pytest_plugin import DrreadyOptions

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: pytest's exit status for an interrupted session, as a single-class report records it.
_PYTEST_INTERRUPTED = 2

_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def _suites_dir() -> Path:
    """The conformance suites: the checkout's ``suites/`` or the installed package."""
    return Path(str(files("drready.suites")))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drready", description="Conformance test harness for DRready devices."
    )
    parser.add_argument("--version", action="version", version=f"drready {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the conformance suites against a device or simulator")
    run.add_argument(
        "--simulate",
        choices=DEVICE_CLASSES,
        help="test the built-in simulator of this class (default: every class, one report)",
    )
    run.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="inject a named simulator fault (repeatable); alone, it picks its class's simulator",
    )
    run.add_argument("--profile", type=Path, metavar="FILE", help="device profile (TOML)")
    run.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help="where the report goes (default: reports/<run-id>)",
    )
    run.add_argument(
        "--time-scale",
        type=float,
        metavar="N",
        help="the external device runs its clock N times faster than real time",
    )
    run.add_argument(
        "--run-id", metavar="ID", help="name of this run (default: date, time and a random tag)"
    )
    run.add_argument(
        "--interrupt-after-test",
        action="store_true",
        help="on Ctrl-C or SIGTERM, finish the test in progress, then stop (a second one stops "
        "at once); the runs of a combined run do this",
    )
    run.add_argument(
        "pytest_args",
        nargs="*",
        metavar="PYTEST_ARG",
        help="extra pytest arguments, after -- (given to every class's run)",
    )

    simulate = sub.add_parser(
        "simulate",
        help="run a reference simulator as a real network node, or the DR servicer on its own",
    )
    simulate.add_argument("device_class", choices=(*DEVICE_CLASSES, "servicer"))
    simulate.add_argument(
        "--bind",
        metavar="HOST:PORT",
        help="address to listen on (devices: UDP, default 127.0.0.1:3610; servicer: HTTPS, "
        "default 127.0.0.1:8443)",
    )
    servicer = simulate.add_argument_group("servicer (OpenADR 3 DR servicer)")
    servicer.add_argument("--client-id", default="drready-ven", metavar="ID")
    servicer.add_argument(
        "--client-secret", metavar="SECRET", help="default: a new random one, printed"
    )
    servicer.add_argument(
        "--cert-dir",
        type=Path,
        default=Path("drready-servicer"),
        metavar="DIR",
        help="where the session CA's certificate is written (default ./drready-servicer)",
    )
    servicer.add_argument("--evidence", type=Path, metavar="FILE", help="evidence log (JSON lines)")
    servicer.add_argument(
        "--dispatch",
        action="append",
        default=[],
        metavar="W:SECONDS",
        help="publish a battery setpoint event (W, + charging), one after the other; write "
        "--dispatch=-1500:1800 for a negative power",
    )
    servicer.add_argument(
        "--plain-http", action="store_true", help="serve plain HTTP (on purpose only)"
    )
    simulate.add_argument("--fault", action="append", default=[], metavar="NAME")
    simulate.add_argument(
        "--comms-loss-timeout",
        type=float,
        metavar="S",
        help="battery: seconds of silence during DR before it gives up on it (default 1800)",
    )
    simulate.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="N",
        help="run the device's clock N times faster than real time (N >= 1)",
    )
    simulate.add_argument(
        "--clock",
        metavar="YYYY-MM-DDTHH:MM",
        help="water heaters: where the device's local clock starts (default: now)",
    )

    catalog = sub.add_parser("catalog", help="print the requirement catalog")
    catalog.add_argument("--class", dest="device_class", choices=DEVICE_CLASSES)
    catalog.add_argument("--lang", choices=["en", "ja"], default="en")
    catalog.add_argument("--json", action="store_true")

    faults = sub.add_parser("faults", help="list the named simulator faults")
    faults.add_argument("--class", dest="device_class", choices=DEVICE_CLASSES)
    faults.add_argument("--json", action="store_true")

    profile = sub.add_parser("profile", help="check a device profile and print it in full")
    profile.add_argument(
        "file",
        type=Path,
        nargs="?",
        help="profile to check (default: the built-in profile of --class)",
    )
    profile.add_argument(
        "--class",
        dest="device_class",
        choices=DEVICE_CLASSES,
        help="without FILE: print the built-in profile of this class (default: battery)",
    )

    report = sub.add_parser(
        "report", help="summarise a past run, or render its self-conformity declaration"
    )
    report.add_argument("run_dir", type=Path)
    report.add_argument(
        "--format",
        choices=["text", "html", "pdf"],
        default="text",
        help="text: a summary here (default); html/pdf: the declaration (ja/en), written into "
        "RUN_DIR unless --output says where",
    )
    report.add_argument("--output", type=Path, metavar="FILE", help="where the html/pdf goes")

    verify = sub.add_parser(
        "verify", help="check a run's evidence bundle: exit 0 if untouched, else name the change"
    )
    verify.add_argument("run_dir", type=Path)

    diff = sub.add_parser(
        "diff", help="what changed between two runs: verdicts, test outcomes, measured figures"
    )
    diff.add_argument("run_a", type=Path, metavar="RUN_A")
    diff.add_argument("run_b", type=Path, metavar="RUN_B")
    diff.add_argument("--json", action="store_true", help="print the changes as JSON")
    return parser


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


def _cmd_run(args: argparse.Namespace) -> int:
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


def _parse_bind(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--bind: expected HOST:PORT such as 127.0.0.1:3610, got {text!r}")
    return host, int(port)


class _Node(Protocol):
    """What ``drready simulate`` needs of a running simulator."""

    @property
    def address(self) -> tuple[str, int]: ...

    def close(self) -> None: ...

    def check(self) -> None: ...


async def _start_simulator(args: argparse.Namespace, endpoint: Any) -> _Node:
    if args.device_class == "battery":
        from drready.simulators.battery import BatteryConfig
        from drready.simulators.runtime import SimulatedBattery

        timeout = 1800.0 if args.comms_loss_timeout is None else args.comms_loss_timeout
        config = BatteryConfig(comms_loss_timeout_s=timeout)
        return await SimulatedBattery(
            endpoint, config, args.fault, time_scale=args.time_scale
        ).start()
    from drready.simulators.water_heater import WaterHeaterConfig
    from drready.simulators.water_heater_runtime import SimulatedWaterHeater

    heater = WaterHeaterConfig.for_class(args.device_class)
    start = None
    if args.clock is not None:
        local = datetime.fromisoformat(args.clock)
        start = local.replace(tzinfo=timezone(timedelta(seconds=heater.utc_offset_s))).timestamp()
    return await SimulatedWaterHeater(
        endpoint, heater, args.fault, time_scale=args.time_scale, start_time=start
    ).start()


def _cmd_simulate_servicer(args: argparse.Namespace) -> int:
    import secrets as token_source

    from drready.openadr.standalone import parse_dispatch, serve

    host, port = _parse_bind(args.bind or "127.0.0.1:8443")
    for option in ("fault", "comms_loss_timeout", "clock"):
        if getattr(args, option):
            raise UsageError(f"--{option.replace('_', '-')}: not an option of the servicer")
    if args.time_scale != 1.0:
        raise UsageError("--time-scale: not an option of the servicer (it runs in real time)")
    try:
        dispatches = [parse_dispatch(text) for text in args.dispatch]
    except ValueError as exc:
        raise UsageError(f"--dispatch: {exc}") from None
    secret = args.client_secret or token_source.token_urlsafe(18)
    if not args.client_secret:
        print(f"drready simulate servicer: client secret {secret}", flush=True)

    async def main() -> dict[str, int]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            return await serve(
                host,
                port,
                tls=not args.plain_http,
                client_id=args.client_id,
                client_secret=secret,
                cert_dir=args.cert_dir,
                evidence_path=args.evidence,
                dispatches=dispatches,
                stop=stop,
                say=lambda line: print(f"drready simulate servicer: {line}", flush=True),
            )
        except OSError as exc:
            raise UsageError(f"--bind {host}:{port}: {exc.strerror or exc}") from None

    counts = asyncio.run(main())
    print(
        "drready simulate servicer: stopped; "
        + ", ".join(f"{value} {name}" for name, value in counts.items()),
        flush=True,
    )
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from drready.echonet.transport import open_udp_endpoint
    from drready.simulators.faults import UnknownFaultError, get_fault

    if args.device_class == "servicer":
        return _cmd_simulate_servicer(args)
    host, port = _parse_bind(args.bind or "127.0.0.1:3610")
    if not args.time_scale >= 1:
        raise UsageError(f"--time-scale: expected a number >= 1, got {args.time_scale}")
    if args.clock is not None:
        if args.device_class == "battery":
            raise UsageError("--clock: only the water-heater simulators keep a local clock")
        try:
            when = datetime.fromisoformat(args.clock)
        except ValueError:
            when = None
        if when is None or when.tzinfo is not None:
            raise UsageError(
                f"--clock: expected a local date and time like 2027-04-01T07:30, got {args.clock!r}"
            )
    if args.comms_loss_timeout is not None and args.device_class != "battery":
        raise UsageError(
            f"--comms-loss-timeout: only the battery simulator has one, not the {args.device_class}"
        )
    for name in args.fault:
        try:
            fault = get_fault(name)
        except UnknownFaultError as exc:
            raise UsageError(f"--fault: {exc}") from None
        if fault.device_class != args.device_class:
            raise UsageError(f"--fault {name}: a {fault.device_class} fault")

    async def serve() -> None:
        async def endpoint(handler):  # type: ignore[no-untyped-def]
            return await open_udp_endpoint(handler, host, port)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            sim = await _start_simulator(args, endpoint)
        except OSError as exc:
            raise UsageError(f"--bind {host}:{port}: {exc.strerror or exc}") from None
        bound = sim.address
        speed = f", clock {args.time_scale:g}x real time" if args.time_scale != 1 else ""
        print(
            f"drready simulate {args.device_class}: ECHONET Lite node on "
            f"udp://{bound[0]}:{bound[1]} (faults: {', '.join(args.fault) or 'none'}{speed}); "
            "Ctrl-C stops",
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            sim.close()
        sim.check()
        print("drready simulate: stopped", flush=True)

    asyncio.run(serve())
    return 0


def _cmd_catalog(args: argparse.Namespace) -> int:
    from drready import catalog

    reqs = catalog.for_class(args.device_class) if args.device_class else catalog.CATALOG.values()
    if args.json:
        print(json.dumps(catalog.to_json(reqs), ensure_ascii=False, indent=2))
    else:
        print(catalog.format_table(reqs, args.lang))
    return 0


def _cmd_faults(args: argparse.Namespace) -> int:
    from drready.simulators.faults import FAULTS

    chosen = [f for f in FAULTS.values() if args.device_class in (None, f.device_class)]
    if args.json:
        print(json.dumps([f.to_json() for f in chosen], ensure_ascii=False, indent=2))
        return 0
    for f in chosen:
        print(f"{f.name:<34} {f.device_class:<9} {','.join(f.requirements):<18} {f.description}")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from drready.profile import ProfileError, default_profile, load_profile

    if args.file and args.device_class:
        raise UsageError("profile: give a FILE or --class CLASS (a built-in profile), not both")
    try:
        if args.file:
            profile = load_profile(args.file)
        else:
            profile = default_profile(args.device_class or "battery")
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps(profile.to_json(), ensure_ascii=False, indent=2))
    return 0


def _render_declaration(args: argparse.Namespace) -> int:
    from drready.report.declaration import DeclarationError, render_html, render_pdf
    from drready.report.json_report import write_atomic

    out: Path = args.output or args.run_dir / f"declaration.{args.format}"
    try:
        if args.format == "pdf":
            render_pdf(args.run_dir, out)
        else:
            # Evidence links are relative to the run directory; written elsewhere, the page
            # points back to it.
            here = out.parent.resolve() == args.run_dir.resolve()
            base = None if here else args.run_dir.resolve().as_uri() + "/"
            write_atomic(out, render_html(args.run_dir, base_href=base))
    except DeclarationError as exc:
        raise UsageError(str(exc)) from None
    print(out)
    if out.parent.resolve() == args.run_dir.resolve() and (args.run_dir / "manifest.json").exists():
        # The declaration joins the bundle, marked as added after the run.
        from drready.bundle import BundleError, write_manifest

        try:
            write_manifest(args.run_dir)
        except BundleError as exc:
            print(f"drready: {out} written, but not added to the bundle: {exc}", file=sys.stderr)
            return 1
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import jsonschema

    if args.format != "text":
        return _render_declaration(args)

    from drready.report.combined import format_combined, is_combined
    from drready.report.json_report import load_report
    from drready.report.run_document import format_table

    path = args.run_dir / "report.json"
    try:
        document = load_report(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no report here (expected a run directory)") from None
    except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise UsageError(f"{path}: not a valid drready report: {first}") from None
    combined = is_combined(document)
    status = document.get("exit_status")
    if document["complete"]:
        state = "complete"
    elif status is None or status == (EXIT_INTERRUPTED if combined else _PYTEST_INTERRUPTED):
        state = "INCOMPLETE (interrupted)"
    else:
        state = f"INCOMPLETE (exit status {status})"
    classes = ", ".join(document["device_classes"]) if combined else document["device_class"]
    print(f"run {document['run_id']} ({state}), {classes}, simulated={document['simulated']}")
    if combined:
        lines = format_combined(document)
    else:
        lines = format_table((r["id"], r["verdict"], r["reason"]) for r in document["requirements"])
    for line in lines:
        print(line)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    """0: untouched; 1: the first altered, missing or added file or record; 2: not a run."""
    from drready.bundle import BundleError, manifest_sha256, verify_bundle

    try:
        problems = verify_bundle(args.run_dir)
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    if problems:
        print(f"{args.run_dir}: {problems[0]}")
        if len(problems) > 1:
            print(f"({len(problems) - 1} more problem{'s' * (len(problems) > 2)} after it)")
        return 1
    print(f"{args.run_dir}: untouched (manifest sha256 {manifest_sha256(args.run_dir)})")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    """Exit 0 when nothing changed, 1 when something did (as diff(1) does), 2 on a bad run."""
    from drready.report.diff import DiffError, diff_runs, format_diff, to_json

    try:
        a, b, changes = diff_runs(args.run_a, args.run_b)
    except DiffError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(to_json(changes))
    else:
        for line in format_diff(args.run_a, a, args.run_b, b, changes):
            print(line)
    return 1 if changes else 0


COMMANDS = {
    "run": _cmd_run,
    "diff": _cmd_diff,
    "verify": _cmd_verify,
    "simulate": _cmd_simulate,
    "catalog": _cmd_catalog,
    "faults": _cmd_faults,
    "profile": _cmd_profile,
    "report": _cmd_report,
}


def main(
    argv: Sequence[str] | None = None, *, combined_classes: Sequence[str] = DEVICE_CLASSES
) -> int:
    """The command line. ``combined_classes``: what ``drready run`` without --simulate, --profile
    or --fault tests (every class; the harness's own tests narrow it)."""
    args = _parser().parse_args(argv)
    args.combined_classes = tuple(combined_classes)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"drready: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("drready: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read our output has gone (``drready report DIR | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
