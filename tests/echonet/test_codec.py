"""Tests for the ECHONET Lite frame codec, property maps, instance lists and errors."""

from __future__ import annotations

import pickle
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drready.echonet.codec import (
    CONTROLLER,
    ECHONET_LITE_PORT,
    EHD1,
    EHD2_ARBITRARY,
    EHD2_FORMAT1,
    EOJ,
    ESV,
    MAX_INSTANCE_LIST,
    MULTICAST_GROUP,
    NODE_PROFILE,
    ArbitraryFrame,
    Frame,
    Property,
    decode,
    decode_instance_list,
    decode_property_map,
    encode_instance_list,
    encode_property_map,
    expected_responses,
)
from drready.echonet.errors import (
    DecodeError,
    EchonetError,
    EchonetTimeout,
    EncodeError,
    RemoteError,
)

AIRCON = EOJ(0x01, 0x30, 0x01)  # home air conditioner, instance 1
BATTERY = EOJ(0x02, 0x7D, 0x01)  # storage battery, instance 1


def h(text: str) -> bytes:
    """Hex with optional spaces, as frames are usually written in the spec."""
    return bytes.fromhex(text)


# --------------------------------------------------------------------------- constants


def test_constants() -> None:
    assert (EHD1, EHD2_FORMAT1, EHD2_ARBITRARY) == (0x10, 0x81, 0x82)
    assert ECHONET_LITE_PORT == 3610
    assert MULTICAST_GROUP == "224.0.23.0"
    assert NODE_PROFILE.to_bytes() == h("0EF001")
    assert CONTROLLER.to_bytes() == h("05FF01")
    assert MAX_INSTANCE_LIST == 84


# --------------------------------------------------------------------------- valid frames

VALID_FRAMES: list[tuple[str, str, Frame | ArbitraryFrame]] = [
    (
        "get_operation_status",
        "10 81 00 01 05 FF 01 01 30 01 62 01 80 00",
        Frame(1, CONTROLLER, AIRCON, ESV.GET, (Property(0x80),)),
    ),
    (
        "get_res_on",
        "10 81 00 01 01 30 01 05 FF 01 72 01 80 01 30",
        Frame(1, AIRCON, CONTROLLER, ESV.GET_RES, (Property(0x80, b"\x30"),)),
    ),
    (
        "setc_two_properties",
        "10 81 00 02 05 FF 01 01 30 01 61 02 80 01 30 B0 01 42",
        Frame(
            2,
            CONTROLLER,
            AIRCON,
            ESV.SETC,
            (Property(0x80, b"\x30"), Property(0xB0, b"\x42")),
        ),
    ),
    (
        "set_res_two_properties",
        "10 81 00 02 01 30 01 05 FF 01 71 02 80 00 B0 00",
        Frame(2, AIRCON, CONTROLLER, ESV.SET_RES, (Property(0x80), Property(0xB0))),
    ),
    (
        "setget_both_blocks",
        "10 81 00 03 05 FF 01 01 30 01 6E 01 80 01 31 02 80 00 B3 00",
        Frame(
            3,
            CONTROLLER,
            AIRCON,
            ESV.SETGET,
            (Property(0x80, b"\x31"),),
            (Property(0x80), Property(0xB3)),
        ),
    ),
    (
        "setget_res_both_blocks",
        "10 81 00 03 01 30 01 05 FF 01 7E 01 80 00 02 80 01 31 B3 01 1A",
        Frame(
            3,
            AIRCON,
            CONTROLLER,
            ESV.SETGET_RES,
            (Property(0x80),),
            (Property(0x80, b"\x31"), Property(0xB3, b"\x1a")),
        ),
    ),
    (
        "setget_empty_set_block",
        "10 81 00 06 05 FF 01 01 30 01 6E 00 01 80 00",
        Frame(6, CONTROLLER, AIRCON, ESV.SETGET, (), (Property(0x80),)),
    ),
    (
        "get_sna_one_refused",
        "10 81 00 04 01 30 01 05 FF 01 52 02 80 01 30 E0 00",
        Frame(
            4,
            AIRCON,
            CONTROLLER,
            ESV.GET_SNA,
            (Property(0x80, b"\x30"), Property(0xE0)),
        ),
    ),
    (
        "inf_req_instance_list",
        "10 81 00 05 05 FF 01 0E F0 01 63 01 D5 00",
        Frame(5, CONTROLLER, NODE_PROFILE, ESV.INF_REQ, (Property(0xD5),)),
    ),
    (
        "inf_instance_list",
        "10 81 00 00 0E F0 01 0E F0 01 73 01 D5 04 01 01 30 01",
        Frame(0, NODE_PROFILE, NODE_PROFILE, ESV.INF, (Property(0xD5, h("01 013001")),)),
    ),
    (
        "max_tid_battery",
        "10 81 FF FF 05 FF 01 02 7D 01 62 01 E4 00",
        Frame(0xFFFF, CONTROLLER, BATTERY, ESV.GET, (Property(0xE4),)),
    ),
    ("arbitrary", "10 82 12 34 DE AD BE EF", ArbitraryFrame(0x1234, h("DEADBEEF"))),
    ("arbitrary_empty", "10 82 00 01", ArbitraryFrame(1, b"")),
]


