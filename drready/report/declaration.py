"""The self-conformity declaration (自己適合宣言書) of a run, as HTML and PDF, Japanese and English.

``render_html(RUN)`` reads ``RUN/report.json`` (one class, or a combined run whose ``parts`` each
point at a class's own report), each class's evidence log, and builds one page per device: the
identity read from the device beside what the profile declares, the ECHONET Lite version and
release, how the run was made (topology, binding, simulator, faults), the JC-STAR declaration, the
requirement table with each test's evidence records, plots drawn from the evidence, and the
digests that tie the declaration to the run. What makes a run no basis for a declaration
(faults injected, an incomplete run, a simulator, an identity mismatch, an expired label) is said
in a box at the top.

Links to evidence are relative to the run directory: write the HTML there (``RUN/…html``).
``render_pdf`` prints the same page with headless Chromium; its links point at the run directory
by absolute ``file:`` URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
import jsonschema
from markupsafe import Markup

from drready.canonical import digest, sha256_hex
from drready.catalog import (
    POLICY_PLAIN_ECHONET_LITE_EN,
    POLICY_PLAIN_ECHONET_LITE_JA,
    DeviceClass,
)
from drready.evidence import verify_chain
from drready.report import plots
from drready.report.json_report import load_report

#: The environment variable naming the browser to print with.
BROWSER_ENV = "DRREADY_CHROMIUM"
#: Browsers looked for on PATH, in order.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
NO_BROWSER = "PDF needs Chromium: install it (Debian: apt install chromium) or set DRREADY_CHROMIUM"
#: How long Chromium may take to print, seconds.
PDF_TIMEOUT_S = 120.0
#: A JC-STAR label is a Japanese label: its last valid day is a day in Japan.
JST = timezone(timedelta(hours=9), "JST")

_VERDICT_LABELS = {
    "pass": ("適合", "pass"),
    "fail": ("不適合", "FAIL"),
    "not-applicable": ("対象外", "not applicable"),
    "not-tested": ("未試験", "not tested"),
    "declared": ("自己申告", "declared"),
}
_OUTCOME_LABELS = {
    "passed": ("合格", "passed"),
    "failed": ("不合格", "FAILED"),
    "error": ("エラー", "ERROR"),
    "skipped": ("スキップ", "skipped"),
    "not-applicable": ("対象外", "not applicable"),
}
#: Most frames of a failed test shown under it (the report keeps the last ones before the failure).
_MAX_FRAMES = 6


class DeclarationError(Exception):
    """A declaration cannot be made: one line, naming the file or what is missing."""


# -- the view the template shows ------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A box: ``danger`` (not a declaration / something is wrong), ``warn`` or ``info``."""

    level: str
    ja: str
    en: str


@dataclass(frozen=True)
class IdentityRow:
    label_ja: str
    label_en: str
    source: str  # where it was read: the EPC
    read: str | None
    declared: str | None
    #: match | mismatch | not-read | not-declared
    status: str


@dataclass(frozen=True)
class Field:
    label_ja: str
    label_en: str
    value: str
    flagged: bool = False
    #: A digest: printed small, in a fixed-width font.
    digest: bool = False


@dataclass(frozen=True)
class TestRow:
    nodeid: str
    name: str
    outcome: str
    outcome_ja: str
    outcome_en: str
    message: str
    records: str
    href: str | None
    frames: list[str]


@dataclass(frozen=True)
class RequirementRow:
    id: str
    title_ja: str
    title_en: str
    verdict: str
    verdict_ja: str
    verdict_en: str
    reason: str
    tests: list[TestRow]


@dataclass(frozen=True)
class Jcstar:
    declared: bool
    label: str
    level: str
    valid_until: str
    status_ja: str
    status_en: str
    flagged: bool


@dataclass
class DeviceView:
    device_class: str
    name_ja: str
    name_en: str
    class_code: str
    profile_name: str
    report_path: str | None
    notices: list[Notice] = field(default_factory=list)
    identity: list[IdentityRow] = field(default_factory=list)
    conditions: list[Field] = field(default_factory=list)
    jcstar: Jcstar | None = None
    requirements: list[RequirementRow] = field(default_factory=list)
    summary: list[tuple[str, str, str, int]] = field(default_factory=list)
    plot: plots.Plot | None = None
    plot_note_ja: str = ""
    plot_note_en: str = ""
    digests: list[Field] = field(default_factory=list)
    protocol_line: str = ""


