#!/usr/bin/env python3
"""Write fixtures/jcstar/list.xlsx and list.csv: a small list in the shape of IPA's list of
JC-STAR compliant products, with made-up entries only (fictional makers, labels that say FAKE).

Run from the repository root: ``.venv/bin/python tools/make_jcstar_fixture.py [DIR]`` (default
fixtures/jcstar). The output is
the same bytes on every run (fixed workbook dates and zip timestamps), so a change of this
script shows as a change of the fixtures. The CSV is cp932 (Shift_JIS), as Japanese Excel
exports CSV.

Each row makes a test case of tests/jcstar/ against the built-in simulators' [jcstar] (label
SIMULATOR-NOT-A-LABEL, maker 架空電機株式会社, the simulator's name and product code):
- SIMULATOR-NOT-A-LABEL: listed, valid, ★1, one label over the three simulators' models (the
  second and third rows leave the merged label, maker, level and dates empty);
- FAKE-JC-0002: the battery simulator's product, expired on 2025-03-31;
- FAKE-JC-0003: the battery simulator's product at ★1 (a profile declaring ★2 is lower);
- FAKE-JC-0004: another maker's product;
- FAKE-JC-0005: a valid ★2 label of another fictional product.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "jcstar"
TITLE = "JC-STAR 適合ラベル取得製品リスト(架空の試験用データ) 2026年11月30日時点"
NOTE = "※ すべて架空のデータです。実在の製品・事業者・ラベルとは関係ありません。"
HEADERS = [
    "ラベル番号",
    "適合ラベルの★レベル",
    "事業者名",
    "製品名",
    "型番",
    "製品類型",
    "取得日",
    "有効期限",
]
SIM_MAKER = "架空電機株式会社"
SIM = "SIMULATOR-NOT-A-LABEL"
ROWS: list[list[object]] = [
    [
        SIM,
        "★1",
        SIM_MAKER,
        "Reference storage battery",
        "DRR-BAT-SIM",
        "蓄電システム",
        date(2025, 12, 1),
        date(2099, 12, 31),
    ],
    # Rows under a merged label: only product, model and category are written.
    [None, None, None, "Reference heat-pump water heater", "DRR-HP-SIM", "給湯機", None, None],
    [None, None, None, "Reference hybrid water heater", "DRR-HY-SIM", "給湯機", None, None],
    [
        "FAKE-JC-0002",
        "★1",
        SIM_MAKER,
        "Reference storage battery",
        "DRR-BAT-SIM",
        "蓄電システム",
        date(2023, 4, 1),
        date(2025, 3, 31),
    ],
    [
        "FAKE-JC-0003",
        "★1",
        SIM_MAKER,
        "Reference storage battery",
        "DRR-BAT-SIM",
        "蓄電システム",
        date(2026, 1, 15),
        date(2099, 12, 31),
    ],
    [
        "FAKE-JC-0004",
        "★1",
        "見本工業株式会社",
        "見本ヒートポンプ給湯機",
        "MH-0001, MH-0002",
        "給湯機",
        date(2026, 2, 1),
        date(2099, 12, 31),
    ],
    [
        "FAKE-JC-0005",
        "★2",
        "試作ソーラー合同会社",
        "試作パワーコンディショナ",
        "SP-PCS-5",
        "パワーコンディショナ",
        date(2026, 6, 1),
        date(2099, 12, 31),
    ],
]
#: Workbook properties and zip entry times: fixed, so the file is the same on every run.
FIXED = datetime(2026, 11, 30, 0, 0, 0)


def xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "★1"
    sheet.append([TITLE])
    sheet["A1"].font = Font(bold=True)
    sheet.append([NOTE])
    sheet.append([])
    sheet.append(HEADERS)
    for row in ROWS:
        sheet.append(row)
    # The simulators' label, maker, level and dates are merged over their three rows.
    for column in ("A", "B", "C", "G", "H"):
        sheet.merge_cells(f"{column}5:{column}7")
    for column in ("G", "H"):
        for cell in sheet[column][4:]:
            cell.number_format = "yyyy/mm/dd"
    book.properties.created = FIXED
    book.properties.modified = FIXED
    raw = io.BytesIO()
    book.save(raw)
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with every entry's time set to FIXED, and the workbook's modification time
    too (openpyxl sets it to now when it saves)."""
    out = io.BytesIO()
    stamp = FIXED.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(<)",
                    rb"\g<1>" + stamp.encode() + rb"\2",
                    content,
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, content)
    return out.getvalue()


def csv_bytes() -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([TITLE])
    writer.writerow(HEADERS)
    for row in ROWS:
        writer.writerow(
            [
                c.strftime("%Y/%m/%d") if isinstance(c, date) else ("" if c is None else c)
                for c in row
            ]
        )
    return text.getvalue().encode("cp932")


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "list.xlsx").write_bytes(xlsx())
    (out / "list.csv").write_bytes(csv_bytes())
    print(f"wrote {out / 'list.xlsx'} and {out / 'list.csv'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