@pytest.mark.parametrize(
    ("wire", "frame"),
    [pytest.param(wire, frame, id=name) for name, wire, frame in VALID_FRAMES],
)
def test_encode_valid_frame(wire: str, frame: Frame | ArbitraryFrame) -> None:
    assert frame.encode() == h(wire)


@pytest.mark.parametrize(
    ("wire", "frame"),
    [pytest.param(wire, frame, id=name) for name, wire, frame in VALID_FRAMES],
)
def test_decode_valid_frame(wire: str, frame: Frame | ArbitraryFrame) -> None:
    assert decode(h(wire)) == frame


def test_decode_accepts_bytes_like() -> None:
    wire = h("10 81 00 01 05 FF 01 01 30 01 62 01 80 00")
    assert decode(bytearray(wire)) == decode(wire)
    assert decode(memoryview(wire)) == decode(wire)
    decoded = decode(bytearray(h("10 81 00 01 01 30 01 05 FF 01 72 01 80 01 30")))
    assert isinstance(decoded, Frame)
    assert type(decoded.properties[0].edt) is bytes


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(TypeError):
        decode("1081000105FF010130016201800")  # type: ignore[arg-type]


def _sample_frame(esv: ESV) -> Frame:
    if esv.has_two_blocks:
        return Frame(
            0x0102, CONTROLLER, BATTERY, esv, (Property(0xDA, b"\x42"),), (Property(0xE4),)
        )
    return Frame(0x0102, CONTROLLER, BATTERY, esv, (Property(0x80, b"\x30"), Property(0xE4)))


@pytest.mark.parametrize("esv", list(ESV), ids=lambda e: e.name)
def test_round_trip_every_esv(esv: ESV) -> None:
    frame = _sample_frame(esv)
    wire = frame.encode()
    assert wire[10] == esv
    assert decode(wire) == frame


# --------------------------------------------------------------------------- invalid frames

