"""The ``drready`` command: run | plan | simulate | catalog | faults | profile | report | verify |
diff | sign | review | merge.

User mistakes (a bad profile, an unknown fault, a busy port) print one line on stderr and exit with
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from drready import __version__
from drready.cli.inspect import (
    cmd_catalog,
    cmd_diff,
    cmd_profile,
    cmd_report,
)
from drready.cli.merge import add_merge_parser, cmd_merge
from drready.cli.plan import cmd_plan
from drready.cli.run import cmd_run
from drready.cli.sign import COMMANDS as SIGN_COMMANDS
from drready.cli.sign import add_parsers as add_sign_parsers
from drready.cli.simulate import cmd_faults, cmd_simulate
from drready.cli.status import EXIT_INTERRUPTED, EXIT_USAGE
from drready.errors import UsageError
from drready.profile import DEVICE_CLASSES


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
    run.add_argument(
        "--profile",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="device profile (TOML); repeat it to test several units at once, each in its own "
        "process, under RUN/<unit>/",
    )
    run.add_argument(
        "--units",
        type=int,
        metavar="N",
        help="with --simulate: N simulated units of the class, each its own identity",
    )
    run.add_argument(
        "--binding",
        action="append",
        default=[],
        metavar="NAME",
        help="only this binding (repeatable): echonet, openadr3, webapi or modbus; a run of "
        "every class tests each class over every binding its reference design has",
    )
    run.add_argument(
        "--shard",
        metavar="K/N",
        help="run only the K-th of N shares of the run's parts (for a CI job matrix)",
    )
    run.add_argument("--unit", type=int, help=argparse.SUPPRESS)  # a part of --units N
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
        "--impair",
        metavar="FIELD=VALUE,...",
        help="impair the harness's own links: loss, duplicate, reorder, tid_corrupt (0-1), "
        "delay_ms, jitter_ms, inf_flood_per_s, seed, adapt_retries; e.g. "
        "loss=0.05,duplicate=0.01,seed=7, or none (overrides the profile's [impair])",
    )
    run.add_argument(
        "--jcstar-list",
        type=Path,
        metavar="FILE",
        help="IPA's list of JC-STAR compliant products (.xlsx or .csv): *-3.1 passes or fails "
        "against it instead of being declared (overrides the profile's [jcstar] list_file)",
    )
    run.add_argument(
        "--run-id", metavar="ID", help="name of this run (default: date, time and a random tag)"
    )
    run.add_argument(
        "--clock",
        metavar="YYYY-MM-DDTHH:MM",
        help="simulated runs: where virtual time starts, in Japan time (the reference devices' "
        "local time) unless an offset is given; the default is 2027-04-01T09:00",
    )
    run.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="simulated runs: start the simulators from a state drawn from N (state of charge, "
        "time of day, tank temperature, meter noise, reply latency) within the profile's "
        "[simulation] ranges; each part draws its own; without it, their fixed start",
    )
    run.add_argument(
        "--no-operator",
        action="store_true",
        help="ask no operator at the terminal: steps that need a person (restart an external "
        "device) are not exercised; a profile's [operator] power switch still restarts",
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

    plan = sub.add_parser(
        "plan", help="how long a run will take: each test, the total, operator steps"
    )
    plan.add_argument("--profile", type=Path, metavar="FILE", help="device profile (TOML)")
    plan.add_argument("--simulate", choices=DEVICE_CLASSES, help="the built-in profile of CLASS")
    plan.add_argument("--time-scale", type=float, metavar="N", help="as for drready run")
    plan.add_argument("--json", action="store_true", help="print the schedule as JSON")

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
    simulate.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="a fleet of N devices in one process, device k on the k-th address of the loopback "
        "block --bind ADDRESS/PREFIX[:PORT] (default 127.0.1.0, as large as N needs)",
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
    add_merge_parser(sub)
    verify.add_argument(
        "--trust",
        type=Path,
        action="append",
        metavar="PUB.pem",
        help="a trusted public key or "
        "certificate (repeatable): the bundle must be signed by one of them",
    )
    add_sign_parsers(sub)

    diff = sub.add_parser(
        "diff", help="what changed between two runs: verdicts, test outcomes, measured figures"
    )
    diff.add_argument("run_a", type=Path, metavar="RUN_A")
    diff.add_argument("run_b", type=Path, metavar="RUN_B")
    diff.add_argument("--json", action="store_true", help="print the changes as JSON")
    return parser


COMMANDS = {
    "run": cmd_run,
    "plan": cmd_plan,
    "diff": cmd_diff,
    "merge": cmd_merge,
    "simulate": cmd_simulate,
    "catalog": cmd_catalog,
    "faults": cmd_faults,
    "profile": cmd_profile,
    "report": cmd_report,
    **SIGN_COMMANDS,
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
