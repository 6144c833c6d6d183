"""The pytest plugin, through pytester: tiny suites run in a throw-away directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drready.report.json_report import validate_report

SUITE = """
import pytest

@pytest.mark.requirement("BAT-2.2")
def test_power(dut):
    assert dut.status().mode == "auto"

@pytest.mark.requirement("BAT-2.3")
def test_fails(dut):
    assert False, "expected 1 Wh, saw 2 Wh"

@pytest.mark.requirement("BAT-2.4")
def test_skipped():
    pytest.skip("needs an operator")

@pytest.mark.requirement("BAT-2.5")
def test_passes_beside_skip(dut):
    pass

@pytest.mark.requirement("BAT-2.5")
def test_skipped_beside_pass():
    pytest.skip("meter not connected")

@pytest.mark.requirement("BAT-2.6")
@pytest.mark.topology("server")
def test_server_only(dut):
    pass

@pytest.mark.requirement("HP-2.1")
def test_other_class():
    pass
"""


@pytest.fixture(autouse=True)
def _ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def _report(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((path / "report.json").read_text(encoding="utf-8"))
    validate_report(document)
    return document


def _verdicts(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {r["id"]: (r["verdict"], r["reason"]) for r in document["requirements"]}


def test_outcomes_fold_into_verdicts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--simulate", "battery", "--report-dir", "out")
    result.assert_outcomes(passed=2, failed=1, skipped=3, deselected=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = _report(pytester.path / "out")
    verdicts = _verdicts(document)
    assert verdicts["BAT-2.2"][0] == "pass"
    assert verdicts["BAT-2.3"] == ("fail", "test_fails: expected 1 Wh, saw 2 Wh")
    assert verdicts["BAT-2.4"] == ("not-tested", "skipped: needs an operator")
    assert verdicts["BAT-2.5"][0] == "pass"
    assert "not exercised: meter not connected" in verdicts["BAT-2.5"][1]
    assert verdicts["BAT-2.6"][0] == "not-tested"
    assert "needs the server topology" in verdicts["BAT-2.6"][1]
    assert verdicts["BAT-2.7"] == ("not-tested", "no test in this run covers it")
    assert verdicts["BAT-3.1"][0] == "declared"
    assert "HP-2.1" not in verdicts  # another class: deselected, not reported
    assert document["complete"] is True
    assert document["summary"]["fail"] == 1
    assert (pytester.path / "out" / "junit.xml").exists()
    assert (pytester.path / "out" / "evidence.jsonl").stat().st_size > 0
    result.stdout.fnmatch_lines(["*DRready requirements*", "BAT-2.3*fail*expected 1 Wh*"])


NOT_APPLICABLE_SUITE = """
import pytest
from drready.bindings.types import NotApplicable

@pytest.mark.requirement("BAT-2.4")
def test_only_inapplicable():
    raise NotApplicable("model 802 has no such point")

@pytest.mark.requirement("BAT-2.5")
def test_power(dut):
    pass

@pytest.mark.requirement("BAT-2.5")
def test_counters():
    raise NotApplicable("no energy counters over SunSpec")

@pytest.mark.requirement("BAT-2.6")
def test_fails_after_checking():
    assert False, "mode not restored"
    raise NotApplicable("never reached")

@pytest.mark.requirement("BAT-3.3")
def test_security_item():
    raise NotApplicable("a security item is never not applicable")
"""


def test_not_applicable_tests_say_why_and_never_count_as_passes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_na=NOT_APPLICABLE_SUITE)
    result = pytester.runpytest("--simulate", "battery", "--report-dir", "out", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=3)
    document = _report(pytester.path / "out")
    verdicts = _verdicts(document)
    assert verdicts["BAT-2.4"] == ("not-applicable", "model 802 has no such point")
    assert verdicts["BAT-2.5"][0] == "pass"
    assert "not applicable: no energy counters over SunSpec" in verdicts["BAT-2.5"][1]
    assert verdicts["BAT-2.6"][0] == "fail"
    assert verdicts["BAT-3.3"][0] == "not-tested"
    outcomes = {
        t["nodeid"].split("::")[-1]: (t["outcome"], t["message"])
        for r in document["requirements"]
        for t in r["tests"]
    }
    assert outcomes["test_counters"] == ("not-applicable", "no energy counters over SunSpec")
    assert outcomes["test_only_inapplicable"][0] == "not-applicable"
    result.stdout.fnmatch_lines(["*SKIPPED*Not applicable: model 802 has no such point*"])


def test_header_names_the_profile_and_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest("--simulate", "battery", "--report-dir", "out")
    result.stdout.fnmatch_lines(["drready *: battery (simulator, virtual time), profile built-in"])


def test_unknown_requirement_id_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_typo="""
import pytest

