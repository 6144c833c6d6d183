"""Property map EDT codec (device object EPCs 0x9D, 0x9E, 0x9F), sans-I/O.

Format from the ECHONET Lite Specification, APPENDIX "Detailed Requirements for
ECHONET Device Objects", "Property map description format". Kept apart from
:mod:`drready.echonet.codec` (which re-exports both functions) only for size.
"""

from __future__ import annotations

from collections.abc import Iterable

from drready.echonet.local_errors import DecodeError, EncodeError

__all__ = ["decode_property_map", "encode_property_map"]

# Below 16 properties the EDT lists the EPCs after the count byte; from 16 on
# it is a 16-byte bitmap. Only EPCs 0x80..0xFF are representable either way.
_PROPMAP_BITMAP_THRESHOLD = 16
_PROPMAP_BITMAP_LEN = 16
_PROPMAP_MIN_EPC = 0x80


def encode_property_map(epcs: Iterable[int]) -> bytes:
    """Encode a property map EDT (EPC 0x9D/0x9E/0x9F). Duplicates collapse.

    The list form is written in ascending EPC order so output is deterministic.
    """
    codes: set[int] = set()
    for epc in epcs:
        # bool is an int subclass but never a meaningful EPC.
        if isinstance(epc, bool) or not isinstance(epc, int):
            raise EncodeError(f"EPC must be an int, got {epc!r}")
        if not _PROPMAP_MIN_EPC <= epc <= 0xFF:
            raise EncodeError(f"EPC 0x{epc:02X} cannot appear in a property map (0x80..0xFF)")
        codes.add(epc)
    if len(codes) < _PROPMAP_BITMAP_THRESHOLD:
        return bytes((len(codes), *sorted(codes)))
    # Byte i holds the EPCs whose low nibble is i; bit j is high nibble 0x8 + j.
    bitmap = bytearray(_PROPMAP_BITMAP_LEN)
    for epc in codes:
        bitmap[epc & 0x0F] |= 1 << ((epc >> 4) - 0x8)
    return bytes((len(codes),)) + bytes(bitmap)


def decode_property_map(edt: bytes) -> frozenset[int]:
    """Decode a property map EDT strictly (exact length, count consistent)."""
    if len(edt) == 0:
        raise DecodeError("offset 0: expected the property count, got empty EDT")
    count = edt[0]
    if count < _PROPMAP_BITMAP_THRESHOLD:
        if len(edt) != 1 + count:
            raise DecodeError(
                f"offset 1: list form with count {count} needs {count} EPC byte(s), "
                f"got {len(edt) - 1}"
            )
        seen: set[int] = set()
        for offset in range(1, len(edt)):
            epc = edt[offset]
            if epc < _PROPMAP_MIN_EPC:
                raise DecodeError(f"offset {offset}: EPC 0x{epc:02X} is below 0x80")
            if epc in seen:
                raise DecodeError(f"offset {offset}: duplicate EPC 0x{epc:02X}")
            seen.add(epc)
        return frozenset(seen)
    if len(edt) != 1 + _PROPMAP_BITMAP_LEN:
        raise DecodeError(
            f"offset 1: bitmap form (count {count} >= 16) needs {_PROPMAP_BITMAP_LEN} bytes, "
            f"got {len(edt) - 1}"
        )
    found = frozenset(
        ((0x8 + bit) << 4) | low
        for low in range(_PROPMAP_BITMAP_LEN)
        for bit in range(8)
        if edt[1 + low] >> bit & 1
    )
    if len(found) != count:
        raise DecodeError(f"offset 0: count {count} but the bitmap has {len(found)} bit(s) set")
    return found
