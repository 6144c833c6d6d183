"""The whole declaration of a run (one class or combined), ready for the template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from drready.catalog import (
    POLICY_PLAIN_ECHONET_LITE_EN,
    POLICY_PLAIN_ECHONET_LITE_JA,
    DeviceClass,
    Topology,
)
from drready.report.declaration.devices import (
    completion_fields,
    device_view,
    missing_part_view,
    run_notices,
    summary_rows,
    time_fields,
)
from drready.report.declaration.model import DeclarationView, DeviceView, Field, Notice
from drready.report.declaration.reading import as_text, file_digest, hours_text, load_json
from drready.report.declaration.signatures import signature_rows


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
    if Topology.GATEWAY in topologies and plain not in notes:
        # A device controlled over plain ECHONET Lite: the declaration must always say it.
        notes.insert(0, plain)
    # The plain ECHONET Lite note first: it is the one the box exists for.
    notes.sort(key=lambda n: n != plain)
    return notes


def _run_fields(report: Mapping[str, Any]) -> list[Field]:
    device_time = report.get("device_time") or {}
    classes = report.get("device_classes") or [report.get("device_class")]
    return [
        Field("実行ID", "Run ID", as_text(report.get("run_id"))),
        Field(
            "試験ハーネス",
            "Test harness",
            f"drready {as_text((report.get('harness') or {}).get('version'))}",
        ),
        Field("機器クラス", "Device classes", ", ".join(str(c) for c in classes)),
        *time_fields(report),
        Field(
            "機器時刻の経過 (合計)",
            "Device time covered (total)",
            hours_text(device_time.get("covered_s")),
        ),
        *completion_fields(report),
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


def _as_combined(
    report: Mapping[str, Any], part: Mapping[str, Any], document: Mapping[str, Any]
) -> Mapping[str, Any]:
    """A part's report with the verdicts the combined report gives it: the checks across the
    parts (*-ID's uniqueness across units) can fail what the part's own run passed."""
    name = part.get("name")
    mine = [r for r in report.get("requirements", []) if r.get("part") == name] if name else []
    if not mine and name:
        # A unit tested over several bindings: its requirements are folded over its parts,
        # each part's own verdict (after the checks across units) in ``bindings``.
        own = {r.get("id"): r for r in document.get("requirements", [])}
        for requirement in report.get("requirements", []):
            for entry in requirement.get("bindings", []):
                if entry.get("part") == name and requirement.get("id") in own:
                    mine.append(
                        {
                            **own[requirement["id"]],
                            "verdict": entry.get("verdict"),
                            "reason": entry.get("reason", own[requirement["id"]].get("reason")),
                        }
                    )
    if not mine:  # a report written before parts had names
        return document
    return {**document, "requirements": mine, "summary": part.get("summary", {})}


def _unit_bindings(part: Mapping[str, Any], report: Mapping[str, Any]) -> Field | None:
    """A unit tested over several bindings: which, on each of its pages."""
    unit = part.get("unit")
    siblings = [p for p in report.get("parts", []) if unit and p.get("unit") == unit]
    if len(siblings) < 2:
        return None
    names = []
    for sibling in siblings:
        device = ((sibling.get("profile") or {}).get("device")) or {}
        binding = sibling.get("binding") or device.get("binding") or "echonet"
        names.append(f"{sibling.get('name')}: {binding}")
    return Field(
        "この機器で試験した接続方式 (判定は統合)",
        "Bindings this device was tested over (verdicts folded in the run's summary)",
        "; ".join(names),
    )


def _name_unit(view: DeviceView, part: Mapping[str, Any], report: Mapping[str, Any]) -> None:
    """Several parts of one class (units): each page says which unit it is."""
    name = part.get("name")
    if name and len(report.get("parts", [])) > len(report.get("device_classes", [])):
        # Several units, or one unit over several bindings: the part's name says which.
        view.name_ja = f"{view.name_ja} ({name})"
        view.name_en = f"{view.name_en} ({name})"


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
    report = load_json(report_path)
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
                devices.append(missing_part_view(part, mine))
                continue
            part_path = run_dir / relative
            document = load_json(part_path)
            directory = PurePosixPath(relative).parent
            view = device_view(run_dir, _as_combined(report, part, document), directory)
            view.notices[:0] = _part_notices(part, document, str(relative))
            _name_unit(view, part, report)
            tested = _unit_bindings(part, report)
            if tested is not None:
                view.conditions.insert(0, tested)
            devices.append(view)
    else:
        devices.append(device_view(run_dir, report, PurePosixPath(".")))

    notices: list[Notice] = run_notices(report, "") if combined else []
    for view in devices:
        where_ja = f"{view.name_ja}: " if combined else ""
        where_en = f"{view.name_en}: " if combined else ""
        for notice in view.notices:
            if combined and notice in run_notices(report, ""):
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
        digest = file_digest(report_path)
        top_digests.append(
            Field("report.json (sha256)", "report.json (sha256)", as_text(digest), digest=True)
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
        summary=summary_rows(report.get("summary", {})),
        devices=devices,
        banner=_banner(report, devices),
        base_href=base_href,
        signatures=signature_rows(run_dir),
    )
