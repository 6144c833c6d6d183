"""``drready merge``: shards made apart, combined into one run that ``drready verify`` accepts.

A plain combined run of the battery and the heat pump is the reference. The shards are two
combined runs of one class each (``drready run`` with the classes narrowed, as a shard is one
combined run of some of the parts), marked as shard 1/2 and 2/2 of that pair of parts the way
``drready run --shard`` marks them (``report.json`` field ``shard``), and sealed again with the
combined manifest, as a shard run seals itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from drready.bundle import write_combined_manifest
from drready.bundle.merge import MISSING, merge_runs
from drready.catalog import for_class
from drready.errors import UsageError
from drready.report.json_report import load_report, write_report

#: Each fixture runs whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

RUN_TIMEOUT_S = 120
#: ``drready`` with the classes of a combined run narrowed to those given.
NARROWED = (
    "import sys\n"
    "from drready.cli import main\n"
    "sys.exit(main(sys.argv[2:], combined_classes=sys.argv[1].split(',')))\n"
)
CLASSES = ("battery", "heatpump")


def _drready(*args: str, classes: tuple[str, ...] = CLASSES) -> subprocess.CompletedProcess[str]:
    if args and args[0] == "run":
        args = ("run", "--binding", "echonet", *args[1:])  # each class's gateway part
    command = [sys.executable, "-c", NARROWED, ",".join(classes), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def _verdicts(run_dir: Path) -> dict[str, tuple[str, str]]:
    return {
        r["id"]: (r["verdict"], r["reason"])
        for r in load_report(run_dir / "report.json")["requirements"]
    }


def _as_shard(run_dir: Path, index: int, count: int, parts: tuple[str, ...] = CLASSES) -> Path:
    """Mark a combined run as shard INDEX/COUNT of a run of ``parts`` and seal it again."""
    report = load_report(run_dir / "report.json")
    report["shard"] = {"index": index, "count": count, "parts": list(parts)}
    write_report(run_dir / "report.json", report)
    write_combined_manifest(run_dir)
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``plain`` (both classes in one run) and ``one-battery``, ``one-heatpump`` (one each)."""
    root = tmp_path_factory.mktemp("merge")
    done = _drready("run", "--report-dir", str(root / "plain"), "--run-id", "plain")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for cls in CLASSES:
        one = root / f"one-{cls}"
        done = _drready("run", "--report-dir", str(one), "--run-id", f"one-{cls}", classes=(cls,))
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return root


