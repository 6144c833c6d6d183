"""*-3.1 against IPA's list: check_declaration, and the verdict it gives the run (BAT-3.1) for
profiles derived from the built-in battery profile with another [jcstar] label."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from drready.catalog import get as requirement
from drready.jcstar import JcStarList, check_declaration, declared_in, load_list
from drready.model import DeviceClass
from drready.profile import Profile, default_profile
from drready.report.declaration.identity import jcstar as jcstar_view
from drready.report.verdicts import Verdict, fold_one
from drready.run.ledger import RunContext

ROOT = Path(__file__).resolve().parents[2]
RUN_DAY = date(2026, 12, 4)


@pytest.fixture(scope="module")
def listed() -> JcStarList:
    return load_list(ROOT / "fixtures" / "jcstar" / "list.xlsx")


def _battery(**jcstar: object) -> Profile:
    """The built-in battery profile with its [jcstar] table changed."""
    profile = default_profile(DeviceClass.BATTERY)
    assert profile.jcstar is not None
    return replace(profile, jcstar=replace(profile.jcstar, **jcstar))


def _verdict(profile: Profile, jcstar_list: JcStarList | None) -> tuple[Verdict, str]:
    """BAT-3.1 for this profile, its context built as the run's recorder builds it."""
    jc = profile.jcstar
    assert jc is not None
    maker, product, model = profile.jcstar_identity()
    context = RunContext(
        supported_topologies=frozenset(profile.device.topologies),
        run_topology="gateway",
        jcstar_label=jc.label,
        jcstar_level=jc.level,
        jcstar_valid_until=jc.valid_until,
        today=RUN_DAY,
        jcstar_maker=maker,
        jcstar_product=product,
        jcstar_model=model,
        jcstar_list=jcstar_list,
    )
    result = fold_one(requirement("BAT-3.1"), (), context)
    return result.verdict, result.reason


def test_the_simulators_label_is_listed(listed: JcStarList) -> None:
    verdict, reason = _verdict(_battery(), listed)
    assert verdict is Verdict.PASS
    assert "label SIMULATOR-NOT-A-LABEL" in reason and "valid on 2026-12-04" in reason
    assert "IPA's list dated 2026-11-30 (list.xlsx)" in reason


def test_without_a_list_the_label_stays_declared() -> None:
    verdict, reason = _verdict(_battery(), None)
    assert verdict is Verdict.DECLARED and "self-declared" in reason


def test_an_absent_label_fails(listed: JcStarList) -> None:
    verdict, reason = _verdict(_battery(label="FAKE-JC-9999"), listed)
    assert verdict is Verdict.FAIL
    assert reason == "label FAKE-JC-9999 is not on IPA's list dated 2026-11-30 (list.xlsx)"


def test_an_expired_label_fails(listed: JcStarList) -> None:
    # The profile claims a later date; the list is what counts.
    verdict, reason = _verdict(_battery(label="FAKE-JC-0002", valid_until=date(2099, 1, 1)), listed)
    assert verdict is Verdict.FAIL
    assert "expired on 2025-03-31, before the run on 2026-12-04" in reason


def test_a_label_listed_at_a_lower_level_fails(listed: JcStarList) -> None:
    verdict, reason = _verdict(_battery(label="FAKE-JC-0003", level=2), listed)
    assert verdict is Verdict.FAIL
    assert "is listed at ★1, lower than the declared ★2" in reason


def test_a_label_of_another_product_fails(listed: JcStarList) -> None:
    verdict, reason = _verdict(_battery(label="FAKE-JC-0004"), listed)
    assert verdict is Verdict.FAIL
    assert (
        "label FAKE-JC-0004 is listed for maker 見本工業株式会社 product 見本ヒートポンプ給湯機"
        in reason
    )
    assert "not for maker 架空電機株式会社 product Reference storage battery" in reason


