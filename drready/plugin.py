"""pytest glue: options, markers, the ``dut`` fixture, verdicts and reports. Logic lives elsewhere.

The plugin is loaded in every pytest session through its entry point, but stays inert until a run
names a device: ``--simulate CLASS`` or ``--profile FILE`` (or the ``drready_profile`` ini key).
"""

from __future__ import annotations

import secrets
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from _pytest.reports import CollectReport

from drready import __version__
from drready.catalog import CATALOG, for_class
from drready.clock import real_now
from drready.dut import DeviceUnderTest
from drready.evidence import Record
from drready.profile import Profile, ProfileError, default_profile, load_profile
from drready.report.json_report import write_report
from drready.report.run_document import build_document, format_summary
from drready.report.verdicts import RequirementVerdict, RunContext, TestOutcome, Verdict, fold
from drready.session import SessionError, open_dut

DEVICE_CLASSES = ("battery", "heatpump", "hybrid")


@dataclass(frozen=True)
class DrreadyOptions:
    profile_path: Path | None
    simulate: str | None
    faults: tuple[str, ...]
    report_dir: Path
    time_scale: float
    run_id: str

    @property
    def active(self) -> bool:
        return self.profile_path is not None or self.simulate is not None


@dataclass
class _Running:
    nodeid: str
    requirements: tuple[str, ...]
    evidence_first: int
    device_time_start: float
    outcome: str = "passed"
    message: str = ""
    duration_s: float = 0.0
    failed_at: int | None = None  # evidence length when the failing phase ended


@dataclass
class RunState:
    options: DrreadyOptions
    profile: Profile
    started_at: float
    requirement_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    outcomes: list[TestOutcome] = field(default_factory=list)
    running: dict[str, _Running] = field(default_factory=dict)
    dut: DeviceUnderTest | None = None
    device_info: dict[str, Any] = field(default_factory=dict)
    device_time_start: float | None = None
    verdicts: list[RequirementVerdict] = field(default_factory=list)
    complete: bool = False
    exit_status: int | None = None

    @property
    def report_path(self) -> Path:
        return self.options.report_dir / "report.json"

    @property
    def run_topology(self) -> str:
        """The topology this run exercises: the only binding so far is ECHONET Lite via gateway."""
        return "gateway"


OPTIONS_KEY = pytest.StashKey[DrreadyOptions]()
STATE_KEY = pytest.StashKey[RunState]()


def new_run_id() -> str:
    stamp = datetime.fromtimestamp(real_now(), UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drready", "DRready conformance harness")
    group.addoption(
        "--profile",
        dest="drready_profile",
        metavar="FILE",
        help="device profile (TOML) of the device under test",
    )
    group.addoption(
        "--simulate",
        dest="drready_simulate",
        metavar="CLASS",
        choices=DEVICE_CLASSES,
        help="test the built-in simulator of CLASS (battery, heatpump, hybrid) in virtual time",
    )
    group.addoption(
        "--fault",
        dest="drready_faults",
        action="append",
        default=[],
        metavar="NAME",
        help="inject a named simulator fault (repeatable); see `drready faults`",
    )
    group.addoption(
        "--report-dir",
        dest="drready_report_dir",
        metavar="DIR",
        help="where report.json, junit.xml and evidence go (default: reports/<run-id>)",
    )
    group.addoption(
        "--time-scale",
        dest="drready_time_scale",
        type=float,
        metavar="N",
        help="the external DUT runs its clock N times faster than real time (N >= 1)",
    )
    group.addoption("--run-id", dest="drready_run_id", metavar="ID", help="name of this run")
    parser.addini("drready_profile", "default device profile (TOML)", default="")
    parser.addini("drready_report_dir", "default report directory", default="")


def _options(config: pytest.Config) -> DrreadyOptions:
    profile = config.getoption("drready_profile") or config.getini("drready_profile") or None
    run_id = config.getoption("drready_run_id") or new_run_id()
    report_dir = config.getoption("drready_report_dir") or config.getini("drready_report_dir")
    scale = config.getoption("drready_time_scale")
    if scale is not None and not scale >= 1:
        raise pytest.UsageError(f"--time-scale: expected a number >= 1, got {scale}")
    return DrreadyOptions(
        profile_path=Path(profile) if profile else None,
        simulate=config.getoption("drready_simulate"),
        faults=tuple(config.getoption("drready_faults")),
        report_dir=Path(report_dir) if report_dir else Path("reports") / run_id,
        time_scale=scale or 1.0,
        run_id=run_id,
    )


def resolve_profile(options: DrreadyOptions) -> Profile:
    """The effective profile: file or built-in, forced onto the simulator by --simulate."""
    if options.profile_path is not None:
        profile = load_profile(options.profile_path)
        if options.simulate is not None:
            if profile.device.device_class != options.simulate:
                raise ProfileError(
                    "device.class",
                    f"'{options.simulate}' to match --simulate",
                    path=options.profile_path,
                    got=profile.device.device_class,
                )
            if profile.echonet is not None:
                profile = replace(profile, echonet=replace(profile.echonet, address="simulator"))
    else:
        profile = default_profile(options.simulate or "battery")
    if options.time_scale != 1.0:
        if profile.is_simulated:
            raise ProfileError(
                "echonet.address",
                "an external device for --time-scale (the built-in "
                "simulator already runs in virtual time)",
                path=options.profile_path,
                got="simulator",
            )
        profile = profile.on_device_clock(options.time_scale)
    return profile


def check_faults(options: DrreadyOptions, profile: Profile) -> None:
    from simulators.faults import UnknownFaultError, get_fault

    for name in options.faults:
        try:
            fault = get_fault(name)
        except UnknownFaultError as exc:
            raise pytest.UsageError(f"--fault: {exc}") from None
        if fault.device_class != profile.device.device_class:
            raise pytest.UsageError(
                f"--fault {name}: a {fault.device_class} fault, but the device class is "
                f"{profile.device.device_class}"
            )
    if options.faults and not profile.is_simulated:
        raise pytest.UsageError("--fault needs the built-in simulator, not an external device")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requirement(*ids): the DRready requirement IDs a test checks (e.g. BAT-2.2)"
    )
    config.addinivalue_line(
        "markers", "topology(name): the test needs this topology (gateway or server)"
    )
    options = _options(config)
    config.stash[OPTIONS_KEY] = options
    if not options.active or hasattr(config, "workerinput"):
        return
    try:
        profile = resolve_profile(options)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    check_faults(options, profile)
    options.report_dir.mkdir(parents=True, exist_ok=True)
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(options.report_dir / "junit.xml")
    config.stash[STATE_KEY] = RunState(options, profile, started_at=real_now())


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return []
    profile = state.profile
    source = str(profile.source) if profile.source else "built-in"
    where = "simulator, virtual time" if profile.is_simulated else "external device, real time"
    if profile.time_scale != 1.0:
        where += f", device clock {profile.time_scale:g}x real time"
    return [
        f"drready {__version__}: {profile.device.device_class} ({where}), profile {source}",
        f"drready faults: {', '.join(state.options.faults) or 'none'}; report: {state.report_path}",
    ]