INVALID_FRAMES: list[tuple[str, str, str]] = [
    ("empty", "", r"^offset 0: expected 4 header bytes \(EHD1, EHD2, TID\), got 0$"),
    ("three_bytes", "10 81 00", r"^offset 0: expected 4 header bytes .*got 3$"),
    (
        "conventional_echonet",
        "80 81 00 01 05 FF 01 01 30 01 62 01 80 00",
        r"^offset 0: .*got 0x80$",
    ),
    ("ehd1_0x11", "11 81 00 01 05 FF 01 01 30 01 62 01 80 00", r"^offset 0: expected EHD1 0x10"),
    ("ehd2_0x83", "10 83 00 01 05 FF 01 01 30 01 62 01 80 00", r"^offset 1: expected EHD2 .*0x83$"),
    ("ehd2_0x01", "10 01 00 01", r"^offset 1: expected EHD2 0x81 \(format 1\) or 0x82"),
    ("header_only", "10 81 00 01", r"^offset 4: expected 8 bytes \(SEOJ, DEOJ, ESV, OPC\), got 0$"),
    ("no_opc", "10 81 00 01 05 FF 01 01 30 01 62", r"^offset 4: expected 8 bytes .*got 7$"),
    (
        "unknown_esv_0x64",
        "10 81 00 01 05 FF 01 01 30 01 64 01 80 00",
        r"^offset 10: unknown ESV 0x64$",
    ),
    (
        "unknown_esv_0x00",
        "10 81 00 01 05 FF 01 01 30 01 00 01 80 00",
        r"^offset 10: unknown ESV 0x00$",
    ),
    ("opc_zero_get", "10 81 00 01 05 FF 01 01 30 01 62 00", r"^offset 11: OPC is 0 but ESV GET"),
    ("opc_zero_inf", "10 81 00 01 0E F0 01 0E F0 01 73 00", r"^offset 11: OPC is 0 but ESV INF "),
    (
        "epc_without_pdc",
        "10 81 00 01 05 FF 01 01 30 01 62 01 80",
        r"^offset 12: expected EPC and PDC of property 1 of 1 \(OPC\), got 1 byte\(s\)$",
    ),
    (
        "opc_two_one_property",
        "10 81 00 01 05 FF 01 01 30 01 62 02 80 00",
        r"^offset 14: expected EPC and PDC of property 2 of 2 \(OPC\), got 0 byte\(s\)$",
    ),
    (
        "pdc_past_end",
        "10 81 00 01 01 30 01 05 FF 01 72 01 80 03 30",
        r"^offset 14: expected 3 more EDT bytes for EPC 0x80, got 1$",
    ),
    (
        "pdc_past_end_second_property",
        "10 81 00 02 05 FF 01 01 30 01 61 02 80 01 30 B0 02 42",
        r"^offset 17: expected 2 more EDT bytes for EPC 0xB0, got 1$",
    ),
    (
        "trailing_byte",
        "10 81 00 01 05 FF 01 01 30 01 62 01 80 00 FF",
        r"^offset 14: 1 trailing byte\(s\) after the last property$",
    ),
    (
        "trailing_bytes_after_edt",
        "10 81 00 01 01 30 01 05 FF 01 72 01 80 01 30 00 00 00",
        r"^offset 15: 3 trailing byte\(s\)",
    ),
    (
        "setget_missing_opcget",
        "10 81 00 03 05 FF 01 01 30 01 6E 01 80 01 31",
        r"^offset 15: expected OPCGet, got end of data$",
    ),
    (
        "setget_truncated_get_block",
        "10 81 00 03 05 FF 01 01 30 01 6E 01 80 01 31 02 80 00",
        r"^offset 18: expected EPC and PDC of property 2 of 2 \(OPCGet\)",
    ),
    (
        "setget_truncated_set_block",
        "10 81 00 03 05 FF 01 01 30 01 6E 01 80 02 31",
        r"^offset 14: expected 2 more EDT bytes for EPC 0x80, got 1$",
    ),
    (
        "setget_res_trailing",
        "10 81 00 03 01 30 01 05 FF 01 7E 00 00 00",
        r"^offset 13: 1 trailing byte\(s\)",
    ),
]


@pytest.mark.parametrize(
    ("wire", "message"),
    [pytest.param(wire, message, id=name) for name, wire, message in INVALID_FRAMES],
)
def test_decode_invalid_frame(wire: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode(h(wire))


def test_setget_family_allows_empty_blocks() -> None:
    for esv in (ESV.SETGET, ESV.SETGET_RES, ESV.SETGET_SNA):
        wire = h(f"10 81 00 07 05 FF 01 01 30 01 {esv:02X} 00 00")
        assert decode(wire) == Frame(7, CONTROLLER, AIRCON, esv, ())


def test_decode_error_is_value_error_and_echonet_error() -> None:
    with pytest.raises(ValueError):
        decode(b"\x00")
    assert issubclass(DecodeError, EchonetError)
    assert issubclass(EncodeError, ValueError)
    assert issubclass(EncodeError, EchonetError)


# --------------------------------------------------------------------------- construction


def _frame(**overrides: Any) -> Frame:
    fields: dict[str, Any] = {
        "tid": 1,
        "seoj": CONTROLLER,
        "deoj": AIRCON,
        "esv": ESV.GET,
        "properties": (Property(0x80),),
    }
    fields.update(overrides)
    return Frame(**fields)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"tid": -1}, "TID", id="tid_negative"),
        pytest.param({"tid": 0x10000}, "TID", id="tid_too_big"),
        pytest.param({"tid": True}, "TID", id="tid_bool"),
        pytest.param({"seoj": b"\x05\xff\x01"}, "seoj", id="seoj_bytes"),
        pytest.param({"deoj": "0x013001"}, "deoj", id="deoj_str"),
        pytest.param({"esv": 0x62}, "esv", id="esv_plain_int"),
        pytest.param({"properties": [Property(0x80)]}, "tuple", id="properties_list"),
        pytest.param({"properties": (0x80,)}, "Property", id="properties_not_property"),
        pytest.param({"properties": ()}, "OPC >= 1", id="opc_zero_get"),
        pytest.param(
            {"properties": tuple(Property(0x80) for _ in range(256))},
            "OPC max is 255",
            id="opc_256",
        ),
        pytest.param(
            {"get_properties": (Property(0x80),)}, "get_properties", id="get_block_on_get"
        ),
        pytest.param(
            {"esv": ESV.SETGET, "get_properties": [Property(0x80)]},
            "tuple",
            id="get_properties_list",
        ),
    ],
)
def test_frame_construction_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(EncodeError, match=message):
        _frame(**overrides)


