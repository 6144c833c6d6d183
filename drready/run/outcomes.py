"""How the end of a test becomes outcomes in the run record, without pytest.

Two things the recorder asks: whether what a test raised leaves it without a verdict
(:func:`verdictless`: an :class:`~drready.errors.Inconclusive`, or an exchange that failed on the
wire), and which protocol findings the device's monitor made during it (:class:`FindingsFiler`:
those made during a test are filed after it, one failed outcome per requirement they are against;
those made outside any test at the end of the session). Both speak of ``*-1.1`` as the class
under test's own requirement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drready.errors import ExchangeError, Inconclusive
from drready.evidence import EvidenceLog, Finding, Record
from drready.run.ledger import SESSION_NODEID, TestOutcome, findings_nodeid

__all__ = [
    "FAILURE_FRAMES",
    "FINDING_SUMMARIES",
    "FindingsFiler",
    "class_requirement",
    "exception_line",
    "findings_message",
    "frame",
    "inconclusive_text",
    "last_frames",
    "verdictless",
]

#: How many of the frames exchanged before a failure the report quotes (all are in the evidence).
FAILURE_FRAMES = 12
#: How many findings' summaries the message of a findings outcome quotes (its frames keep every
#: record the findings name).
FINDING_SUMMARIES = 5
#: The requirement an exchange that failed is against, and the cause of the tests it stopped.
COMMUNICATION = "*-1.1"


def frame(record: Record) -> dict[str, Any]:
    """An evidence record as the report quotes a frame."""
    return {
        "seq": record.seq,
        "time": datetime.fromtimestamp(record.time, UTC).isoformat(timespec="milliseconds"),
        "kind": record.kind,
        "peer": record.peer,
        "summary": record.summary,
        "data_hex": record.data_hex,
    }


def last_frames(records: Sequence[Record]) -> tuple[dict[str, Any], ...]:
    """The last :data:`FAILURE_FRAMES` frames sent or received among ``records``."""
    exchanged = [r for r in records if r.kind in ("tx", "rx")][-FAILURE_FRAMES:]
    return tuple(frame(r) for r in exchanged)


def class_requirement(rid: str, prefix: str) -> str:
    """``*-1.1`` as the requirement of the class with ``prefix`` (``BAT-1.1``); others as they
    are."""
    return f"{prefix}-{rid[2:]}" if rid.startswith("*-") else rid


def exception_line(exc: BaseException) -> str:
    """``EchonetTimeout: no response ...``: the exception's class and its first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def inconclusive_text(reason: str, cause: str | None) -> str:
    """The one line pytest shows for an inconclusive test."""
    return f"Inconclusive: {reason}" + (f" (caused by {cause})" if cause else "")


def verdictless(
    exc: BaseException, prefix: str, requirements: Sequence[str]
) -> tuple[str, str | None] | None:
    """(reason, cause) when ``exc`` leaves a test of ``requirements`` (already with the class's
    ``prefix``) without a verdict; None when it is an ordinary failure.

    An exchange that failed is inconclusive, caused by ``*-1.1``: it says nothing about what the
    test judges. Except in a test of ``*-1.1`` itself, where the exchange is what it judges: a
    fail."""
    if isinstance(exc, Inconclusive):
        return exc.reason, class_requirement(exc.cause, prefix) if exc.cause else None
    if isinstance(exc, ExchangeError):
        communication = class_requirement(COMMUNICATION, prefix)
        if communication in requirements:
            return None
        return f"an exchange failed: {exception_line(exc)}", communication
    return None


def findings_message(findings: Sequence[Finding], during: str) -> str:
    """How many findings, when, and the first :data:`FINDING_SUMMARIES` of them."""
    shown = "; ".join(f.summary for f in findings[:FINDING_SUMMARIES])
    more = len(findings) - FINDING_SUMMARIES
    if more > 0:
        shown += f"; and {more} more"
    return f"{len(findings)} protocol finding(s) {during}: {shown}"


@dataclass
class FindingsFiler:
    """Files a device's findings (its append-only ``findings`` list) as outcomes.

    A cursor says how far the list is filed. Findings made before a test starts (opening the
    device, between tests) are set aside for the session; those made from then until the test
    ends are the test's; once the device begins closing, what follows is the session's again.
    """

    #: The class under test's requirement prefix ("BAT"), for ``*-`` requirements.
    prefix: str
    #: How many of the device's findings are filed or set aside.
    seen: int = 0
    #: Findings made outside any test, filed by :meth:`session_outcomes`.
    outside: list[Finding] = field(default_factory=list)
    #: How many findings the device had when it began closing (None: not closing).
    closed_at: int | None = None

    def set_aside(self, findings: Sequence[Finding]) -> None:
        """What is not filed yet was made outside any test."""
        end = len(findings)
        self.outside += findings[self.seen : end]
        self.seen = end

    def closing(self, findings: Sequence[Finding]) -> None:
        """The device begins closing: what it finds from now on belongs to no test."""
        self.closed_at = len(findings)

    def take(self, findings: Sequence[Finding]) -> list[Finding]:
        """The findings since the last taken, up to where the device began closing."""
        end = len(findings)
        if self.closed_at is not None:
            end = min(end, max(self.closed_at, self.seen))
        taken = list(findings[self.seen : end])
        self.seen = end
        return taken

    def outcomes(
        self,
        findings: Sequence[Finding],
        nodeid: str,
        during: str,
        evidence: EvidenceLog,
        span: tuple[int, int],
    ) -> list[TestOutcome]:
        """One failed outcome per requirement ``findings`` are against (in the order first
        named), filed under ``nodeid``, quoting every frame they name. ``span`` is the evidence
        range shown when they name no record."""
        by_requirement: dict[str, list[Finding]] = {}
        for finding in findings:
            rid = class_requirement(finding.requirement, self.prefix)
            by_requirement.setdefault(rid, []).append(finding)
        outcomes = []
        for rid, mine in by_requirement.items():
            seqs = sorted({seq for f in mine for seq in f.records if 0 <= seq < len(evidence)})
            frames: tuple[dict[str, Any], ...] = ()
            if seqs:
                wanted = set(seqs)
                records = evidence.since(seqs[0])[: seqs[-1] - seqs[0] + 1]
                frames = tuple(
                    frame(r) for r in records if r.seq in wanted and r.kind in ("tx", "rx")
                )
            first, last = (seqs[0], seqs[-1] + 1) if seqs else span
            outcomes.append(
                TestOutcome(
                    nodeid=findings_nodeid(nodeid, rid),
                    outcome="failed",
                    message=findings_message(mine, during),
                    requirements=(rid,),
                    evidence_first=first,
                    evidence_last=last,
                    frames=frames,
                )
            )
        return outcomes

    def session_outcomes(
        self, findings: Sequence[Finding], evidence: EvidenceLog
    ) -> list[TestOutcome]:
        """At the end of the session: everything not filed under a test, as the session's."""
        self.closed_at = None
        self.set_aside(findings)
        outside, self.outside = self.outside, []
        if not outside:
            return []
        during = "outside any test (opening or closing the device, or between tests)"
        return self.outcomes(outside, SESSION_NODEID, during, evidence, (0, len(evidence)))
