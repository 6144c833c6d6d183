"""``drready review DIR...``: every bundle under the folders verified, one summary written, a
non-zero exit naming the bundle that fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from drready.bundle import key_fingerprint
from drready.cli.main import main
from drready.report.review import find_bundles
from tests.sign.keyfiles import Keys

#: Its fixtures run whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow


def _drready(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _five(battery_run: Path, folder: Path) -> list[Path]:
    """Five bundles (copies of one run: a copy verifies as the run does) under two makers'
    folders, one nested deeper."""
    places = ["maker-a/r1", "maker-a/r2", "maker-b/2027/r3", "maker-b/2027/r4", "maker-b/r5"]
    runs = []
    for place in places:
        shutil.copytree(battery_run, folder / place)
        runs.append(folder / place)
    return runs


def _review(out_dir: Path) -> dict[str, Any]:
    document = json.loads((out_dir / "review.json").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_five_bundles_one_altered(
    battery_run: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "received"
    runs = _five(battery_run, folder)
    for run in runs[:2]:
        assert main(["sign", str(run), "--key", str(keys.maker_key), "--name", "Maker A"]) == 0
    assert main(["sign", str(runs[0]), "--key", str(keys.body_key), "--countersign"]) == 0
    capsys.readouterr()
    altered = runs[2]
    data = bytearray((altered / "evidence.jsonl").read_bytes())
    data[len(data) // 2] ^= 0x01
    (altered / "evidence.jsonl").write_bytes(bytes(data))

    out_dir = tmp_path / "out"
    status, out, err = _drready(capsys, "review", str(folder), "--output-dir", str(out_dir))
    assert status == 1
    assert err.splitlines() == [f"drready: {altered}: {_first_problem(out_dir, altered)}"]
    assert err.startswith(f"drready: {altered}: evidence.jsonl: ")
    assert "5 bundle(s), 4 verified, 1 failed" in out

    review = _review(out_dir)
    assert review["format"] == "drready-review"
    assert review["summary"] == {"bundles": 5, "verified": 4, "failed": 1}
    assert review["failed"] == [str(altered)]
    assert [b["path"] for b in review["bundles"]] == [str(r) for r in runs]
    report = json.loads((battery_run / "report.json").read_text(encoding="utf-8"))
    for bundle in review["bundles"]:
        assert bundle["classes"] == ["battery"]
        assert bundle["bindings"] == [report["binding"]]
        assert bundle["verdicts"] == report["summary"]
        assert bundle["run_id"] == report["run_id"]
        (device,) = bundle["devices"]
        assert device["maker"] == "FFFFFF"
        assert device["product"] == "DRR-BAT-SIM"
        assert device["firmware"] is None  # not recorded by a simulated ECHONET Lite run
        assert bundle["verified"] == (bundle["path"] != str(altered))
        assert bool(bundle["problems"]) == (bundle["path"] == str(altered))
    maker = key_fingerprint(keys.maker.public_key())
    body = key_fingerprint(keys.body.public_key())
    signers = [[s["public_key_sha256"] for s in b["signers"]] for b in review["bundles"]]
    assert signers == [[maker, body], [maker], [], [], []]
    first = review["bundles"][0]["signers"]
    assert [(s["role"], s["name"], s["valid"], s["trusted"]) for s in first] == [
        ("signer", "Maker A", True, None),
        ("countersigner", None, True, None),
    ]

    html = (out_dir / "review.html").read_text(encoding="utf-8")
    assert "証拠バンドルの一括検証" in html and "Review of evidence bundles" in html
    assert "検証に失敗したバンドル" in html and "Bundles that failed verification" in html
    assert str(altered) in html and maker in html


def _first_problem(out_dir: Path, run: Path) -> str:
    (bundle,) = [b for b in _review(out_dir)["bundles"] if b["path"] == str(run)]
    problem = bundle["problems"][0]
    assert isinstance(problem, str)
    return problem


def test_with_a_trust_list_unsigned_and_strangers_bundles_fail(
    battery_run: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "received"
    runs = _five(battery_run, folder)
    for run in runs[:3]:
        assert main(["sign", str(run), "--key", str(keys.maker_key)]) == 0
    assert main(["sign", str(runs[3]), "--key", str(keys.stranger_key)]) == 0
    capsys.readouterr()
    out_dir = tmp_path / "out"
    status, _, err = _drready(
        capsys, "review", str(folder), "--trust", str(keys.maker_pub), "--output-dir", str(out_dir)
    )
    assert status == 1
    assert err.splitlines() == [
        f"drready: {runs[3]}: signatures.json: not signed by a trusted key (signed by key "
        f"{key_fingerprint(keys.stranger.public_key())[:16]}…)",
        f"drready: {runs[4]}: signatures.json: signature missing (not signed)",
    ]
    review = _review(out_dir)
    assert review["failed"] == [str(runs[3]), str(runs[4])]
    assert review["trusted_keys"] == [
        {"public_key_sha256": key_fingerprint(keys.maker.public_key()), "file": str(keys.maker_pub)}
    ]
    assert review["bundles"][0]["signers"][0]["trusted"] is True


def test_all_verified_exits_zero_and_output_defaults_to_the_current_directory(
    battery_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    folder = tmp_path / "received"
    _five(battery_run, folder)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    status, _, err = _drready(capsys, "review", str(folder))
    assert status == 0, err
    assert err == ""
    assert _review(here)["summary"] == {"bundles": 5, "verified": 5, "failed": 0}
    assert (here / "review.html").is_file()


def test_a_combined_run_is_one_bundle(
    combined_run: Path, battery_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "received"
    shutil.copytree(combined_run, folder / "combined")
    shutil.copytree(battery_run, folder / "single")
    assert find_bundles([folder]) == [folder / "combined", folder / "single"]
    out_dir = tmp_path / "out"
    status, _, err = _drready(capsys, "review", str(folder), "--output-dir", str(out_dir))
    assert status == 0, err
    combined = _review(out_dir)["bundles"][0]
    assert combined["kind"] == "combined"
    assert combined["classes"] == ["battery", "heatpump", "hybrid"]
    report = json.loads((combined_run / "report.json").read_text(encoding="utf-8"))
    assert combined["verdicts"] == report["summary"]
    # A change in a class's directory fails the combined bundle, named through it.
    data = bytearray((folder / "combined" / "hybrid" / "report.json").read_bytes())
    data[3] ^= 0x01
    (folder / "combined" / "hybrid" / "report.json").write_bytes(bytes(data))
    status, _, err = _drready(capsys, "review", str(folder), "--output-dir", str(out_dir))
    assert status == 1
    assert err.startswith(f"drready: {folder / 'combined'}: hybrid/report.json")


FIXTURE_LIST = Path(__file__).resolve().parents[2] / "fixtures" / "jcstar" / "list.xlsx"
LIST_HEADER = "ラベル番号,適合ラベルの★レベル,事業者名,製品名,型番,製品類型,取得日,有効期限\n"


def test_the_jcstar_list_rechecks_each_declared_label(
    battery_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The simulated battery declares a label IPA's (made-up) list holds for its maker and
    model: checked, no problem, exit 0."""
    folder = tmp_path / "received"
    shutil.copytree(battery_run, folder / "r1")
    out_dir = tmp_path / "out"
    status, _, err = _drready(
        capsys,
        "review",
        str(folder),
        "--jcstar-list",
        str(FIXTURE_LIST),
        "--output-dir",
        str(out_dir),
    )
    assert status == 0, err
    (bundle,) = _review(out_dir)["bundles"]
    assert bundle["jcstar"]["checked"] is True
    assert bundle["jcstar"]["problems"] == []
    assert (
        "1 declared label(s) checked against list.xlsx dated 2026-11-30" in bundle["jcstar"]["note"]
    )


