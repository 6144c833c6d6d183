"""``drready diff RUN_A RUN_B``: what changed between two runs, e.g. two firmware builds.

Three kinds of change, in this order:
- verdicts: a requirement whose verdict differs (or that only one run has);
- tests: a test whose outcome differs (or that only one run has);
- figures: a metric a test recorded (``dut.record_metric``: a response time, a start offset) that
  moved by more than the threshold, and each test's device time likewise.

Either run may be a single-class run or a combined one; both are compared requirement by
requirement and test by test (tests are matched by their node ID).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drready.report.json_report import load_report
from drready.report.verdicts import Verdict

#: A figure counts as moved when it changed by more than this share of the larger value...
RELATIVE_DRIFT = 0.10
#: ...and by more than this absolute amount in its own unit (a 0 s -> 0.4 s "drift" is noise).
ABSOLUTE_DRIFT = {"s": 1.0, "Wh": 10.0, "W": 10.0, "": 0.01}
DEFAULT_ABSOLUTE_DRIFT = 1.0


class DiffError(Exception):
    """A run directory that cannot be compared (no report, invalid report): one line."""


@dataclass(frozen=True)
class Change:
    kind: str  # "verdict", "test", "metric"
    key: str  # requirement ID, test node ID, or "nodeid :: metric"
    before: str
    after: str
    note: str = ""

    def line(self) -> str:
        text = f"{self.kind:<8} {self.key}: {self.before} -> {self.after}"
        return f"{text} ({self.note})" if self.note else text

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "key": self.key,
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }


def _load(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "report.json"
    try:
        return load_report(path)
    except FileNotFoundError:
        raise DiffError(f"{path}: no report here (expected a run directory)") from None
    except (OSError, ValueError) as exc:  # JSONDecodeError and ValidationError are ValueErrors
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DiffError(f"{path}: not a valid drready report: {first}") from None


def _where(report: Mapping[str, Any], requirement: Mapping[str, Any]) -> str:
    """In a run of several units of one class, whose requirement (" [unit]"); else nothing, so
    that a run of every class compares with one made before parts had names."""
    requirements = report.get("requirements", [])
    names = {r.get("unit") or r.get("part") for r in requirements}
    units = len(names) > len(report.get("device_classes", []))
    unit = requirement.get("unit") or requirement.get("part")
    return f" [{unit}]" if units and unit else ""


def _tests(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    tests: dict[str, dict[str, Any]] = {}
    for requirement in report["requirements"]:
        for test in requirement["tests"]:
            # A requirement folded over a unit's bindings has each test once per part.
            over = f" ({test['part']})" if test.get("part") else ""
            tests.setdefault(test["nodeid"] + over + _where(report, requirement), test)
    return tests


def _moved(before: float, after: float, unit: str) -> bool:
    delta = abs(after - before)
    floor = ABSOLUTE_DRIFT.get(unit, DEFAULT_ABSOLUTE_DRIFT)
    return delta > floor and delta > RELATIVE_DRIFT * max(abs(before), abs(after))


def _figure(value: float, unit: str) -> str:
    return f"{value:.6g} {unit}".rstrip()


def _drift(key: str, before: float, after: float, unit: str) -> Change | None:
    if not _moved(before, after, unit):
        return None
    change = after - before
    percent = f", {change / before:+.0%}" if before else ""
    note = f"{change:+.6g} {unit}{percent}".replace(" ,", ",")
    return Change("metric", key, _figure(before, unit), _figure(after, unit), note)


def diff_reports(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    verdicts_a = {r["id"] + _where(a, r): r for r in a["requirements"]}
    verdicts_b = {r["id"] + _where(b, r): r for r in b["requirements"]}
    for rid in _ordered(verdicts_a, verdicts_b):
        before, after = verdicts_a.get(rid), verdicts_b.get(rid)
        old = before["verdict"] if before else "absent"
        new = after["verdict"] if after else "absent"
        if old != new:
            # Why it now fails or cannot be judged; a pass needs no reason.
            shown = (Verdict.FAIL, Verdict.INCONCLUSIVE)
            reason = after["reason"] if after and new in shown else ""
            changes.append(Change("verdict", rid, old, new, reason))
    tests_a, tests_b = _tests(a), _tests(b)
    for nodeid in _ordered(tests_a, tests_b):
        before, after = tests_a.get(nodeid), tests_b.get(nodeid)
        old = before["outcome"] if before else "absent"
        new = after["outcome"] if after else "absent"
        if old != new:
            changes.append(Change("test", nodeid, old, new, _test_note(after)))
        if before is None or after is None:
            continue
        metrics_a = {m["name"]: m for m in before.get("metrics", [])}
        metrics_b = {m["name"]: m for m in after.get("metrics", [])}
        for name in _ordered(metrics_a, metrics_b):
            m_a, m_b = metrics_a.get(name), metrics_b.get(name)
            key = f"{nodeid} :: {name}"
            if m_a is None or m_b is None:
                present = m_a or m_b
                assert present is not None
                value = _figure(present["value"], present["unit"])
                changes.append(
                    Change(
                        "metric",
                        key,
                        "absent" if m_a is None else value,
                        value if m_a is None else "absent",
                    )
                )
                continue
            drift = _drift(key, m_a["value"], m_b["value"], m_b["unit"])
            if drift is not None:
                changes.append(drift)
        # Device time, not wall time: wall time says more about the machine than the device
        # (and in virtual time it is the device time anyway).
        if "device_time_s" in before and "device_time_s" in after:
            key = f"{nodeid} :: device_time_s"
            drift = _drift(key, before["device_time_s"], after["device_time_s"], "s")
            if drift is not None:
                changes.append(drift)
    return changes


def _test_note(test: Mapping[str, Any] | None) -> str:
    if test is None:
        return ""
    cause = test.get("cause")
    message = str(test.get("message", ""))
    return f"{message} (caused by {cause})" if cause else message


def _ordered(a: Mapping[str, Any], b: Mapping[str, Any]) -> Iterable[str]:
    """Keys of ``a`` in its order, then those only ``b`` has, in its order."""
    return [*a, *(k for k in b if k not in a)]


def diff_runs(run_a: Path, run_b: Path) -> tuple[dict[str, Any], dict[str, Any], list[Change]]:
    a, b = _load(run_a), _load(run_b)
    return a, b, diff_reports(a, b)


def format_diff(
    run_a: Path, a: Mapping[str, Any], run_b: Path, b: Mapping[str, Any], changes: list[Change]
) -> list[str]:
    lines = [f"A: {run_a} (run {a['run_id']}, drready {a['harness']['version']})"]
    lines.append(f"B: {run_b} (run {b['run_id']}, drready {b['harness']['version']})")
    for side, report in (("A", a), ("B", b)):
        if not report["complete"]:
            lines.append(f"note: run {side} is incomplete (interrupted); absent items may be why")
    if not changes:
        lines.append("no change in verdicts, test outcomes or figures")
        return lines
    lines += [change.line() for change in changes]
    counts = {kind: sum(c.kind == kind for c in changes) for kind in ("verdict", "test", "metric")}
    lines.append(", ".join(f"{n} {kind} change{'s' * (n != 1)}" for kind, n in counts.items()))
    return lines


def to_json(changes: list[Change]) -> str:
    return json.dumps([c.to_json() for c in changes], ensure_ascii=False, indent=2)
