"""pytest glue: options, markers, the ``dut`` fixture, verdicts and reports. Logic lives elsewhere.

The plugin is loaded in every pytest session through its entry point, but stays inert until a run
names a device: ``--simulate CLASS`` or ``--profile FILE`` (or the ``drready_profile`` ini key).
"""

from __future__ import annotations

import secrets
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _pytest.reports import CollectReport

from drready import __version__
from drready.catalog import UnknownRequirementError
from drready.catalog import get as get_requirement
from drready.clock import real_now
from drready.device import DeviceUnderTest
from drready.errors import SessionError
from drready.profile import (
    DEVICE_CLASSES,
    Profile,
    ProfileError,
    default_profile,
    load_profile,
)
from drready.recorder import RunRecorder, requirement_ids
from drready.run.session import open_dut


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


STATE_KEY = pytest.StashKey[RunRecorder]()


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
            profile = profile.simulated()
    else:
        profile = default_profile(options.simulate or "battery", _fault_binding(options.faults))
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


def _fault_binding(faults: tuple[str, ...]) -> str:
    """A fault of another binding's simulator selects that binding by itself: the SunSpec one
    (Modbus, with its meter), or a server-topology shape (OpenADR 3, ECHONET Lite Web API)."""
    from drready.simulators.faults import FAULTS

    bindings = {FAULTS[name].binding for name in faults if name in FAULTS}
    for binding in ("modbus", "openadr3", "webapi"):
        if binding in bindings:
            return binding
    return "echonet"


def check_run(options: DrreadyOptions, profile: Profile) -> None:
    """Refuse, before anything runs, a run that could test nothing or names an unknown fault."""
    from drready.simulators.faults import UnknownFaultError, get_fault

    where = f"{profile.source}: " if profile.source else ""
    binding = profile.device.binding
    topology = profile.device.topology
    link = {
        "modbus": profile.modbus,
        "openadr3": profile.openadr3,
        "webapi": profile.webapi,
    }.get(binding, profile.echonet)
    if link is None or not profile.device.supports(topology):
        protocol = {
            "modbus": "SunSpec Modbus",
            "openadr3": "OpenADR 3",
            "webapi": "ECHONET Lite Web API",
        }.get(binding, "ECHONET Lite")
        raise pytest.UsageError(
            f"{where}device.topologies: the {profile.device.device_class} is tested over the "
            f"{topology} topology ({protocol}), which this profile does not declare; nothing "
            "would be tested"
        )

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
        if fault.binding != binding:
            raise pytest.UsageError(
                f"--fault {name}: a fault of the {fault.binding} simulator, but this run uses "
                f"the {binding} binding"
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
    if not options.active or hasattr(config, "workerinput"):
        return
    try:
        profile = resolve_profile(options)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    check_run(options, profile)
    options.report_dir.mkdir(parents=True, exist_ok=True)
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(options.report_dir / "junit.xml")
    recorder = RunRecorder(options, profile, started_at=real_now())
    config.stash[STATE_KEY] = recorder
    config.pluginmanager.register(recorder, "drready-recorder")


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
            for rid in requirement_ids(node):
                try:
                    # "*-1.1" names the common requirement of whatever class the run tests.
                    get_requirement(rid.replace("*", "BAT", 1) if rid.startswith("*-") else rid)
                except UnknownRequirementError as exc:
                    problems.append(f"{node.nodeid}: {exc}")
    if problems:
        return CollectReport(collector.nodeid, "failed", "\n".join(problems), [])
    return report


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
    state.local_address = device.local_address
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


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.stash.get(STATE_KEY, None)
    if recorder is not None and config.pluginmanager.is_registered(recorder):
        config.pluginmanager.unregister(recorder)
