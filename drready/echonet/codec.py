"""ECHONET Lite frame codec, sans-I/O.

Pure functions and immutable value objects only: no sockets, clocks or logging,
so the same code serves the live transport, the device simulators and the tests.

References are to the ECHONET Lite Specification, Part 2 "ECHONET Lite
Communication Middleware Specification", chapter 3 (frame format), unless
stated otherwise.

Encoding is total over valid values (invalid construction raises
:class:`EncodeError` up front); :func:`decode` is strict and raises
:class:`DecodeError` -- and nothing else -- for any malformed byte string, with a
message naming the byte offset and what was expected there.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from drready.echonet.local_errors import DecodeError, EncodeError

# Re-exported: property maps are part of the codec's public surface but live
# in their own module to keep this one readable.
from drready.echonet.propmap import decode_property_map, encode_property_map

__all__ = [
    "CONTROLLER",
    "ECHONET_LITE_PORT",
    "EHD1",
    "EHD2_ARBITRARY",
    "EHD2_FORMAT1",
    "EOJ",
    "ESV",
    "MAX_INSTANCE_LIST",
    "MULTICAST_GROUP",
    "NODE_PROFILE",
    "ArbitraryFrame",
    "Frame",
    "Property",
    "decode",
    "decode_instance_list",
    "decode_property_map",
    "encode_instance_list",
    "encode_property_map",
    "expected_responses",
]

# Part 2 §3.2.1.1: EHD1 0x10 marks an ECHONET Lite frame (0x80 is conventional
# ECHONET, which ECHONET Lite nodes must not accept).
EHD1 = 0x10
# Part 2 §3.2.1.2: EHD2 0x81 = format 1 (specified message format, EDATA is
# SEOJ/DEOJ/ESV/OPC/properties); 0x82 = format 2 (arbitrary message format).
EHD2_FORMAT1 = 0x81
EHD2_ARBITRARY = 0x82
# IANA-registered UDP port "echonet" and IPv4 multicast group "ECHONET".
ECHONET_LITE_PORT = 3610
MULTICAST_GROUP = "224.0.23.0"

# Part 2 §3.2 (Fig. 3-1): EHD1, EHD2 and the 2-byte TID (§3.2.2).
_HEADER_LEN = 4
# Format 1 fixed part: header + SEOJ (3) + DEOJ (3) + ESV (1) + OPC (1).
_FORMAT1_FIXED_LEN = 12
_OFFSET_ESV = 10
_OFFSET_OPC = 11
# OPC and PDC are one byte each (Part 2 §3.2), which bounds both counts.
_MAX_OPC = 0xFF
_MAX_PDC = 0xFF
# Part 2 §6.11.1 (node profile, EPC 0xD5/0xD6): at most 84 EOJs per list, the
# most that fits one PDC-limited EDT (1 count byte + 84 * 3 = 253 bytes).
MAX_INSTANCE_LIST = 84


def _check_uint(name: str, value: object, maximum: int) -> None:
    # bool is an int subclass; True as a TID or EPC is almost certainly a bug.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise EncodeError(f"{name} must be an int in 0..{maximum}, got {value!r}")


def _as_bytes(name: str, value: object) -> bytes:
    # Untyped callers (and type checkers that still promote bytearray to bytes)
    # may hand over mutable buffers; freeze them so the owning dataclass stays
    # immutable and hashable.
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise EncodeError(f"{name} must be bytes, got {type(value).__name__}")


class ESV(enum.IntEnum):
    """ECHONET Lite service code (Part 2 §3.2.5, the request, response/notification
    and "response not possible" (SNA) tables)."""

    SETI = 0x60
    SETC = 0x61
    GET = 0x62
    INF_REQ = 0x63
    SETGET = 0x6E
    SET_RES = 0x71
    GET_RES = 0x72
    INF = 0x73
    INFC = 0x74
    INFC_RES = 0x7A
    SETGET_RES = 0x7E
    SETI_SNA = 0x50
    SETC_SNA = 0x51
    GET_SNA = 0x52
    INF_SNA = 0x53
    SETGET_SNA = 0x5E

    @property
    def is_request(self) -> bool:
        """Listed in the request table (0x6X): SetI, SetC, Get, INF_REQ, SetGet."""
        return self in _REQUESTS

    @property
    def is_notification(self) -> bool:
        """INF or INFC. INF is also how a node answers INF_REQ, but it stays a
        notification here because it may equally be sent unsolicited."""
        return self in (ESV.INF, ESV.INFC)

    @property
    def is_response(self) -> bool:
        """A reply to a request or to INFC: Set_Res, Get_Res, INFC_Res,
        SetGet_Res and every SNA code."""
        return self in _RESPONSES or self.is_sna

    @property
    def is_sna(self) -> bool:
        """A "response not possible" code (0x5X)."""
        return self in _SNAS

    @property
    def has_two_blocks(self) -> bool:
        """SetGet family: the EDATA carries a Set block and a Get block."""
        return self in (ESV.SETGET, ESV.SETGET_RES, ESV.SETGET_SNA)


_REQUESTS = frozenset({ESV.SETI, ESV.SETC, ESV.GET, ESV.INF_REQ, ESV.SETGET})
_RESPONSES = frozenset({ESV.SET_RES, ESV.GET_RES, ESV.INFC_RES, ESV.SETGET_RES})
_SNAS = frozenset({ESV.SETI_SNA, ESV.SETC_SNA, ESV.GET_SNA, ESV.INF_SNA, ESV.SETGET_SNA})

# (success, failure) replies, per the service descriptions of Part 2 §3.2.5.
_EXPECTED: dict[ESV, tuple[ESV | None, ESV | None]] = {
    ESV.SETI: (None, ESV.SETI_SNA),
    ESV.SETC: (ESV.SET_RES, ESV.SETC_SNA),
    ESV.GET: (ESV.GET_RES, ESV.GET_SNA),
    ESV.INF_REQ: (ESV.INF, ESV.INF_SNA),
    ESV.SETGET: (ESV.SETGET_RES, ESV.SETGET_SNA),
    ESV.INFC: (ESV.INFC_RES, None),
}


def expected_responses(request: ESV) -> tuple[ESV | None, ESV | None]:
    """The ``(success, SNA)`` ESVs a peer may answer ``request`` with.

    ``None`` marks "no frame is sent": SetI is acknowledged only when it fails
    (SetI_SNA), and INFC -- the one notification that demands a reply -- has
    INFC_Res but no SNA. The success reply to INF_REQ is an INF, which the
    specification has the node multicast rather than unicast back.

    Raises ``ValueError`` for ESVs that never get a reply (responses, INF).
    """
    try:
        return _EXPECTED[ESV(request)]
    except (KeyError, ValueError):
        raise ValueError(f"ESV {request!r} is not answered by a response") from None


_EOJ_TEXT = re.compile(r"(?:0[xX])?([0-9A-Fa-f]{6})")


@dataclass(frozen=True, slots=True)
class EOJ:
    """ECHONET object: class group code, class code, instance code (one byte each)."""

    class_group: int
    class_code: int
    instance: int

    def __post_init__(self) -> None:
        _check_uint("EOJ class_group", self.class_group, 0xFF)
        _check_uint("EOJ class_code", self.class_code, 0xFF)
        _check_uint("EOJ instance", self.instance, 0xFF)

    @classmethod
    def from_bytes(cls, data: bytes) -> EOJ:
        if len(data) != 3:
            raise DecodeError(f"an EOJ is exactly 3 bytes, got {len(data)}")
        return cls(data[0], data[1], data[2])

    def to_bytes(self) -> bytes:
        return bytes((self.class_group, self.class_code, self.instance))

    @classmethod
    def parse(cls, text: str) -> EOJ:
        """Parse ``"0x027D01"`` or ``"027D01"`` (hex digits in either case).

        Invalid text raises :class:`EncodeError`, like invalid construction.
        """
        match = _EOJ_TEXT.fullmatch(text)
        if match is None:
            raise EncodeError(f"expected an EOJ as 6 hex digits like '0x027D01', got {text!r}")
        raw = bytes.fromhex(match.group(1))
        return cls(raw[0], raw[1], raw[2])

    @property
    def class_id(self) -> int:
        """Class group and class code as one number, e.g. 0x027D (storage battery)."""
        return self.class_group << 8 | self.class_code

    def __str__(self) -> str:
        return f"0x{self.class_group:02X}{self.class_code:02X}{self.instance:02X}"

    def __repr__(self) -> str:
        # Hex, as codes are written in the specification; still a valid expression.
        return f"EOJ(0x{self.class_group:02X}, 0x{self.class_code:02X}, 0x{self.instance:02X})"


# Node profile object, instance 0x01 = general node (0x02 would be a
# transmission-only node), Part 2 §6.11.1.
NODE_PROFILE = EOJ(0x0E, 0xF0, 0x01)
# Controller class (class group 0x05 management/operation, class 0xFF).
CONTROLLER = EOJ(0x05, 0xFF, 0x01)


@dataclass(frozen=True, slots=True)
class Property:
    """One EPC with its EDT; PDC is derived from the EDT length."""

    epc: int
    edt: bytes = b""

    def __post_init__(self) -> None:
        _check_uint("EPC", self.epc, 0xFF)
        edt = _as_bytes("EDT", self.edt)
        if len(edt) > _MAX_PDC:
            raise EncodeError(f"EDT of EPC 0x{self.epc:02X} is {len(edt)} bytes; PDC max is 255")
        object.__setattr__(self, "edt", edt)

    @property
    def pdc(self) -> int:
        return len(self.edt)

    def __repr__(self) -> str:
        return f"Property(0x{self.epc:02X}, {self.edt!r})"


def _check_block(name: str, block: object) -> None:
    # Tuples are required (lists are rejected, not converted) so that a Frame
    # is deeply immutable and what the caller built is exactly what is stored.
    if not isinstance(block, tuple):
        raise EncodeError(f"{name} must be a tuple of Property, got {type(block).__name__}")
    if len(block) > _MAX_OPC:
        raise EncodeError(f"{name} has {len(block)} properties; OPC max is 255")
    for item in block:
        if not isinstance(item, Property):
            raise EncodeError(f"{name} must contain only Property, got {type(item).__name__}")


def _encode_block(out: bytearray, block: tuple[Property, ...]) -> None:
    out.append(len(block))
    for prop in block:
        out.append(prop.epc)
        out.append(prop.pdc)
        out += prop.edt


@dataclass(frozen=True, slots=True)
class Frame:
    """A format 1 (specified message format) frame.

    ``properties`` is the only block for most ESVs and the Set block (OPCSet)
    of the SetGet family; ``get_properties`` is the Get block (OPCGet) and must
    be empty for every other ESV. Outside the SetGet family at least one
    property is required (OPC >= 1); inside it either block may be empty, since
    a SetGet may legitimately carry nothing to write or nothing to read.
    """

    tid: int
    seoj: EOJ
    deoj: EOJ
    esv: ESV
    properties: tuple[Property, ...]
    get_properties: tuple[Property, ...] = ()

    def __post_init__(self) -> None:
        _check_uint("TID", self.tid, 0xFFFF)
        for name, eoj in (("seoj", self.seoj), ("deoj", self.deoj)):
            if not isinstance(eoj, EOJ):
                raise EncodeError(f"{name} must be an EOJ, got {type(eoj).__name__}")
        if not isinstance(self.esv, ESV):
            raise EncodeError(f"esv must be an ESV member, got {self.esv!r}")
        _check_block("properties", self.properties)
        _check_block("get_properties", self.get_properties)
        if not self.esv.has_two_blocks:
            if self.get_properties:
                raise EncodeError(f"get_properties must be empty for ESV {self.esv.name}")
            if not self.properties:
                raise EncodeError(f"ESV {self.esv.name} needs at least one property (OPC >= 1)")

    def encode(self) -> bytes:
        out = bytearray((EHD1, EHD2_FORMAT1))
        out += self.tid.to_bytes(2, "big")
        out += self.seoj.to_bytes()
        out += self.deoj.to_bytes()
        out.append(self.esv)
        _encode_block(out, self.properties)
        if self.esv.has_two_blocks:
            _encode_block(out, self.get_properties)
        return bytes(out)

    def reply(
        self,
        esv: ESV,
        properties: tuple[Property, ...],
        get_properties: tuple[Property, ...] = (),
    ) -> Frame:
        """A frame answering this one: same TID, SEOJ and DEOJ swapped.

        The ESV is not checked against :func:`expected_responses` so that
        simulators can deliberately send wrong replies.
        """
        return Frame(self.tid, self.deoj, self.seoj, esv, properties, get_properties)

    # Defined last: inside the class body this name shadows the builtin.
    def property(self, epc: int) -> Property | None:
        """The first property with ``epc`` in ``properties`` (not the Get block)."""
        for prop in self.properties:
            if prop.epc == epc:
                return prop
        return None


@dataclass(frozen=True, slots=True)
class ArbitraryFrame:
    """A format 2 (arbitrary message format, EHD2 0x82) frame: TID plus opaque EDATA."""

    tid: int
    payload: bytes

    def __post_init__(self) -> None:
        _check_uint("TID", self.tid, 0xFFFF)
        object.__setattr__(self, "payload", _as_bytes("payload", self.payload))

    def encode(self) -> bytes:
        return bytes((EHD1, EHD2_ARBITRARY)) + self.tid.to_bytes(2, "big") + self.payload


# The decoder builds values from parts it has already bounded (a byte is 0..255, an EDT at most
# 255 bytes), so it skips __post_init__: validating again would only cost time on every
# datagram. These are the two constructors it uses most, written out for speed.
_new = object.__new__
_set = object.__setattr__


def _checked_property(epc: int, edt: bytes) -> Property:
    prop = _new(Property)
    _set(prop, "epc", epc)
    _set(prop, "edt", edt)
    return prop


def _checked_eoj(raw: bytes) -> EOJ:
    # Frames name the same few objects over and over: share one EOJ per 3-byte code (bounded,
    # so a stream of random codes cannot grow the cache without limit).
    eoj = _EOJ_CACHE.get(raw)
    if eoj is None:
        eoj = _new(EOJ)
        _set(eoj, "class_group", raw[0])
        _set(eoj, "class_code", raw[1])
        _set(eoj, "instance", raw[2])
        if len(_EOJ_CACHE) < _EOJ_CACHE_SIZE:
            _EOJ_CACHE[raw] = eoj
    return eoj


_EOJ_CACHE: dict[bytes, EOJ] = {}
_EOJ_CACHE_SIZE = 1024
_ESV_BY_CODE: dict[int, ESV] = {esv.value: esv for esv in ESV}


def _decode_block(buf: bytes, pos: int, esv: ESV, label: str) -> tuple[tuple[Property, ...], int]:
    if pos >= len(buf):
        raise DecodeError(f"offset {pos}: expected {label}, got end of data")
    count = buf[pos]
    if count == 0 and not esv.has_two_blocks:
        raise DecodeError(f"offset {pos}: {label} is 0 but ESV {esv.name} needs >= 1 property")
    pos += 1
    props: list[Property] = []
    for index in range(1, count + 1):
        remaining = len(buf) - pos
        if remaining < 2:
            raise DecodeError(
                f"offset {pos}: expected EPC and PDC of property {index} of {count} ({label}), "
                f"got {remaining} byte(s)"
            )
        epc, pdc = buf[pos], buf[pos + 1]
        pos += 2
        remaining = len(buf) - pos
        if remaining < pdc:
            raise DecodeError(
                f"offset {pos}: expected {pdc} more EDT bytes for EPC 0x{epc:02X}, got {remaining}"
            )
        props.append(_checked_property(epc, buf[pos : pos + pdc]))
        pos += pdc
    return tuple(props), pos


def decode(data: bytes | bytearray | memoryview) -> Frame | ArbitraryFrame:
    """Decode one UDP payload strictly; see the module docstring.

    Any byte string either decodes or raises :class:`DecodeError`; a non-bytes
    argument is a programming error and raises ``TypeError``.
    """
    if type(data) is bytes:  # the common case: what a socket hands over, used as it is
        buf = data
    elif isinstance(data, bytearray | memoryview):
        buf = bytes(data)
    else:
        raise TypeError(f"decode() needs bytes, got {type(data).__name__}")
    if len(buf) < _HEADER_LEN:
        raise DecodeError(
            f"offset 0: expected {_HEADER_LEN} header bytes (EHD1, EHD2, TID), got {len(buf)}"
        )
    if buf[0] != EHD1:
        raise DecodeError(
            f"offset 0: expected EHD1 0x{EHD1:02X} (ECHONET Lite), got 0x{buf[0]:02X}"
        )
    tid = int.from_bytes(buf[2:4], "big")
    if buf[1] == EHD2_ARBITRARY:
        return ArbitraryFrame(tid, buf[_HEADER_LEN:])
    if buf[1] != EHD2_FORMAT1:
        raise DecodeError(
            f"offset 1: expected EHD2 0x{EHD2_FORMAT1:02X} (format 1) or "
            f"0x{EHD2_ARBITRARY:02X} (arbitrary), got 0x{buf[1]:02X}"
        )
    if len(buf) < _FORMAT1_FIXED_LEN:
        raise DecodeError(
            f"offset {_HEADER_LEN}: expected {_FORMAT1_FIXED_LEN - _HEADER_LEN} bytes "
            f"(SEOJ, DEOJ, ESV, OPC), got {len(buf) - _HEADER_LEN}"
        )
    esv = _ESV_BY_CODE.get(buf[_OFFSET_ESV])
    if esv is None:
        raise DecodeError(f"offset {_OFFSET_ESV}: unknown ESV 0x{buf[_OFFSET_ESV]:02X}")
    get_props: tuple[Property, ...] = ()
    if esv.has_two_blocks:
        props, pos = _decode_block(buf, _OFFSET_OPC, esv, "OPCSet")
        get_props, pos = _decode_block(buf, pos, esv, "OPCGet")
    else:
        props, pos = _decode_block(buf, _OFFSET_OPC, esv, "OPC")
    if pos != len(buf):
        raise DecodeError(
            f"offset {pos}: {len(buf) - pos} trailing byte(s) after the last property"
        )
    frame = _new(Frame)
    _set(frame, "tid", tid)
    _set(frame, "seoj", _checked_eoj(buf[4:7]))
    _set(frame, "deoj", _checked_eoj(buf[7:10]))
    _set(frame, "esv", esv)
    _set(frame, "properties", props)
    _set(frame, "get_properties", get_props)
    return frame


def encode_instance_list(eojs: Sequence[EOJ]) -> bytes:
    """Encode an instance list EDT (node profile EPC 0xD5 / 0xD6)."""
    if len(eojs) > MAX_INSTANCE_LIST:
        raise EncodeError(f"{len(eojs)} instances; an instance list holds at most 84")
    out = bytearray((len(eojs),))
    for eoj in eojs:
        if not isinstance(eoj, EOJ):
            raise EncodeError(f"instance list must contain only EOJ, got {type(eoj).__name__}")
        out += eoj.to_bytes()
    return bytes(out)


def decode_instance_list(edt: bytes) -> tuple[EOJ, ...]:
    """Decode an instance list EDT strictly; order (and any duplicate) is kept."""
    if len(edt) == 0:
        raise DecodeError("offset 0: expected the instance count, got empty EDT")
    count = edt[0]
    if count > MAX_INSTANCE_LIST:
        raise DecodeError(f"offset 0: instance count {count} exceeds the maximum of 84")
    if len(edt) != 1 + 3 * count:
        raise DecodeError(
            f"offset 1: {count} instance(s) need {3 * count} byte(s), got {len(edt) - 1}"
        )
    return tuple(EOJ.from_bytes(bytes(edt[i : i + 3])) for i in range(1, len(edt), 3))