@pytest.mark.requirement("BAT-22")
def test_typo():
    pass
"""
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*ERROR collecting*", "*unknown requirement ID 'BAT-22'; did you mean BAT-2.2?*"]
    )


def test_plugin_is_inert_without_a_device(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
import pytest

@pytest.mark.requirement("BAT-2.2")
def test_plain():
    pass

def test_wants_dut(dut):
    pass
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*no device under test: run with --simulate CLASS or --profile FILE*"]
    )
    assert not (pytester.path / "reports").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "missing.toml"], "missing.toml: *file not found*"),
        (["--simulate", "battery", "--fault", "nope"], "*--fault: unknown fault 'nope'*"),
        (["--simulate", "battery", "--time-scale", "60"], "*--time-scale*"),
        (
            ["--simulate", "battery", "--time-scale", "0.5"],
            "*--time-scale: expected a number >= 1*",
        ),
    ],
)
def test_usage_errors_are_one_line(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str()


def test_bad_profile_key_is_named(pytester: pytest.Pytester) -> None:
    profile = Path(__file__).resolve().parents[2] / "fixtures" / "profiles" / "invalid"
    result = pytester.runpytest("--profile", str(profile / "response-too-slow.toml"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *response-too-slow.toml: timings.response_s: *1800*"])


@pytest.mark.slow
def test_interrupted_run_leaves_an_incomplete_valid_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_interrupt="""
import pytest

@pytest.mark.requirement("BAT-2.2")
def test_first(dut):
    dut.wait(60)

@pytest.mark.requirement("BAT-2.3")
def test_interrupts(dut):
    raise KeyboardInterrupt

@pytest.mark.requirement("BAT-2.4")
def test_never_runs(dut):
    pass
"""
    )
    # In a subprocess: an in-process run would pass the KeyboardInterrupt on to this session.
    result = pytester.runpytest_subprocess("--simulate", "battery", "--report-dir", "out")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    document = _report(pytester.path / "out")
    assert document["complete"] is False
    verdicts = _verdicts(document)
    assert verdicts["BAT-2.2"][0] == "pass"
    assert verdicts["BAT-2.4"][0] == "not-tested"


def test_report_is_written_after_every_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_progress="""
import json
import pathlib
import pytest

@pytest.mark.requirement("BAT-2.2")
def test_first(dut):
    pass

def test_sees_the_first_verdict():
    report = json.loads(pathlib.Path("out/report.json").read_text())
    assert report["complete"] is False
    verdicts = {r["id"]: r["verdict"] for r in report["requirements"]}
    assert verdicts["BAT-2.2"] == "pass"
"""
    )
    result = pytester.runpytest("--simulate", "battery", "--report-dir", "out")
    result.assert_outcomes(passed=2)
    assert _report(pytester.path / "out")["complete"] is True


def test_a_bundle_not_written_is_in_the_report_and_its_exit_status(
    pytester: pytest.Pytester,
) -> None:
    """Every requirement passes, but a file in the run directory holds a credential: the bundle
    is refused. The run fails, and its report.json says why, with that exit status."""
    pytester.makepyfile(
        test_leak="""
import pathlib
import pytest

@pytest.mark.requirement("BAT-2.2")
def test_power(dut):
    pathlib.Path("out/notes.txt").write_text("Authorization: Bearer abcdef0123456789\\n")
"""
    )
    result = pytester.runpytest("--simulate", "battery", "--report-dir", "out")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = _report(pytester.path / "out")
    assert document["summary"]["fail"] == 0 and document["complete"] is True
    assert document["exit_status"] == pytest.ExitCode.TESTS_FAILED
    assert "credentials would be in the evidence bundle" in document["bundle_problem"]
    assert "notes.txt: Bearer token at line 1" in document["bundle_problem"]
    assert "abcdef0123456789" not in document["bundle_problem"]
    assert not (pytester.path / "out" / "manifest.json").exists()
    result.stdout.fnmatch_lines(["*evidence bundle NOT written: *notes.txt*"])


FROM_PROFILE = """
import pytest

@pytest.mark.requirement("BAT-2.6")
@pytest.mark.from_profile(
    "mode", lambda profile: profile.device.own_modes, default=("none",)
)
def test_mode(mode):
    pass

