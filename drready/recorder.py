"""The record of one run: test outcomes as they happen, verdicts, and the report on disk.

:class:`RunRecorder` is registered with pytest as a plugin object for the life of one run (as
pytest's own junitxml is), so its hooks carry the run's state without module globals. The report
is rewritten atomically after every test, so an interrupted run still leaves a valid one.

Outcomes beyond pass and fail:

- A test that raises :class:`~drready.bindings.types.NotApplicable` is ``not-applicable``.
- A test that raises :class:`~drready.errors.Inconclusive`, or hits an
  :class:`~drready.errors.ExchangeError` (a reply that never came, a connection lost), in its
  setup or call is ``inconclusive``, with the cause (``*-1.1`` for a failed exchange, mapped to
  the class under test). pytest shows it as INCONCLUSIVE with its one-line reason, counts it as
  failed for the exit status, and JUnit has it as an error. A test of ``*-1.1`` itself that hits
  an exchange error fails: the exchange is what it judges.
- The same in a test's teardown (the restore of what the test changed did not take) does not
  change the test's outcome: the call's verdict stands, the message notes the restore, and the
  next test's precondition check finds the state it left.
- Protocol findings (``DeviceUnderTest.findings``) made during a test are filed after it as one
  failed outcome per requirement they are against; those made outside any test (opening or
  closing the device, between tests) are filed at the end of the session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from drready import __version__
from drready.bindings.types import NotApplicable
from drready.catalog import UnknownRequirementError
from drready.catalog import get as get_requirement
from drready.cli.plan import planned
from drready.clock import real_monotonic, real_now
from drready.device import DeviceUnderTest
from drready.errors import NotExercised
from drready.jcstar import JcStarList
from drready.model import DeviceClass, Topology
from drready.profile import Profile
from drready.report.json_report import write_report
from drready.report.run_document import build_document, format_summary, run_verdicts
from drready.report.verdicts import RequirementVerdict, Verdict
from drready.run.ledger import RunContext, RunRecord, TestOutcome
from drready.run.options import RunOptions
from drready.run.outcomes import FindingsFiler, inconclusive_text, last_frames, verdictless
from drready.run.plan import Schedule
from drready.run.progress import Progress, for_terminal

#: The user property a not-applicable test's report carries: its reason.
NOT_APPLICABLE = "drready_not_applicable"
#: The user properties an inconclusive test's report carries: its reason, and its cause ("" when
#: not known).
INCONCLUSIVE = "drready_inconclusive"
INCONCLUSIVE_CAUSE = "drready_inconclusive_cause"
#: The user property of a teardown whose restore did not take (an Inconclusive or a failed
#: exchange in teardown): what went wrong. The test's outcome stands; its message says it.
RESTORE_FAILED = "drready_restore_failed"

_QUALIFIED_EXCEPTION = re.compile(r"^(?:[A-Za-z_]\w*\.)+([A-Z]\w*): ")


@dataclass
class _Running:
    nodeid: str
    requirements: tuple[str, ...]
    evidence_first: int
    device_time_start: float
    outcome: str = "passed"
    message: str = ""
    #: pytest's phase durations read a frozen clock in a simulated run: the real clock, from setup.
    started_s: float = field(default_factory=real_monotonic)
    failed_at: int | None = None  # evidence length when the failing phase ended
    metrics_first: int = 0
    cause: str | None = None  # of an inconclusive outcome
    #: Restores (teardowns) that did not take, noted in the message.
    restore_problems: list[str] = field(default_factory=list)


def requirement_ids(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for marker in item.iter_markers("requirement"):
        ids.extend(str(a) for a in marker.args)
    return tuple(dict.fromkeys(ids))


def unknown_requirements(item: pytest.Item) -> list[str]:
    """A line for each requirement ID the item is marked with that the catalog does not know."""
    problems = []
    for rid in requirement_ids(item):
        try:
            # "*-1.1" names the common requirement of whatever class the run tests.
            get_requirement(rid.replace("*", "BAT", 1) if rid.startswith("*-") else rid)
        except UnknownRequirementError as exc:
            problems.append(f"{item.nodeid}: {exc}")
    return problems


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
        # "drready.echonet.errors.EchonetTimeout: no response ..." reads better without the path.
        return _QUALIFIED_EXCEPTION.sub(r"\1: ", first, count=1)
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else ""


@dataclass(eq=False)  # a plugin object: hashed by identity
class RunRecorder:
    """Accumulates one run from pytest's hooks; :meth:`record` is the run as it stands."""

    options: RunOptions
    profile: Profile
    started_at: float
    requirement_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    outcomes: list[TestOutcome] = field(default_factory=list)
    running: dict[str, _Running] = field(default_factory=dict)
    dut: DeviceUnderTest | None = None
    device_info: dict[str, Any] = field(default_factory=dict)
    device_time_start: float | None = None
    device_time_end: float | None = None
    verdicts: list[RequirementVerdict] = field(default_factory=list)
    complete: bool = False
    exit_status: int | None = None
    finished_at: float | None = None
    progress: Progress | None = None
    #: What the run is expected to take (drready plan), from the collected tests' markers.
    schedule: Schedule | None = None
    #: The harness's own address on the device's network (for the pcapng trace).
    local_address: tuple[str, int] | None = None
    bundle_problem: str | None = None
    #: IPA's list of JC-STAR compliant products *-3.1 is checked against (None: declared only).
    jcstar_list: JcStarList | None = None

    #: Files the device's protocol findings per test (set up with the class's prefix).
    findings: FindingsFiler = field(init=False)

    def __post_init__(self) -> None:
        self.findings = FindingsFiler(self.class_prefix)

    @property
    def report_path(self) -> Path:
        return self.options.report_path

    @property
    def class_prefix(self) -> str:
        return DeviceClass(self.profile.device.device_class).prefix

    @property
    def run_topology(self) -> Topology:
        """The topology this run exercises: its binding's (gateway or server)."""
        return Topology(self.profile.device.topology)

    # -- the device --------------------------------------------------------------------------
    def device_opened(self, device: DeviceUnderTest) -> None:
        self.dut = device
        self.device_time_start = device.now()
        self.local_address = device.local_address
        # Opened in the first test's setup (a session fixture's request is the session's, with
        # no test): what that test does from here is its own evidence.
        if len(self.running) == 1:
            device.evidence.current_test = next(iter(self.running))
        # Findings made while the device opened (discovery, reading its maps) belong to no test.
        self.findings.set_aside(device.findings)

    def device_closing(self, device: DeviceUnderTest) -> None:
        """What the device says about itself, for the report; best effort at the end of the
        run."""
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
        self.device_info = info
        self.device_time_end = device.now()
        # What the monitor finds from here on (closing the device) belongs to no test.
        self.findings.closing(device.findings)

    # -- the record and the report -----------------------------------------------------------
    def _context(self) -> RunContext:
        jcstar = self.profile.jcstar
        maker, product, model = self.profile.jcstar_identity()
        return RunContext(
            supported_topologies=frozenset(self.profile.device.topologies),
            run_topology=self.dut.binding.topology if self.dut is not None else self.run_topology,
            jcstar_label=jcstar.label if jcstar else None,
            jcstar_level=jcstar.level if jcstar else None,
            jcstar_valid_until=jcstar.valid_until if jcstar else None,
            jcstar_maker=maker,
            jcstar_product=product,
            jcstar_model=model,
            jcstar_list=self.jcstar_list,
            # A label expires on the calendar, not on the device's (possibly virtual) clock.
            today=date.fromtimestamp(real_now()),
        )

    def record(self) -> RunRecord:
        """The run as it stands now."""
        dut = self.dut
        end = self.device_time_end
        if end is None and dut is not None:
            end = dut.now()
        return RunRecord(
            options=self.options,
            profile=self.profile,
            started_at=self.started_at,
            context=self._context(),
            outcomes=tuple(self.outcomes),
            protocol=dut.binding.protocol if dut is not None else None,
            topology=Topology(dut.binding.topology) if dut is not None else None,
            device_info=self.device_info,
            device_time_start=self.device_time_start,
            device_time_end=end,
            evidence_records=len(dut.evidence) if dut is not None else None,
            evidence_head_digest=dut.evidence.head_digest if dut is not None else None,
            complete=self.complete,
            exit_status=self.exit_status,
            finished_at=self.finished_at,
            local_address=self.local_address,
            bundle_problem=self.bundle_problem,
        )

    def write(self) -> None:
        """The report as it stands: on one line while the run goes on, indented at its end."""
        if final := self.exit_status is not None:
            self.finished_at = real_now()
        self.verdicts = run_verdicts(record := self.record())
        document = build_document(record, __version__, self.verdicts)
        write_report(self.report_path, document, indent=2 if final else None)

    # -- pytest hooks ----------------------------------------------------------------------------
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        prefix = DeviceClass(self.profile.device.device_class).prefix + "-"
        keep: list[pytest.Item] = []
        other: list[pytest.Item] = []
        for item in items:
            # "*-1.1" is the common requirement of the class under test ("HP-1.1" for heatpump).
            ids = tuple(
                dict.fromkeys(
                    prefix[:-1] + i[1:] if i.startswith("*-") else i for i in requirement_ids(item)
                )
            )
            if ids and not any(i.startswith(prefix) for i in ids):
                other.append(item)  # a test of another device class
                continue
            self.requirement_ids[item.nodeid] = ids
            keep.append(item)
        if other:
            config.hook.pytest_deselected(items=other)
            items[:] = keep

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.schedule = planned(
            session.items, self.profile, self.requirement_ids, self.run_topology
        )
        self.write()
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        # Only real-time runs are long enough to need it; virtual ones take seconds.
        if reporter is not None and not self.profile.is_simulated:
            capture = session.config.pluginmanager.get_plugin("capturemanager")
            scale = self.profile.time_scale
            self.progress = for_terminal(
                reporter, capture, real_monotonic, scale, schedule=self.schedule
            )
            self.progress.start()

    def _attach_progress(self) -> None:
        if self.progress is not None and self.dut is not None and self.dut.on_dr is None:
            progress, scale = self.progress, self.dut.time_scale
            self.dut.on_dr = lambda label, seconds: progress.dr_window(label, seconds, scale)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        evidence_first = 0
        device_time = 0.0
        if self.dut is not None:
            self.findings.set_aside(self.dut.findings)  # made between the last test and this
            self.dut.evidence.current_test = item.nodeid
            evidence_first = len(self.dut.evidence)
            device_time = self.dut.elapsed_s()
        self.running[item.nodeid] = _Running(
            item.nodeid,
            self.requirement_ids.get(item.nodeid, ()),
            evidence_first,
            device_time,
            metrics_first=len(self.dut.metrics) if self.dut is not None else 0,
        )
        if self.progress is not None:
            self.progress.start_test(item.nodeid, self.requirement_ids.get(item.nodeid, ()))
        for marker in item.iter_markers("topology"):
            needed = str(marker.args[0]) if marker.args else ""
            if needed != self.run_topology:
                pytest.skip(f"needs the {needed} topology; this run uses {self.run_topology}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """A test that raised :class:`NotApplicable` is reported skipped to pytest (it neither
        passed nor failed) and carries its reason, which the record turns into its outcome.

        One left without a verdict (:func:`verdictless`) in setup or call stays failed for
        pytest (the exit status is not 0), with a one-line reason instead of a traceback and
        user properties the record and the JUnit writer read. In teardown it is reported passed
        (the call's verdict stands) and carries what did not take.

        One that raised :class:`NotExercised` (an operator step nobody could carry out) is
        skipped, with its reason: never a pass."""
        report = yield
        excinfo = call.excinfo
        if excinfo is None:
            return report
        if isinstance(excinfo.value, NotApplicable):
            reason = excinfo.value.reason
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, f"Not applicable: {reason}")
            report.user_properties.append((NOT_APPLICABLE, reason))
            return report
        if isinstance(excinfo.value, NotExercised) and call.when != "teardown":
            # Skipped, saying why: a check nobody could carry out is never a pass.
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, excinfo.value.reason)
            return report
        requirements = self.requirement_ids.get(item.nodeid, ())
        judged = verdictless(excinfo.value, self.class_prefix, requirements)
        if judged is None:
            return report
        reason, cause = judged
        text = inconclusive_text(reason, cause)
        if call.when == "teardown":
            report.outcome = "passed"
            report.longrepr = None
            report.user_properties.append((RESTORE_FAILED, text))
            return report
        report.outcome = "failed"
        report.longrepr = text
        report.user_properties.append((INCONCLUSIVE, reason))
        report.user_properties.append((INCONCLUSIVE_CAUSE, cause or ""))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport | pytest.CollectReport, config: pytest.Config
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        """An inconclusive test shows as ``I`` / INCONCLUSIVE, counted apart from failures."""
        properties = dict(getattr(report, "user_properties", ()))
        if report.failed and INCONCLUSIVE in properties:
            return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.progress is not None:
            self.progress.before_output()  # before pytest's reporter writes the outcome
            self._attach_progress()  # the DUT exists once the first setup has run
        running = self.running.get(report.nodeid)
        if running is None:
            # Setup never ran our hook (e.g. the test was skipped by a marker): start it now.
            first = len(self.dut.evidence) if self.dut is not None else 0
            requirements = self.requirement_ids.get(report.nodeid, ())
            running = self.running[report.nodeid] = _Running(
                report.nodeid, requirements, first, 0.0
            )
        properties = dict(report.user_properties)
        restore = properties.get(RESTORE_FAILED)
        if restore is not None:
            running.restore_problems.append(str(restore))
        if report.failed and INCONCLUSIVE in properties:
            if running.outcome == "passed":
                running.outcome = "inconclusive"
                running.message = str(properties[INCONCLUSIVE])
                running.cause = str(properties.get(INCONCLUSIVE_CAUSE) or "") or None
                if self.dut is not None:
                    running.failed_at = len(self.dut.evidence)
        elif report.failed and running.outcome not in ("failed", "error"):
            earlier = running.message if running.outcome == "inconclusive" else ""
            running.outcome = "failed" if report.when == "call" else "error"
            running.message = _message(report)
            running.cause = None
            if earlier:
                # An error in teardown after an inconclusive call: the error decides, the
                # reason the test could not judge stays readable.
                running.message += f" (after the test was inconclusive: {earlier})"
            if self.dut is not None:
                running.failed_at = len(self.dut.evidence)
        elif report.skipped and running.outcome == "passed":
            reason = dict(report.user_properties).get(NOT_APPLICABLE)
            running.outcome = "skipped" if reason is None else "not-applicable"
            running.message = _message(report) if reason is None else str(reason)

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        if self.progress is not None:
            self.progress.end_test()
        running = self.running.pop(nodeid, None)
        if running is None:
            return
        dut = self.dut
        evidence_last = len(dut.evidence) if dut is not None else 0
        frames: tuple[dict[str, Any], ...] = ()
        if running.outcome in ("failed", "error", "inconclusive") and dut is not None:
            end = running.failed_at if running.failed_at is not None else evidence_last
            since = dut.evidence.since(running.evidence_first)
            frames = last_frames(since[: end - running.evidence_first])
        device_time = dut.elapsed_s() if dut is not None else 0.0
        message = running.message
        if running.restore_problems:
            restore = "; ".join(running.restore_problems)
            note = f"the restore after the test did not take: {restore}"
            message = f"{message}; {note}" if message else note
        self.outcomes.append(
            TestOutcome(
                nodeid=nodeid,
                outcome=running.outcome,
                message=message,
                requirements=running.requirements,
                duration_s=real_monotonic() - running.started_s,
                device_time_s=max(0.0, device_time - running.device_time_start),
                evidence_first=running.evidence_first,
                evidence_last=evidence_last,
                frames=frames,
                metrics=tuple(dut.metrics[running.metrics_first :]) if dut is not None else (),
                cause=running.cause if running.outcome == "inconclusive" else None,
            )
        )
        findings = self.findings.take(dut.findings) if dut is not None else []
        if dut is not None and findings:
            during = f"while {nodeid.split('::')[-1]} ran"
            span = (running.evidence_first, evidence_last)
            self.outcomes += self.findings.outcomes(findings, nodeid, during, dut.evidence, span)
        self.write()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # trylast: after pytest's runner has torn the session fixtures (the DUT) down.
        # Tests that never finished (an interrupt) are left out, and the report says so.
        if self.progress is not None:
            self.progress.stop()
        interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        self.complete = not interrupted and not session.shouldfail and not session.shouldstop
        self.exit_status = int(exitstatus)
        if self.dut is not None:
            self.outcomes += self.findings.session_outcomes(self.dut.findings, self.dut.evidence)
        self.verdicts = run_verdicts(self.record())
        if self.not_conformant and exitstatus == 0:
            # Findings can fail a requirement whose tests all passed: the report has the status.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            self.exit_status = int(session.exitstatus)
        self.write()
        self._seal()
        if self.bundle_problem:  # the report says so too, with the status the run ends with
            session.exitstatus = session.exitstatus or pytest.ExitCode.TESTS_FAILED
            self.exit_status = int(session.exitstatus)
            self.write()

    @property
    def not_conformant(self) -> bool:
        """A requirement fails or is inconclusive: the run must not exit 0."""
        return any(v.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE) for v in self.verdicts)

    def _seal(self) -> None:
        """The evidence bundle: trace, HAR, measurements, profile, and the manifest over all."""
        from drready.bundle import BundleError, write_bundle

        if not (self.options.report_dir / "evidence.jsonl").exists():
            return  # nothing was exchanged: the device was never opened
        try:
            write_bundle(self.options.report_dir, local_address=self.local_address)
        except BundleError as exc:
            self.bundle_problem = str(exc)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("DRready requirements")
        for outcome in self.outcomes:
            if outcome.outcome == "inconclusive":
                cause = f" (caused by {outcome.cause})" if outcome.cause else ""
                line = f"INCONCLUSIVE {outcome.nodeid}: {outcome.message}{cause}"
                terminalreporter.write_line(line, yellow=True)
        for line in format_summary(self.verdicts):
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"report: {self.report_path}")
        if self.bundle_problem is not None:
            line = f"evidence bundle NOT written: {self.bundle_problem}"
            terminalreporter.write_line(line, red=True, bold=True)