@pytest.fixture
def shards(runs: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Shard 1/2 (battery) and 2/2 (heat pump), fresh copies for each test."""
    made = []
    for index, cls in enumerate(CLASSES, start=1):
        target = tmp_path / f"shard-{index}"
        shutil.copytree(runs / f"one-{cls}", target)
        made.append(_as_shard(target, index, len(CLASSES)))
    return made[0], made[1]


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "drready.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("drready: merge: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_merged_shards_give_the_plain_runs_verdicts_and_verify(
    runs: Path, shards: tuple[Path, Path], tmp_path: Path
) -> None:
    merged = tmp_path / "merged"
    done = _cli("merge", *shards, "--report-dir", merged, "--run-id", "merged")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert f"report: {merged / 'report.json'}" in done.stdout
    assert _verdicts(merged) == _verdicts(runs / "plain")
    report = load_report(merged / "report.json")
    plain = load_report(runs / "plain" / "report.json")
    assert report["run_id"] == "merged" and report["complete"] is True
    assert report["exit_status"] == 0 and report["summary"] == plain["summary"]
    assert report["device_classes"] == list(CLASSES)
    assert [p["run_id"] for p in report["parts"]] == [
        "one-battery-battery",
        "one-heatpump-heatpump",
    ]
    # What each part's process cost, as its shard measured it.
    for part, cls in zip(report["parts"], CLASSES, strict=True):
        shard = load_report(runs / f"one-{cls}" / "report.json")["parts"][0]
        assert part["usage"] == shard["usage"] and part["usage"]["cpu_s"] > 0, part
    verified = _cli("verify", merged)
    assert verified.returncode == 0, verified.stdout
    # Each part is the shard's own, byte for byte.
    for shard, cls in zip(shards, CLASSES, strict=True):
        for name in ("manifest.json", "evidence.jsonl", "report.json", "junit.xml"):
            assert (merged / cls / name).read_bytes() == (shard / cls / name).read_bytes()
    record = json.loads((merged / "merge.json").read_text(encoding="utf-8"))
    assert [i["shard"]["index"] for i in record["inputs"]] == [1, 2]
    assert record["missing_parts"] == []
    # The declaration renders from the merged run and joins its bundle.
    declared = _cli("report", merged, "--format", "html")
    assert declared.returncode == 0, declared.stderr
    assert _cli("verify", merged).returncode == 0


def test_merged_junit_holds_every_parts_tests(
    runs: Path, shards: tuple[Path, Path], tmp_path: Path
) -> None:
    merged = tmp_path / "merged"
    merge_runs(list(shards), merged, "m")
    root = ElementTree.parse(merged / "junit.xml").getroot()
    assert root.tag == "testsuites"
    assert [suite.get("name") for suite in root] == list(CLASSES)
    for suite, cls in zip(root, CLASSES, strict=True):
        own = ElementTree.parse(merged / cls / "junit.xml").getroot()
        assert len(suite.findall("testcase")) == len(own.findall(".//testcase")) > 0
    assert int(root.get("tests", "0")) == len(root.findall(".//testcase"))
    # A plain combined run writes the same combined JUnit.
    plain = ElementTree.parse(runs / "plain" / "junit.xml").getroot()
    assert [suite.get("name") for suite in plain] == list(CLASSES)
    assert plain.get("tests") == root.get("tests")


def test_a_single_class_run_directory_is_a_part(runs: Path, tmp_path: Path) -> None:
    merged = tmp_path / "merged"
    result = merge_runs([runs / "one-heatpump" / "heatpump", runs / "one-battery"], merged, "m")
    assert result.exit_status == 0 and result.missing == ()
    assert [p["device_class"] for p in result.report["parts"]] == list(CLASSES)
    assert _verdicts(merged) == _verdicts(runs / "plain")
    assert _cli("verify", merged).returncode == 0


def test_a_missing_shard_merges_with_its_parts_not_tested_and_fails(
    shards: tuple[Path, Path], tmp_path: Path
) -> None:
    merged = tmp_path / "merged"
    done = _cli("merge", shards[0], "--report-dir", merged)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    assert "no input holds part heatpump" in done.stderr
    report = load_report(merged / "report.json")
    assert report["complete"] is False and report["exit_status"] == 1
    heatpump = [r for r in report["requirements"] if r["id"].startswith("HP-")]
    assert len(heatpump) == len(for_class("heatpump"))
    assert all(r["verdict"] == "not-tested" and MISSING in r["reason"] for r in heatpump)
    battery = [r for r in report["requirements"] if r["id"].startswith("BAT-")]
    assert any(r["verdict"] == "pass" for r in battery)
    junit = ElementTree.parse(merged / "junit.xml").getroot()
    assert junit.get("errors") == "1" and junit.find(".//testcase/error") is not None
    assert _cli("verify", merged).returncode == 0


def test_an_altered_part_is_refused_by_name(shards: tuple[Path, Path], tmp_path: Path) -> None:
    evidence = shards[1] / "heatpump" / "evidence.jsonl"
    data = bytearray(evidence.read_bytes())
    data[200] ^= 0x01
    evidence.write_bytes(bytes(data))
    merged = tmp_path / "merged"
    line = _one_line(_cli("merge", *shards, "--report-dir", merged))
    assert f"part heatpump of {shards[1]} does not verify" in line
    assert "heatpump/evidence.jsonl" in line
    assert not merged.exists()
    assert not [p for p in tmp_path.iterdir() if "merging" in p.name]


def test_the_same_part_twice_is_refused(
    runs: Path, shards: tuple[Path, Path], tmp_path: Path
) -> None:
    merged = tmp_path / "merged"
    line = _one_line(_cli("merge", *shards, runs / "one-heatpump", "--report-dir", merged))
    assert f"part heatpump is in both {shards[1]} and {runs / 'one-heatpump'}" in line
    assert not merged.exists()


def test_the_same_shard_twice_is_refused(runs: Path, tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    shutil.copytree(runs / "one-battery", a)
    shutil.copytree(runs / "one-heatpump", b)
    _as_shard(a, 1, 2)
    _as_shard(b, 1, 2)
    line = _one_line(_cli("merge", a, b, "--report-dir", tmp_path / "merged"))
    assert f"{a} and {b} are both shard 1/2" in line


def test_shards_of_different_counts_are_refused(runs: Path, tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    shutil.copytree(runs / "one-battery", a)
    shutil.copytree(runs / "one-heatpump", b)
    _as_shard(a, 1, 2)
    _as_shard(b, 2, 3)
    line = _one_line(_cli("merge", a, b, "--report-dir", tmp_path / "merged"))
    assert "different shard counts" in line and "1/2" in line and "2/3" in line


def test_parts_of_another_drready_version_are_refused(
    shards: tuple[Path, Path], tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match=r"made by drready .*, this is drready 99\.0"):
        merge_runs(list(shards), tmp_path / "merged", "m", version="99.0")
    assert not (tmp_path / "merged").exists()


def test_a_non_empty_report_dir_is_refused(shards: tuple[Path, Path], tmp_path: Path) -> None:
    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "keep.txt").write_text("mine\n", encoding="utf-8")
    line = _one_line(_cli("merge", *shards, "--report-dir", merged))
    assert "exists and is not empty" in line
    assert (merged / "keep.txt").read_text(encoding="utf-8") == "mine\n"