def _requirement_ids(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for marker in item.iter_markers("requirement"):
        ids.extend(str(a) for a in marker.args)
    return tuple(dict.fromkeys(ids))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, CollectReport, CollectReport]:
    # An unknown requirement ID is a collection error of the module that uses it.
    report = yield
    if report.outcome != "passed":
        return report
    problems = []
    for node in report.result:
        if isinstance(node, pytest.Item):
            for rid in _requirement_ids(node):
                if rid not in CATALOG:
                    from drready.catalog import UnknownRequirementError, get

                    try:
                        get(rid)
                    except UnknownRequirementError as exc:
                        problems.append(f"{node.nodeid}: {exc}")
    if problems:
        return CollectReport(collector.nodeid, "failed", "\n".join(problems), [])
    return report


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    prefix = {"battery": "BAT-", "heatpump": "HP-", "hybrid": "HY-"}[
        state.profile.device.device_class
    ]
    keep: list[pytest.Item] = []
    other: list[pytest.Item] = []
    for item in items:
        ids = _requirement_ids(item)
        if ids and not any(i.startswith(prefix) for i in ids):
            other.append(item)  # a test of another device class
            continue
        state.requirement_ids[item.nodeid] = ids
        keep.append(item)
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is not None:
        _write(state)


@pytest.fixture(scope="session")
def drready_profile(request: pytest.FixtureRequest) -> Profile:
    """The effective device profile of this run."""
    state = request.config.stash.get(STATE_KEY, None)
    if state is None:
        pytest.fail(
            "no device under test: run with --simulate CLASS or --profile FILE", pytrace=False
        )
    return state.profile


@pytest.fixture(scope="session")
def dut(request: pytest.FixtureRequest, drready_profile: Profile) -> Iterator[DeviceUnderTest]:
    """The device under test, open for the whole session."""
    state = request.config.stash[STATE_KEY]
    try:
        device = open_dut(
            drready_profile,
            faults=state.options.faults,
            evidence_path=state.options.report_dir / "evidence.jsonl",
        )
    except SessionError as exc:
        pytest.fail(f"cannot open the device under test: {exc}", pytrace=False)
    state.dut = device
    state.device_time_start = device.now()
    device.evidence.current_test = request.node.nodeid
    try:
        yield device
    finally:
        state.device_info = _device_info(device)
        device.close()


def _device_info(device: DeviceUnderTest) -> dict[str, Any]:
    """What the device says about itself, for the report; best effort at the end of the run."""
    info: dict[str, Any] = {
        "protocol": device.binding.protocol,
        "topology": device.binding.topology,
    }
    try:
        info["identity"] = device.identity().to_json()
        info["appendix_release"] = device.appendix_release()
        info["echonet_lite_version"] = device.node_version()
    except Exception as exc:  # a dead device must not cost us the report
        info["error"] = f"could not read the device identity: {exc}"
    info["device_time_end"] = device.now()
    return info


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    evidence_first = 0
    device_time = 0.0
    if state.dut is not None:
        state.dut.evidence.current_test = item.nodeid
        evidence_first = len(state.dut.evidence)
        device_time = state.dut.elapsed_s()
    state.running[item.nodeid] = _Running(
        item.nodeid, state.requirement_ids.get(item.nodeid, ()), evidence_first, device_time
    )
    for marker in item.iter_markers("topology"):
        needed = str(marker.args[0]) if marker.args else ""
        if needed != state.run_topology:
            pytest.skip(f"needs the {needed} topology; this run uses {state.run_topology}")


