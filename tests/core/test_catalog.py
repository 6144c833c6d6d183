"""Tests for the DRready requirement catalog (drready.catalog)."""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from pathlib import Path

import pytest

from drready import catalog
from drready.catalog import (
    CATALOG,
    DeviceClass,
    Kind,
    Requirement,
    Topology,
    UnknownRequirementError,
)

# In CI the shared documents sit beside the repository checkout, at ../shared.
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPOSITORY_ROOT.parent / "shared"
REQUIREMENTS_MD = SHARED / "REQUIREMENTS.md"
SEED_003 = SHARED / "seeds" / "003_2c7858e3522b7f83.txt"

# REQUIREMENTS.md lists the six common rows once, as *-clause, and BAT-ID, HP-ID and HY-ID again
# in the class tables; those are the same requirement, hence 6 + 7 and 6 + 4.
EXPECTED_COUNTS = {DeviceClass.BATTERY: 13, DeviceClass.HEATPUMP: 10, DeviceClass.HYBRID: 10}
COMMON_CLAUSES = ("1.1", "1.2", "ID", "3.1", "3.2", "3.3")
# The paper's order: section 1, the class items of section 2, the identification item that
# closes section 2 on every slide, then section 3.
CLAUSE_ORDER: tuple[str, ...] = (
    *("1.1", "1.2"),
    *(f"2.{item}" for item in range(1, 8)),
    *("ID", "3.1", "3.2", "3.3"),
)

BOTH = frozenset({Topology.GATEWAY, Topology.SERVER})
EXPECTED_TOPOLOGIES = {
    "1.1": frozenset({Topology.GATEWAY}),
    "1.2": frozenset({Topology.SERVER}),
    "3.2": frozenset({Topology.SERVER}),
}


def ids_in_requirements_markdown(text: str) -> set[str]:
    """IDs from the first column of the markdown tables, with *-clause expanded per class."""
    found: set[str] = set()
    for match in re.finditer(r"^\|\s*`(?P<prefix>[A-Z]+|\*)-(?P<clause>[0-9.]+|ID)`", text, re.M):
        prefixes = (
            [device_class.prefix for device_class in DeviceClass]
            if match["prefix"] == "*"
            else [match["prefix"]]
        )
        found.update(f"{prefix}-{match['clause']}" for prefix in prefixes)
    return found


def normalise_seed_text(text: str) -> str:
    """Seed 003 with the PDF-conversion noise removed, so quoted wording can be found in it."""
    text = re.sub(r"\^\{(※\d+)\}", r"\1", text)  # ^{※1} -> ※1
    text = re.sub(r"^\s*-\s*[①-⑳]?\s*", "", text, flags=re.M)  # bullets and item numbers
    return re.sub(r"\s+", "", text)


def test_every_id_in_requirements_markdown_is_in_the_catalog() -> None:
    if not REQUIREMENTS_MD.exists():
        pytest.skip(f"{REQUIREMENTS_MD} not available")
    documented = ids_in_requirements_markdown(REQUIREMENTS_MD.read_text(encoding="utf-8"))
    assert len(documented) == 33  # guards the parser itself
    assert documented == set(CATALOG)


def test_counts() -> None:
    for device_class, expected in EXPECTED_COUNTS.items():
        assert len(catalog.for_class(device_class)) == expected, device_class
    assert len(CATALOG) == sum(EXPECTED_COUNTS.values()) == 33
    assert len(catalog.ids()) == len(set(catalog.ids())) == 33


def test_class_rows() -> None:
    clauses = {
        device_class: [
            requirement.clause
            for requirement in catalog.for_class(device_class)
            if not requirement.common
        ]
        for device_class in DeviceClass
    }
    assert clauses[DeviceClass.BATTERY] == [f"2.{item}" for item in range(1, 8)]
    assert clauses[DeviceClass.HEATPUMP] == [f"2.{item}" for item in range(1, 5)]
    assert clauses[DeviceClass.HYBRID] == [f"2.{item}" for item in range(1, 5)]


def test_common_rows_are_expanded_for_every_class() -> None:
    for device_class in DeviceClass:
        for clause in COMMON_CLAUSES:
            requirement = catalog.get(f"{device_class.prefix}-{clause}")
            assert requirement.common
            assert requirement.device_class is device_class
            assert requirement.clause == clause