def test_another_maker_under_the_same_label_fails(listed: JcStarList) -> None:
    verdict, reason = _verdict(_battery(maker="見本工業株式会社"), listed)
    assert verdict is Verdict.FAIL and "is listed for maker 架空電機株式会社" in reason


def test_a_profile_without_a_maker_cannot_be_checked(listed: JcStarList) -> None:
    verdict, reason = _verdict(_battery(maker=None), listed)
    assert verdict is Verdict.FAIL and "names no maker ([jcstar] maker" in reason


def test_names_and_numbers_are_compared_normalised(listed: JcStarList) -> None:
    check = check_declaration(
        listed,
        label="ｓｉｍｕｌａｔｏｒ－not－a－label",
        level=1,
        maker=" 架空 電機株式会社 ",
        product=None,
        model="drr－bat－sim",
        on=RUN_DAY,
    )
    assert check.passed, check.reason
    assert check.entry is not None and check.entry.product == "Reference storage battery"


def test_one_of_several_models_in_a_cell_matches(listed: JcStarList) -> None:
    def check(model: str) -> bool:
        return check_declaration(
            listed,
            label="FAKE-JC-0004",
            level=1,
            maker="見本工業株式会社",
            product="見本ヒートポンプ給湯機",
            model=model,
            on=RUN_DAY,
        ).passed

    assert check("MH-0002") and check("mh-0001") and not check("MH-0003")


def test_a_product_name_matches_when_no_model_is_declared(listed: JcStarList) -> None:
    def check(product: str) -> str:
        return check_declaration(
            listed,
            label="FAKE-JC-0005",
            level=1,
            maker="試作ソーラー合同会社",
            product=product,
            model=None,
            on=RUN_DAY,
        ).cause

    # Listed at ★2: a ★1 declaration is met.
    assert check("試作パワーコンディショナ") == "listed"
    assert check("試作パワコン") == "other-product"


@pytest.mark.parametrize(("day", "passed"), [(date(2025, 3, 31), True), (date(2025, 4, 1), False)])
def test_a_label_is_valid_through_its_last_day(listed: JcStarList, day: date, passed: bool) -> None:
    check = check_declaration(
        listed,
        label="FAKE-JC-0002",
        level=1,
        maker="架空電機株式会社",
        product="Reference storage battery",
        model="DRR-BAT-SIM",
        on=day,
    )
    assert check.passed is passed and check.cause == ("listed" if passed else "expired")


def test_a_reports_profile_gives_the_same_declaration_as_the_profile(listed: JcStarList) -> None:
    """What bulk review reads back from report.json matches what the run checked."""
    profile = _battery(level=1)
    declared = declared_in(profile.to_json())
    assert declared is not None
    assert (declared.maker, declared.product, declared.model) == profile.jcstar_identity()
    assert declared.check(listed, RUN_DAY).passed
    assert declared_in({"device": {"name": "x"}}) is None


def test_the_declaration_shows_a_failed_check_flagged_in_both_languages() -> None:
    report = {
        "started_at": "2026-12-04T00:00:00+00:00",
        "profile": {"jcstar": {"label": "FAKE-JC-0002", "level": 1, "valid_until": "2099-12-31"}},
        "jcstar_list": {
            "file": "list.xlsx",
            "date": "2026-11-30",
            "sha256": "ab" * 32,
            "check": {"passed": False, "cause": "expired"},
        },
        "requirements": [{"id": "BAT-3.1", "verdict": "fail", "reason": "label expired on X"}],
    }
    view = jcstar_view(report)
    assert view.flagged and view.status_ja == "リスト上の有効期限切れ"
    assert view.status_en == "label expired on X"
    assert view.checked_en.startswith("Checked against IPA's list: list.xlsx (dated 2026-11-30")
    # Declared only (no list): as before, valid and not flagged.
    del report["jcstar_list"]
    plain = jcstar_view(report)
    assert not plain.flagged and plain.checked_en == ""