def _message(report: pytest.TestReport) -> str:
    if report.skipped:
        longrepr = report.longrepr
        if isinstance(longrepr, tuple):
            return str(longrepr[2]).removeprefix("Skipped: ")
        return str(longrepr)
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        # The first line is the sentence the test wrote; pytest's assertion rewriting follows it.
        first = str(crash.message).strip().splitlines()[0]
        for prefix in ("AssertionError: ", "Failed: "):
            first = first.removeprefix(prefix)
        return first
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    state = _STATE.get("state")
    if state is None:
        return
    running = state.running.get(report.nodeid)
    if running is None:
        # Setup never ran our hook (e.g. the test was skipped by a marker): start it now.
        running = _Running(report.nodeid, state.requirement_ids.get(report.nodeid, ()), 0, 0.0)
        if state.dut is not None:
            running.evidence_first = len(state.dut.evidence)
        state.running[report.nodeid] = running
    running.duration_s += report.duration
    if report.failed and running.outcome not in ("failed", "error"):
        running.outcome = "failed" if report.when == "call" else "error"
        running.message = _message(report)
        if state.dut is not None:
            running.failed_at = len(state.dut.evidence)
    elif report.skipped and running.outcome == "passed":
        running.outcome = "skipped"
        running.message = _message(report)


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    state = _STATE.get("state")
    if state is None:
        return
    running = state.running.pop(nodeid, None)
    if running is None:
        return
    evidence_last = len(state.dut.evidence) if state.dut is not None else 0
    frames: tuple[dict[str, Any], ...] = ()
    if running.outcome in ("failed", "error") and state.dut is not None:
        end = running.failed_at if running.failed_at is not None else evidence_last
        frames = _frames(
            state.dut.evidence.since(running.evidence_first)[: end - running.evidence_first]
        )
    device_time = state.dut.elapsed_s() if state.dut is not None else 0.0
    state.outcomes.append(
        TestOutcome(
            nodeid=nodeid,
            outcome=running.outcome,
            message=running.message,
            requirements=running.requirements,
            duration_s=running.duration_s,
            device_time_s=max(0.0, device_time - running.device_time_start),
            evidence_first=running.evidence_first,
            evidence_last=evidence_last,
            frames=frames,
        )
    )
    _write(state)


#: How many of the frames exchanged before a failure the report quotes (all are in the evidence).
FAILURE_FRAMES = 12


def _frames(records: list[Record]) -> tuple[dict[str, Any], ...]:
    exchanged = [r for r in records if r.kind in ("tx", "rx")][-FAILURE_FRAMES:]
    return tuple(
        {
            "seq": r.seq,
            "time": datetime.fromtimestamp(r.time, UTC).isoformat(timespec="milliseconds"),
            "kind": r.kind,
            "peer": r.peer,
            "summary": r.summary,
            "data_hex": r.data_hex,
        }
        for r in exchanged
    )


# Logreport hooks get no config; the session's state is kept here for the session's life.
_STATE: dict[str, RunState] = {}


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is not None:
        _STATE["state"] = state


def _context(state: RunState) -> RunContext:
    profile = state.profile
    jcstar = profile.jcstar
    dut = state.dut
    return RunContext(
        supported_topologies=frozenset(profile.device.topologies),
        run_topology=dut.binding.topology if dut is not None else state.run_topology,
        jcstar_label=jcstar.label if jcstar else None,
        jcstar_level=jcstar.level if jcstar else None,
        jcstar_valid_until=jcstar.valid_until if jcstar else None,
        # A label expires on the calendar, not on the device's (possibly virtual) clock.
        today=date.fromtimestamp(real_now()),
    )


def _write(state: RunState) -> None:
    requirements = for_class(state.profile.device.device_class)
    state.verdicts = fold(requirements, state.outcomes, _context(state))
    document = build_document(state, __version__)
    write_report(state.report_path, document)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # trylast: after pytest's runner has torn the session fixtures (the DUT) down.
    state = _STATE.pop("state", None)
    if state is not None:
        # Tests that never finished (interrupt) are left out; the report says it is incomplete.
        interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        state.complete = not interrupted and not session.shouldfail and not session.shouldstop
        state.exit_status = int(exitstatus)
        _write(state)
        if any(v.verdict == Verdict.FAIL for v in state.verdicts) and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        _STATE["finished"] = state


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _STATE.pop("finished", None)
    if state is None:
        return
    terminalreporter.section("DRready requirements")
    for line in format_summary(state.verdicts):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"report: {state.report_path}")
