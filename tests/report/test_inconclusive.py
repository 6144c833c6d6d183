"""The inconclusive verdict and protocol findings, everywhere a verdict shows: the fold, the
schema, the summary lines, `drready diff`, the combined report and the declaration. Built from
run records alone (no pytest session, no device)."""

from __future__ import annotations

import copy
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jsonschema.exceptions import ValidationError

from drready.catalog import get
from drready.cli.run import _combined_exit
from drready.model import Topology
from drready.profile import default_profile
from drready.report.combined import build_combined, format_combined
from drready.report.declaration import build_view, render_html
from drready.report.diff import diff_reports
from drready.report.json_report import validate_report, write_report
from drready.report.run_document import (
    build_document,
    format_counts,
    format_summary,
    run_verdicts,
)
from drready.report.verdicts import RunContext, TestOutcome, Verdict, fold_one, summary
from drready.run.ledger import PartResult, RunRecord, findings_nodeid, findings_test
from drready.run.options import run_options

CONTEXT = RunContext(
    supported_topologies=frozenset({"gateway"}),
    run_topology="gateway",
    today=date(2025, 1, 1),
)


def _outcome(name: str, outcome: str, message: str = "", **kwargs: Any) -> TestOutcome:
    return TestOutcome(f"suite.py::{name}", outcome, message, ("BAT-2.2",), **kwargs)


# -- the fold ------------------------------------------------------------------------------------


def test_an_inconclusive_test_is_never_a_pass_even_beside_passes() -> None:
    outcomes = [
        _outcome("test_one", "passed"),
        _outcome("test_two", "inconclusive", "the device was not at rest", cause="BAT-2.6"),
        _outcome("test_three", "inconclusive", "clock not readable"),
    ]
    verdict = fold_one(get("BAT-2.2"), outcomes, CONTEXT)
    assert verdict.verdict == Verdict.INCONCLUSIVE
    assert verdict.reason == (
        "test_two: inconclusive, caused by BAT-2.6: the device was not at rest; "
        "test_three: inconclusive: clock not readable; 1 other test(s) passed"
    )


def test_a_fail_outweighs_an_inconclusive_test() -> None:
    outcomes = [
        _outcome("test_one", "inconclusive", "no reply", cause="BAT-1.1"),
        _outcome("test_two", "failed", "power 0 W, expected 1000 W"),
    ]
    verdict = fold_one(get("BAT-2.2"), outcomes, CONTEXT)
    assert verdict.verdict == Verdict.FAIL
    assert verdict.reason == (
        "test_two: power 0 W, expected 1000 W; also test_one: inconclusive, caused by BAT-1.1: "
        "no reply"
    )


def test_findings_fail_a_requirement_whose_own_tests_passed() -> None:
    findings = TestOutcome(
        findings_nodeid("suite.py::test_discharge", "BAT-2.2"),
        "failed",
        "1 protocol finding(s) while test_discharge ran: TID not echoed",
        ("BAT-2.2",),
    )
    verdict = fold_one(get("BAT-2.2"), [_outcome("test_one", "passed"), findings], CONTEXT)
    assert verdict.verdict == Verdict.FAIL
    assert verdict.reason == (
        "protocol findings: 1 protocol finding(s) while test_discharge ran: TID not echoed "
        "(its own 1 test(s) passed; the findings fail it)"
    )
    assert findings.findings_of == "suite.py::test_discharge"
    assert _outcome("test_one", "passed").findings_of is None
    assert findings_test("suite.py::test_x[findings]") is None


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'unsure'"):
        _outcome("test_one", "unsure")


def test_counts_name_fail_and_inconclusive_last() -> None:
    counts = summary([fold_one(get("BAT-2.2"), [_outcome("t", "inconclusive", "x")], CONTEXT)])
    assert counts["inconclusive"] == 1
    assert format_counts(counts) == [
        "1 inconclusive",
        "NOT CONFORMANT: 0 requirement(s) fail, 1 inconclusive (inconclusive: a test could not "
        "reach a verdict; see its reason)",
    ]
    assert format_counts({"pass": 3, "fail": 0, "inconclusive": 0}) == ["3 pass"]


