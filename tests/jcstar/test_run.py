"""``drready run`` with IPA's JC-STAR list, end to end: *-3.1 pass from ``--jcstar-list`` (Excel),
fail from the profile's ``[jcstar] list_file`` (CSV); the list in the report, the declaration
and a bundle that still verifies."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from drready.bundle import verify_bundle
from drready.report.declaration.htmlpage import render_html
from drready.report.json_report import load_report, validate_report
from tests.helpers import drready_run

ROOT = Path(__file__).resolve().parents[2]
LIST = ROOT / "fixtures" / "jcstar"
BUILTIN = ROOT / "drready" / "profile" / "builtin" / "battery.toml"
RUN_TIMEOUT_S = 180


def _jcstar(report: dict[str, Any]) -> dict[str, Any]:
    (item,) = (r for r in report["requirements"] if r["id"] == "BAT-3.1")
    return dict(item)


def test_a_listed_label_passes_and_the_list_is_in_report_bundle_and_declaration(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    done = subprocess.run(
        [*command, "--jcstar-list", str(LIST / "list.xlsx"), "--report-dir", str(run)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = load_report(run / "report.json")
    validate_report(report)
    item = _jcstar(report)
    assert item["verdict"] == "pass", item["reason"]
    assert "label SIMULATOR-NOT-A-LABEL" in item["reason"]
    digest = hashlib.sha256((LIST / "list.xlsx").read_bytes()).hexdigest()
    assert report["jcstar_list"] == {
        "file": "list.xlsx",
        "date": "2026-11-30",
        "date_from": "title",
        "sha256": digest,
        "entries": 7,
        "check": {"passed": True, "cause": "listed"},
    }
    assert report["digests"]["jcstar_list"] == digest
    assert verify_bundle(run) == []
    page = render_html(run)
    assert "Checked against IPA&#39;s list: list.xlsx (dated 2026-11-30" in page
    assert "照合した IPA 適合製品リスト: list.xlsx (2026-11-30 時点" in page


def test_the_profiles_list_file_fails_an_expired_label(tmp_path: Path) -> None:
    shutil.copy(LIST / "list.csv", tmp_path / "ipa-list.csv")
    text = BUILTIN.read_text(encoding="utf-8")
    text = text.replace('label = "SIMULATOR-NOT-A-LABEL"', 'label = "FAKE-JC-0002"')
    text = text.replace(
        "valid_until = 2099-12-31", 'valid_until = 2099-12-31\nlist_file = "ipa-list.csv"'
    )
    assert 'list_file = "ipa-list.csv"' in text and "FAKE-JC-0002" in text
    profile = tmp_path / "battery.toml"
    profile.write_text(text, encoding="utf-8")
    run = tmp_path / "run"
    done = drready_run(profile, run, timeout_s=RUN_TIMEOUT_S)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    report = load_report(run / "report.json")
    item = _jcstar(report)
    assert item["verdict"] == "fail"
    assert "label FAKE-JC-0002" in item["reason"] and "expired on 2025-03-31" in item["reason"]
    assert report["jcstar_list"]["file"] == "ipa-list.csv"
    assert report["jcstar_list"]["check"] == {"passed": False, "cause": "expired"}
    # Every other requirement is unchanged by the list: only *-3.1 fails.
    failed = [r["id"] for r in report["requirements"] if r["verdict"] == "fail"]
    assert failed == ["BAT-3.1"]
    assert verify_bundle(run) == []
