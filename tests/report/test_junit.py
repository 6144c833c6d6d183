"""The combined JUnit: every part's suites under one root, and a part without JUnit as an error."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from drready.report.junit import combine_junit, write_combined_junit

PYTEST_JUNIT = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
    '<testsuite name="pytest" errors="0" failures="{failures}" skipped="1" tests="3" time="1.5">'
    '<testcase classname="suites.x" name="a" time="0.5" />'
    '<testcase classname="suites.x" name="b" time="0.5"><failure message="no" /></testcase>'
    '<testcase classname="suites.x" name="c" time="0.5"><skipped message="n/a" /></testcase>'
    "</testsuite></testsuites>"
)


def _part(run_dir: Path, name: str, text: str) -> None:
    (run_dir / name).mkdir()
    (run_dir / name / "junit.xml").write_text(text, encoding="utf-8")


def test_parts_suites_are_named_after_the_parts_and_totalled(tmp_path: Path) -> None:
    _part(tmp_path, "battery", PYTEST_JUNIT.format(failures=1))
    _part(tmp_path, "heatpump", PYTEST_JUNIT.format(failures="x"))  # garbled: counts nothing
    write_combined_junit(tmp_path, ["battery", "heatpump"], "r1")
    root = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites" and root.get("name") == "drready r1"
    assert [s.get("name") for s in root] == ["battery", "heatpump"]
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("6", "1", "2")
    assert root.get("time") == "3.000"
    assert len(root.findall("testsuite/testcase")) == 6


def test_a_part_without_junit_is_an_error_saying_why(tmp_path: Path) -> None:
    _part(tmp_path, "battery", PYTEST_JUNIT.format(failures=1))
    _part(tmp_path, "hybrid", "<testsuites><testsuite")  # cut off
    data = combine_junit(
        tmp_path, ["battery", "heatpump", "hybrid"], "r", {"heatpump": "was killed"}
    )
    root = ElementTree.fromstring(data)
    assert [s.get("name") for s in root] == ["battery", "heatpump", "hybrid"]
    assert root.get("errors") == "2" and root.get("tests") == "5"
    heatpump = root[1].find("testcase/error")
    assert heatpump is not None and heatpump.get("message") == "the heatpump run was killed"
    hybrid = root[2].find("testcase/error")
    assert hybrid is not None and "junit.xml cannot be read" in str(hybrid.get("message"))