@pytest.mark.requirement("BAT-2.6")
@pytest.mark.from_profile(
    "binding",
    lambda profile: [profile.device.binding],
    ids=lambda value: f"over-{value}",
    default=("none",),
)
def test_binding(binding):
    pass
"""


def test_from_profile_parametrises_by_the_run_profile(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=FROM_PROFILE)
    result = pytester.runpytest("--simulate", "battery", "--report-dir", "out", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*test_mode?auto? PASSED*",
            "*test_mode?standby? PASSED*",
            "*test_binding?over-echonet? PASSED*",
        ]
    )
    # Without a device under test, the defaults.
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_mode?none? PASSED*", "*test_binding?over-none? PASSED*"])


INCONCLUSIVE_SUITE = """
import pytest
from drready.echonet.errors import EchonetTimeout
from drready.errors import Inconclusive

@pytest.fixture
def at_rest(dut):
    raise Inconclusive("the device did not come to rest before the request", cause="BAT-2.6")

@pytest.mark.requirement("BAT-2.2")
def test_precondition(at_rest):
    pass

@pytest.mark.requirement("BAT-2.2")
def test_passes_beside_it(dut):
    pass

@pytest.mark.requirement("BAT-2.3")
def test_reply_lost(dut):
    dut.status()  # a real exchange first: the failure is mid-test
    raise EchonetTimeout(tid=7, attempts=3, timeout_s=2.0, peer="127.0.0.1:3610",
                         request="Get 0xA5")

@pytest.mark.requirement("*-1.1")
def test_communication(dut):
    raise EchonetTimeout(tid=8, attempts=3, timeout_s=2.0, peer="127.0.0.1:3610")

@pytest.mark.requirement("BAT-2.4")
def test_no_cause(dut):
    raise Inconclusive("too little stored energy for the scenario")

@pytest.fixture
def restored(dut):
    yield
    raise Inconclusive("the own mode did not come back", cause="BAT-2.6")

@pytest.mark.requirement("BAT-2.5")
def test_restore_fails_after_a_pass(restored):
    pass
"""


def _junit(path: Path) -> dict[str, list[Any]]:
    """Test name -> the child elements of its <testcase> (failure, error, skipped, ...)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path / "junit.xml").getroot()
    return {case.get("name", ""): list(case) for case in root.iter("testcase")}