def test_frame_opc_255_is_allowed() -> None:
    frame = _frame(properties=tuple(Property(0x80) for _ in range(255)))
    wire = frame.encode()
    assert wire[11] == 0xFF
    assert decode(wire) == frame


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"epc": 0x100}, "EPC", id="epc_256"),
        pytest.param({"epc": -1}, "EPC", id="epc_negative"),
        pytest.param({"epc": False}, "EPC", id="epc_bool"),
        pytest.param({"epc": 0x80, "edt": bytes(256)}, "PDC max is 255", id="edt_256"),
        pytest.param({"epc": 0x80, "edt": "0"}, "EDT must be bytes", id="edt_str"),
        pytest.param({"epc": 0x80, "edt": [0x30]}, "EDT must be bytes", id="edt_list"),
    ],
)
def test_property_construction_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(EncodeError, match=message):
        Property(**kwargs)


def test_property_freezes_bytes_like_edt() -> None:
    prop = Property(0x80, bytearray(b"\x30"))  # type: ignore[arg-type]
    assert type(prop.edt) is bytes
    assert prop == Property(0x80, b"\x30")
    assert prop.pdc == 1
    assert Property(0x80).pdc == 0
    assert Property(0x80, bytes(255)).pdc == 255


def test_frames_are_hashable_and_immutable() -> None:
    frame = _frame()
    assert hash(frame) == hash(_frame())
    with pytest.raises(AttributeError):
        frame.tid = 2  # type: ignore[misc]


def test_frame_property_lookup() -> None:
    frame = Frame(
        1,
        AIRCON,
        CONTROLLER,
        ESV.SETGET_RES,
        (Property(0x80), Property(0xB0), Property(0x80, b"\x31")),
        (Property(0xB3, b"\x1a"),),
    )
    assert frame.property(0x80) == Property(0x80)  # first match wins
    assert frame.property(0xB0) == Property(0xB0)
    assert frame.property(0xB3) is None  # only the first block is searched


def test_frame_reply_swaps_objects_and_keeps_tid() -> None:
    request = Frame(0x1234, CONTROLLER, AIRCON, ESV.SETGET, (Property(0x80, b"\x30"),))
    reply = request.reply(ESV.SETGET_RES, (Property(0x80),), (Property(0xB0, b"\x42"),))
    assert reply == Frame(
        0x1234,
        AIRCON,
        CONTROLLER,
        ESV.SETGET_RES,
        (Property(0x80),),
        (Property(0xB0, b"\x42"),),
    )
    with pytest.raises(EncodeError):
        request.reply(ESV.GET_RES, ())


def test_arbitrary_frame_validation() -> None:
    frozen = ArbitraryFrame(1, bytearray(b"\x01"))  # type: ignore[arg-type]
    assert frozen.payload == b"\x01"
    assert type(frozen.payload) is bytes
    with pytest.raises(EncodeError, match="TID"):
        ArbitraryFrame(0x10000, b"")
    with pytest.raises(EncodeError, match="payload"):
        ArbitraryFrame(1, "abc")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- EOJ