def test_a_label_absent_from_the_list_fails_the_bundle_naming_the_cause(
    battery_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "received"
    shutil.copytree(battery_run, folder / "r1")
    listing = tmp_path / "list.csv"
    listing.write_text(
        LIST_HEADER + "FAKE-OTHER,★1,架空電機株式会社,Reference storage battery,DRR-BAT-SIM,"
        "蓄電システム,2025/12/01,2099/12/31\n",
        encoding="utf-8",
    )
    out_dir = tmp_path / "out"
    status, _, err = _drready(
        capsys, "review", str(folder), "--jcstar-list", str(listing), "--output-dir", str(out_dir)
    )
    assert status == 1
    assert err.startswith(f"drready: {folder / 'r1'}: battery: JC-STAR absent: label ")
    (bundle,) = _review(out_dir)["bundles"]
    assert bundle["jcstar"]["checked"] is True
    assert bundle["jcstar"]["problems"][0].startswith("battery: JC-STAR absent")


def test_a_list_drready_cannot_read_stops_the_review_before_it_starts(
    battery_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "received"
    shutil.copytree(battery_run, folder / "r1")
    listing = tmp_path / "list.csv"
    listing.write_text("ラベル番号,事業者名\nX,Y\n", encoding="utf-8")
    out_dir = tmp_path / "out"
    status, _, err = _drready(
        capsys, "review", str(folder), "--jcstar-list", str(listing), "--output-dir", str(out_dir)
    )
    assert status == 2
    assert err.count("\n") == 1 and str(listing.name) in err
    assert not (out_dir / "review.json").exists()


def test_usage_errors(
    battery_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "received"
    shutil.copytree(battery_run, folder / "r1")
    cases = [
        (["review", str(tmp_path / "nowhere")], "not a directory"),
        (["review", str(folder), "--jcstar-list", str(tmp_path / "no.xlsx")], "no such file"),
        (["review", str(folder), "--output-dir", str(folder / "r1")], "a run directory"),
        (["review", str(folder), "--trust", str(tmp_path / "no.pem")], "cannot read"),
    ]
    for argv, expected in cases:
        status, out, err = _drready(capsys, *argv)
        assert status == 2, (argv, out, err)
        assert len(err.splitlines()) == 1 and expected in err, err
    assert not (folder / "r1" / "review.json").exists()
