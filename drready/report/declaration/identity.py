"""The device's identity (read from the device beside the profile's declaration) and its
JC-STAR declaration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from drready.report.declaration.model import JST, IdentityRow, Jcstar
from drready.report.json_report import report_time


def _run_date(report: Mapping[str, Any]) -> date | None:
    moment = report_time(report.get("started_at"))
    return None if moment is None else moment.astimezone(JST).date()


# -- one device -----------------------------------------------------------------------------------


def _normal_code(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip().upper()
    return text[2:] if text.startswith("0X") else text


def _normal_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip(" \x00")


def _identity_row(
    label_ja: str,
    label_en: str,
    source: str,
    read: Any,
    declared: Any,
    normal: Any = _normal_text,
) -> IdentityRow:
    read_text = None if read in (None, "") else str(read)
    declared_text = None if declared in (None, "") else str(declared)
    if read_text is None:
        status = "not-read"
    elif declared_text is None:
        status = "not-declared"
    elif normal(read_text) == normal(declared_text):
        status = "match"
    else:
        status = "mismatch"
    return IdentityRow(label_ja, label_en, source, read_text, declared_text, status)


def identity(report: Mapping[str, Any]) -> list[IdentityRow]:
    device = report.get("device") or {}
    read = device.get("identity") or {}
    profile = report.get("profile") or {}
    declared = profile.get("device") or {}
    protocol = profile.get("protocol") or {}
    return [
        _identity_row(
            "製造事業者コード",
            "Manufacturer code",
            "EPC 0x8A",
            read.get("manufacturer_code"),
            declared.get("manufacturer_code"),
            _normal_code,
        ),
        _identity_row(
            "商品コード",
            "Product code",
            "EPC 0x8C",
            read.get("product_code"),
            declared.get("product_code"),
        ),
        _identity_row(
            "製造番号",
            "Serial number",
            "EPC 0x8D",
            read.get("serial_number"),
            declared.get("serial_number"),
        ),
        _identity_row(
            "識別番号",
            "Identification number",
            "EPC 0x83",
            read.get("identification_number"),
            declared.get("identification_number"),
            _normal_code,
        ),
        _identity_row(
            "ECHONET Lite 規格Version",
            "ECHONET Lite version",
            "node profile 0x82",
            device.get("echonet_lite_version"),
            protocol.get("version"),
        ),
        _identity_row(
            "APPENDIX リリース",
            "Appendix release",
            "EPC 0x82",
            device.get("appendix_release"),
            protocol.get("appendix_release"),
        ),
    ]


#: Each cause of a check against IPA's list (drready.jcstar.JcStarCheck.cause), in Japanese.
_LIST_CAUSES_JA = {
    "listed": "IPA の適合製品リストに掲載され、試験日に有効",
    "no-maker": "プロファイルに事業者名 ([jcstar] maker) がなく、リストと照合できない",
    "absent": "IPA の適合製品リストに掲載なし",
    "other-product": "リスト上は別の事業者・製品のラベル",
    "expired": "リスト上の有効期限切れ",
    "lower-level": "リスト上のレベルが申告より低い",
}


def _against_list(report: Mapping[str, Any], view: Jcstar) -> Jcstar:
    """``view`` with its status from the check against IPA's list, when the run had one."""
    listed = report.get("jcstar_list")
    if not isinstance(listed, Mapping):
        return view
    raw = listed.get("check")
    check: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    reason = next(
        (
            str(r.get("reason", ""))
            for r in report.get("requirements") or ()
            if str(r.get("id", "")).endswith("-3.1")
        ),
        "",
    )
    passed = bool(check.get("passed"))
    cause = str(check.get("cause", ""))
    digest = str(listed.get("sha256", ""))[:16]
    name, day = listed.get("file", "—"), listed.get("date", "—")
    return replace(
        view,
        status_ja=_LIST_CAUSES_JA.get(cause, "IPA の適合製品リストと照合"),
        status_en=reason or ("on IPA's list" if passed else "not on IPA's list"),
        flagged=not passed,
        checked_ja=f"照合した IPA 適合製品リスト: {name} ({day} 時点、SHA-256 {digest}…)",
        checked_en=f"Checked against IPA's list: {name} (dated {day}, SHA-256 {digest}…)",
    )


def jcstar(report: Mapping[str, Any]) -> Jcstar:
    return _against_list(report, _declared(report))


def _declared(report: Mapping[str, Any]) -> Jcstar:
    declared = (report.get("profile") or {}).get("jcstar")
    if not isinstance(declared, Mapping):
        return Jcstar(
            False,
            "—",
            "—",
            "—",
            "申告なし (プロファイルに [jcstar] がない)",
            "not declared (no [jcstar] table in the profile)",
            True,
        )
    label = str(declared.get("label") or "—")
    level_value = declared.get("level")
    level = int(level_value) if isinstance(level_value, int | float) else 0
    valid_text = str(declared.get("valid_until") or "—")
    run_day = _run_date(report)
    try:
        valid_until: date | None = date.fromisoformat(valid_text)
    except ValueError:
        valid_until = None
    problems_ja: list[str] = []
    problems_en: list[str] = []
    if valid_until is None:
        problems_ja.append("有効期限が読めない")
        problems_en.append("the validity date cannot be read")
    elif run_day is not None and run_day > valid_until:
        problems_ja.append(f"有効期限切れ (有効期限 {valid_until}、試験日 {run_day})")
        problems_en.append(f"EXPIRED (valid until {valid_until}; run on {run_day})")
    if level < 1:
        problems_ja.append("★1 未満")
        problems_en.append("level below ★1")
    if problems_en:
        return Jcstar(
            True,
            label,
            f"★{level}",
            valid_text,
            "、".join(problems_ja),
            "; ".join(problems_en),
            True,
        )
    return Jcstar(
        True,
        label,
        f"★{level}",
        valid_text,
        f"試験日 ({run_day}) に有効。自己申告であり、ハーネスは検証できない",
        f"valid on the run's date ({run_day}); self-declared, not verifiable by the harness",
        False,
    )
