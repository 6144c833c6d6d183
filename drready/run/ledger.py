"""The record of a run: what ran, how each test ended, and what the device said, as plain values.

A :class:`RunRecord` is a snapshot: whoever runs the tests (the pytest recorder) accumulates the
run and hands out a new record whenever the report is rewritten. The report layer builds its
document from a record alone, so it needs neither pytest nor a live device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from drready.jcstar import JcStarList
from drready.model import Topology
from drready.profile import Profile
from drready.run.options import RunOptions

__all__ = [
    "FINDINGS_SUFFIX",
    "OUTCOMES",
    "SESSION_NODEID",
    "PartResult",
    "PartUsage",
    "RunContext",
    "RunRecord",
    "TestOutcome",
    "findings_nodeid",
    "findings_test",
]

#: Outcomes of one test. ``not-applicable``: the test found that what it checks does not apply to
#: this device or binding (:class:`drready.bindings.types.NotApplicable`), and said why.
#: ``inconclusive``: the test could not reach a verdict (:class:`drready.errors.Inconclusive`, or
#: an exchange that failed mid-test): its precondition could not be established, and ``cause``
#: names the requirement whose failure made it impossible, when known.
OUTCOMES = ("passed", "failed", "skipped", "error", "not-applicable", "inconclusive")

#: What a test's node ID gets to name the outcome its protocol findings are filed as: one per
#: requirement the findings are against (``suites/x.py::test_y::findings[BAT-1.1]``).
FINDINGS_SUFFIX = "::findings"
#: The node ID findings made outside any test are filed under (session setup and teardown, or
#: between two tests), with the same suffix.
SESSION_NODEID = "drready::session"


def findings_nodeid(nodeid: str, requirement: str) -> str:
    """The node ID of the outcome that files the findings made during ``nodeid`` against
    ``requirement``."""
    return f"{nodeid}{FINDINGS_SUFFIX}[{requirement}]"


def findings_test(nodeid: str) -> str | None:
    """The node ID of the test whose findings the outcome ``nodeid`` files (``SESSION_NODEID``
    for findings made outside any test); None for a test's own outcome."""
    head, found, tail = nodeid.rpartition(FINDINGS_SUFFIX + "[")
    if not found or not tail.endswith("]"):
        return None
    return head


@dataclass(frozen=True)
class TestOutcome:
    nodeid: str
    outcome: str  # one of OUTCOMES
    message: str
    requirements: tuple[str, ...]
    duration_s: float = 0.0
    device_time_s: float = 0.0
    evidence_first: int = 0
    evidence_last: int = 0
    #: For a failure: the last frames exchanged before it, so the report shows what was said.
    frames: tuple[dict[str, Any], ...] = ()
    #: Figures the test measured (name, value, unit), e.g. a response time: `drready diff`
    #: compares them between runs.
    metrics: tuple[tuple[str, float, str], ...] = ()
    #: For an inconclusive test: the requirement whose failure made it impossible ("BAT-2.6",
    #: "BAT-1.1" for an exchange that failed), when known.
    cause: str | None = None

    __test__ = False  # a value, not a pytest test class

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")

    @property
    def findings_of(self) -> str | None:
        """The test whose protocol findings this outcome files, or None for a test's own."""
        return findings_test(self.nodeid)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "message": self.message,
            "cause": self.cause,
            "duration_s": round(self.duration_s, 6),
            "device_time_s": round(self.device_time_s, 3),
            "evidence": [self.evidence_first, self.evidence_last],
            "frames": list(self.frames),
            "metrics": [
                {"name": name, "value": round(value, 6), "unit": unit}
                for name, value, unit in self.metrics
            ],
        }


@dataclass(frozen=True)
class RunContext:
    """What the folding into verdicts needs to know about the run besides the test outcomes."""

    supported_topologies: frozenset[str]
    run_topology: str | None
    jcstar_label: str | None = None
    jcstar_level: int | None = None
    jcstar_valid_until: date | None = None
    today: date = field(default_factory=date.today)
    #: How the device appears on IPA's list (Profile.jcstar_identity), and the list *-3.1 is
    #: checked against (None: the label is reported as declared).
    jcstar_maker: str | None = None
    jcstar_product: str | None = None
    jcstar_model: str | None = None
    jcstar_list: JcStarList | None = None


@dataclass(frozen=True)
class RunRecord:
    """One run as it stands: complete once ``exit_status`` is set."""

    options: RunOptions
    #: The effective profile (file or built-in, forced onto the simulator, on the device clock).
    profile: Profile
    #: Real (wall-clock) time the run started, seconds since the epoch.
    started_at: float
    context: RunContext
    outcomes: tuple[TestOutcome, ...] = ()
    #: The binding of the opened device: its protocol's name and its topology (None until the
    #: device is open).
    protocol: str | None = None
    topology: Topology | None = None
    #: What the device said about itself (identity, versions), read as it closed.
    device_info: Mapping[str, Any] = field(default_factory=dict)
    #: The device's clock when it was opened and now (or when it closed), harness seconds.
    device_time_start: float | None = None
    device_time_end: float | None = None
    #: The evidence log: how many records, and the digest of the last (None: never opened).
    evidence_records: int | None = None
    evidence_head_digest: str | None = None
    complete: bool = False
    exit_status: int | None = None
    finished_at: float | None = None
    #: The harness's own address on the device's network (for the pcapng trace).
    local_address: tuple[str, int] | None = None
    #: Why the evidence bundle could not be written (None: written, or nothing to write).
    bundle_problem: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcomes", tuple(self.outcomes))
        object.__setattr__(self, "device_info", MappingProxyType(dict(self.device_info)))

    @property
    def report_path(self) -> Path:
        return self.options.report_path

    @property
    def device_class(self) -> str:
        return self.profile.device.device_class


@dataclass(frozen=True)
class PartUsage:
    """What one part's child process cost, as the parent of the combined run measured it: from
    its spawn to its end, and its resource usage as the kernel handed it over when it was reaped
    (``os.wait4``)."""

    wall_s: float
    #: User plus system CPU time of the child (and of any children it waited for).
    cpu_s: float
    #: Its peak resident set (``ru_maxrss``), MB = 10**6 bytes.
    peak_rss_mb: float

    def to_json(self) -> dict[str, float]:
        return {
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }


@dataclass(frozen=True)
class PartResult:
    """What the parent of a combined run knows about one part's child run (one class, or one
    unit: a profile of ``--profile A --profile B``, or one of ``--units N``)."""

    device_class: str
    run_id: str
    #: The child's exit status (``drready run``'s: 0, 1, 2, 130, ...); None while it runs or when
    #: it never started or could not be waited for.
    exit_status: int | None = None
    #: Why the part is incomplete beyond what its own report says (None when nothing went wrong).
    problem: str | None = None
    #: The part's stable name, its directory in the run directory ("" : the class's name, as in
    #: a run of every class).
    name: str = ""
    #: The unit (device) the part tests ("": the part is a unit of its own). Parts of one unit
    #: are bindings of one device design: the combined report folds their verdicts together.
    unit: str = ""
    #: What its child process cost (None while it runs, or when it never started or could not be
    #: waited for).
    usage: PartUsage | None = None

    @property
    def part(self) -> str:
        """The part's name: its directory in the combined run's directory."""
        return self.name or self.device_class

    @property
    def unit_name(self) -> str:
        """The name of the unit the part tests: its own name unless it is one of several
        bindings of a unit."""
        return self.unit or self.part
