"""Read IPA's list of JC-STAR compliant products as IPA distributes it (Excel), or as CSV.

The columns are found by their Japanese headers (English ones are accepted too), wherever the
header row is: IPA's sheets carry a title above it. Headers are compared after NFKC, case folding
and removing spaces, so full-width and spaced variants match. A row under a merged cell (one
label covering several models) takes the label, maker, level, dates and category of the row
above it. Every refusal is one :class:`~drready.errors.UsageError` line naming the file, and the
row and column when one cell is at fault.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from drready.errors import UsageError
from drready.jcstar.entries import JcStarEntry, JcStarList, normalise

__all__ = ["HEADERS", "REQUIRED", "load_list"]

#: Each field and the headers it is found under (the first is the one named in errors).
HEADERS: dict[str, tuple[str, ...]] = {
    "label": (
        "ラベル番号",
        "適合ラベル番号",
        "登録番号",
        "ラベルID",
        "適合ラベルID",
        "label number",
        "label no.",
    ),
    "level": (
        "適合ラベルの★レベル",
        "★レベル",
        "適合レベル",
        "レベル",
        "適合基準",
        "適合基準レベル",
        "level",
        "star level",
    ),
    "maker": (
        "事業者名",
        "申請者名",
        "製造事業者名",
        "ベンダー名",
        "メーカー名",
        "会社名",
        "企業名",
        "maker",
        "vendor",
        "manufacturer",
    ),
    "product": ("製品名", "製品名称", "商品名", "product name", "product"),
    "model": ("型番", "製品型番", "型式", "型名", "model number", "model"),
    "category": ("製品類型", "製品分類", "製品カテゴリ", "product category", "product type"),
    "valid_until": (
        "有効期限",
        "適合ラベル有効期限",
        "ラベル有効期限",
        "有効期限日",
        "有効期間満了日",
        "valid until",
        "expiry date",
        "expiration date",
    ),
    "issued": (
        "取得日",
        "交付日",
        "発行日",
        "適合ラベル発行日",
        "ラベル発行日",
        "登録日",
        "issue date",
    ),
    # Either a range ("2025/05/21～2027/05/20") or a length ("2年") counted from the issue date.
    "validity": ("有効期間", "適合ラベル有効期間", "validity period", "validity"),
}
#: Fields without which the list cannot be checked. valid_until may instead come from a
#: validity range, or from the issue date and a validity length.
REQUIRED = ("label", "level", "maker", "product", "valid_until")
#: How far down a sheet the header row is looked for.
HEADER_SEARCH_ROWS = 30
#: Fields a row under a merged cell takes from the row above.
_CARRIED = ("label", "maker", "level", "valid_until", "issued", "validity", "category")

_LOOKUP = {normalise(h): name for name, headers in HEADERS.items() for h in headers}
#: A footnote mark after a header ("有効期限※1", "型番*").
_NOTE_MARK = re.compile(r"(?:※|\*)\d*$")
_TITLE_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:時点|現在)")
_TITLE_REIWA = re.compile(r"令和(\d{1,2}|元)年(\d{1,2})月(\d{1,2})日\s*(?:時点|現在)")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_LENGTH = re.compile(r"(\d+)\s*(年|か月|ヶ月|ケ月|カ月|箇月|months?|years?)")

Cell = object


@dataclass(frozen=True)
class _Sheet:
    name: str
    rows: list[list[Cell]]


def load_list(path: Path) -> JcStarList:
    """Read IPA's list from ``path`` (.xlsx, or .csv in UTF-8 with or without BOM, or cp932 as
    Japanese Excel writes it)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        modified = date.fromtimestamp(path.stat().st_mtime)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the JC-STAR list: {exc.strerror or exc}") from None
    sheets = _read_csv(path, data) if path.suffix.lower() == ".csv" else _read_xlsx(path, data)
    entries: list[JcStarEntry] = []
    found = False
    best: tuple[int, str, int, dict[str, int]] | None = None
    titled: date | None = None
    for sheet in sheets:
        at, columns = _header(sheet.rows)
        if best is None or len(columns) > len(best[3]):
            best = (len(columns), sheet.name, at, columns)
        if _missing(columns):
            continue
        found = True
        titled = titled or _title_date(sheet.rows[:at])
        entries += _entries(path, sheet, at, columns)
    if not found:
        _refuse_header(path, best)
    return JcStarList(
        entries=tuple(entries),
        source=path,
        list_date=titled or modified,
        date_from="title" if titled else "file-mtime",
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _read_xlsx(path: Path, data: bytes) -> list[_Sheet]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, ValueError ... for a bad file
        raise UsageError(f"{path}: not an Excel workbook (.xlsx) that can be read: {exc}") from None
    try:
        return [
            _Sheet(ws.title, [list(row) for row in ws.iter_rows(values_only=True)])
            for ws in book.worksheets
        ]
    finally:
        book.close()


def _read_csv(path: Path, data: bytes) -> list[_Sheet]:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UsageError(f"{path}: the CSV file is neither UTF-8 nor Shift_JIS (cp932)")
    rows: list[list[Cell]] = [list(r) for r in csv.reader(io.StringIO(text, newline=""))]
    return [_Sheet("", rows)]


def _header(rows: Sequence[Sequence[Cell]]) -> tuple[int, dict[str, int]]:
    """The header row (0-based index) and each field's column; the row with most known headers
    among the first rows, the first of them on a tie."""
    best_at = 0
    best: dict[str, int] = {}
    for at, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for column, cell in enumerate(row):
            if cell is None:
                continue
            name = _LOOKUP.get(_NOTE_MARK.sub("", normalise(str(cell))))
            if name is not None and name not in columns:
                columns[name] = column
        if len(columns) > len(best):
            best_at, best = at, columns
    return best_at, best


def _missing(columns: dict[str, int]) -> list[str]:
    missing = [name for name in REQUIRED if name not in columns]
    dated = "issued" in columns and "validity" in columns
    if "valid_until" in missing and ("validity" in columns or dated):
        missing.remove("valid_until")
    return missing


def _refuse_header(path: Path, best: tuple[int, str, int, dict[str, int]] | None) -> None:
    if best is None or not best[3]:
        raise UsageError(
            f"{path}: no header row of IPA's JC-STAR list found; expected columns "
            + ", ".join(HEADERS[name][0] for name in REQUIRED)
        )
    _, sheet, at, columns = best
    where = f"sheet {sheet!r} " if sheet else ""
    missing = _missing(columns)
    expected = "; ".join(
        f"{name}: {' / '.join(HEADERS[name])}"
        + (" (or 有効期間, or 取得日 with 有効期間)" if name == "valid_until" else "")
        for name in missing
    )
    raise UsageError(
        f"{path}: {where}header row {at + 1}: missing column "
        f"{', '.join(HEADERS[name][0] for name in missing)}; expected headers {expected}"
    )


def _title_date(rows: Iterable[Sequence[Cell]]) -> date | None:
    for row in rows:
        for cell in row:
            if cell is None:
                continue
            text = unicodedata.normalize("NFKC", str(cell))
            if m := _TITLE_DATE.search(text):
                return _day(int(m[1]), int(m[2]), int(m[3]))
            if m := _TITLE_REIWA.search(text):
                year = 1 if m[1] == "元" else int(m[1])
                return _day(2018 + year, int(m[2]), int(m[3]))
    return None


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


class _CellError(Exception):
    """A cell that cannot be read; the caller names where it is."""


def _entries(path: Path, sheet: _Sheet, at: int, columns: dict[str, int]) -> Iterator[JcStarEntry]:
    heads = sheet.rows[at]
    above: dict[str, Cell] = {}
    for index in range(at + 1, len(sheet.rows)):
        row = sheet.rows[index]
        cells = {name: _cell(row, column) for name, column in columns.items()}
        if all(_blank(v) for v in cells.values()):
            continue
        if _blank(cells.get("label")):
            if _blank(cells.get("product")) and _blank(cells.get("model")):
                continue  # a note under the table, not a product
            for name in _CARRIED:
                if _blank(cells.get(name)) and name in above:
                    cells[name] = above[name]
        above = {name: cells[name] for name in _CARRIED if name in cells}
        try:
            current = "label"
            label = _text(cells["label"], required=True)
            current = "maker"
            maker = _text(cells["maker"], required=True)
            current = "product"
            product = _text(cells["product"], required=True)
            current = "level"
            level = _level(cells["level"])
            current = _validity_field(columns)
            valid_until = _valid_until(cells)
        except _CellError as exc:
            where = f"sheet {sheet.name!r} " if sheet.name else ""
            column = columns[current]
            head = str(heads[column]).strip() if column < len(heads) else current
            raise UsageError(
                f"{path}: {where}row {index + 1}, column {_column_name(column)} ({head}): {exc}"
            ) from None
        yield JcStarEntry(
            label=label,
            maker=maker,
            product=product,
            model=_text(cells.get("model")),
            level=level,
            valid_until=valid_until,
            category=_text(cells.get("category")),
            sheet=sheet.name,
            row=index + 1,
        )


def _cell(row: Sequence[Cell], column: int) -> Cell:
    return row[column] if column < len(row) else None


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Cell, *, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise _CellError("empty")
    return text


def _column_name(index: int) -> str:
    """Excel's name of a 0-based column: A, B, ..., Z, AA, ..."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _level(value: Cell) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        level = int(value) if float(value).is_integer() else 0
    else:
        text = unicodedata.normalize("NFKC", _text(value))
        digits = re.findall(r"\d+", text)
        level = int(digits[0]) if len(digits) == 1 else text.count("★")
    if not 1 <= level <= 4:
        raise _CellError(f"expected a level ★1 to ★4, got {value!r}")
    return level


def _date(value: Cell) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", _text(value))
    match = _DATE.fullmatch(text)
    parsed = _day(int(match[1]), int(match[2]), int(match[3])) if match else None
    if parsed is None:
        raise _CellError(f"expected a date such as 2027/05/20, got {value!r}")
    return parsed


def _validity_field(columns: dict[str, int]) -> str:
    return "valid_until" if "valid_until" in columns else "validity"


def _valid_until(cells: dict[str, Cell]) -> date:
    if "valid_until" in cells:
        return _date(cells["valid_until"])
    validity = cells["validity"]
    if isinstance(validity, date | datetime):
        return _date(validity)
    text = unicodedata.normalize("NFKC", _text(validity))
    dates = list(_DATE.finditer(text))
    if dates:
        # A range "from ~ to": the label is valid through the last date.
        return _date(dates[-1][0])
    length = _LENGTH.search(text)
    if length is None or "issued" not in cells:
        raise _CellError(f"expected a validity range or a length such as 2年, got {validity!r}")
    issued = _date(cells["issued"])
    count = int(length[1])
    months = count * 12 if length[2].startswith(("年", "year")) else count
    year, month = divmod(issued.month - 1 + months, 12)
    year, month = issued.year + year, month + 1
    anniversary = _day(year, month, issued.day)
    if anniversary is not None:
        # Valid for the length counted from the issue day: through the day before.
        return anniversary - timedelta(days=1)
    # No such day in that month (a 29 February, a 31st): through the month's last day.
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
