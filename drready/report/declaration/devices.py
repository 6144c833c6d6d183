"""One page per device: what the run was, its notices, requirements, plots and digests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from drready.canonical import digest
from drready.catalog import (
    DeviceClass,
)
from drready.evidence import verify_chain
from drready.report import plots
from drready.report.declaration.identity import identity, jcstar
from drready.report.declaration.model import VERDICT_LABELS, DeviceView, Field, Notice
from drready.report.declaration.reading import as_text, file_digest, hours_text, read_evidence
from drready.report.declaration.requirements import requirement_rows


def summary_rows(counts: Mapping[str, Any]) -> list[tuple[str, str, str, int]]:
    return [
        (verdict, ja, en, int(counts.get(verdict, 0)))
        for verdict, (ja, en) in VERDICT_LABELS.items()
    ]


def _class_names(device_class: str) -> tuple[str, str, str]:
    try:
        cls = DeviceClass(device_class)
    except ValueError:
        return device_class, device_class, "—"
    return cls.name_ja, cls.name_en, f"0x{cls.echonet_class_id:04X}"


def run_notices(report: Mapping[str, Any], where: str) -> list[Notice]:
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


def completion_fields(report: Mapping[str, Any]) -> list[Field]:
    return [
        Field(
            "完了",
            "Complete",
            as_text(bool(report.get("complete"))),
            not report.get("complete"),
        ),
        Field("終了コード", "Exit status", as_text(report.get("exit_status"))),
    ]


def time_fields(report: Mapping[str, Any]) -> list[Field]:
    return [
        Field("開始 (UTC)", "Started (UTC)", as_text(report.get("started_at"))),
        Field("終了 (UTC)", "Finished (UTC)", as_text(report.get("finished_at"))),
    ]


def device_view(
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
    view.notices += run_notices(report, "")

    view.identity = identity(report)
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
        f"{name_ja} / {name_en}: {as_text(protocol)} Version {as_text(version)}, "
        f"Appendix Release {as_text(release)}"
    )

    jc = jcstar(report)
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
    records, problem = read_evidence(evidence_path)
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
    # A --time-scale device lived more than the harness: its times are reckoned onto its clock.
    device_clock = plots.DeviceTime.from_report(report)
    view.requirements = requirement_rows(report.get("requirements", []), href, device_clock)
    view.summary = summary_rows(report.get("summary", {}))
    failed = [r.id for r in view.requirements if r.verdict == "fail"]
    if failed:
        view.notices.append(
            Notice(
                "danger",
                f"不適合の要件があります: {', '.join(failed)}",
                f"Requirements FAILED: {', '.join(failed)}",
            )
        )
    inconclusive = [r.id for r in view.requirements if r.verdict == "inconclusive"]
    if inconclusive:
        # Not a failure found, but no conformance shown either: a declaration must not read as
        # conformant while a requirement could not be judged.
        view.notices.append(
            Notice(
                "danger",
                f"判定不能の要件があります: {', '.join(inconclusive)}。"
                "試験の前提条件が整わなかったか、通信が途中で失敗したため、適合を示せていません。",
                f"Requirements INCONCLUSIVE: {', '.join(inconclusive)}. Their tests could not "
                "reach a verdict (a precondition could not be established, or an exchange "
                "failed mid-test): conformance is NOT shown.",
            )
        )

    # How the run was made.
    device_time = report.get("device_time") or {}
    faults = list(report.get("faults") or [])
    time_scale = profile.get("time_scale")
    view.conditions = [
        Field("実行ID", "Run ID", as_text(report.get("run_id"))),
        Field("機器クラス", "Device class", f"{device_class} (ECHONET Lite {class_code})"),
        Field("試験構成", "Topology", as_text(report.get("topology"))),
        Field("接続方式", "Binding", as_text(report.get("binding"))),
        Field(
            "対応構成 (申告)",
            "Topologies declared",
            ", ".join(device_profile.get("topologies") or []) or "—",
        ),
        Field(
            "模擬機器",
            "Simulated",
            as_text(bool(report.get("simulated"))),
            bool(report.get("simulated")),
        ),
        Field(
            "注入した故障",
            "Faults injected",
            ", ".join(faults) if faults else "なし / none",
            bool(faults),
        ),
        Field("時間倍率", "Time scale", as_text(time_scale)),
        *completion_fields(report),
        *time_fields(report),
        Field(
            "機器時刻の範囲",
            "Device time",
            f"{as_text(device_time.get('start'))} → {as_text(device_time.get('end'))}",
        ),
        Field("機器時刻の経過", "Device time covered", hours_text(device_time.get("covered_s"))),
        Field(
            "証拠ログ",
            "Evidence log",
            f"{evidence_rel} ({as_text(evidence_meta.get('records'))} records)",
        ),
        Field("証拠連鎖", "Evidence chain", chain_text, chain_bad),
    ]

    view.digests = _digests(run_dir / report_rel, report, digests)

    # Plot.
    if records:
        salt = f"{device_class}-{report.get('run_id', '')}"
        if device_class == DeviceClass.BATTERY:
            view.plot = plots.battery_plot(records, salt=salt, device_time=device_clock)
        else:
            view.plot = plots.water_heater_plot(
                records,
                profile.get("water_heater"),
                hybrid=device_class == DeviceClass.HYBRID,
                salt=salt,
                device_time=device_clock,
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
    report_digest = as_text(file_digest(report_path))
    fields.append(Field("report.json (sha256)", "report.json (sha256)", report_digest, digest=True))
    return fields


def missing_part_view(
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
        Field("実行ID", "Run ID", as_text(part.get("run_id"))),
        Field("完了", "Complete", as_text(False), True),
        Field("終了コード", "Exit status", as_text(part.get("exit_status"))),
    ]
    view.requirements = requirement_rows(requirements, None)
    view.summary = summary_rows(part.get("summary", {}))
    view.plot_note_ja = "報告がないため、グラフはありません。"
    view.plot_note_en = "No report: no plot."
    return view