@pytest.mark.parametrize("requirement", list(CATALOG.values()), ids=list(CATALOG))
def test_texts_are_present(requirement: Requirement) -> None:
    for text in (requirement.title_ja, requirement.title_en, requirement.reading_en):
        assert text.strip()
    assert len(requirement.notes_ja) == len(requirement.notes_en)
    assert all(note.strip() for note in (*requirement.notes_ja, *requirement.notes_en))
    # The Japanese title really is Japanese, and the English one is not.
    assert any(unicodedata.east_asian_width(char) == "W" for char in requirement.title_ja)
    assert not any(unicodedata.east_asian_width(char) == "W" for char in requirement.title_en)


@pytest.mark.parametrize("requirement", list(CATALOG.values()), ids=list(CATALOG))
def test_topologies_kind_source(requirement: Requirement) -> None:
    assert requirement.topologies == EXPECTED_TOPOLOGIES.get(requirement.clause, BOTH)
    expected_kind = Kind.DECLARED if requirement.clause == "3.1" else Kind.TESTED
    assert requirement.kind is expected_kind
    expected_source = {
        DeviceClass.BATTERY: "JEMA",
        DeviceClass.HEATPUMP: "JRAIA",
        DeviceClass.HYBRID: "JGKA",
    }[requirement.device_class]
    assert requirement.source == expected_source
    assert requirement.common == (requirement.clause in COMMON_CLAUSES)


def test_japanese_wording_is_quoted_from_the_seed() -> None:
    if not SEED_003.exists():
        pytest.skip(f"{SEED_003} not available")
    seed = normalise_seed_text(SEED_003.read_text(encoding="utf-8"))
    for requirement in CATALOG.values():
        for text in (requirement.title_ja, *requirement.notes_ja):
            assert re.sub(r"\s+", "", text) in seed, (requirement.id, text)
    # The transparency note quotes two separate bullets of the paper, sentence by sentence.
    for sentence in re.sub(r"\s+", "", catalog.POLICY_TRANSPARENCY_JA).split("。"):
        assert sentence in seed, sentence


def test_device_class_details() -> None:
    assert [device_class.prefix for device_class in DeviceClass] == ["BAT", "HP", "HY"]
    assert DeviceClass.BATTERY.echonet_class_id == 0x027D
    assert DeviceClass.HEATPUMP.echonet_class_id == 0x026B
    assert DeviceClass.HYBRID.echonet_class_id == 0x02A6
    assert DeviceClass.BATTERY.name_ja == "家庭用蓄電池"
    assert DeviceClass.HYBRID.name_en == "hybrid water heater"
    assert DeviceClass("heatpump") is DeviceClass.HEATPUMP


def test_get_returns_the_requirement() -> None:
    requirement = catalog.get("BAT-2.2")
    assert requirement.id == "BAT-2.2"
    assert requirement.device_class is DeviceClass.BATTERY
    assert requirement.notes_ja[0].startswith("※1 GW経由型")


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [("BAT-22", "BAT-2.2"), ("bat-2.2", "BAT-2.2"), ("HY-1D", "HY-ID"), ("HP-21", "HP-2.1")],
)
def test_get_unknown_suggests_close_matches(typed: str, suggestion: str) -> None:
    with pytest.raises(UnknownRequirementError) as raised:
        catalog.get(typed)
    assert isinstance(raised.value, KeyError)
    assert raised.value.suggestions[0] == suggestion
    assert str(raised.value).startswith(
        f"unknown requirement ID {typed!r}; did you mean {suggestion}"
    )


def test_get_unknown_message_matches_the_documented_example() -> None:
    with pytest.raises(UnknownRequirementError) as raised:
        catalog.get("BAT-22")
    assert str(raised.value) == "unknown requirement ID 'BAT-22'; did you mean BAT-2.2?"


def test_get_unknown_without_any_close_match() -> None:
    with pytest.raises(UnknownRequirementError) as raised:
        catalog.get("nonsense")
    assert raised.value.suggestions == ()
    assert "did you mean" not in str(raised.value)