@pytest.mark.parametrize("text", ["0x027D01", "027D01", "0X027d01", "027d01", "0x027d01"], ids=repr)
def test_eoj_parse(text: str) -> None:
    assert EOJ.parse(text) == BATTERY


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0x",
        "027D0",
        "027D0101",
        "0x027D0G",
        " 027D01",
        "027D01 ",
        "0x_27D01",
        "+27D01",
        "x027D01",
    ],
    ids=repr,
)
def test_eoj_parse_rejects(text: str) -> None:
    with pytest.raises(EncodeError, match="6 hex digits"):
        EOJ.parse(text)


def test_eoj_bytes_str_and_class_id() -> None:
    assert BATTERY.to_bytes() == h("027D01")
    assert EOJ.from_bytes(h("027D01")) == BATTERY
    assert str(BATTERY) == "0x027D01"
    assert str(EOJ(0, 0, 0)) == "0x000000"
    assert BATTERY.class_id == 0x027D
    assert NODE_PROFILE.class_id == 0x0EF0
    assert EOJ.parse(str(CONTROLLER)) == CONTROLLER
    assert repr(BATTERY) == "EOJ(0x02, 0x7D, 0x01)"
    assert eval(repr(BATTERY)) == BATTERY
    assert repr(Property(0xE4, b"\x55")) == "Property(0xE4, b'U')"


@pytest.mark.parametrize("raw", ["", "02", "027D", "027D0101"])
def test_eoj_from_bytes_wrong_length(raw: str) -> None:
    with pytest.raises(DecodeError, match="exactly 3 bytes"):
        EOJ.from_bytes(h(raw))


@pytest.mark.parametrize(
    "args",
    [(0x100, 0, 0), (0, -1, 0), (0, 0, 0x100), (True, 0, 0), (0, 0, 1.0)],
    ids=repr,
)
def test_eoj_construction_errors(args: tuple[Any, Any, Any]) -> None:
    with pytest.raises(EncodeError):
        EOJ(*args)


# --------------------------------------------------------------------------- ESV

REQUESTS = {ESV.SETI, ESV.SETC, ESV.GET, ESV.INF_REQ, ESV.SETGET}
NOTIFICATIONS = {ESV.INF, ESV.INFC}
SNAS = {ESV.SETI_SNA, ESV.SETC_SNA, ESV.GET_SNA, ESV.INF_SNA, ESV.SETGET_SNA}
RESPONSES = {ESV.SET_RES, ESV.GET_RES, ESV.INFC_RES, ESV.SETGET_RES} | SNAS


def test_esv_values() -> None:
    assert {e.name: e.value for e in ESV} == {
        "SETI": 0x60,
        "SETC": 0x61,
        "GET": 0x62,
        "INF_REQ": 0x63,
        "SETGET": 0x6E,
        "SET_RES": 0x71,
        "GET_RES": 0x72,
        "INF": 0x73,
        "INFC": 0x74,
        "INFC_RES": 0x7A,
        "SETGET_RES": 0x7E,
        "SETI_SNA": 0x50,
        "SETC_SNA": 0x51,
        "GET_SNA": 0x52,
        "INF_SNA": 0x53,
        "SETGET_SNA": 0x5E,
    }


@pytest.mark.parametrize("esv", list(ESV), ids=lambda e: e.name)
def test_esv_classification(esv: ESV) -> None:
    assert esv.is_request == (esv in REQUESTS)
    assert esv.is_notification == (esv in NOTIFICATIONS)
    assert esv.is_response == (esv in RESPONSES)
    assert esv.is_sna == (esv in SNAS)
    assert esv.has_two_blocks == (esv in {ESV.SETGET, ESV.SETGET_RES, ESV.SETGET_SNA})
    # Every code falls in exactly one of the three families.
    assert [esv.is_request, esv.is_notification, esv.is_response].count(True) == 1


