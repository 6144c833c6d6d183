"""The JUnit XML of a combined run: every part's own ``junit.xml`` in one file for a CI's test
results view.

Each part's run writes ``PART/junit.xml`` (pytest's ``<testsuites>`` with one ``<testsuite>``).
The combined ``junit.xml`` holds those test suites unchanged but for their name, which becomes the
part's name, under one ``<testsuites>`` with the totals. A part that left no JUnit (killed, never
started, missing from a merge) becomes a suite with one ``<error>`` test case saying why, so a CI
shows the gap instead of fewer tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from pathlib import Path

from drready.report.json_report import write_bytes_atomic

__all__ = ["JUNIT", "combine_junit", "write_combined_junit"]

#: A run's JUnit file, in each part's directory and in the combined run's.
JUNIT = "junit.xml"
_COUNTS = ("tests", "failures", "errors", "skipped")


def _suites(path: Path) -> list[ElementTree.Element] | str:
    """The test suites of one part's JUnit file, or why it cannot be read."""
    try:
        root = ElementTree.parse(path).getroot()
    except FileNotFoundError:
        return "it left no JUnit file"
    except (OSError, ElementTree.ParseError) as exc:
        return f"its {JUNIT} cannot be read ({exc})"
    if root.tag == "testsuite":
        return [root]
    if root.tag == "testsuites":
        return list(root.iter("testsuite"))
    return f"its {JUNIT} is not JUnit XML (root <{root.tag}>)"


def _number(text: str | None) -> float:
    """A count or time attribute; a missing or garbled one counts as nothing."""
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def _missing_suite(name: str, why: str) -> ElementTree.Element:
    suite = ElementTree.Element(
        "testsuite", name=name, tests="1", errors="1", failures="0", skipped="0", time="0"
    )
    case = ElementTree.SubElement(suite, "testcase", classname="drready", name=f"{name} run")
    error = ElementTree.SubElement(case, "error", message=f"the {name} run {why}")
    error.text = f"the {name} run {why}: none of its tests is in this file"
    return suite


def combine_junit(
    run_dir: Path, parts: Sequence[str], run_id: str, problems: Mapping[str, str] | None = None
) -> bytes:
    """The combined JUnit document of the parts (directory names under ``run_dir``), in order.

    ``problems``: why a part is incomplete beyond its own files (said for a part without JUnit).
    """
    root = ElementTree.Element("testsuites", name=f"drready {run_id}")
    totals = dict.fromkeys(_COUNTS, 0)
    time_s = 0.0
    for name in parts:
        suites = _suites(run_dir / name / JUNIT)
        if isinstance(suites, str):
            suites = [_missing_suite(name, (problems or {}).get(name) or suites)]
        for suite in suites:
            suite.set("name", name)
            for key in _COUNTS:
                totals[key] += int(_number(suite.get(key)))
            time_s += _number(suite.get("time"))
            root.append(suite)
    for key in _COUNTS:
        root.set(key, str(totals[key]))
    root.set("time", f"{time_s:.3f}")
    text: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return text


def write_combined_junit(
    run_dir: Path, parts: Sequence[str], run_id: str, problems: Mapping[str, str] | None = None
) -> Path:
    """Write ``run_dir/junit.xml`` (see :func:`combine_junit`)."""
    path = run_dir / JUNIT
    write_bytes_atomic(path, combine_junit(run_dir, parts, run_id, problems))
    return path
