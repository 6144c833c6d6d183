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
