"""``drready run``: one run as a pytest session, or a combined run of several parts in parallel
(every class over every binding its reference design has; several units, ``--profile A
--profile B`` or ``--units N``; a ``--shard K/N`` of them), each part a child ``drready run`` in
``RUN/<part>/``.

Units and parts: a unit is one device: a class's reference design, unit k of ``--units N``, or a
profile. A simulated unit is tested over each of its bindings (``--binding NAME`` narrows them;
``--simulate CLASS`` alone tests ECHONET Lite only), one part per binding; the combined report
folds the parts of one unit together.

Unit names: a class's own name; a profile's file stem (lower case, anything but letters, digits,
``.``, ``_`` and ``-`` made ``-``; ``-2``, ``-3``... added when two are alike); ``<class or
stem>-<k>`` for unit k of ``--units N``. Part names: the unit's name over ECHONET Lite (or a
profile's unit), ``<unit>-<binding>`` over another binding (``battery-openadr3``). ``--shard K/N``
sorts the part names and keeps every N-th, starting with the K-th (round robin, so that each
share gets some of each class and binding).
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from drready.cli.status import EXIT_INTERRUPTED, EXIT_NOT_CONFORMANT, EXIT_USAGE
from drready.cli.warm import PLUGINS_OFF, suites_config, warm_up
from drready.errors import ProfileError, UsageError
from drready.model import Binding, DeviceClass
from drready.report.verdicts import Verdict
from drready.run.options import (
    RunOptions,
    binding_option,
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

    from drready.profile import Profile
    from drready.run.ledger import PartResult


_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


#: ``--units``: at most this many simulated units in one run.
MAX_UNITS = 64
_SHARD = re.compile(r"([0-9]+)/([0-9]+)")


#: The bindings of a combined run, in the order its parts are listed.
BINDING_ORDER = (Binding.ECHONET, Binding.OPENADR3, Binding.WEBAPI, Binding.MODBUS)
#: How long a simulated part takes, relatively (the longest start first): the server
#: topology's parts exercise more than the gateway's, the hybrid more than the others.
_BINDING_WEIGHT = {Binding.OPENADR3: 4.0, Binding.WEBAPI: 3.0, Binding.MODBUS: 2.0}
_CLASS_WEIGHT = {DeviceClass.HYBRID: 0.3, DeviceClass.HEATPUMP: 0.2}


@dataclass(frozen=True)
class _Planned:
    """A part before its options are checked: its name, what its run tests, and its unit."""

    name: str
    simulate: DeviceClass | None
    profile: Path | None
    unit: int | None
    binding: Binding | None = None
    unit_name: str = ""

    @property
    def weight(self) -> float:
        binding = _BINDING_WEIGHT.get(self.binding or Binding.ECHONET, 1.0)
        return binding + _CLASS_WEIGHT.get(self.simulate or DeviceClass.BATTERY, 0.0)


def class_bindings(device_class: DeviceClass) -> list[Binding]:
    """The bindings the reference design of a class has (a built-in profile each), in
    :data:`BINDING_ORDER`."""
    from drready.profile import default_profile

    bindings = []
    for binding in BINDING_ORDER:
        try:
            default_profile(device_class, binding)
        except ProfileError:
            continue
        bindings.append(binding)
    return bindings


def _bindings(args: argparse.Namespace) -> list[Binding] | None:
    """``--binding`` (each once, in :data:`BINDING_ORDER`), or None when not given."""
    if not args.binding:
        return None
    chosen = {binding_option(text) for text in args.binding}
    return [binding for binding in BINDING_ORDER if binding in chosen]


def _checked_options(
    args: argparse.Namespace,
    simulate: DeviceClass | None,
    run_id: str,
    report_dir: Path,
    *,
    profile: Path | None = None,
    unit: int | None = None,
    binding: Binding | None = None,
) -> tuple[RunOptions, Profile]:
    """The options of one part's run (and its effective profile), refused here, in one line,
    before pytest starts."""
    options = RunOptions(
        profile_path=profile,
        simulate=simulate,
        faults=tuple(args.fault),
        report_dir=report_dir,
        time_scale=args.time_scale or 1.0,
        run_id=run_id,
        impair=impairment_option(args.impair),
        jcstar_list=args.jcstar_list,
        unit=unit,
        seed=args.seed,
        binding=binding,
    )
    effective = resolve_profile(options)
    check_run(options, effective)
    jcstar_list(options, effective)  # a list that cannot be read is refused before anything runs
    return options, effective


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._") or "unit"


def _unique(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        unique, k = name, 1
        while unique in seen:
            k += 1
            unique = f"{name}-{k}"
        seen.add(unique)
        out.append(unique)
    return out


def _units(args: argparse.Namespace) -> int:
    units = args.units if args.units is not None else 1
    if not 1 <= units <= MAX_UNITS:
        raise UsageError(f"--units: expected a number from 1 to {MAX_UNITS}, got {units}")
    if args.unit is not None and (units > 1 or len(args.profile) > 1):
        raise UsageError("--unit: the unit number of one part's run; not with --units N")
    return int(units)


def shard_option(text: str | None) -> tuple[int, int] | None:
    """``--shard K/N``: (K, N), refused in one line unless 1 <= K <= N."""
    if text is None:
        return None
    match = _SHARD.fullmatch(text.strip())
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise UsageError(f"--shard: expected K/N with 1 <= K <= N (e.g. 1/2), got {text!r}")
    return int(match[1]), int(match[2])


def shard_names(names: Sequence[str], index: int, count: int) -> list[str]:
    """The part names of share ``index`` (1-based) of ``count``: every ``count``-th of the
    sorted names, starting with the ``index``-th."""
    return sorted(names)[index - 1 :: count]


def _plan(args: argparse.Namespace, simulate: DeviceClass | None, units: int) -> list[_Planned]:
    """The parts of a combined run, named (see the module's docstring)."""
    from drready.profile import load_profile

    profiles: list[Path] = list(args.profile)
    chosen = _bindings(args)
    bases: list[tuple[str, DeviceClass | None, Path | None, list[Binding | None]]] = []
    if profiles:
        for file in profiles:
            declared = Binding(load_profile(file).device.binding)
            if chosen is None or declared in chosen:
                bases.append((_slug(file.stem), simulate, file, [None]))
        if not bases:
            wanted = ", ".join(str(b) for b in chosen or ())
            raise UsageError(f"--binding {wanted}: no --profile declares it (device.binding)")
    else:
        if simulate is not None:
            classes: Sequence[str] = [str(simulate)]
        elif args.fault:
            classes = [str(fault_class(args.fault))]
        else:
            classes = args.combined_classes
        if not classes:
            raise UsageError("run: no device class to test")
        for cls in classes:
            if args.fault:
                # A fault belongs to one binding's simulator: the run uses that one.
                have: list[Binding | None] = list(chosen) if chosen else [None]
            elif chosen is None and simulate is not None:
                have = [Binding.ECHONET]  # --simulate CLASS alone: the gateway, as ever
            else:
                own = class_bindings(DeviceClass(cls))
                have = [b for b in own if chosen is None or b in chosen]
            if have:
                bases.append((str(cls), DeviceClass(cls), None, have))
        if not bases:
            wanted = ", ".join(str(b) for b in chosen or ())
            has = "; ".join(
                f"{cls} has {', '.join(str(b) for b in class_bindings(DeviceClass(cls)))}"
                for cls in classes
            )
            raise UsageError(f"--binding {wanted}: no class of this run has it ({has})")
    names = _unique([name for name, _, _, _ in bases])
    planned: list[_Planned] = []
    for base_name, (_, device_class, path, bindings) in zip(names, bases, strict=True):
        numbered = (
            [(base_name, args.unit)]
            if units == 1
            else [(f"{base_name}-{k}", k) for k in range(1, units + 1)]
        )
        for unit_name, unit in numbered:
            for binding in bindings:
                suffix = "" if binding in (None, Binding.ECHONET) else f"-{binding}"
                planned.append(
                    _Planned(f"{unit_name}{suffix}", device_class, path, unit, binding, unit_name)
                )
    return planned


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
    units = _units(args)
    shard = shard_option(args.shard)
    if len(args.profile) > 1 or units > 1 or shard is not None:
        return _run_combined(args, _plan(args, simulate, units), shard)
    if args.profile or simulate or args.fault:
        planned = _plan(args, simulate, 1)
        if len(planned) > 1:  # --simulate CLASS --binding A --binding B
            return _run_combined(args, planned, None)
        # One part, in this process (a fault belongs to one class's simulator: that class).
        return _run_one(args, planned[0].simulate, planned[0].binding)
    return _run_combined(args, _plan(args, None, 1), None)


def _run_one(
    args: argparse.Namespace, simulate: DeviceClass | None, binding: Binding | None = None
) -> int:
    """One device class, in this process: one pytest session."""
    import pytest

    run_id = _run_id(args)
    report_dir = args.report_dir or Path("reports") / run_id
    profile = args.profile[0] if args.profile else None
    options, _ = _checked_options(
        args, simulate, run_id, report_dir, profile=profile, unit=args.unit, binding=binding
    )
    argv = [
        str(suites_dir()),
        *suites_config(),
        *PLUGINS_OFF,
        "--run-id",
        run_id,
        "--report-dir",
        str(report_dir),
        "-o",
        "console_output_style=classic",
    ]
    if profile is not None:
        argv += ["--profile", str(profile)]
    if args.unit is not None:
        argv += ["--unit", str(args.unit)]
    if binding is not None:
        argv += ["--binding", str(binding)]
    if options.simulate:
        argv += ["--simulate", str(options.simulate)]
    for name in args.fault:
        argv += ["--fault", name]
    if args.time_scale:
        argv += ["--time-scale", str(args.time_scale)]
    if args.clock:
        argv += ["--clock", args.clock]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
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


def _run_combined(
    args: argparse.Namespace, planned: Sequence[_Planned], shard: tuple[int, int] | None
) -> int:
    """Every part in its own child run, in parallel, and one combined report (of the parts of
    this shard only, with ``--shard``)."""
    from drready.bundle import BundleError, write_combined_manifest
    from drready.clock import RealClock
    from drready.report.combined import build_combined, format_combined
    from drready.report.json_report import write_report
    from drready.report.junit import write_combined_junit
    from drready.run.multirun import PartSpec, banner, run_children

    if args.clock:
        raise UsageError("--clock: give it with --simulate CLASS alone (one part's run)")
    run_id = _run_id(args)
    run_dir: Path = args.report_dir or Path("reports") / run_id
    # Every part's options, refused now, before anything runs (a shard checks the parts of the
    # other shares too: a run whose shares disagree on what is valid could not be merged).
    specs = []
    for part in planned:
        options, profile = _checked_options(
            args,
            part.simulate,
            f"{run_id}-{part.name}",
            run_dir / part.name,
            profile=part.profile,
            unit=part.unit,
            binding=part.binding,
        )
        cls = str(profile.device.device_class)
        specs.append(
            PartSpec(
                part.name,
                options,
                cls,
                profile.is_simulated,
                unit=part.unit_name if part.unit_name != part.name else "",
                weight=part.weight,
            )
        )
    names = [spec.name for spec in specs]
    shard_document: dict[str, Any] | None = None
    if shard is not None:
        index, count = shard
        if count > len(names):
            raise UsageError(
                f"--shard {index}/{count}: this run has {len(names)} part(s) "
                f"({', '.join(sorted(names))}); expected N <= {len(names)}"
            )
        chosen = set(shard_names(names, index, count))
        # In the whole run's order, so that a merge lists the parts as a plain run does, with
        # each part's class, so that a merge missing a share still knows what went untested.
        shard_document = {
            "index": index,
            "count": count,
            "parts": list(names),
            "classes": {spec.name: spec.device_class for spec in specs},
            "units": {spec.name: spec.unit or spec.name for spec in specs},
        }
        specs = [spec for spec in specs if spec.name in chosen]
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
            shard=shard_document,
            seed=args.seed,
        )

    # Parts run in parallel and cannot share one terminal: a person is never asked during a
    # combined run (a profile's [operator] power switch still restarts its device).
    pytest_args = ["--no-operator", *args.pytest_args]
    interrupted, results = run_children(
        specs, pytest_args, lambda now: write_report(report_path, document(now)), warm_up=warm_up
    )
    status = _combined_exit(interrupted, results, document(results))
    final = document(results, status)
    write_report(report_path, final)
    problems = {r.part: r.problem for r in results if r.problem}
    write_combined_junit(run_dir, [r.part for r in results], run_id, problems)
    try:
        write_combined_manifest(run_dir)
        sealed = None
    except BundleError as exc:
        sealed = str(exc)
        status = status or 1
    title = ", ".join(spec.name for spec in specs)
    if shard is not None:
        title = f"shard {shard[0]}/{shard[1]}: {title}"
    print(banner(f"DRready requirements: {title}"), end="")
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
    """130 if interrupted; 1 if a verdict fails or is inconclusive (a check across the parts,
    *-ID's uniqueness across units, can fail one while every part exited 0), or a run went
    wrong (stopped, killed, never started); 0 if every part's run exited 0; otherwise the first
    part's own status."""
    if interrupted:
        return EXIT_INTERRUPTED
    not_conformant = (Verdict.FAIL, Verdict.INCONCLUSIVE)
    if any(r["verdict"] in not_conformant for r in document["requirements"]):
        return EXIT_NOT_CONFORMANT
    statuses = [result.exit_status for result in results]
    if all(status == 0 for status in statuses):
        return 0
    if any(result.problem for result in results):
        return EXIT_NOT_CONFORMANT
    return next((s for s in statuses if s not in (0, None)), EXIT_NOT_CONFORMANT)
