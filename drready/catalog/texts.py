"""The requirement texts and policy notes, quoted from the paper, as data.

This module is long on purpose: it is a table of standard data (every requirement's Japanese
and English text, note and harness reading), which reads best in one place, in the paper's
order. Nothing in it is logic beyond assembling the table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from drready.catalog.requirement import COMMON_CLAUSES, ID_CLAUSE, Kind, Requirement
from drready.model import DeviceClass, Topology

# ---------------------------------------------------------------------------------------------
# Data tables
# ---------------------------------------------------------------------------------------------

_BOTH: Final = frozenset({Topology.GATEWAY, Topology.SERVER})


_GATEWAY_ONLY: Final = frozenset({Topology.GATEWAY})


_SERVER_ONLY: Final = frozenset({Topology.SERVER})


@dataclass(frozen=True)
class _Row:
    """One line of a data table; the class, ID, source and ``common`` flag are filled in later."""

    clause: str
    title_ja: str
    title_en: str
    reading_en: str
    topologies: frozenset[Topology] = _BOTH
    kind: Kind = Kind.TESTED
    notes_ja: tuple[str, ...] = ()
    notes_en: tuple[str, ...] = ()


# Notes ※3 and ※4 are worded identically on all three slides, so the shared rows carry them.
_NOTE_3_JA: Final = (
    "※3 個体を識別して制御することが可能な情報については、特に「3.セキュリティ」を徹底すること。"
)


_NOTE_3_EN: Final = (
    "Note 3: apply section 3 (security) with particular care to the information that "
    "identifies the individual unit for control."
)


_NOTE_4_JA: Final = (
    "※4 今後詳細要件が決まるセキュリティ要件適合評価及びラベリング制度（JC-STAR）★2が"
    "要件となる場合がある。"
)


_NOTE_4_EN: Final = (
    "Note 4: JC-STAR ★2, whose detailed criteria are still to be fixed, may become the requirement."
)


# Section 1 of every slide is one sentence, 「機器等がGWと通信できること及びDRサービサーサーバーと
# 構造化されたデータ形式を用いて通信できること」; we split it at 「及び」 into *-1.1 and *-1.2
# because the two halves are exercised over different topologies. JGKA's slide reads
# 「DRサーバーサーバー」, evidently a slip for JEMA's and JRAIA's 「DRサービサーサーバー」, so the
# shared wording is used for HY too.
_COMMON_HEAD: Final[tuple[_Row, ...]] = (
    _Row(
        clause="1.1",
        title_ja="機器等がGWと通信できること",
        title_en="The device can communicate with the gateway.",
        reading_en=(
            "Discovery (node profile, instance list), Get of mandatory properties, property "
            "maps consistent with what is served."
        ),
        topologies=_GATEWAY_ONLY,
    ),
    _Row(
        clause="1.2",
        title_ja="DRサービサーサーバーと構造化されたデータ形式を用いて通信できること",
        title_en=(
            "The device can communicate with the DR servicer server using a structured data format."
        ),
        reading_en=(
            "Every message the device (or its maker's server) sends validates against the "
            "servicer binding's JSON Schema; malformed messages are findings, with the "
            "offending document in the evidence."
        ),
        topologies=_SERVER_ONLY,
    ),
)


_COMMON_TAIL: Final[tuple[_Row, ...]] = (
    _Row(
        clause=ID_CLAUSE,
        title_ja="個体を識別して制御することが可能な情報を保有、確認できること※3",
        title_en=(
            "The device holds, and can show, information that identifies the individual unit "
            "for control."
        ),
        notes_ja=(_NOTE_3_JA,),
        notes_en=(_NOTE_3_EN,),
        reading_en=(
            "Manufacturer code, product code, serial/identification number readable, stable "
            "across restarts, unique across units in a fleet; not disclosed to an "
            "unauthenticated peer on the server path."
        ),
    ),
    _Row(
        clause="3.1",
        title_ja="セキュリティ要件適合評価及びラベリング制度（JC-STAR）★1以上※4であること",
        title_en="JC-STAR ★1 or higher.",
        notes_ja=(_NOTE_4_JA,),
        notes_en=(_NOTE_4_EN,),
        reading_en=(
            "Declared in the profile (label number, level, valid-until); the report states it "
            "and flags an expired label. Not a claim the harness can prove."
        ),
        kind=Kind.DECLARED,
    ),
    # The paper puts 「特に、機器メーカーサーバーと機器間の制御に関する通信においては、」 on
    # its own line before items ② and ③. REQUIREMENTS.md folds that scope into *-3.2 only (and
    # so limits *-3.2 to the server topology), while *-3.3 is read for both topologies; the
    # Japanese titles follow the same split.
    _Row(
        clause="3.2",
        title_ja=(
            "特に、機器メーカーサーバーと機器間の制御に関する通信においては、"
            "通信先の制限、認証、通信メッセージの暗号化が可能なこと"
        ),
        title_en=(
            "For control traffic between the maker's server and the device: destinations can "
            "be restricted, peers authenticated, messages encrypted."
        ),
        reading_en=(
            "Network-observable checks: TLS 1.2+ only, certificate validated, unauthenticated "
            "/ wrong-credential / replayed / tampered control requests rejected and not "
            "executed, control from a non-allowed origin rejected."
        ),
        topologies=_SERVER_ONLY,
    ),
    _Row(
        clause="3.3",
        title_ja="管理組織の特定が可能で、かつ脆弱性対策が設計可能なプロトコルで通信できること",
        title_en=(
            "The protocol's managing organisation is identifiable and vulnerability "
            "countermeasures can be designed for it."
        ),
        reading_en=(
            "Profile declares protocol and version; for ECHONET Lite the Release letter read "
            "from EPC 0x82 is reported."
        ),
    ),
)


# JEMA slide, 2025-08-28 第6回 DRready勉強会 資料6. Notes ※1 and ※2 are attached to both ① and
# ② on the slide (receiving and executing), so BAT-2.1 and BAT-2.2 both carry them.
_BAT_NOTE_1_JA: Final = (
    "※1 GW経由型においては、継続時間の受信及び継続時間を加味した充放電の実行は、必須ではない。"
)


_BAT_NOTE_1_EN: Final = (
    "Note 1: with the gateway topology, receiving the duration, and charging/discharging "
    "according to it, are not mandatory."
)


_BAT_NOTE_2_JA: Final = "※2 30分間隔以内で受信・実行できること。"


_BAT_NOTE_2_EN: Final = (
    "Note 2: requests must be received and executed at intervals of 30 minutes or less."
)


_BATTERY_ROWS: Final[tuple[_Row, ...]] = (
    _Row(
        clause="2.1",
        title_ja="DR要求による充放電の電力目標値と継続時間※1を受信できること※2",
        title_en="Receive, by DR request, a charge/discharge target power and a duration.",
        notes_ja=(_BAT_NOTE_1_JA, _BAT_NOTE_2_JA),
        notes_en=(_BAT_NOTE_1_EN, _BAT_NOTE_2_EN),
        reading_en=(
            "Each request acknowledged; a series of requests 30 min apart (and shorter) each "
            "accepted."
        ),
    ),
    _Row(
        clause="2.2",
        title_ja="DR要求による電力目標値と継続時間※1を加味した充放電を実行できること※2",
        title_en="Charge/discharge according to the target power and duration.",
        notes_ja=(_BAT_NOTE_1_JA, _BAT_NOTE_2_JA),
        notes_en=(_BAT_NOTE_1_EN, _BAT_NOTE_2_EN),
        reading_en=(
            "Measured power reaches target ± tolerance within the declared response time "
            "(≤ 30 min) and holds it until the end of the duration; stops at the end of the "
            "duration (server topology). Target beyond the device's min/max is clamped or "
            "refused, never exceeded."
        ),
    ),
    _Row(
        clause="2.3",
        title_ja="現在の充放電可能量を把握可能な情報を送信できること",
        title_en=(
            "Send information from which the current chargeable and dischargeable amount can "
            "be known."
        ),
        reading_en=(
            "Values readable; consistent with state of charge, capacity and the backup "
            "reserve; they move the right way while charging/discharging."
        ),
    ),
    _Row(
        clause="2.4",
        title_ja="現在設定されているバックアップ用の電力量を把握可能な情報を送信できること",
        title_en=(
            "Send information from which the currently configured backup energy can be known."
        ),
        reading_en=(
            "Readable; after the user changes it, the new value is reported; discharge under "
            "DR never goes below it."
        ),
    ),
    _Row(
        clause="2.5",
        title_ja="現在の蓄電池の充放電電力および充放電電力量の計量値を送信できること",
        title_en=(
            "Send measured values of current charge/discharge power and of charge/discharge energy."
        ),
        reading_en=(
            "Power sign and magnitude match the executed DR; cumulative energy counters are "
            "monotonic and their increase matches the integral of power within tolerance."
        ),
    ),
    _Row(
        clause="2.6",
        title_ja="DR要求の実行が完了後、DR要求前の機器自体のモードに復帰できること",
        title_en=(
            "After a DR request has been executed, return to the device's own mode from "
            "before the request."
        ),
        reading_en=(
            "Mode before DR recorded; after the DR ends the device is back in that mode within "
            "the declared time. Tested from several starting modes."
        ),
    ),
    _Row(
        clause="2.7",
        title_ja="通信途絶時に、機器自体のモードに復帰できること",
        title_en="When communication is lost, return to the device's own mode.",
        reading_en=(
            "Harness goes silent / drops the link mid-DR; device returns to its pre-DR mode "
            "within the declared comms-loss timeout."
        ),
    ),
)


# The water heaters share items ②-④ word for word (JRAIA slide, 2025-01-28 第4回 資料4; JGKA
# slide, 2025-08-28 第6回 資料3); only note ※1 on the DR-possible amount differs.
_HEATER_NOTE_2_JA: Final = "※2 DR要求を受け付けられる時刻については公開すること。"


_HEATER_NOTE_2_EN: Final = "Note 2: the times at which DR requests are accepted must be published."


_HEATER_START_TIME_READING: Final = (
    "Start times inside the published acceptance windows (profile water_heater."
    "acceptance_windows: each window's ends and middle) accepted and become the reported plan; "
    "outside (one step beyond each end, and 03:00) refused (error response) and the plan left "
    "as it was."
)


_HEATER_PLAN_READING: Final = (
    "The device's reported plan moves to the requested time, and heating actually starts at "
    "that time ± the time tolerance, judged by every witness the device offers (power draw "
    "0x84 ≥ 50 % of the rated heating power, the energy counter 0x85, the heating status 0xB2; "
    "the majority decides, and witnesses that disagree are a finding against the reporting "
    "requirement); before it, heating only inside the declared night-heating period. Checked "
    "for a request made the same morning and one made the evening before (across midnight)."
)


_HEATER_POWER_READING: Final = (
    "Readable; over a whole day it tracks the heating status (0xB2): within ±25 % of the rated "
    "heating power while heating, at most the power tolerance while not; both states seen. The "
    "energy counter agrees with the power readings and never goes back or jumps, from before a "
    "DR request to after its heating."
)


def _heater_rows(
    note_1_ja: str, note_1_en: str, amount_reading: str, plan_reading: str
) -> tuple[_Row, ...]:
    """Items 2.1-2.4 of a water-heater slide; the class-specific parts are the arguments."""
    return (
        _Row(
            clause="2.1",
            title_ja="DR可能量※1を送信できること",
            title_en="Send the DR-possible amount.",
            notes_ja=(note_1_ja,),
            notes_en=(note_1_en,),
            reading_en=amount_reading,
        ),
        _Row(
            clause="2.2",
            title_ja="DR要求※2による沸き上げ開始時刻を受信できること",
            title_en='Receive a heating ("boil-up") start time by DR request.',
            notes_ja=(_HEATER_NOTE_2_JA,),
            notes_en=(_HEATER_NOTE_2_EN,),
            reading_en=_HEATER_START_TIME_READING,
        ),
        _Row(
            clause="2.3",
            title_ja="DR要求による沸き上げ開始時刻を加味した沸き上げ計画を策定できること",
            title_en="Draw up a heating plan that takes the DR start time into account.",
            reading_en=plan_reading,
        ),
        _Row(
            clause="2.4",
            title_ja="現在の消費電力の推定値又は計量値を送信できること",
            title_en="Send an estimated or measured value of current power consumption.",
            reading_en=_HEATER_POWER_READING,
        ),
    )


_HEATPUMP_ROWS: Final = _heater_rows(
    note_1_ja=(
        "※1 評価モードにおいて、1日の沸き上げに必要な消費電力量の50%以上DR可能とすること。"
        "また、評価モードにおける1日の沸き上げに必要な消費電力量の内、"
        "DR可能な消費電力比率を公開すること。"
    ),
    note_1_en=(
        "Note 1: in evaluation mode at least 50% of the energy needed for one day's heating "
        "must be DR-able; the DR-able share of that energy must be published."
    ),
    amount_reading=(
        "Read the DR-possible energy for the evaluation day's start time (standard 0xCB, or the "
        "profile's mapping); over the declared evaluation-mode daily heating energy, ratio ≥ "
        "0.50 and equal (± energy tolerance) to the published ratio."
    ),
    plan_reading=_HEATER_PLAN_READING,
)


_HYBRID_ROWS: Final = _heater_rows(
    note_1_ja=(
        "※1 DR要求による沸き上げ開始時刻に基づきDR可能量を算出できること。"
        "また、評価モードにおける1日の沸き上げに必要な消費電力量の内、"
        "DR可能な消費電力比率を公開すること。"
    ),
    note_1_en=(
        "Note 1: the DR-possible amount must be computable from the DR-requested start time; "
        "the DR-able share of the evaluation-mode daily heating energy must be published."
    ),
    amount_reading=(
        "At the evaluation day's start time, ratio to the declared daily heating energy ≥ 0.50 "
        "and equal (± energy tolerance) to the published share. The amount follows the start "
        "time: for the latest published start, the amount reported equals (± energy tolerance) "
        "the electric energy the shift then draws."
    ),
    # REQUIREMENTS.md words the HY readings of 2.2-2.4 as "As HP-2.x"; they are spelled out so
    # that a report printing one requirement is complete without a cross-reference.
    plan_reading=(
        f"{_HEATER_PLAN_READING} The auxiliary (gas) heater must not silently replace "
        "heat-pump heating during the DR window."
    ),
)


_CLASS_ROWS: Final[Mapping[DeviceClass, tuple[_Row, ...]]] = MappingProxyType(
    {
        DeviceClass.BATTERY: _BATTERY_ROWS,
        DeviceClass.HEATPUMP: _HEATPUMP_ROWS,
        DeviceClass.HYBRID: _HYBRID_ROWS,
    }
)


def _build_catalog() -> Mapping[str, Requirement]:
    requirements = [
        Requirement(
            id=f"{device_class.prefix}-{row.clause}",
            device_class=device_class,
            clause=row.clause,
            title_ja=row.title_ja,
            title_en=row.title_en,
            notes_ja=row.notes_ja,
            notes_en=row.notes_en,
            reading_en=row.reading_en,
            topologies=row.topologies,
            kind=row.kind,
            source=device_class.source,
            common=row.clause in COMMON_CLAUSES,
        )
        for device_class in DeviceClass
        for row in (*_COMMON_HEAD, *_CLASS_ROWS[device_class], *_COMMON_TAIL)
    ]
    # Sorting, rather than trusting the order of the tables, keeps the documented order even if
    # a row is later appended out of place.
    requirements.sort(key=lambda requirement: requirement.sort_key)
    catalog = {requirement.id: requirement for requirement in requirements}
    if len(catalog) != len(requirements):
        raise ValueError("duplicate requirement IDs in the catalog tables")
    return MappingProxyType(catalog)


CATALOG: Final[Mapping[str, Requirement]] = _build_catalog()


# ---------------------------------------------------------------------------------------------
# Policy notes the report must honour (REQUIREMENTS.md, "Policy notes from the same paper")
# ---------------------------------------------------------------------------------------------

# Sentences 1 and 2 are the paper's wording with the study-group phrasing trimmed: sentence 1 is
# 「…満足しているわけではない点を明確にすべきである。」 in the paper; sentence 2 joins the slide
# 「スマートホーム★2におけるECHONET Liteの課題」 (「…「守るべき資産」として、★1から追加で
# 定義」 and 「現行のECHONET Liteでは、スマートホーム分野★2の要件を満たすことができないと
# 判断」). Sentence 3 is our rendering for this harness, built on the paper's
# 「JC-STARの★1の取得は必ずしも安全を担保するものではない」 and 「「認証を取得しているため
# 問題ない」と誤解されやすく」.
POLICY_PLAIN_ECHONET_LITE_JA: Final = (
    "通信プロトコルとしてECHONET Liteのみを実装する機器がJC-STARの★1要件を満足している"
    "わけではない。"
    "スマートホーム分野★2では「制御指示」、「機器が保存又は通信する、動作情報および"
    "センサ収集情報」が「守るべき資産」として、★1から追加で定義されており、"
    "現行のECHONET Liteでは、スマートホーム分野★2の要件を満たすことができない。"
    "本試験に合格したことは必ずしも安全を担保するものではなく、"
    "「認証を取得しているため問題ない」と解してはならない。"
)


POLICY_PLAIN_ECHONET_LITE_EN: Final = (
    "Implementing only ECHONET Lite as the communication protocol does not satisfy the "
    "JC-STAR ★1 requirements. JC-STAR smart-home ★2 adds control commands and the operating "
    "and sensor data a device stores or sends to the assets to protect, and current ECHONET "
    "Lite cannot meet the smart-home ★2 requirements. Passing these tests does not mean the "
    'device is secure, and must never be read as "certified, therefore safe".'
)


# Both sentences are quoted from the paper's summary of the 7th DRready study group.
POLICY_TRANSPARENCY_JA: Final = (
    "カスタマーやプロバイダーの混乱を招かないために、機器に実装されたプロトコルが"
    "ECHONET Liteのどのバージョンの仕様なのかを明確化しなければならない。"
    "機器の混在が生じること、アップデートを要すること、現状がいかなる状態にあるかを"
    "正確に伝えることは極めて重要。"
)


POLICY_TRANSPARENCY_EN: Final = (
    "To avoid confusing customers and providers, it must be clear which version of the "
    "ECHONET Lite specification a device implements. It is essential to state accurately that "
    "devices of mixed generations coexist, that updates are needed, and what the current state "
    "is."
)
