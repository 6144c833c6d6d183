"""The ``drready`` command: run | simulate | catalog | faults | profile | report.

User mistakes (a bad profile, an unknown fault, a busy port) print one line on stderr and exit with
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from drready import __version__
from drready.profile import DEVICE_CLASSES

EXIT_USAGE = 2


class UsageError(Exception):
    """A mistake on the command line or in a file the user gave: one line, exit status 2."""


def _suites_dir() -> Path:
    """The conformance suites: the checkout's ``suites/`` or the installed package."""
    return Path(str(files("suites")))


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
        help="test the built-in simulator of this class (default: battery)",
    )
    run.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="inject a named simulator fault (repeatable)",
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
        "pytest_args", nargs="*", metavar="PYTEST_ARG", help="extra pytest arguments, after --"
    )

    simulate = sub.add_parser("simulate", help="run a reference simulator as a real network node")
    simulate.add_argument("device_class", choices=["battery"])
    simulate.add_argument(
        "--bind",
        default="127.0.0.1:3610",
        metavar="HOST:PORT",
        help="UDP address to listen on (default 127.0.0.1:3610)",
    )
    simulate.add_argument("--fault", action="append", default=[], metavar="NAME")
    simulate.add_argument(
        "--comms-loss-timeout",
        type=float,
        default=1800.0,
        metavar="S",
        help="seconds of silence during DR before the device gives up on it",
    )
    simulate.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="N",
        help="run the device's clock N times faster than real time (N >= 1)",
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
        help="profile to check (default: the built-in battery profile)",
    )

    report = sub.add_parser("report", help="summarise the report of a past run")
    report.add_argument("run_dir", type=Path)
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    import pytest

    from drready.plugin import DrreadyOptions, check_run, new_run_id, resolve_profile
    from drready.profile import ProfileError

    run_id = new_run_id()
    report_dir = args.report_dir or Path("reports") / run_id
    options = DrreadyOptions(
        profile_path=args.profile,
        simulate=args.simulate if args.profile or args.simulate else "battery",
        faults=tuple(args.fault),
        report_dir=report_dir,
        time_scale=args.time_scale or 1.0,
        run_id=run_id,
    )
    try:
        # Fail here, in one line, before pytest starts.
        check_run(options, resolve_profile(options))
    except pytest.UsageError as exc:
        raise UsageError(str(exc)) from None
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(f"--time-scale: {exc}") from None
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
    if options.simulate and not args.profile:
        argv += ["--simulate", options.simulate]
    if args.profile:
        argv += ["--profile", str(args.profile)]
        if args.simulate:
            argv += ["--simulate", args.simulate]
    for name in args.fault:
        argv += ["--fault", name]
    if args.time_scale:
        argv += ["--time-scale", str(args.time_scale)]
    argv += ["--rootdir", str(_suites_dir().parent), *args.pytest_args]
    code = pytest.main(argv)
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    return int(code)


def _parse_bind(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--bind: expected HOST:PORT such as 127.0.0.1:3610, got {text!r}")
    return host, int(port)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from drready.echonet.transport import open_udp_endpoint
    from simulators.battery import BatteryConfig
    from simulators.faults import UnknownFaultError, get_fault
    from simulators.runtime import SimulatedBattery

    host, port = _parse_bind(args.bind)
    if not args.time_scale >= 1:
        raise UsageError(f"--time-scale: expected a number >= 1, got {args.time_scale}")
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

        config = BatteryConfig(comms_loss_timeout_s=args.comms_loss_timeout)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            sim = await SimulatedBattery(
                endpoint, config, args.fault, time_scale=args.time_scale
            ).start()
        except OSError as exc:
            raise UsageError(f"--bind {host}:{port}: {exc.strerror or exc}") from None
        bound = sim.address
        speed = f", clock {args.time_scale:g}x real time" if args.time_scale != 1 else ""
        print(
            f"drready simulate battery: ECHONET Lite node on udp://{bound[0]}:{bound[1]} "
            f"(faults: {', '.join(args.fault) or 'none'}{speed}); Ctrl-C stops",
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
    from simulators.faults import FAULTS

    chosen = [f for f in FAULTS.values() if args.device_class in (None, f.device_class)]
    if args.json:
        print(json.dumps([f.to_json() for f in chosen], ensure_ascii=False, indent=2))
        return 0
    for f in chosen:
        print(f"{f.name:<34} {f.device_class:<9} {','.join(f.requirements):<18} {f.description}")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from drready.profile import ProfileError, default_profile, load_profile

    try:
        profile = load_profile(args.file) if args.file else default_profile("battery")
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps(profile.to_json(), ensure_ascii=False, indent=2))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import jsonschema

    from drready.report.json_report import load_report

    path = args.run_dir / "report.json"
    try:
        document = load_report(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no report here (expected a run directory)") from None
    except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise UsageError(f"{path}: not a valid drready report: {first}") from None
    state = "complete" if document["complete"] else "INCOMPLETE (interrupted)"
    print(
        f"run {document['run_id']} ({state}), {document['device_class']}, "
        f"simulated={document['simulated']}"
    )
    for req in document["requirements"]:
        print(f"{req['id']:<12} {req['verdict']:<15} {req['reason'][:100]}")
    return 0


COMMANDS = {
    "run": _cmd_run,
    "simulate": _cmd_simulate,
    "catalog": _cmd_catalog,
    "faults": _cmd_faults,
    "profile": _cmd_profile,
    "report": _cmd_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"drready: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("drready: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