# -- the report and its schema -------------------------------------------------------------------


def _record(outcomes: tuple[TestOutcome, ...], run_id: str = "inc-1", **changes: Any) -> RunRecord:
    options = run_options(
        profile_path=None,
        simulate="battery",
        faults=(),
        report_dir=Path("out"),
        time_scale=None,
        run_id=run_id,
    )
    profile = default_profile("battery")
    given: dict[str, Any] = {
        "options": options,
        "profile": profile,
        "started_at": 1_700_000_000.0,
        "context": RunContext(
            supported_topologies=frozenset(profile.device.topologies),
            run_topology=Topology.GATEWAY,
            today=date(2025, 1, 1),
        ),
        "outcomes": outcomes,
        "protocol": "ECHONET Lite",
        "topology": Topology.GATEWAY,
        "complete": True,
        "exit_status": 1,
        "finished_at": 1_700_000_010.0,
    }
    given.update(changes)
    return RunRecord(**given)


OUTCOMES = (
    TestOutcome("suite.py::test_power", "passed", "", ("BAT-2.2",)),
    TestOutcome(
        "suite.py::test_rest",
        "inconclusive",
        "the device did not come to rest before the request",
        ("BAT-2.2",),
        cause="BAT-2.6",
    ),
    TestOutcome("suite.py::test_energy", "failed", "expected 1 Wh", ("BAT-2.3",)),
)


def _document(outcomes: tuple[TestOutcome, ...] = OUTCOMES, **changes: Any) -> dict[str, Any]:
    return build_document(_record(outcomes, **changes), "0.0-test")


def test_a_report_with_an_inconclusive_requirement_validates() -> None:
    document = _document()
    validate_report(document)
    verdicts = {r["id"]: r for r in document["requirements"]}
    assert verdicts["BAT-2.2"]["verdict"] == "inconclusive"
    tests = {t["nodeid"]: t for t in verdicts["BAT-2.2"]["tests"]}
    assert tests["suite.py::test_rest"]["cause"] == "BAT-2.6"
    assert tests["suite.py::test_power"]["cause"] is None
    assert document["summary"]["inconclusive"] == 1 and document["summary"]["fail"] == 1


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("verdict", "unsure"),
        ("outcome", "unsure"),
        ("summary", "unsure"),
        ("cause", 3),
    ],
)
def test_the_schema_rejects_unknown_verdicts_and_outcomes(where: str, value: Any) -> None:
    document = _document()
    requirement = document["requirements"][0]
    if where == "verdict":
        requirement["verdict"] = value
    elif where == "outcome":
        document["requirements"][3]["tests"][0]["outcome"] = value
    elif where == "cause":
        document["requirements"][3]["tests"][0]["cause"] = value
    else:
        document["summary"][value] = 1
    with pytest.raises(ValidationError):
        validate_report(document)


def test_a_report_from_before_the_inconclusive_verdict_still_validates() -> None:
    document = _document(OUTCOMES[:1] + OUTCOMES[2:])
    del document["summary"]["inconclusive"]
    for requirement in document["requirements"]:
        for test in requirement["tests"]:
            del test["cause"]
    validate_report(document)


def test_the_terminal_table_ends_with_what_is_not_conformant() -> None:
    lines = format_summary(run_verdicts(_record(OUTCOMES)))
    (row,) = [line for line in lines if line.startswith("BAT-2.2 ")]
    assert re.match(r"BAT-2\.2 +inconclusive +test_rest: inconclusive, caused by BAT-2\.6", row)
    assert lines[-2] == "1 fail, 1 inconclusive, 11 not-tested"
    assert lines[-1].startswith("NOT CONFORMANT: 1 requirement(s) fail, 1 inconclusive")


