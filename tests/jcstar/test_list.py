"""Reading IPA's list of JC-STAR compliant products: Excel and CSV, header rows found by their
Japanese headers, the list's date and digest, and one clear line for each mistake."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from drready.errors import UsageError
from drready.jcstar import load_list

ROOT = Path(__file__).resolve().parents[2]
XLSX = ROOT / "fixtures" / "jcstar" / "list.xlsx"
CSV = ROOT / "fixtures" / "jcstar" / "list.csv"


def _csv(tmp_path: Path, text: str, *, encoding: str = "utf-8-sig", name: str = "l.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_the_excel_fixture_is_read_with_its_title_date_and_digest() -> None:
    listed = load_list(XLSX)
    assert listed.list_date == date(2026, 11, 30) and listed.date_from == "title"
    assert listed.sha256 == hashlib.sha256(XLSX.read_bytes()).hexdigest()
    assert [e.label for e in listed.entries] == [
        "SIMULATOR-NOT-A-LABEL",
        "SIMULATOR-NOT-A-LABEL",
        "SIMULATOR-NOT-A-LABEL",
        "FAKE-JC-0002",
        "FAKE-JC-0003",
        "FAKE-JC-0004",
        "FAKE-JC-0005",
    ]
    # The second and third rows lie under merged label, maker, level and date cells.
    heater = listed.entries[1]
    assert (heater.maker, heater.model, heater.level) == ("架空電機株式会社", "DRR-HP-SIM", 1)
    assert heater.valid_until == date(2099, 12, 31) and heater.category == "給湯機"
    assert listed.entries[3].valid_until == date(2025, 3, 31)
    assert listed.entries[6].level == 2
    assert listed.to_json()["file"] == "list.xlsx"


def test_the_csv_fixture_in_shift_jis_says_the_same() -> None:
    with pytest.raises(UnicodeDecodeError):
        CSV.read_bytes().decode("utf-8")
    from_csv = load_list(CSV)
    from_xlsx = load_list(XLSX)
    assert [e.to_json() for e in from_csv.entries] == [e.to_json() for e in from_xlsx.entries]
    assert from_csv.list_date == from_xlsx.list_date


def test_the_fixtures_are_what_the_script_writes(tmp_path: Path) -> None:
    """tools/make_jcstar_fixture.py is the fixtures' source: running it changes no byte."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_jcstar_fixture.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for committed in (XLSX, CSV):
        assert (tmp_path / committed.name).read_bytes() == committed.read_bytes(), committed


def test_header_variants_without_a_title_date_from_the_file(tmp_path: Path) -> None:
    # Full-width letters, half-width katakana and spaces in the headers; UTF-8 with a BOM.
    path = _csv(
        tmp_path,
        'ﾗﾍﾞﾙ番号, 事業者 名 ,製品名,型　番,★レベル,"有効\n期限※1"\n'
        "ＦＡＫＥ－１,架空電機株式会社,試験機,T-1,2,2030年1月31日\n",
    )
    os.utime(path, (0, datetime(2026, 10, 1, 12).timestamp()))
    listed = load_list(path)
    assert listed.date_from == "file-mtime" and listed.list_date == date(2026, 10, 1)
    (entry,) = listed.entries
    assert (entry.label, entry.model, entry.level) == ("ＦＡＫＥ－１", "T-1", 2)
    assert entry.valid_until == date(2030, 1, 31)
    assert listed.with_label("fake-1") == (entry,)


@pytest.mark.parametrize(
    ("issued", "validity", "until"),
    [
        ("2025/05/21", "2年", date(2027, 5, 20)),
        ("2024/02/29", "2年間", date(2026, 2, 28)),
        ("2025/01/31", "1か月", date(2025, 2, 28)),
        ("", "2025/05/21～2027/05/20", date(2027, 5, 20)),
    ],
)
def test_valid_until_from_the_issue_date_and_the_validity(
    tmp_path: Path, issued: str, validity: str, until: date
) -> None:
    path = _csv(
        tmp_path,
        "令和8年11月30日現在\n"
        "ラベル番号,事業者名,製品名,適合ラベルの★レベル,取得日,有効期間\n"
        f"FAKE-1,架空電機株式会社,試験機,★1,{issued},{validity}\n",
        encoding="cp932",
    )
    listed = load_list(path)
    assert listed.list_date == date(2026, 11, 30)
    assert listed.entries[0].valid_until == until


def test_a_missing_column_is_one_line_naming_file_column_and_headers(tmp_path: Path) -> None:
    path = _csv(tmp_path, "title\nラベル番号,製品名,型番,★レベル,有効期限\nX,P,M,1,2030/01/01\n")
    with pytest.raises(UsageError) as caught:
        load_list(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message and "header row 2" in message
    assert "missing column 事業者名" in message and "ベンダー名" in message


def test_a_file_without_any_header_row_says_what_it_expects(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,b,c\n1,2,3\n")
    with pytest.raises(UsageError, match=r"no header row .* ラベル番号, 適合ラベルの★レベル"):
        load_list(path)


@pytest.mark.parametrize(
    ("level", "until", "column", "words"),
    [
        ("★5", "2030/01/01", "D (適合ラベルの★レベル)", "expected a level ★1 to ★4, got '★5'"),
        ("", "2030/01/01", "D (適合ラベルの★レベル)", "expected a level ★1 to ★4"),
        ("★1", "someday", "E (有効期限)", "expected a date such as 2027/05/20, got 'someday'"),
        ("★1", "2030/02/30", "E (有効期限)", "expected a date"),
    ],
)
def test_a_bad_cell_names_file_row_and_column(
    tmp_path: Path, level: str, until: str, column: str, words: str
) -> None:
    path = _csv(
        tmp_path,
        "ラベル番号,事業者名,製品名,適合ラベルの★レベル,有効期限\n"
        "FAKE-1,架空電機株式会社,試験機,★1,2030/01/01\n"
        f"FAKE-2,架空電機株式会社,試験機,{level},{until}\n",
    )
    with pytest.raises(UsageError) as caught:
        load_list(path)
    assert str(caught.value).startswith(f"{path}: row 3, column {column}: {words}")


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "list.xlsx"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(UsageError, match=r"list\.xlsx: not an Excel workbook"):
        load_list(bad)
    with pytest.raises(UsageError, match=r"nowhere\.csv: cannot read the JC-STAR list"):
        load_list(tmp_path / "nowhere.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"\xff\xfe\x81\x00")
    with pytest.raises(UsageError, match="neither UTF-8 nor Shift_JIS"):
        load_list(latin)


def test_drready_run_refuses_a_list_without_a_column_in_one_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ラベル番号,事業者名,★レベル,有効期限\nX,Y,1,2030/01/01\n")
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    done = subprocess.run(
        [*command, "--jcstar-list", str(path), "--report-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing column 製品名" in lines[0] and str(path) in lines[0]
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()
