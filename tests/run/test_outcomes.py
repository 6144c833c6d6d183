"""What leaves a test without a verdict, and how findings are filed per test, without pytest."""

from __future__ import annotations

import pytest

from drready.echonet.errors import DecodeError, EchonetTimeout
from drready.errors import Inconclusive
from drready.evidence import EvidenceLog, Finding
from drready.modbus.errors import ModbusConnectError, ModbusTimeout
from drready.run.ledger import SESSION_NODEID
from drready.run.outcomes import FindingsFiler, findings_message, verdictless


@pytest.mark.parametrize(
    "exc",
    [
        EchonetTimeout(tid=1, attempts=3, timeout_s=2.0),
        DecodeError("frame too short"),
        ModbusTimeout("127.0.0.1:502", 1, "read", 40000, 3, 1.0),
        ModbusConnectError("connection refused"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_failed_exchange_is_inconclusive_except_in_a_test_of_communication(
    exc: Exception,
) -> None:
    reason, cause = verdictless(exc, "HP", ("HP-2.3",)) or ("", None)
    assert reason.startswith(f"an exchange failed: {type(exc).__name__}: ")
    assert cause == "HP-1.1"
    # A test of *-1.1 judges the exchange itself: a failure of it is a fail.
    assert verdictless(exc, "HP", ("HP-1.1", "HP-ID")) is None


def test_inconclusive_names_its_cause_for_the_class() -> None:
    assert verdictless(Inconclusive("no reply", cause="*-1.1"), "BAT", ()) == (
        "no reply",
        "BAT-1.1",
    )
    assert verdictless(Inconclusive("stuck in DR", cause="BAT-2.6"), "BAT", ("BAT-1.1",)) == (
        "stuck in DR",
        "BAT-2.6",
    )
    assert verdictless(Inconclusive("clock not readable"), "BAT", ()) == (
        "clock not readable",
        None,
    )
    assert verdictless(AssertionError("power 0 W"), "BAT", ()) is None
    assert verdictless(TimeoutError("not an exchange of ours"), "BAT", ()) is None


def test_findings_are_filed_under_the_test_they_were_made_in() -> None:
    evidence = EvidenceLog(lambda: 1_700_000_000.0)
    for n in range(4):
        evidence.add("tx" if n % 2 == 0 else "rx", "echonet", "127.0.0.1:3610", f"frame {n}")
    evidence.add("note", "harness", "", "a note")
    findings: list[Finding] = [Finding("*-1.1", "while opening")]
    filer = FindingsFiler("BAT")
    filer.set_aside(findings)  # the device opened
    findings.append(Finding("*-1.1", "between tests"))
    filer.set_aside(findings)  # the next test starts
    findings += [
        Finding("*-1.1", "TID not echoed", records=(0, 1), rule="tid-echo"),
        Finding("BAT-2.5", "witnesses disagree", records=(2, 4)),
        Finding("*-1.1", "duplicate reply", records=(3, 99)),
    ]
    taken = filer.take(findings)
    assert [f.summary for f in taken] == ["TID not echoed", "witnesses disagree", "duplicate reply"]
    outcomes = filer.outcomes(taken, "suite.py::test_x", "while test_x ran", evidence, (0, 5))
    assert [(o.nodeid, o.requirements, o.outcome) for o in outcomes] == [
        ("suite.py::test_x::findings[BAT-1.1]", ("BAT-1.1",), "failed"),
        ("suite.py::test_x::findings[BAT-2.5]", ("BAT-2.5",), "failed"),
    ]
    first, second = outcomes
    assert first.message == (
        "2 protocol finding(s) while test_x ran: TID not echoed; duplicate reply"
    )
    # Every frame the findings name (a record that does not exist is left out), a note never.
    assert [f["seq"] for f in first.frames] == [0, 1, 3]
    assert (first.evidence_first, first.evidence_last) == (0, 4)
    assert [f["seq"] for f in second.frames] == [2]
    assert first.findings_of == "suite.py::test_x"

    filer.closing(findings)  # the last test's teardown closes the device
    findings.append(Finding("*-1.1", "while closing"))
    assert filer.take(findings) == []
    (session,) = filer.session_outcomes(findings, evidence)
    assert session.nodeid == f"{SESSION_NODEID}::findings[BAT-1.1]"
    assert session.message == (
        "3 protocol finding(s) outside any test (opening or closing the device, or between "
        "tests): while opening; between tests; while closing"
    )
    assert (session.evidence_first, session.evidence_last) == (0, 5)
    assert filer.session_outcomes(findings, evidence) == []


def test_a_findings_message_quotes_five_and_counts_the_rest() -> None:
    findings = [Finding("*-1.1", f"finding {n}") for n in range(8)]
    assert findings_message(findings, "during x") == (
        "8 protocol finding(s) during x: finding 0; finding 1; finding 2; finding 3; "
        "finding 4; and 3 more"
    )
    assert findings_message(findings[:5], "during x").endswith("finding 4")