# -- diff and combined runs ----------------------------------------------------------------------


def test_diff_says_why_a_requirement_became_inconclusive() -> None:
    before = _document((OUTCOMES[0],))
    after = _document(OUTCOMES)
    changes = {(c.kind, c.key): c for c in diff_reports(before, after)}
    verdict = changes[("verdict", "BAT-2.2")]
    assert (verdict.before, verdict.after) == ("pass", "inconclusive")
    assert verdict.note.startswith("test_rest: inconclusive, caused by BAT-2.6")
    test = changes[("test", "suite.py::test_rest")]
    assert (test.before, test.after) == ("absent", "inconclusive")
    assert test.note == "the device did not come to rest before the request (caused by BAT-2.6)"


def test_a_combined_run_carries_inconclusive_and_exits_non_zero(tmp_path: Path) -> None:
    only_inconclusive = OUTCOMES[:2]
    part = _document(only_inconclusive, run_id="all-battery")
    write_report(tmp_path / "battery" / "report.json", part)
    parts = [PartResult("battery", "all-battery", 1)]
    document = build_combined(
        "all", tmp_path, parts, started_at=0.0, finished_at=1.0, exit_status=1
    )
    validate_report(document)
    assert document["summary"]["inconclusive"] == 1
    assert document["parts"][0]["summary"]["inconclusive"] == 1
    lines = format_combined(document)
    assert lines[-1].startswith("NOT CONFORMANT: 0 requirement(s) fail, 1 inconclusive")
    assert any(line.startswith("battery ") and "1 inconclusive" in line for line in lines)
    assert _combined_exit(False, parts, document) == 1


def test_a_combined_part_from_before_the_inconclusive_verdict_is_read(tmp_path: Path) -> None:
    part = _document(OUTCOMES[:1], run_id="old-battery")
    old = copy.deepcopy(part)
    del old["summary"]["inconclusive"]
    write_report(tmp_path / "battery" / "report.json", old)
    document = build_combined(
        "old",
        tmp_path,
        [PartResult("battery", "old-battery", 0)],
        started_at=0.0,
        finished_at=1.0,
        exit_status=0,
    )
    validate_report(document)
    assert document["summary"]["inconclusive"] == 0


# -- the declaration -----------------------------------------------------------------------------


def test_a_declaration_with_an_inconclusive_requirement_says_so_in_both_languages(
    tmp_path: Path,
) -> None:
    only_inconclusive = OUTCOMES[:2]
    document = _document(only_inconclusive)
    document["simulated"] = False  # a real device: only the verdicts can stop the declaration
    write_report(tmp_path / "report.json", document)
    view = build_view(tmp_path)
    (device,) = view.devices
    row = next(r for r in device.requirements if r.id == "BAT-2.2")
    assert (row.verdict_ja, row.verdict_en) == ("判定不能", "INCONCLUSIVE")
    assert ("inconclusive", "判定不能", "INCONCLUSIVE", 1) in view.summary
    notices = [n for n in view.notices if "BAT-2.2" in n.en]
    assert [n.level for n in notices] == ["danger"]
    assert notices[0].ja.startswith("判定不能の要件があります: BAT-2.2")
    assert "Requirements INCONCLUSIVE: BAT-2.2" in notices[0].en
    assert "conformance is NOT shown" in notices[0].en
    # Not a declaration to sign as it stands: the banner sends the reader to the warnings.
    assert view.banner == "要確認: 冒頭の警告を参照 / CHECK THE WARNINGS ON PAGE 1"

    html = render_html(tmp_path)
    assert '<tr class="verdict-inconclusive" id="battery-BAT-2.2">' in html
    assert 'data-verdict="inconclusive">判定不能<br><span class="en" lang="en">INCONCLUSIVE' in html
    assert "the device did not come to rest before the request" in html
    assert 'href="#battery-BAT-2.6">BAT-2.6</a>' in html
