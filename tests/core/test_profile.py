"""Tests of drready.profile: device profiles read from TOML and checked against the schema."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest

from drready import profile as profile_module
from drready.profile import (
    BATTERY_MAPPING_DEFAULTS,
    WATER_HEATER_MAPPING_DEFAULTS,
    DeviceInfo,
    EchonetSettings,
    EpcMapping,
    JcStar,
    MeterSettings,
    ModbusSettings,
    OperatorSettings,
    Profile,
    ProfileError,
    ProtocolInfo,
    Ratings,
    Timings,
    Tolerances,
    WaterHeaterSpec,
    default_profile,
    load_profile,
    parse_profile,
)

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "fixtures" / "profiles"
INVALID = PROFILES / "invalid"
SCHEMA_PATH = ROOT / "drready" / "profile" / "profile.schema.json"

# A minimal valid battery profile, by table; rows below override or drop (None) tables.
BASE: dict[str, str] = {
    "device": 'class = "battery"\ntopologies = ["gateway"]',
    "echonet": 'address = "simulator"',
    "ratings": "max_charge_w = 3000\nmax_discharge_w = 3000\ncapacity_wh = 9800",
}


def toml(tables: Mapping[str, str | None] = {}, top: str = "") -> str:
    merged = {**BASE, **tables}
    body = "".join(f"[{name}]\n{text}\n\n" for name, text in merged.items() if text is not None)
    return top + body


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


# --- valid profiles -------------------------------------------------------------------------


def test_minimal_profile_takes_the_defaults() -> None:
    profile = parse_profile(toml())
    assert profile.source is None
    assert profile.device == DeviceInfo("battery", ("gateway",))
    assert profile.echonet == EchonetSettings("simulator", 3610, 1, True, 2.0, 2)
    assert profile.ratings == Ratings(3000.0, 3000.0, 9800.0, 0.0, 0.0)
    assert profile.timings == Timings(300.0, 60.0, 1800.0, 1800.0, 10.0)
    assert profile.tolerances == Tolerances(100.0, 5.0, 5.0, 50.0, 60.0)
    assert profile.jcstar is None
    assert profile.protocol == ProtocolInfo("ECHONET Lite", None, None)
    assert dict(profile.mapping) == dict(BATTERY_MAPPING_DEFAULTS)
    assert profile.is_simulated
    assert profile.time_scale == 1.0


LAB = PROFILES / "battery-lab.toml"
WATER_HEATER = (
    "rated_heating_power_w = 1000\ndaily_heating_wh = 5000\npublished_dr_share = 0.6\n"
    'evaluation_start_time = "13:00"\nacceptance_windows = [["10:00", "15:00"]]'
)
HEATER = {"device": 'class = "heatpump"\ntopologies = ["gateway"]', "ratings": None}
HEATPUMP = PROFILES / "heatpump-server.toml"


@pytest.mark.parametrize(
    ("path", "read", "expected"),
    [
        (LAB, lambda p: p.device.name, "Lab storage battery, bench 2"),
        (LAB, lambda p: p.device.topologies, ("gateway",)),
        (LAB, lambda p: p.device.manufacturer_code, "0x0000FE"),
        (LAB, lambda p: p.echonet.address, "192.168.1.50"),
        (LAB, lambda p: p.is_simulated, False),
        (LAB, lambda p: p.ratings.min_charge_w, 100.0),
        (LAB, lambda p: p.ratings.max_discharge_w, 5900.0),
        (LAB, lambda p: p.timings.response_s, 120.0),
        (LAB, lambda p: p.timings.comms_loss_timeout_s, 900.0),
        (LAB, lambda p: p.tolerances.power_pct, 3.0),
        (LAB, lambda p: p.jcstar, JcStar("JC-STAR-0000-0000", 1, date(2028, 3, 31))),
        (LAB, lambda p: p.protocol, ProtocolInfo("ECHONET Lite", "1.14", "R")),
        # Declared item overrides its default, the others keep theirs.
        (LAB, lambda p: p.mapping["dr_duration_s"], EpcMapping(0xF5, 2, 60.0, False)),
        (LAB, lambda p: p.mapping["target_charge_power_w"], EpcMapping(0xEB, 4)),
        (LAB, lambda p: p.source, LAB),
        (HEATPUMP, lambda p: p.device.device_class, "heatpump"),
        (HEATPUMP, lambda p: p.echonet, None),
        (HEATPUMP, lambda p: p.ratings, None),
        (HEATPUMP, lambda p: dict(p.mapping), {}),
        (HEATPUMP, lambda p: p.is_simulated, False),
        (HEATPUMP, lambda p: p.timings, Timings()),
        (HEATPUMP, lambda p: p.water_heater.evaluation_start_s, 12 * 3600),
        (HEATPUMP, lambda p: p.water_heater.windows_s, ((36000, 50400), (54000, 57600))),
        (HEATPUMP, lambda p: p.water_heater.night_heating, ("23:00", "07:00")),
        (HEATPUMP, lambda p: p.water_heater.accepts(15.5 * 3600), True),
        (HEATPUMP, lambda p: p.water_heater.accepts(14.5 * 3600), False),
        (HEATPUMP, lambda p: p.water_heater.tank_litres, None),
    ],
)
def test_fixture_values(path: Path, read: Callable[[Any], object], expected: object) -> None:
    assert read(load_profile(path)) == expected


@pytest.mark.parametrize(
    ("tables", "read", "expected"),
    [
        # A quoted ISO date is accepted as well as a TOML date.
        (
            {"jcstar": 'label = "L"\nlevel = 2\nvalid_until = "2027-01-31"'},
            lambda p: p.jcstar.valid_until,
            date(2027, 1, 31),
        ),
        # A water heater's declared item overrides its default, the others keep theirs.
        (
            {
                "device": 'class = "hybrid"\ntopologies = ["gateway"]',
                "echonet.mapping": "dr_possible_wh = { epc = 0xF5, size = 2, scale = 10 }",
                "ratings": None,
                "water_heater": WATER_HEATER,
            },
            lambda p: dict(p.mapping),
            {
                **WATER_HEATER_MAPPING_DEFAULTS["hybrid"],
                "dr_possible_wh": EpcMapping(0xF5, 2, 10.0),
            },
        ),
        ({"echonet": 'address = "fe80::1%eth0"'}, lambda p: p.echonet.address, "fe80::1%eth0"),
        ({"echonet": 'address = "dut-1.lab.local"'}, lambda p: p.echonet.port, 3610),
        (
            {"device": 'class = "battery"\ntopologies = ["server"]', "echonet": None},
            lambda p: (p.echonet, dict(p.mapping)),
            (None, {}),
        ),
        (
            {"device": BASE["device"] + '\nmanufacturer_code = "0x00abcd"'},
            lambda p: p.device.manufacturer_code,
            "0x00ABCD",
        ),
        ({"timings": "request_interval_s = 1800.0"}, lambda p: p.timings.request_interval_s, 1800),
    ],
)
def test_valid_snippets(
    tables: dict[str, str | None], read: Callable[[Any], object], expected: object
) -> None:
    assert read(parse_profile(toml(tables))) == expected


def test_schema_version_is_optional_and_accepted() -> None:
    assert parse_profile(toml(top="schema_version = 1\n")) == parse_profile(toml())


def test_default_profile_is_the_simulator_fixture() -> None:
    builtin = default_profile("battery")
    assert builtin.is_simulated
    assert builtin.ratings == Ratings(3000.0, 3000.0, 9800.0)
    assert builtin.timings.comms_loss_timeout_s == 1800.0
    assert dict(builtin.mapping) == dict(BATTERY_MAPPING_DEFAULTS)
    fixture = load_profile(PROFILES / "battery-simulator.toml")
    assert fixture == dataclasses.replace(builtin, source=fixture.source)


@pytest.mark.parametrize("device_class", ["heatpump", "hybrid"])
def test_default_water_heater_profiles(device_class: str) -> None:
    builtin = default_profile(device_class)
    assert builtin.is_simulated and builtin.device.device_class == device_class
    assert dict(builtin.mapping) == dict(WATER_HEATER_MAPPING_DEFAULTS[device_class])
    spec = builtin.water_heater
    assert spec is not None and spec.published_dr_share >= 0.5
    assert spec.accepts(spec.evaluation_start_s)


def test_default_modbus_profile() -> None:
    builtin = default_profile("battery", binding="modbus")
    assert builtin.device.binding == "modbus" and builtin.is_simulated
    assert builtin.modbus is not None and builtin.modbus.unit_id == 1
    assert builtin.meter is not None and builtin.meter.allowed_w(3000) == 30.0
    assert builtin.echonet is None and dict(builtin.mapping) == {}


def test_default_profile_for_an_unknown_class() -> None:
    with pytest.raises(ProfileError) as caught:
        default_profile("fridge")
    assert str(caught.value) == (
        'device.class: expected one of "battery", "heatpump", "hybrid", got "fridge"'
    )


# --- invalid profiles -----------------------------------------------------------------------

INVALID_SNIPPETS: list[tuple[str, str, str, str]] = [
    # (id, TOML text, expected key, fragment of the message)
    (
        "wrong type",
        toml({"timings": 'response_s = "300"'}),
        "timings.response_s",
        'expected a number > 0 and ≤ 1800, got "300"',
    ),
    (
        "response over 30 minutes",
        toml({"timings": "response_s = 3600"}),
        "timings.response_s",
        "expected a number ≤ 1800 (DRready: requests executed within 30 minutes), got 3600",
    ),
    (
        "request interval over 30 minutes",
        toml({"timings": "request_interval_s = 3600"}),
        "timings.request_interval_s",
        "≤ 1800 (DRready: requests accepted at intervals of 30 min or less)",
    ),
    (
        "typo",
        toml({"timings": "respones_s = 300"}),
        "timings.respones_s",
        "unknown key 'respones_s' (did you mean 'response_s'? allowed: comms_loss_timeout_s,",
    ),
    (
        "typo in a table name",
        toml({"echonte": 'address = "simulator"', "echonet": None}),
        "echonte",
        "unknown key 'echonte' (did you mean 'echonet'?",
    ),
    (
        "bad class",
        toml({"device": 'class = "fridge"\ntopologies = ["gateway"]'}),
        "device.class",
        'expected one of "battery", "heatpump", "hybrid", got "fridge"',
    ),
    (
        "missing class",
        toml({"device": 'topologies = ["gateway"]'}),
        "device.class",
        'missing key (expected one of "battery", "heatpump", "hybrid")',
    ),
    (
        "empty topologies",
        toml({"device": 'class = "battery"\ntopologies = []'}),
        "device.topologies",
        'expected a non-empty array of "gateway", "server", got []',
    ),
    (
        "repeated topology",
        toml({"device": 'class = "battery"\ntopologies = ["gateway", "gateway"]'}),
        "device.topologies",
        "expected an array without repeated items",
    ),
    (
        "unknown topology",
        toml({"device": 'class = "battery"\ntopologies = ["gateway", "cloud"]'}),
        "device.topologies[1]",
        'expected one of "gateway", "server", got "cloud"',
    ),
    (
        "epc below 0x80",
        toml({"echonet.mapping": "target_charge_power_w = { epc = 0x50, size = 4 }"}),
        "echonet.mapping.target_charge_power_w.epc",
        "expected an integer ≥ 0x80 (ECHONET Lite property codes are 0x80-0xFF), got 0x50",
    ),
    (
        "epc as a string",
        toml({"echonet.mapping": 'target_charge_power_w = { epc = "0xEB", size = 4 }'}),
        "echonet.mapping.target_charge_power_w.epc",
        'expected an integer from 0x80 to 0xFF, got "0xEB"',
    ),
    (
        "size over 8",
        toml({"echonet.mapping": "target_charge_power_w = { epc = 0xEB, size = 9 }"}),
        "echonet.mapping.target_charge_power_w.size",
        "expected an integer ≤ 8, got 9",
    ),
    (
        "size missing",
        toml({"echonet.mapping": "target_charge_power_w = { epc = 0xEB }"}),
        "echonet.mapping.target_charge_power_w.size",
        "missing key (expected an integer from 1 to 8)",
    ),
    (
        "zero scale",
        toml({"echonet.mapping": "dr_duration_s = { epc = 0xF0, size = 4, scale = 0 }"}),
        "echonet.mapping.dr_duration_s.scale",
        "expected a number > 0, got 0",
    ),
    (
        "nan scale",
        toml({"echonet.mapping": "dr_duration_s = { epc = 0xF0, size = 4, scale = nan }"}),
        "echonet.mapping.dr_duration_s.scale",
        "expected a number > 0, got nan",
    ),
    (
        "unknown battery mapping item",
        toml({"echonet.mapping": "target_power_w = { epc = 0xEB, size = 4 }"}),
        "echonet.mapping.target_power_w",
        "allowed: backup_reserve_pct, dr_duration_s, target_charge_power_w, "
        "target_discharge_power_w",
    ),
    (
        "bad water heater item name",
        toml(
            {
                "device": 'class = "heatpump"\ntopologies = ["gateway"]',
                "echonet.mapping": '"Start-Time" = { epc = 0xF3, size = 2 }',
                "ratings": None,
                "water_heater": WATER_HEATER,
            }
        ),
        "echonet.mapping.Start-Time",
        "invalid key name 'Start-Time' (expected a snake_case name)",
    ),
    (
        "bad date",
        toml({"jcstar": 'label = "L"\nlevel = 1\nvalid_until = "31/03/2028"'}),
        "jcstar.valid_until",
        'expected a date like 2028-03-31, got "31/03/2028"',
    ),
    (
        "datetime where a date is expected",
        toml({"jcstar": 'label = "L"\nlevel = 1\nvalid_until = 2028-03-31T09:00:00'}),
        "jcstar.valid_until",
        "expected a date like 2028-03-31, got 2028-03-31T09:00:00",
    ),
    (
        "jcstar level 0",
        toml({"jcstar": 'label = "L"\nlevel = 0\nvalid_until = 2028-03-31'}),
        "jcstar.level",
        "expected an integer ≥ 1 (JC-STAR levels are ★1 to ★4), got 0",
    ),
    (
        "jcstar without level",
        toml({"jcstar": 'label = "L"\nvalid_until = 2028-03-31'}),
        "jcstar.level",
        "missing key (expected an integer from 1 to 4)",
    ),
    (
        "TOML syntax error",
        toml(top="schema_version = \n"),
        "",
        "invalid TOML at line 1, column 18:",
    ),
    (
        "duplicate TOML key",
        toml({"timings": "response_s = 300\nresponse_s = 200"}),
        "",
        "invalid TOML at line",
    ),
    (
        "gateway without [echonet]",
        toml({"echonet": None}),
        "echonet",
        'missing key (required because device.topologies includes "gateway")',
    ),
    (
        "battery without [ratings]",
        toml({"ratings": None}),
        "ratings",
        'missing key (required for device.class "battery")',
    ),
    (
        "min charge above max",
        toml({"ratings": BASE["ratings"] + "\nmin_charge_w = 3001"}),
        "ratings.min_charge_w",
        "expected a number ≤ ratings.max_charge_w (3000), got 3001",
    ),
    (
        "min discharge above max",
        toml({"ratings": BASE["ratings"] + "\nmin_discharge_w = 4000.5"}),
        "ratings.min_discharge_w",
        "expected a number ≤ ratings.max_discharge_w (3000), got 4000.5",
    ),
    (
        "bad manufacturer code",
        toml({"device": BASE["device"] + '\nmanufacturer_code = "0xFE"'}),
        "device.manufacturer_code",
        'expected a 3-byte hex code like "0x0000FE", got "0xFE"',
    ),
    (
        "product code over 12 characters",
        toml({"device": BASE["device"] + '\nproduct_code = "DRR-BAT-01-LONG"'}),
        "device.product_code",
        "expected printable ASCII of 1 to 12 characters",
    ),
    (
        "negative tolerance",
        toml({"tolerances": "power_w = -1"}),
        "tolerances.power_w",
        "expected a number ≥ 0, got -1",
    ),
    (
        "float where an integer is expected",
        toml({"echonet": 'address = "simulator"\nport = 3610.0'}),
        "echonet.port",
        "expected an integer from 1 to 65535, got 3610.0",
    ),
    (
        "instance 0",
        toml({"echonet": 'address = "simulator"\ninstance = 0'}),
        "echonet.instance",
        "(ECHONET Lite instance codes are 0x01-0x7F), got 0",
    ),
    (
        "boolean as a string",
        toml({"echonet": 'address = "simulator"\nmulticast_discovery = "yes"'}),
        "echonet.multicast_discovery",
        'expected true or false, got "yes"',
    ),
    (
        "bad address",
        toml({"echonet": 'address = "192.168.1.300"'}),
        "echonet.address",
        'expected an IPv4/IPv6 address, a host name or "simulator", got "192.168.1.300"',
    ),
    (
        "lower-case appendix release",
        toml({"protocol": 'appendix_release = "r"'}),
        "protocol.appendix_release",
        'expected one capital letter A-Z, got "r"',
    ),
    (
        "unsupported schema version",
        toml(top="schema_version = 2\n"),
        "schema_version",
        "expected 1 (the profile format this version of drready reads), got 2",
    ),
    (
        "water heater without its published figures",
        toml(HEATER),
        "water_heater",
        'missing key (required for device.class "heatpump" and "hybrid")',
    ),
    (
        "time of day not HH:MM",
        toml({**HEATER, "water_heater": WATER_HEATER.replace('"13:00"', '"1pm"')}),
        "water_heater.evaluation_start_time",
        'expected a time of day like "13:00", got "1pm"',
    ),
    (
        "share above one",
        toml({**HEATER, "water_heater": WATER_HEATER.replace("0.6", "60")}),
        "water_heater.published_dr_share",
        "expected a number ≤ 1, got 60",
    ),
    (
        "window the wrong way round",
        toml(
            {**HEATER, "water_heater": WATER_HEATER.replace('"10:00", "15:00"', '"15:00", "10:00"')}
        ),
        "water_heater.acceptance_windows[0]",
        'expected a window [first, last] with first ≤ last (first is "15:00"), got "10:00"',
    ),
    (
        "battery item on a water heater",
        toml(
            {
                **HEATER,
                "water_heater": WATER_HEATER,
                "echonet.mapping": "dr_duration_s = { epc = 0xF0, size = 4 }",
            }
        ),
        "echonet.mapping.dr_duration_s",
        "unknown key 'dr_duration_s'",
    ),
    (
        "modbus binding without its table",
        toml({"device": BASE["device"] + '\nbinding = "modbus"', "echonet": None}),
        "modbus",
        "missing key",
    ),
    (
        "meter accuracy out of range",
        toml({"meter": 'address = "simulator"\naccuracy_pct = 50'}),
        "meter.accuracy_pct",
        "expected a number ≤ 20, got 50",
    ),
    (
        "modbus base address not a SunSpec base",
        toml(
            {
                "device": BASE["device"] + '\nbinding = "modbus"',
                "modbus": 'address = "simulator"\nbase_address = 1',
            }
        ),
        "modbus.base_address",
        "expected one of 0, 40000, 50000, got 1",
    ),
    (
        "table given as a value",
        toml({"device": BASE["device"]}, top="timings = 5\n"),
        "timings",
        "expected a table, got 5",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [row[1:] for row in INVALID_SNIPPETS],
    ids=[row[0] for row in INVALID_SNIPPETS],
)
def test_invalid_snippet(text: str, key: str, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    error = caught.value
    message = str(error)
    assert error.key == key
    assert fragment in message
    assert "\n" not in message
    assert error.path == path
    assert message.startswith(f"{path}: {key}: " if key else f"{path}: ")


def _expectations(path: Path) -> tuple[str, str]:
    """The "# expect-key:" and "# expect-message:" header lines of an invalid fixture."""
    text = path.read_text(encoding="utf-8")
    key = re.search(r"^# expect-key:[ ]?(.*)$", text, re.MULTILINE)
    fragment = re.search(r"^# expect-message: (.+)$", text, re.MULTILINE)
    assert key is not None and fragment is not None, f"{path.name} lacks its expect- header"
    return key.group(1).strip(), fragment.group(1)


INVALID_FILES = sorted(INVALID.glob("*.toml"))


def test_there_are_invalid_fixtures() -> None:
    assert len(INVALID_FILES) >= 5


@pytest.mark.parametrize("path", INVALID_FILES, ids=[path.name for path in INVALID_FILES])
def test_invalid_fixture(path: Path) -> None:
    key, fragment = _expectations(path)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.key == key
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda tmp: tmp / "missing.toml", "missing.toml: file not found"),
        (lambda tmp: tmp, "cannot read the file"),
        (lambda tmp: _write_bytes(tmp / "latin1.toml", b'name = "caf\xe9"'), "not UTF-8 text"),
    ],
    ids=["missing file", "directory", "not UTF-8"],
)
def test_unreadable_file(make: Callable[[Path], Path], fragment: str, tmp_path: Path) -> None:
    path = make(tmp_path)
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert caught.value.key == ""
    assert caught.value.path == path
    assert fragment in str(caught.value)


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_error_without_a_path_has_no_prefix() -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(toml({"timings": "response_s = 0"}))
    assert str(caught.value) == "timings.response_s: expected a number > 0, got 0"
    assert caught.value.path is None
    assert caught.value.expected == "a number > 0"
    assert caught.value.got == "0"


# --- dataclasses validate themselves --------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "key"),
    [
        (lambda: Timings(response_s=3600), "timings.response_s"),
        (lambda: Timings(poll_interval_s=math.inf), "timings.poll_interval_s"),
        (lambda: Tolerances(power_pct=-1), "tolerances.power_pct"),
        (lambda: Ratings(3000, 3000, 9800, min_charge_w=5000), "ratings.min_charge_w"),
        (lambda: EpcMapping(epc=0x50, size=1), "epc"),
        (lambda: EpcMapping(epc=0xEB, size=4, signed=1), "signed"),  # type: ignore[arg-type]
        (lambda: EchonetSettings("not a host!"), "echonet.address"),
        (lambda: JcStar("L", 5, date(2028, 3, 31)), "jcstar.level"),
        (lambda: DeviceInfo("battery", ()), "device.topologies"),
        (lambda: ProtocolInfo(appendix_release="RR"), "protocol.appendix_release"),
        (lambda: ProtocolInfo(name=""), "protocol.name"),
        (
            lambda: dataclasses.replace(default_profile("battery"), echonet=None),
            "echonet",
        ),
        (
            lambda: dataclasses.replace(default_profile("battery"), ratings=None),
            "ratings",
        ),
        (
            lambda: dataclasses.replace(
                default_profile("battery"), mapping={"target_power_w": EpcMapping(0xEB, 4)}
            ),
            "echonet.mapping.target_power_w",
        ),
    ],
)
def test_dataclasses_validate_on_construction(build: Callable[[], object], key: str) -> None:
    with pytest.raises(ProfileError) as caught:
        build()
    assert caught.value.key == key


def test_dataclasses_are_frozen() -> None:
    profile = default_profile("battery")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.timings.response_s = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        profile.mapping["x"] = EpcMapping(0xF0, 1)  # type: ignore[index]
    assert hash(profile) == hash(dataclasses.replace(profile))


# --- behaviour ------------------------------------------------------------------------------


def test_on_device_clock_keeps_device_seconds_and_records_the_scale() -> None:
    profile = load_profile(LAB)
    fast = profile.on_device_clock(60)
    # Timings stay on the device's clock; the DUT facade converts waits to real time.
    assert fast.timings == profile.timings
    assert fast.tolerances == profile.tolerances
    assert fast.echonet == profile.echonet
    assert fast.time_scale == 60
    assert fast.on_device_clock(2).time_scale == 120
    assert profile.on_device_clock(1) == profile
    assert profile.time_scale == 1.0  # the original is untouched


@pytest.mark.parametrize("n", [0, 0.5, -60, math.inf, math.nan, True])
def test_on_device_clock_rejects(n: float) -> None:
    with pytest.raises(ValueError, match="time scale"):
        default_profile("battery").on_device_clock(n)


@pytest.mark.parametrize(
    ("target_w", "allowed_w"),
    [(0, 100), (1000, 100), (2000, 100), (3000, 150), (-3000, 150), (10000, 500)],
)
def test_power_allowed(target_w: float, allowed_w: float) -> None:
    assert Tolerances().power_allowed_w(target_w) == pytest.approx(allowed_w)


@pytest.mark.parametrize(("target_wh", "allowed_wh"), [(0, 50), (500, 50), (9800, 490)])
def test_energy_allowed(target_wh: float, allowed_wh: float) -> None:
    assert Tolerances().energy_allowed_wh(target_wh) == pytest.approx(allowed_wh)


@pytest.mark.parametrize(
    ("on", "expired"),
    [(date(2028, 3, 30), False), (date(2028, 3, 31), False), (date(2028, 4, 1), True)],
)
def test_jcstar_expired(on: date, expired: bool) -> None:
    assert JcStar("L", 1, date(2028, 3, 31)).expired(on) is expired


def test_to_json_is_json_ready_and_valid_against_the_schema() -> None:
    profile = load_profile(LAB).on_device_clock(10)
    document = profile.to_json()
    json.dumps(document)  # raises if anything is not JSON
    assert document["source"] == str(LAB)
    assert document["time_scale"] == 10
    assert document["jcstar"]["valid_until"] == "2028-03-31"
    assert document["echonet"]["mapping"]["dr_duration_s"] == {
        "epc": 0xF5,
        "size": 2,
        "scale": 60.0,
        "signed": False,
    }
    core = {k: v for k, v in document.items() if k not in ("source", "time_scale")}
    jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker()).validate(
        core
    )


# --- the schema and the code agree ----------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    ("definition", "cls"),
    [
        ("timings", Timings),
        ("tolerances", Tolerances),
        ("ratings", Ratings),
        ("echonet", EchonetSettings),
        ("epcMapping", EpcMapping),
        ("protocol", ProtocolInfo),
        ("device", DeviceInfo),
        ("waterHeater", WaterHeaterSpec),
        ("modbus", ModbusSettings),
        ("meter", MeterSettings),
        ("operator", OperatorSettings),
    ],
)
def test_schema_defaults_match_dataclass_defaults(definition: str, cls: type) -> None:
    properties = schema()["$defs"][definition]["properties"]
    by_key = {"class": "device_class"}
    for name, field in ((f.name, f) for f in dataclasses.fields(cls)):
        key = next((k for k, v in by_key.items() if v == name), name)
        has_default = field.default is not dataclasses.MISSING
        if "default" in properties.get(key, {}):
            default = list(field.default) if isinstance(field.default, tuple) else field.default
            assert has_default and default == properties[key]["default"], name
    for key, spec in properties.items():
        if "default" in spec:
            assert any(f.name == by_key.get(key, key) for f in dataclasses.fields(cls)), key


def test_schema_limits_match_the_drready_constants() -> None:
    timings = schema()["$defs"]["timings"]["properties"]
    assert timings["response_s"]["maximum"] == profile_module.DRREADY_MAX_RESPONSE_S
    assert timings["request_interval_s"]["maximum"] == (
        profile_module.DRREADY_MAX_REQUEST_INTERVAL_S
    )


def test_schema_battery_items_are_the_default_mapping() -> None:
    items = schema()["$defs"]["batteryMapping"]["properties"]
    assert set(items) == set(BATTERY_MAPPING_DEFAULTS)


def test_profile_fields_follow_the_brief() -> None:
    names = [f.name for f in dataclasses.fields(Profile)]
    assert names[:9] == [
        "source",
        "device",
        "echonet",
        "ratings",
        "timings",
        "tolerances",
        "jcstar",
        "protocol",
        "mapping",
    ]


def test_an_operator_section_declares_a_power_switch() -> None:
    battery = default_profile("battery")
    assert battery.operator is None
    switch = OperatorSettings(power_off_command=("off",), power_on_command=("on", "--now"))
    assert switch.power_switch and switch.to_json()["power_on_command"] == ["on", "--now"]
    assert not OperatorSettings().power_switch


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('power_off_command = ["off"]', "operator: expected power_off_command and "),
        ('power_off_command = "off"\npower_on_command = ["on"]', "operator.power_off_command"),
        ("step_timeout_s = 0", "operator.step_timeout_s"),
        ("restart_by = 1", "operator"),
    ],
)
def test_a_bad_operator_section_is_refused_in_one_line(section: str, message: str) -> None:
    text = (ROOT / "drready/profile/builtin/battery.toml").read_text(encoding="utf-8")
    with pytest.raises(ProfileError, match=re.escape(message)):
        parse_profile(f"{text}\n[operator]\n{section}\n")
