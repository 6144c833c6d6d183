"""pytest glue: options, markers, the ``dut`` fixture, verdicts and reports. Logic lives elsewhere.

The plugin is loaded in every pytest session through its entry point, but stays inert until a run
names a device: ``--simulate CLASS`` or ``--profile FILE`` (or the ``drready_profile`` ini key).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta, timezone

import pytest
from _pytest.junitxml import xml_key
from _pytest.reports import CollectReport

from drready import __version__
from drready.clock import VirtualClock, real_now
from drready.device import DeviceUnderTest
from drready.errors import SessionError, UsageError
from drready.model import Binding
from drready.operator import OPERATOR_STEPS
from drready.profile import DEVICE_CLASSES, Profile
from drready.recorder import INCONCLUSIVE, RunRecorder, unknown_requirements
from drready.run.operator import choose_operator
from drready.run.options import (
    RunOptions,
    check_run,
    jcstar_list,
    resolve_profile,
    run_options,
)
from drready.run.seeding import seeded_start
from drready.run.session import open_dut

#: The run's recorder, in the config's stash (absent when the run names no device).
RECORDER_KEY = pytest.StashKey[RunRecorder]()
#: Whether standard input and output were a terminal when pytest started (before its capture
#: put /dev/null and a file in their place): an operator can be asked only then.
TERMINAL_KEY = pytest.StashKey[bool]()


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
    group.addoption(
        "--impair",
        dest="drready_impair",
        metavar="FIELD=VALUE,...",
        help="impair the harness's own links (loss=0.05,duplicate=0.01,seed=7; none); "
        "overrides the profile's [impair]",
    )
    group.addoption(
        "--no-operator",
        dest="drready_no_operator",
        action="store_true",
        help="ask no operator at the terminal: steps that need one (restart an external "
        "device) are not exercised; a profile's power switch still restarts",
    )
    group.addoption(
        "--jcstar-list",
        dest="drready_jcstar_list",
        metavar="FILE",
        help="IPA's list of JC-STAR compliant products (.xlsx or .csv) to check *-3.1 against",
    )
    group.addoption("--run-id", dest="drready_run_id", metavar="ID", help="name of this run")
    group.addoption(
        "--unit",
        dest="drready_unit",
        type=int,
        metavar="K",
        help="simulated unit K of a run of several units: the simulator's own identity",
    )
    group.addoption(
        "--binding",
        dest="drready_binding",
        metavar="NAME",
        choices=[str(binding) for binding in Binding],
        help="with --simulate: the built-in simulator over this binding (echonet, modbus, "
        "openadr3, webapi); with --profile: the binding the profile must declare",
    )
    group.addoption(
        "--clock",
        dest="drready_clock",
        metavar="YYYY-MM-DDTHH:MM",
        help="simulated runs: where virtual time starts, in Japan time (UTC+9, the reference "
        "devices' local time) unless an offset is given (default: 2027-04-01T09:00)",
    )
    group.addoption(
        "--seed",
        dest="drready_seed",
        type=int,
        metavar="N",
        help="simulated runs: start the simulators from a state drawn from N (state of charge, "
        "time of day, tank temperature, meter noise, reply latency) within the profile's "
        "[simulation] ranges; without it, their fixed start",
    )
    parser.addini("drready_profile", "default device profile (TOML)", default="")
    parser.addini("drready_report_dir", "default report directory", default="")


def _options(config: pytest.Config) -> RunOptions:
    return run_options(
        profile_path=config.getoption("drready_profile") or config.getini("drready_profile"),
        simulate=config.getoption("drready_simulate"),
        faults=config.getoption("drready_faults"),
        report_dir=config.getoption("drready_report_dir") or config.getini("drready_report_dir"),
        time_scale=config.getoption("drready_time_scale"),
        run_id=config.getoption("drready_run_id"),
        impair=config.getoption("drready_impair"),
        jcstar_list=config.getoption("drready_jcstar_list"),
        unit=config.getoption("drready_unit"),
        seed=config.getoption("drready_seed"),
        binding=config.getoption("drready_binding"),
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    # Outermost wrapper: runs before the capture plugin replaces the standard streams.
    early_config.stash[TERMINAL_KEY] = os.isatty(0) and os.isatty(1)
    yield


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requirement(*ids): the DRready requirement IDs a test checks (e.g. BAT-2.2)"
    )
    config.addinivalue_line(
        "markers", "topology(name): the test needs this topology (gateway or server)"
    )
    config.addinivalue_line(
        "markers",
        "operator_step(step): the test needs operator step STEP ("
        + ", ".join(OPERATOR_STEPS)
        + ") on an external device (drready.operator.OPERATOR_STEPS)",
    )
    config.addinivalue_line(
        "markers",
        "from_profile(argname, values, *, ids=None, default=()): parametrize argname with "
        "values(profile) of the run's effective profile (default when the run has none)",
    )
    config.addinivalue_line(
        "markers",
        "duration(*, seconds, shared=None): the test's device time, seconds(profile); tests "
        "naming one shared scenario spend it once (drready plan)",
    )
    try:
        options = _options(config)
        if not options.active or hasattr(config, "workerinput"):
            return
        profile = resolve_profile(options)
        check_run(options, profile)
        listed = jcstar_list(options, profile)
        clock_text = config.getoption("drready_clock")
        if clock_text:
            simulated_start(clock_text, profile)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    options.report_dir.mkdir(parents=True, exist_ok=True)
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(options.report_dir / "junit.xml")
    recorder = RunRecorder(options, profile, started_at=real_now(), jcstar_list=listed)
    config.stash[RECORDER_KEY] = recorder
    config.pluginmanager.register(recorder, "drready-recorder")
    config.pluginmanager.register(InconclusiveAsJunitError(config), "drready-junit-inconclusive")


class InconclusiveAsJunitError:
    """Writes an inconclusive test into JUnit XML as an ``<error>``, never a ``<failure>``: it
    found nothing wrong with the device, it could not judge it.

    pytest's junitxml writes a failed call as a failure and offers no hook to choose; this
    rewrites the element it has just added (its node reporter, still open until teardown),
    and its counts. A test holds the result, so a pytest that changes those internals is
    caught, not silently written as failures."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, None, None]:
        yield
        reason = dict(report.user_properties).get(INCONCLUSIVE)
        xml = self.config.stash.get(xml_key, None)
        if xml is None or reason is None or not report.failed:
            return
        element = next(
            (n for n in reversed(xml.node_reporter(report).nodes) if n.tag in ("failure", "error")),
            None,
        )
        if element is None:
            return
        if element.tag == "failure":
            element.tag = "error"
            xml.stats["failure"] -= 1
            xml.stats["error"] += 1
        element.set("message", str(report.longrepr))
        element.set("type", "inconclusive")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.from_profile(argname, values)``: one test per value the run's profile
    gives (``values(profile)``), or per ``default`` value when the run has no profile."""
    recorder = metafunc.config.stash.get(RECORDER_KEY, None)
    for marker in metafunc.definition.iter_markers("from_profile"):
        argname, values = marker.args
        given: Callable[[Profile], Iterable[object]] = values
        default: Iterable[object] = marker.kwargs.get("default", ())
        chosen = given(recorder.profile) if recorder is not None else default
        metafunc.parametrize(argname, list(chosen), ids=marker.kwargs.get("ids"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(RECORDER_KEY, None)
    if state is None:
        return []
    profile = state.profile
    source = str(profile.source) if profile.source else "built-in"
    where = "simulator, virtual time" if profile.is_simulated else "external device, real time"
    if profile.time_scale != 1.0:
        where += f", device clock {profile.time_scale:g}x real time"
    lines = [
        f"drready {__version__}: {profile.device.device_class} ({where}), profile {source}",
        f"drready faults: {', '.join(state.options.faults) or 'none'}; report: {state.report_path}",
    ]
    if profile.impair is not None and profile.impair.active:
        lines.append(f"drready link impairment: {profile.impair.describe()}")
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, CollectReport, CollectReport]:
    # An unknown requirement ID is a collection error of the module that uses it.
    report = yield
    if report.outcome != "passed":
        return report
    problems = [
        problem
        for node in report.result
        if isinstance(node, pytest.Item)
        for problem in unknown_requirements(node)
    ]
    if problems:
        return CollectReport(collector.nodeid, "failed", "\n".join(problems), [])
    return report


@pytest.fixture(scope="session")
def drready_profile(request: pytest.FixtureRequest) -> Profile:
    """The effective device profile of this run."""
    state = request.config.stash.get(RECORDER_KEY, None)
    if state is None:
        pytest.fail(
            "no device under test: run with --simulate CLASS or --profile FILE", pytrace=False
        )
    return state.profile


#: Local time of the reference devices: Japan, where DRready applies.
SIMULATOR_ZONE = timezone(timedelta(hours=9))


def simulated_start(text: str, profile: Profile) -> datetime:
    """``--clock``: the instant virtual time starts (naive: Japan time)."""
    if not profile.is_simulated:
        raise UsageError("--clock: only a simulated run has a clock of its own to start")
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--clock: expected a date and time like 2027-04-01T19:00, got {text!r}"
        ) from None
    return start if start.tzinfo is not None else start.replace(tzinfo=SIMULATOR_ZONE)


@pytest.fixture(scope="session")
def dut(request: pytest.FixtureRequest, drready_profile: Profile) -> Iterator[DeviceUnderTest]:
    """The device under test, open for the whole session."""
    recorder = request.config.stash[RECORDER_KEY]
    clock_text = request.config.getoption("drready_clock")
    seed = recorder.options.seed
    seeded = seeded_start(drready_profile, seed) if seed is not None else None
    clock_start = seeded.clock_start if seeded is not None else None
    if clock_text:  # --clock is where time starts, seed or not
        clock_start = simulated_start(clock_text, drready_profile)
    try:
        device = open_dut(
            drready_profile,
            faults=recorder.options.faults,
            evidence_path=recorder.options.report_dir / "evidence.jsonl",
            clock=VirtualClock(clock_start) if clock_start is not None else None,
            start=seeded.state if seeded is not None else None,
        )
    except SessionError as exc:
        pytest.fail(f"cannot open the device under test: {exc}", pytrace=False)
    device.operator = choose_operator(
        drready_profile.operator,
        enabled=not request.config.getoption("drready_no_operator"),
        terminal=request.config.stash.get(TERMINAL_KEY, False),
        hold=_progress_hold(recorder),
    )
    recorder.device_opened(device)
    try:
        yield device
    finally:
        recorder.device_closing(device)
        device.close()


def _progress_hold(recorder: RunRecorder) -> Callable[[], AbstractContextManager[None]]:
    """While an operator's prompt is up, the progress line is not drawn over it."""

    def hold() -> AbstractContextManager[None]:
        progress = recorder.progress
        return nullcontext() if progress is None else progress.held()

    return hold


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.stash.get(RECORDER_KEY, None)
    if recorder is not None and config.pluginmanager.is_registered(recorder):
        config.pluginmanager.unregister(recorder)
    junit = config.pluginmanager.get_plugin("drready-junit-inconclusive")
    if junit is not None:
        config.pluginmanager.unregister(junit)