@pytest.mark.parametrize(
    ("request_esv", "expected"),
    [
        (ESV.SETI, (None, ESV.SETI_SNA)),
        (ESV.SETC, (ESV.SET_RES, ESV.SETC_SNA)),
        (ESV.GET, (ESV.GET_RES, ESV.GET_SNA)),
        (ESV.INF_REQ, (ESV.INF, ESV.INF_SNA)),
        (ESV.SETGET, (ESV.SETGET_RES, ESV.SETGET_SNA)),
        (ESV.INFC, (ESV.INFC_RES, None)),
    ],
    ids=lambda v: getattr(v, "name", None),
)
def test_expected_responses(request_esv: ESV, expected: tuple[ESV | None, ESV | None]) -> None:
    assert expected_responses(request_esv) == expected


@pytest.mark.parametrize("esv", sorted(RESPONSES | {ESV.INF}), ids=lambda e: e.name)
def test_expected_responses_rejects_non_requests(esv: ESV) -> None:
    with pytest.raises(ValueError, match="not answered"):
        expected_responses(esv)


# --------------------------------------------------------------------------- errors


def test_remote_error_get_sna_names_refused_epcs() -> None:
    frame = decode(h("10 81 00 04 01 30 01 05 FF 01 52 02 80 01 30 E0 00"))
    assert isinstance(frame, Frame)
    err = RemoteError(frame)
    assert err.frame is frame
    assert err.esv is ESV.GET_SNA
    # Get_SNA: readable properties carry their value, refused ones have PDC 0.
    assert err.refused_epcs == (0xE0,)
    assert "GET_SNA" in str(err)
    assert "0xE0" in str(err)
    assert "0x80" not in str(err)
    assert isinstance(err, EchonetError)


def test_remote_error_setc_sna_names_refused_epcs() -> None:
    # SetC_SNA: accepted properties come back with PDC 0, refused ones echo the EDT.
    frame = Frame(2, AIRCON, CONTROLLER, ESV.SETC_SNA, (Property(0x80), Property(0xB0, b"\x47")))
    err = RemoteError(frame)
    assert err.refused_epcs == (0xB0,)
    assert re.search(r"SETC_SNA .*refused EPC\(s\) 0xB0$", str(err))


def test_remote_error_setget_sna_blocks() -> None:
    frame = Frame(
        3,
        AIRCON,
        CONTROLLER,
        ESV.SETGET_SNA,
        (Property(0x80), Property(0xB0, b"\x47")),
        (Property(0xB3, b"\x1a"), Property(0xE0)),
    )
    err = RemoteError(frame)
    assert err.refused_epcs == (0xB0, 0xE0)
    assert "0xB0, 0xE0" in str(err)


def test_remote_error_non_sna_and_pickle() -> None:
    frame = Frame(1, AIRCON, CONTROLLER, ESV.GET_RES, (Property(0x80, b"\x30"),))
    err = RemoteError(frame)
    assert err.refused_epcs == ()
    assert "none identified" in str(err)
    clone = pickle.loads(pickle.dumps(err))
    assert clone.frame == frame
    assert str(clone) == str(err)


def test_echonet_timeout() -> None:
    err = EchonetTimeout(tid=0x00AB, attempts=3, timeout_s=2.5)
    assert isinstance(err, TimeoutError)
    assert isinstance(err, EchonetError)
    assert (err.tid, err.attempts, err.timeout_s) == (0x00AB, 3, 2.5)
    message = str(err)
    assert "0x00AB" in message
    assert "3 attempt" in message
    assert "2.5 s" in message
    assert "no TID" in str(EchonetTimeout(None, 1, 1.0))
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.tid, clone.attempts, clone.timeout_s) == (0x00AB, 3, 2.5)


# --------------------------------------------------------------------------- property maps

# Worked by hand: byte i = EPCs with low nibble i, bit j = high nibble 0x8 + j.
#   byte 0: 0x80 (b0) 0xA0 (b2) 0xF0 (b7) -> 0x85   byte 8:  0x88 (b0)          -> 0x01
#   byte 1: 0x81 (b0)                     -> 0x01   byte 10: 0x8A (b0) 0xDA (b5) -> 0x21
#   byte 2: 0x82 (b0) 0xE2 (b6)           -> 0x41   byte 13: 0x9D (b1)          -> 0x02
#   byte 3: 0xD3 (b5)                     -> 0x20   byte 14: 0x9E (b1)          -> 0x02
#   byte 5: 0xD5 (b5), byte 6: 0xD6 (b5)  -> 0x20   byte 15: 0x9F (b1) 0xFF (b7) -> 0x82
BITMAP_SET = frozenset(
    {0x80, 0x81, 0x82, 0x88, 0x8A, 0x9D, 0x9E, 0x9F, 0xD3, 0xD5, 0xD6, 0xDA, 0xE2, 0xF0, 0xFF, 0xA0}
)
BITMAP_EDT = h("10 85 01 41 20 00 20 20 00 01 00 21 00 00 02 02 82")


