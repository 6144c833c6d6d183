"""docs/ci: the GitHub Actions and GitLab CI examples are valid YAML (when PyYAML is here) and every
``drready`` command they run is one the drready command line accepts."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drready.cli.main import _parser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ci"
GITHUB = DOCS / "github-actions.yml"
GITLAB = DOCS / "gitlab-ci.yml"
#: What the CI variables stand for when a command is parsed: shard 1 of 3.
VARIABLES = {"SHARDS": "3", "CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "3", "status": "0"}

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is not a dependency of drready
    yaml = None


def _expand(line: str) -> str:
    line = re.sub(r"\$\{\{\s*matrix\.shard\s*\}\}", "1", line)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: VARIABLES.get(m.group(1), m.group(0)), line)


def drready_commands(text: str) -> list[list[str]]:
    """Every ``drready`` command in a CI file's shell lines (``run:`` or a script item), as
    arguments, with its CI variables standing for shard 1 of 3."""
    commands = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        line = re.sub(r"^(?:-\s+)?(?:run:\s+)?", "", line)
        for command in re.split(r"\|\||&&|;", line):
            if command.strip().startswith("drready "):
                commands.append(shlex.split(_expand(command))[1:])
    return commands


def _unknown(args: list[str]) -> str | None:
    """Why the drready command line refuses ``args`` (None: it accepts them)."""
    try:
        _parser().parse_args(args)
    except SystemExit as exc:
        return f"drready {' '.join(args)}: refused (exit {exc.code})"
    return None


def _has_shard_option() -> bool:
    return _unknown(["run", "--shard", "1/2"]) is None


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_each_ci_example_shards_merges_verifies_and_declares(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = drready_commands(path.read_text(encoding="utf-8"))
    verbs = [c[0] for c in commands]
    assert verbs == ["run", "merge", "verify", "report"], commands
    run, merge, verify, report = commands
    assert (
        run[run.index("--shard") + 1] == "1/3" and run[run.index("--report-dir") + 1] == "shard-1"
    )
    assert merge == ["merge", "shard-*", "--report-dir", "merged"]
    assert verify == ["verify", "merged"]
    assert report == ["report", "merged", "--format", "html"]
    for args in (merge, verify, report):
        assert _unknown(args) is None, capsys.readouterr().err
    if not _has_shard_option():
        pytest.xfail("drready run --shard K/N is not in this drready yet (issue 14 item 4)")
    assert _unknown(run) is None, capsys.readouterr().err


def test_the_command_check_finds_a_wrong_command(capsys: pytest.CaptureFixture[str]) -> None:
    commands = drready_commands("    - drready merge --report-dir merged shard-* --no-such\n")
    assert commands == [["merge", "--report-dir", "merged", "shard-*", "--no-such"]]
    assert _unknown(commands[0]) is not None
    assert _unknown(["merged", "shard-1"]) is not None
    capsys.readouterr()


def _yaml(path: Path) -> Any:
    if yaml is None:
        pytest.skip("PyYAML is not installed: only the commands were checked")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _steps(job: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from job.get("steps", [])


def test_github_example_is_a_shard_matrix_then_a_merge() -> None:
    workflow = _yaml(GITHUB)
    jobs = workflow["jobs"]
    shard, merge = jobs["shard"], jobs["merge"]
    shards = shard["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1))
    assert int(shard["env"]["SHARDS"]) == len(shards)
    assert shard["strategy"]["fail-fast"] is False
    uploads = [s for s in _steps(shard) if str(s.get("uses", "")).startswith("actions/upload")]
    assert uploads and uploads[0]["with"]["name"] == "shard-${{ matrix.shard }}"
    assert "!cancelled()" in uploads[0]["if"]
    assert merge["needs"] == "shard" and "!cancelled()" in merge["if"]
    downloads = [s for s in _steps(merge) if str(s.get("uses", "")).startswith("actions/download")]
    assert downloads and downloads[0]["with"]["pattern"] == "shard-*"
    junit = [s for s in _steps(merge) if "junit" in str(s.get("uses", ""))]
    assert junit and junit[0]["with"]["report_paths"] == "merged/junit.xml"
    kept = [s for s in _steps(merge) if str(s.get("uses", "")).startswith("actions/upload")]
    assert kept and kept[0]["with"]["path"] == "merged"


def test_gitlab_example_is_parallel_shards_then_a_merge() -> None:
    pipeline = _yaml(GITLAB)
    shard, merge = pipeline["drready-shard"], pipeline["drready-merge"]
    assert isinstance(shard["parallel"], int) and shard["parallel"] > 1
    assert shard["artifacts"]["when"] == "always" and shard["artifacts"]["paths"] == ["shard-*/"]
    assert merge["needs"] == [{"job": "drready-shard", "artifacts": True}]
    assert merge["when"] == "always"
    assert pipeline["stages"].index(shard["stage"]) < pipeline["stages"].index(merge["stage"])
    assert merge["artifacts"]["reports"]["junit"] == "merged/junit.xml"
    assert merge["artifacts"]["paths"] == ["merged/"]
    assert merge["script"][-1] == "exit $status"