def _tests(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeid"].split("::", 1)[-1]: t for r in document["requirements"] for t in r["tests"]}


def test_inconclusive_tests_are_neither_pass_nor_fail(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=INCONCLUSIVE_SUITE)
    result = pytester.runpytest("--simulate", "battery", "--report-dir", "out", "-v")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = _report(pytester.path / "out")
    assert document["exit_status"] == 1
    verdicts = _verdicts(document)
    tests = _tests(document)

    # Setup could not establish the precondition: inconclusive, never pass beside a pass.
    assert tests["test_precondition"]["outcome"] == "inconclusive"
    assert tests["test_precondition"]["cause"] == "BAT-2.6"
    assert verdicts["BAT-2.2"] == (
        "inconclusive",
        "test_precondition: inconclusive, caused by BAT-2.6: the device did not come to rest "
        "before the request; 1 other test(s) passed",
    )
    # A reply lost mid-test: inconclusive, caused by the class's communication requirement.
    lost = tests["test_reply_lost"]
    assert lost["outcome"] == "inconclusive" and lost["cause"] == "BAT-1.1"
    assert "EchonetTimeout: no response from 127.0.0.1:3610 for TID 0x0007" in lost["message"]
    assert lost["frames"], "the frames before it are quoted"
    assert verdicts["BAT-2.3"][0] == "inconclusive"
    assert "caused by BAT-1.1: an exchange failed: EchonetTimeout" in verdicts["BAT-2.3"][1]
    # ... but in a test of *-1.1 itself, a lost reply is what it judges: a fail.
    assert tests["test_communication"]["outcome"] == "failed"
    assert verdicts["BAT-1.1"][0] == "fail"
    assert "EchonetTimeout: no response" in verdicts["BAT-1.1"][1]
    assert verdicts["BAT-2.4"] == (
        "inconclusive",
        "test_no_cause: inconclusive: too little stored energy for the scenario",
    )
    # A restore that did not take leaves the call's verdict, noted in the message.
    restored = tests["test_restore_fails_after_a_pass"]
    assert restored["outcome"] == "passed"
    assert restored["message"] == (
        "the restore after the test did not take: Inconclusive: the own mode did not come back "
        "(caused by BAT-2.6)"
    )
    assert verdicts["BAT-2.5"][0] == "pass"
    assert document["summary"]["inconclusive"] == 3 and document["summary"]["fail"] == 1

    # pytest: one line, no traceback, counted apart from failures.
    output = result.stdout.str()
    assert "Traceback" not in output and "raise Inconclusive" not in output
    result.stdout.fnmatch_lines(
        [
            "*test_precondition INCONCLUSIVE*",
            "*test_reply_lost INCONCLUSIVE*",
            "*test_communication FAILED*",
            "*NOT CONFORMANT: 1 requirement(s) fail, 3 inconclusive*",
            "*1 failed, 2 passed, 3 inconclusive*",
        ]
    )
    # JUnit: an error (it could not judge), never a failure (nothing found wrong).
    junit = _junit(pytester.path / "out")
    for name in ("test_precondition", "test_reply_lost", "test_no_cause"):
        (element,) = junit[name]
        assert element.tag == "error" and element.get("type") == "inconclusive", name
        assert element.get("message", "").startswith("Inconclusive: "), name
    assert [e.tag for e in junit["test_communication"]] == ["failure"]
    assert junit["test_restore_fails_after_a_pass"] == [] or all(
        e.tag not in ("failure", "error") for e in junit["test_restore_fails_after_a_pass"]
    )
    import xml.etree.ElementTree as ET

    suite = ET.parse(pytester.path / "out" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("errors"), suite.get("failures")) == ("3", "1")


FINDINGS_SUITE = """
import pytest
from drready.evidence import Finding

@pytest.mark.requirement("BAT-2.2")
def test_passes_with_findings(dut):
    before = len(dut.evidence)
    dut.status()
    for n in range(7):
        dut.findings.append(
            Finding("*-1.1", f"reply {n} echoed TID 0x0001 for TID 0x0002",
                    records=(before, before + 1), rule="tid-echo")
        )

@pytest.mark.requirement("*-1.1")
def test_communication_passes(dut):
    pass

@pytest.mark.requirement("BAT-2.3")
def test_clean(dut):
    dut.status()
"""

BETWEEN_TESTS_CONFTEST = """
from drready.evidence import Finding
from drready.pytest_plugin import RECORDER_KEY

CONFIG = []

def pytest_configure(config):
    CONFIG.append(config)

def pytest_runtest_logstart(nodeid, location):
    dut = CONFIG[0].stash[RECORDER_KEY].dut
    if nodeid.endswith("test_clean") and dut is not None:
        dut.findings.append(Finding("BAT-2.5", "an unsolicited response between tests"))
"""


def test_findings_during_a_passing_test_fail_its_requirement(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=FINDINGS_SUITE)
    pytester.makeconftest(BETWEEN_TESTS_CONFTEST)
    result = pytester.runpytest("--simulate", "battery", "--report-dir", "out")
    result.assert_outcomes(passed=3)
    # Every test passed, the findings fail the run.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = _report(pytester.path / "out")
    assert document["exit_status"] == 1
    verdicts = _verdicts(document)
    verdict, reason = verdicts["BAT-1.1"]
    assert verdict == "fail"
    assert reason.startswith(
        "protocol findings: 7 protocol finding(s) while test_passes_with_findings ran: "
        "reply 0 echoed TID 0x0001 for TID 0x0002; "
    )
    assert "reply 4 echoed" in reason and "reply 5 echoed" not in reason
    assert "; and 2 more" in reason
    assert "(its own 1 test(s) passed; the findings fail it)" in reason
    assert verdicts["BAT-2.2"][0] == "pass"  # the test that was running is not blamed
    tests = _tests(document)
    filed = tests["test_passes_with_findings::findings[BAT-1.1]"]
    assert filed["outcome"] == "failed"
    assert [f["kind"] for f in filed["frames"]] == ["tx", "rx"]
    assert filed["evidence"][1] - filed["evidence"][0] == 2
    # Made between two tests: filed for the session, not for the test that came next.
    assert verdicts["BAT-2.3"][0] == "pass"
    assert verdicts["BAT-2.5"] == (
        "fail",
        "protocol findings: 1 protocol finding(s) outside any test (opening or closing the "
        "device, or between tests): an unsolicited response between tests",
    )
    assert "session::findings[BAT-2.5]" in tests
    result.stdout.fnmatch_lines(["BAT-1.1*fail*protocol findings*", "*NOT CONFORMANT*"])