def test_property_map_bitmap_example() -> None:
    assert len(BITMAP_SET) == 16
    assert encode_property_map(BITMAP_SET) == BITMAP_EDT
    assert decode_property_map(BITMAP_EDT) == BITMAP_SET


def test_property_map_bitmap_corners() -> None:
    every = frozenset(range(0x80, 0x100))
    assert encode_property_map(every) == b"\x80" + b"\xff" * 16
    assert decode_property_map(b"\x80" + b"\xff" * 16) == every


def test_property_map_list_form() -> None:
    assert encode_property_map([0x9F, 0x80, 0x81, 0x80]) == h("03 80 81 9F")
    assert encode_property_map([]) == h("00")
    assert decode_property_map(h("03 9F 80 81")) == {0x80, 0x81, 0x9F}
    assert decode_property_map(h("00")) == frozenset()
    fifteen = range(0x80, 0x8F)
    assert encode_property_map(fifteen) == bytes((15, *fifteen))


@pytest.mark.parametrize(
    ("edt", "message"),
    [
        pytest.param("", r"^offset 0: expected the property count", id="empty"),
        pytest.param("03 80 81", r"^offset 1: list form with count 3 needs 3 .*got 2$", id="short"),
        pytest.param("03 80 81 82 83", r"^offset 1: list form .*got 4$", id="long"),
        pytest.param("02 80 80", r"^offset 2: duplicate EPC 0x80$", id="duplicate"),
        pytest.param("02 80 7F", r"^offset 2: EPC 0x7F is below 0x80$", id="below_0x80"),
        pytest.param(
            "10" + "00" * 15, r"^offset 1: bitmap form .*needs 16 bytes, got 15$", id="bm_short"
        ),
        pytest.param("10" + "FF" * 17, r"^offset 1: bitmap form .*got 17$", id="bm_long"),
        pytest.param(
            "10" + "00" * 16, r"^offset 0: count 16 but the bitmap has 0 bit", id="bm_count"
        ),
        pytest.param(
            "11" + BITMAP_EDT[1:].hex(), r"count 17 but the bitmap has 16", id="bm_off_by_1"
        ),
        pytest.param("81" + "FF" * 16, r"count 129 but the bitmap has 128", id="bm_129"),
    ],
)
def test_property_map_decode_errors(edt: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_property_map(h(edt))


@pytest.mark.parametrize("epcs", [[0x7F], [0x80, 0x100], [True], [-1]], ids=repr)
def test_property_map_encode_errors(epcs: list[int]) -> None:
    with pytest.raises(EncodeError, match="EPC"):
        encode_property_map(epcs)


# --------------------------------------------------------------------------- instance lists


def test_instance_list_round_trip() -> None:
    eojs = (AIRCON, BATTERY)
    edt = encode_instance_list(eojs)
    assert edt == h("02 013001 027D01")
    assert decode_instance_list(edt) == eojs
    assert encode_instance_list([]) == h("00")
    assert decode_instance_list(h("00")) == ()


def test_instance_list_limit() -> None:
    many = [EOJ(0x02, 0x7D, i) for i in range(MAX_INSTANCE_LIST)]
    edt = encode_instance_list(many)
    assert len(edt) == 253
    assert decode_instance_list(edt) == tuple(many)
    with pytest.raises(EncodeError, match="at most 84"):
        encode_instance_list([*many, AIRCON])
    with pytest.raises(EncodeError, match="only EOJ"):
        encode_instance_list([AIRCON.to_bytes()])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("edt", "message"),
    [
        pytest.param("", r"^offset 0: expected the instance count", id="empty"),
        pytest.param(
            "02 013001", r"^offset 1: 2 instance\(s\) need 6 byte\(s\), got 3$", id="short"
        ),
        pytest.param("01 013001 02", r"^offset 1: 1 instance\(s\) need 3 .*got 4$", id="trailing"),
        pytest.param("01 0130", r"got 2$", id="partial_eoj"),
        pytest.param("55" + "013001" * 85, r"^offset 0: instance count 85 exceeds", id="count_85"),
    ],
)
def test_instance_list_decode_errors(edt: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_instance_list(h(edt))


# --------------------------------------------------------------------------- hypothesis

eojs = st.builds(EOJ, st.integers(0, 0xFF), st.integers(0, 0xFF), st.integers(0, 0xFF))
props = st.builds(Property, st.integers(0, 0xFF), st.binary(max_size=40))


def blocks(min_size: int) -> st.SearchStrategy[tuple[Property, ...]]:
    return st.lists(props, min_size=min_size, max_size=8).map(tuple)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    esv = draw(st.sampled_from(ESV))
    if esv.has_two_blocks:
        first, second = draw(blocks(0)), draw(blocks(0))
    else:
        first, second = draw(blocks(1)), ()
    return Frame(draw(st.integers(0, 0xFFFF)), draw(eojs), draw(eojs), esv, first, second)


arbitrary_frames = st.builds(ArbitraryFrame, st.integers(0, 0xFFFF), st.binary(max_size=64))


def _decode_or_decode_error(data: bytes) -> None:
    try:
        result = decode(data)
    except DecodeError:
        return
    assert isinstance(result, Frame | ArbitraryFrame)
    assert result.encode() == data  # anything accepted is canonical


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_decode_random_bytes_only_raises_decode_error(data: bytes) -> None:
    _decode_or_decode_error(data)


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_decode_random_format1_body_only_raises_decode_error(body: bytes) -> None:
    # Past the header so the EDATA parser, not the EHD check, sees the noise.
    _decode_or_decode_error(h("10 81") + body)


@settings(max_examples=300)
@given(frames(), st.data())
def test_decode_mutated_frame_only_raises_decode_error(frame: Frame, data: st.DataObject) -> None:
    wire = bytearray(frame.encode())
    index = data.draw(st.integers(0, len(wire) - 1))
    wire[index] = data.draw(st.integers(0, 0xFF))
    _decode_or_decode_error(bytes(wire))


@given(frames())
def test_frame_round_trip(frame: Frame) -> None:
    assert decode(frame.encode()) == frame


@given(arbitrary_frames)
def test_arbitrary_frame_round_trip(frame: ArbitraryFrame) -> None:
    assert decode(frame.encode()) == frame


@given(frames(), st.data())
def test_truncated_frame_raises_decode_error(frame: Frame, data: st.DataObject) -> None:
    wire = frame.encode()
    cut = data.draw(st.integers(1, len(wire)))
    with pytest.raises(DecodeError):
        decode(wire[:-cut])


@given(frames(), st.binary(min_size=1, max_size=32))
def test_trailing_bytes_raise_decode_error(frame: Frame, extra: bytes) -> None:
    wire = frame.encode()
    with pytest.raises(DecodeError, match=rf"^offset {len(wire)}: {len(extra)} trailing"):
        decode(wire + extra)


@given(st.frozensets(st.integers(0x80, 0xFF)))
def test_property_map_round_trip(epcs: frozenset[int]) -> None:
    edt = encode_property_map(epcs)
    assert decode_property_map(edt) == epcs
    assert len(edt) == (1 + len(epcs) if len(epcs) < 16 else 17)
    assert edt[0] == len(epcs)


@given(st.binary(max_size=40))
def test_property_map_decode_only_raises_decode_error(edt: bytes) -> None:
    try:
        epcs = decode_property_map(edt)
    except DecodeError:
        return
    # Whatever is accepted re-encodes to an equivalent map (list order may differ).
    assert decode_property_map(encode_property_map(epcs)) == epcs
    assert len(edt) == len(encode_property_map(epcs))


@given(st.lists(eojs, max_size=MAX_INSTANCE_LIST).map(tuple))
def test_instance_list_round_trip_property(eoj_list: tuple[EOJ, ...]) -> None:
    edt = encode_instance_list(eoj_list)
    assert len(edt) == 1 + 3 * len(eoj_list)
    assert decode_instance_list(edt) == eoj_list