@dataclass
class DeclarationView:
    run_id: str
    harness_version: str
    combined: bool
    notices: list[Notice]
    policy_notes: list[dict[str, str]]
    protocol_lines: list[str]
    run_fields: list[Field]
    summary: list[tuple[str, str, str, int]]
    devices: list[DeviceView]
    banner: str
    base_href: str | None


# -- reading ------------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, jsonschema.ValidationError):
        text = exc.message
    return text.splitlines()[0] if text else type(exc).__name__


def _load(path: Path) -> dict[str, Any]:
    try:
        return load_report(path)
    except FileNotFoundError:
        raise DeclarationError(f"{path}: no report here (is it a drready run directory?)") from None
    except IsADirectoryError:
        raise DeclarationError(f"{path}: is a directory, expected report.json") from None
    except json.JSONDecodeError as exc:
        raise DeclarationError(f"{path}: not valid JSON: {_first_line(exc)}") from None
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise DeclarationError(
            f"{path}: not a valid drready report ({where}: {_first_line(exc)})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeclarationError(f"{path}: cannot read it: {_first_line(exc)}") from None


def _evidence(path: Path) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The records of an evidence log, or None and why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"unreadable: {_first_line(exc)}"
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return records, f"line {number} is not JSON"
        if not isinstance(record, dict):
            return records, f"line {number} is not a record"
        records.append(record)
    return records, None


# -- formatting ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes / はい" if value else "no / いいえ"
    return str(value)


def _hours(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "—"
    return f"{seconds:,.0f} s ({seconds / 3600:.2f} h)"


def _file_digest(path: Path) -> str | None:
    try:
        return sha256_hex(path.read_bytes())
    except OSError:
        return None


def _summary_rows(counts: Mapping[str, Any]) -> list[tuple[str, str, str, int]]:
    return [
        (verdict, ja, en, int(counts.get(verdict, 0)))
        for verdict, (ja, en) in _VERDICT_LABELS.items()
    ]


def _run_date(report: Mapping[str, Any]) -> date | None:
    started = report.get("started_at")
    if not isinstance(started, str):
        return None
    try:
        moment = datetime.fromisoformat(started)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(JST).date()


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


def _identity(report: Mapping[str, Any]) -> list[IdentityRow]:
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


def _jcstar(report: Mapping[str, Any]) -> Jcstar:
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


def _records_text(evidence: Any) -> tuple[str, bool]:
    if not (isinstance(evidence, list) and len(evidence) == 2):
        return "—", False
    first, last = int(evidence[0]), int(evidence[1])
    if last <= first:
        return "記録なし / no records", False
    if last - first == 1:
        return f"record {first}", True
    return f"records {first}–{last - 1}", True


def _frame_line(frame: Mapping[str, Any]) -> str:
    seq = frame.get("seq", "?")
    kind = str(frame.get("kind", "")).upper()
    when = str(frame.get("time", ""))
    with contextlib.suppress(ValueError):
        when = datetime.fromisoformat(when).strftime("%H:%M:%S")
    return f"#{seq} {when} {kind} {frame.get('summary', '')}"


def _requirements(
    requirements: Sequence[Mapping[str, Any]], evidence_href: str | None
) -> list[RequirementRow]:
    rows = []
    for requirement in requirements:
        verdict = str(requirement.get("verdict", ""))
        verdict_ja, verdict_en = _VERDICT_LABELS.get(verdict, (verdict, verdict))
        tests = []
        for test in requirement.get("tests", []):
            outcome = str(test.get("outcome", ""))
            outcome_ja, outcome_en = _OUTCOME_LABELS.get(outcome, (outcome, outcome))
            records, has_records = _records_text(test.get("evidence"))
            nodeid = str(test.get("nodeid", ""))
            frames = []
            if outcome in ("failed", "error"):
                frames = [_frame_line(f) for f in test.get("frames", [])[-_MAX_FRAMES:]]
            tests.append(
                TestRow(
                    nodeid=nodeid,
                    name=nodeid.split("::")[-1],
                    outcome=outcome,
                    outcome_ja=outcome_ja,
                    outcome_en=outcome_en,
                    message=str(test.get("message", "")),
                    records=records,
                    href=evidence_href if has_records else None,
                    frames=frames,
                )
            )
        rows.append(
            RequirementRow(
                id=str(requirement.get("id", "")),
                title_ja=str(requirement.get("title_ja", "")),
                title_en=str(requirement.get("title_en", "")),
                verdict=verdict,
                verdict_ja=verdict_ja,
                verdict_en=verdict_en,
                reason=str(requirement.get("reason", "")),
                tests=tests,
            )
        )
    return rows


def _class_names(device_class: str) -> tuple[str, str, str]:
    try:
        cls = DeviceClass(device_class)
    except ValueError:
        return device_class, device_class, "—"
    return cls.name_ja, cls.name_en, f"0x{cls.echonet_class_id:04X}"


def _run_notices(report: Mapping[str, Any], where: str) -> list[Notice]:
    """What makes this run no basis for a declaration of a real device."""
    notices = []
    faults = list(report.get("faults") or [])
    if faults:
        names = ", ".join(faults)
        notices.append(
            Notice(
                "danger",
                f"{where}故障を注入した試験です ({names})。実機の適合宣言ではありません。",
                f"{where}FAULTS WERE INJECTED ({names}): this is NOT a declaration of a real "
                "device.",
            )
        )
    if not report.get("complete", False):
        notices.append(
            Notice(
                "danger",
                f"{where}試験は完了していません (complete: false)。適合宣言の根拠になりません。",
                f"{where}The run is INCOMPLETE (complete: false): it is not a basis for a "
                "declaration.",
            )
        )
    if report.get("simulated") and not faults:
        notices.append(
            Notice(
                "warn",
                f"{where}シミュレータ (模擬機器) に対する試験です。実機の適合宣言ではありません。",
                f"{where}The device under test was a simulator: this is not a declaration of a "
                "real device.",
            )
        )
    return notices


def _device_view(
    run_dir: Path,
    report: Mapping[str, Any],
    directory: PurePosixPath,
) -> DeviceView:
    device_class = str(report.get("device_class"))
    name_ja, name_en, class_code = _class_names(device_class)
    profile = report.get("profile") or {}
    device_profile = profile.get("device") or {}
    device = report.get("device") or {}
    report_rel = directory / "report.json"
    view = DeviceView(
        device_class=device_class,
        name_ja=name_ja,
        name_en=name_en,
        class_code=class_code,
        profile_name=str(device_profile.get("name") or ""),
        report_path=str(report_rel),
    )
    view.notices += _run_notices(report, "")

    view.identity = _identity(report)
    mismatched = [r for r in view.identity if r.status == "mismatch"]
    unread = [r for r in view.identity if r.status == "not-read"]
    if mismatched:
        view.notices.append(
            Notice(
                "danger",
                "機器から読んだ値がプロファイルの申告と一致しません: "
                + "、".join(r.label_ja for r in mismatched),
                "What the device reports does NOT MATCH the profile's declaration: "
                + ", ".join(r.label_en.lower() for r in mismatched),
            )
        )
    if unread:
        view.notices.append(
            Notice(
                "warn",
                "機器から読めなかった項目があります: " + "、".join(r.label_ja for r in unread),
                "Not read from the device: " + ", ".join(r.label_en.lower() for r in unread),
            )
        )
    version = device.get("echonet_lite_version")
    release = device.get("appendix_release")
    protocol = device.get("protocol") or (profile.get("protocol") or {}).get("name")
    view.protocol_line = (
        f"{name_ja} / {name_en}: {_text(protocol)} Version {_text(version)}, "
        f"Appendix Release {_text(release)}"
    )

    jc = _jcstar(report)
    view.jcstar = jc
    if jc.flagged:
        view.notices.append(
            Notice("danger", f"JC-STAR: {jc.status_ja}", f"JC-STAR: {jc.status_en}")
        )

    # Evidence: the file, its records, its chain.
    evidence_meta = report.get("evidence") or {}
    evidence_name = str(evidence_meta.get("file") or "evidence.jsonl")
    evidence_rel = directory / evidence_name
    evidence_path = run_dir / evidence_rel
    records, problem = _evidence(evidence_path)
    digests = report.get("digests") or {}
    head = evidence_meta.get("head_digest") or digests.get("evidence")
    if records is None:
        chain_text, chain_bad = f"確認できず / not checked: {evidence_rel} {problem}", True
    elif problem is not None:
        chain_text, chain_bad = f"破損 / DAMAGED: {evidence_rel}: {problem}", True
    else:
        broken = verify_chain(records, head if isinstance(head, str) else None)
        expected = evidence_meta.get("records")
        if broken is not None:
            chain_text, chain_bad = (
                f"改ざん・欠落あり / BROKEN at record {broken} (of {len(records)})",
                True,
            )
        elif isinstance(expected, int) and expected != len(records):
            chain_text, chain_bad = (
                f"記録数不一致 / {len(records)} records, the report says {expected}",
                True,
            )
        elif not isinstance(head, str):
            chain_text, chain_bad = (
                f"連鎖は整合、先頭ダイジェストなし / chain intact over {len(records)} records; "
                "no head digest in the report to check the end against",
                False,
            )
        else:
            chain_text, chain_bad = (
                f"完全 / intact: {len(records)} records, head digest matches the report",
                False,
            )
    if chain_bad:
        view.notices.append(
            Notice("danger", f"証拠ログ: {chain_text}", f"Evidence log: {chain_text}")
        )

    # Requirements.
    href = str(evidence_rel) if records is not None else None
    view.requirements = _requirements(report.get("requirements", []), href)
    view.summary = _summary_rows(report.get("summary", {}))
    failed = [r.id for r in view.requirements if r.verdict == "fail"]
    if failed:
        view.notices.append(
            Notice(
                "danger",
                f"不適合の要件があります: {', '.join(failed)}",
                f"Requirements FAILED: {', '.join(failed)}",
            )
        )

    # How the run was made.
    device_time = report.get("device_time") or {}
    faults = list(report.get("faults") or [])
    time_scale = profile.get("time_scale")
    view.conditions = [
        Field("実行ID", "Run ID", _text(report.get("run_id"))),
        Field("機器クラス", "Device class", f"{device_class} (ECHONET Lite {class_code})"),
        Field("試験構成", "Topology", _text(report.get("topology"))),
        Field("接続方式", "Binding", _text(report.get("binding"))),
        Field(
            "対応構成 (申告)",
            "Topologies declared",
            ", ".join(device_profile.get("topologies") or []) or "—",
        ),
        Field(
            "模擬機器",
            "Simulated",
            _text(bool(report.get("simulated"))),
            bool(report.get("simulated")),
        ),
        Field(
            "注入した故障",
            "Faults injected",
            ", ".join(faults) if faults else "なし / none",
            bool(faults),
        ),
        Field("時間倍率", "Time scale", _text(time_scale)),
        *_completion_fields(report),
        *_time_fields(report),
        Field(
            "機器時刻の範囲",
            "Device time",
            f"{_text(device_time.get('start'))} → {_text(device_time.get('end'))}",
        ),
        Field("機器時刻の経過", "Device time covered", _hours(device_time.get("covered_s"))),
        Field(
            "証拠ログ",
            "Evidence log",
            f"{evidence_rel} ({_text(evidence_meta.get('records'))} records)",
        ),
        Field("証拠連鎖", "Evidence chain", chain_text, chain_bad),
    ]

    view.digests = _digests(run_dir / report_rel, report, digests)

    # Plot.
    if records:
        salt = f"{device_class}-{report.get('run_id', '')}"
        if device_class == DeviceClass.BATTERY:
            view.plot = plots.battery_plot(records, salt=salt)
        else:
            view.plot = plots.water_heater_plot(
                records,
                profile.get("water_heater"),
                hybrid=device_class == DeviceClass.HYBRID,
                salt=salt,
            )
    if view.plot is None:
        view.plot_note_ja = "計測記録がないため、グラフはありません。"
        view.plot_note_en = "No measurement records: no plot."
    return view


def _digests(
    report_path: Path, report: Mapping[str, Any], digests: Mapping[str, Any]
) -> list[Field]:
    """The report's digests (suites, profile, evidence head), what stands in for those an older
    report lacks, and the digest of report.json itself."""
    evidence_meta = report.get("evidence") or {}
    suites = digests.get("suites")
    profile_digest = digests.get("profile")
    if not profile_digest:
        profile_digest = (
            f"{digest(report.get('profile'))} "
            "(computed here: report.json's profile as canonical JSON)"
        )
    evidence_digest = digests.get("evidence") or evidence_meta.get("head_digest")
    fields = [
        Field(
            "試験スイート (sha256)",
            "Suites (sha256)",
            str(suites) if suites else "記録なし / not recorded in this report",
            digest=True,
        ),
        Field("プロファイル (sha256)", "Profile (sha256)", str(profile_digest), digest=True),
        Field(
            "証拠ログ先頭 (sha256)",
            "Evidence head digest (sha256)",
            str(evidence_digest) if evidence_digest else "記録なし / not recorded",
            not evidence_digest,
            digest=True,
        ),
    ]
    for name, value in digests.items():
        if name not in ("suites", "profile", "evidence"):
            fields.append(Field(str(name), str(name), str(value), digest=True))
    report_digest = _text(_file_digest(report_path))
    fields.append(Field("report.json (sha256)", "report.json (sha256)", report_digest, digest=True))
    return fields


def _missing_part_view(
    part: Mapping[str, Any], requirements: Sequence[Mapping[str, Any]]
) -> DeviceView:
    device_class = str(part.get("device_class"))
    name_ja, name_en, class_code = _class_names(device_class)
    problem = str(part.get("problem") or "no report")
    view = DeviceView(
        device_class=device_class,
        name_ja=name_ja,
        name_en=name_en,
        class_code=class_code,
        profile_name="",
        report_path=None,
    )
    view.notices.append(
        Notice(
            "danger",
            f"このクラスの試験は報告を残していません ({problem})。宣言の根拠になりません。",
            f"This class's run left NO REPORT ({problem}): it is not a basis for a declaration.",
        )
    )
    view.conditions = [
        Field("実行ID", "Run ID", _text(part.get("run_id"))),
        Field("完了", "Complete", _text(False), True),
        Field("終了コード", "Exit status", _text(part.get("exit_status"))),
    ]
    view.requirements = _requirements(requirements, None)
    view.summary = _summary_rows(part.get("summary", {}))
    view.plot_note_ja = "報告がないため、グラフはありません。"
    view.plot_note_en = "No report: no plot."
    return view


# -- the whole run --------------------------------------------------------------------------------


def _prefix(device_class: str) -> str:
    try:
        return DeviceClass(device_class).prefix
    except ValueError:
        return device_class.upper()


def _policy_notes(report: Mapping[str, Any]) -> list[dict[str, str]]:
    notes = [
        {"ja": str(n.get("ja", "")), "en": str(n.get("en", ""))}
        for n in report.get("policy_notes", [])
        if isinstance(n, Mapping)
    ]
    plain = {"ja": POLICY_PLAIN_ECHONET_LITE_JA, "en": POLICY_PLAIN_ECHONET_LITE_EN}
    topologies = [report.get("topology")] + [
        p.get("topology") for p in report.get("parts", []) if isinstance(p, Mapping)
    ]
    if "gateway" in topologies and plain not in notes:
        # A device controlled over plain ECHONET Lite: the declaration must always say it.
        notes.insert(0, plain)
    # The plain ECHONET Lite note first: it is the one the box exists for.
    notes.sort(key=lambda n: n != plain)
    return notes


def _run_fields(report: Mapping[str, Any]) -> list[Field]:
    device_time = report.get("device_time") or {}
    classes = report.get("device_classes") or [report.get("device_class")]
    return [
        Field("実行ID", "Run ID", _text(report.get("run_id"))),
        Field(
            "試験ハーネス",
            "Test harness",
            f"drready {_text((report.get('harness') or {}).get('version'))}",
        ),
        Field("機器クラス", "Device classes", ", ".join(str(c) for c in classes)),
        *_time_fields(report),
        Field(
            "機器時刻の経過 (合計)",
            "Device time covered (total)",
            _hours(device_time.get("covered_s")),
        ),
        *_completion_fields(report),
    ]


def _completion_fields(report: Mapping[str, Any]) -> list[Field]:
    return [
        Field(
            "完了",
            "Complete",
            _text(bool(report.get("complete"))),
            not report.get("complete"),
        ),
        Field("終了コード", "Exit status", _text(report.get("exit_status"))),
    ]


def _time_fields(report: Mapping[str, Any]) -> list[Field]:
    return [
        Field("開始 (UTC)", "Started (UTC)", _text(report.get("started_at"))),
        Field("終了 (UTC)", "Finished (UTC)", _text(report.get("finished_at"))),
    ]


def _part_notices(
    part: Mapping[str, Any], document: Mapping[str, Any], relative: str
) -> list[Notice]:
    """What the combined report knows went wrong with a class's run beyond its own report."""
    notices = []
    if part.get("problem"):
        notices.append(
            Notice(
                "danger",
                f"この機器クラスの試験に問題がありました: {part['problem']}",
                f"This class's run went wrong: {part['problem']}",
            )
        )
    found, expected = document.get("run_id"), part.get("run_id")
    if found != expected:
        notices.append(
            Notice(
                "danger",
                f"{relative} はこの試験のものではありません (実行ID {found})",
                f"{relative} is not this run's (run ID {found}, expected {expected})",
            )
        )
    return notices


def _banner(report: Mapping[str, Any], devices: Sequence[DeviceView]) -> str:
    if report.get("faults") or not report.get("complete", False):
        return "宣言の根拠になりません / NOT A BASIS FOR A DECLARATION"
    if any(n.level == "danger" for d in devices for n in d.notices):
        return "要確認: 冒頭の警告を参照 / CHECK THE WARNINGS ON PAGE 1"
    if report.get("simulated"):
        return "模擬機器による試験 / SIMULATED DEVICE, NOT A REAL ONE"
    return ""


def build_view(run_dir: Path, *, base_href: str | None = None) -> DeclarationView:
    """Everything the declaration shows, read from the run directory."""
    report_path = run_dir / "report.json"
    report = _load(report_path)
    devices: list[DeviceView] = []
    combined = "parts" in report
    if combined:
        for part in report["parts"]:
            relative = part.get("report")
            if not relative:
                prefix = _prefix(str(part.get("device_class")))
                mine = [
                    r
                    for r in report.get("requirements", [])
                    if str(r.get("id", "")).startswith(f"{prefix}-")
                ]
                devices.append(_missing_part_view(part, mine))
                continue
            part_path = run_dir / relative
            document = _load(part_path)
            directory = PurePosixPath(relative).parent
            view = _device_view(run_dir, document, directory)
            view.notices[:0] = _part_notices(part, document, str(relative))
            devices.append(view)
    else:
        devices.append(_device_view(run_dir, report, PurePosixPath(".")))

    notices: list[Notice] = _run_notices(report, "") if combined else []
    for view in devices:
        where_ja = f"{view.name_ja}: " if combined else ""
        where_en = f"{view.name_en}: " if combined else ""
        for notice in view.notices:
            if combined and notice in _run_notices(report, ""):
                continue
            notices.append(Notice(notice.level, where_ja + notice.ja, where_en + notice.en))
    # Loudest first, each said once.
    order = {"danger": 0, "warn": 1, "info": 2}
    unique: list[Notice] = []
    for notice in sorted(notices, key=lambda n: order.get(n.level, 3)):
        if notice not in unique:
            unique.append(notice)

    top_digests: list[Field] = []
    if combined:
        digest = _file_digest(report_path)
        top_digests.append(
            Field("report.json (sha256)", "report.json (sha256)", _text(digest), digest=True)
        )
        for name, value in (report.get("digests") or {}).items():
            top_digests.append(Field(str(name), str(name), str(value), digest=True))

    return DeclarationView(
        run_id=str(report.get("run_id", "")),
        harness_version=str((report.get("harness") or {}).get("version", "")),
        combined=combined,
        notices=unique,
        policy_notes=_policy_notes(report),
        protocol_lines=[d.protocol_line for d in devices if d.protocol_line],
        run_fields=_run_fields(report) + top_digests,
        summary=_summary_rows(report.get("summary", {})),
        devices=devices,
        banner=_banner(report, devices),
        base_href=base_href,
    )


# -- HTML ---------------------------------------------------------------------------------------


def _template_source(name: str) -> str:
    return (files("drready.report") / "templates" / name).read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["css_string"] = _css_string
    return environment


def _css_string(value: Any) -> Markup:
    """A CSS string literal (for @page margin boxes)."""
    text = "".join(ch if ch.isprintable() and ch not in '"\\<>' else " " for ch in str(value))
    return Markup(f'"{text}"')


def render_html(run_dir: Path, *, base_href: str | None = None) -> str:
    """The declaration of the run in ``run_dir`` (one class or combined) as one HTML page.

    Links to evidence are relative to ``run_dir``, unless ``base_href`` says where they are.
    """
    view = build_view(Path(run_dir), base_href=base_href)
    template = _environment().get_template("declaration.html.j2")
    return template.render(view=view, svg=lambda p: Markup(p.svg))


# -- PDF ----------------------------------------------------------------------------------------


def find_browser() -> str:
    """The Chromium to print with: ``$DRREADY_CHROMIUM``, else the first one on PATH."""
    chosen = os.environ.get(BROWSER_ENV, "").strip()
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise DeclarationError(f"{BROWSER_ENV}={chosen}: not an executable; {NO_BROWSER}")
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise DeclarationError(NO_BROWSER)


def browser_command(browser: str, profile_dir: Path) -> list[str]:
    """Headless Chromium, isolated: a fresh profile, nothing fetched, nothing synced."""
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--mute-audio",
        f"--user-data-dir={profile_dir}",
    ]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """End the browser we started and every helper process it started (its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def run_browser(
    arguments: Sequence[str], workdir: Path, *, timeout_s: float = PDF_TIMEOUT_S
) -> tuple[int, str]:
    """Run headless Chromium with ``arguments`` (after the isolation flags); its exit status and
    the last lines it wrote. Killed, with every process it started, after ``timeout_s``."""
    browser = find_browser()
    profile_dir = workdir / "profile"
    profile_dir.mkdir(exist_ok=True)
    log_path = workdir / "browser.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*browser_command(browser, profile_dir), *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            status = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()
            raise DeclarationError(
                f"{browser}: did not finish within {timeout_s:.0f} s (killed)"
            ) from None
        finally:
            _kill_group(process)
    tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    return status, " | ".join(tail)


def render_pdf(run_dir: Path, out: Path, *, timeout_s: float = PDF_TIMEOUT_S) -> Path:
    """Print the declaration of ``run_dir`` to ``out`` (PDF, A4) with headless Chromium."""
    run_dir = Path(run_dir)
    out = Path(out)
    find_browser()  # before rendering: say at once when there is nothing to print with
    html = render_html(run_dir, base_href=run_dir.resolve().as_uri() + "/")
    with tempfile.TemporaryDirectory(prefix="drready-pdf-") as tmp:
        workdir = Path(tmp)
        page = workdir / "declaration.html"
        page.write_text(html, encoding="utf-8")
        printed = workdir / "declaration.pdf"
        status, tail = run_browser(
            [
                f"--print-to-pdf={printed}",
                "--no-pdf-header-footer",
                "--print-to-pdf-no-header",
                page.as_uri(),
            ],
            workdir,
            timeout_s=timeout_s,
        )
        try:
            head = printed.read_bytes()[:5]
        except OSError:
            head = b""
        if head != b"%PDF-":
            detail = f": {tail}" if tail else ""
            raise DeclarationError(
                f"{out}: Chromium (exit {status}) did not print the declaration{detail}"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(printed, staged)
        os.replace(staged, out)
    return out