def test_ordering() -> None:
    classes = [requirement.device_class for requirement in CATALOG.values()]
    assert classes == sorted(classes, key=list(DeviceClass).index)
    for device_class in DeviceClass:
        clauses = [requirement.clause for requirement in catalog.for_class(device_class)]
        assert clauses == [clause for clause in CLAUSE_ORDER if clause in clauses]
    assert catalog.ids()[:3] == ("BAT-1.1", "BAT-1.2", "BAT-2.1")
    assert catalog.ids()[-1] == "HY-3.3"
    assert tuple(CATALOG) == catalog.ids()


def test_for_class_accepts_tokens_and_prefixes() -> None:
    assert catalog.for_class("battery") == catalog.for_class(DeviceClass.BATTERY)
    assert catalog.for_class("HP") == catalog.for_class(DeviceClass.HEATPUMP)
    with pytest.raises(ValueError, match="unknown device class"):
        catalog.for_class("fridge")


def test_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        CATALOG["BAT-9.9"] = CATALOG["BAT-2.2"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOG["BAT-2.2"].title_en = "changed"  # type: ignore[misc]


def test_requirement_validates_its_id() -> None:
    base = catalog.get("HP-2.4")
    with pytest.raises(ValueError, match="does not match"):
        dataclasses.replace(base, id="HP-2.5")
    with pytest.raises(ValueError, match="does not match"):
        dataclasses.replace(base, device_class=DeviceClass.HYBRID)
    with pytest.raises(ValueError, match="malformed clause"):
        dataclasses.replace(base, id="HP-9", clause="9")


def test_requirement_validates_notes_and_flags() -> None:
    base = catalog.get("HP-2.2")
    with pytest.raises(ValueError, match="notes"):
        dataclasses.replace(base, notes_en=())
    with pytest.raises(ValueError, match="common"):
        dataclasses.replace(base, common=True)
    with pytest.raises(ValueError, match="empty"):
        dataclasses.replace(base, reading_en=" ")
    with pytest.raises(ValueError, match="source"):
        dataclasses.replace(base, source="JEMA")


@pytest.mark.parametrize("language", ["en", "ja"])
def test_format_table_lists_every_id(language: str) -> None:
    table = catalog.format_table(CATALOG.values(), language)
    for requirement_id in CATALOG:
        assert re.search(rf"^{re.escape(requirement_id)}\s", table, re.M), requirement_id
    assert table.splitlines()[0].split() == ["ID", "class", "kind", "topologies", "title"]


def test_format_table_uses_the_language_and_wraps() -> None:
    english = catalog.format_table(catalog.for_class("battery"), "en", width=80)
    japanese = catalog.format_table(catalog.for_class("battery"), "ja", width=80, notes=True)
    assert "Charge/discharge according to" in english
    assert "機器等がGWと通信できること" in japanese
    assert "※1 GW経由型" in japanese
    for table in (english, japanese):
        for line in table.splitlines():
            width = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)
            # Kinsoku may hang one closing punctuation mark past the edge.
            assert width <= 82, line
    with pytest.raises(ValueError, match="language"):
        catalog.format_table(CATALOG.values(), "fr")


def test_to_json_round_trips() -> None:
    records = catalog.to_json(CATALOG.values())
    decoded = json.loads(json.dumps(records, ensure_ascii=False))
    assert [record["id"] for record in decoded] == list(CATALOG)
    field_names = {field.name for field in dataclasses.fields(Requirement)}
    assert all(set(record) == field_names for record in decoded)
    first = decoded[0]
    assert first["topologies"] == ["gateway"]
    assert decoded[2]["topologies"] == ["gateway", "server"]
    assert first["device_class"] == "battery"
    assert catalog.get("BAT-3.1").kind.value == "declared"


def test_policy_notes() -> None:
    for text in (catalog.POLICY_PLAIN_ECHONET_LITE_JA, catalog.POLICY_PLAIN_ECHONET_LITE_EN):
        assert "ECHONET Lite" in text
        assert "★1" in text and "★2" in text
    assert "安全を担保するものではなく" in catalog.POLICY_PLAIN_ECHONET_LITE_JA
    assert "does not mean the device is secure" in catalog.POLICY_PLAIN_ECHONET_LITE_EN
    assert "バージョン" in catalog.POLICY_TRANSPARENCY_JA
    assert "version" in catalog.POLICY_TRANSPARENCY_EN
