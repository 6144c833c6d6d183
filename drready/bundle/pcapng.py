"""A small pcapng writer and reader, enough for a trace of UDP datagrams.

A file is one Section Header Block, one Interface Description Block of link type
``LINKTYPE_RAW`` (101: each packet starts with its IPv4 or IPv6 header) with microsecond
timestamps, then one Enhanced Packet Block per packet, which may carry a comment and the
direction (inbound or outbound) as options. Every block is little-endian and 32-bit aligned.
:func:`udp_packet` synthesises the IP and UDP headers (checksums included) around a payload;
:func:`read_pcapng` reads back what :class:`PcapngWriter` writes (either byte order, any
timestamp resolution), and :func:`parse_udp` takes such a packet apart again.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import BinaryIO

LINKTYPE_RAW = 101

SHB_TYPE = 0x0A0D0D0A
IDB_TYPE = 0x00000001
EPB_TYPE = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_DESCRIPTION = 3
IF_TSRESOL = 9
EPB_FLAGS = 2

#: epb_flags bits 0-1: the packet's direction.
INBOUND = 1
OUTBOUND = 2

IPPROTO_TCP = 6
IPPROTO_UDP = 17
_TTL = 64

Address = tuple[str, int]


class PcapngError(ValueError):
    """Not a pcapng file this module can read, or a packet it cannot take apart."""


@dataclass(frozen=True)
class Packet:
    timestamp_us: int  # microseconds since the epoch
    data: bytes  # the packet from its IP header on
    comment: str = ""
    direction: int = 0  # 0 unknown, INBOUND or OUTBOUND


# --------------------------------------------------------------------------- IP and UDP


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``: the one's complement of the one's
    complement sum of its 16-bit big-endian words (a last odd byte padded with zero).

    Taken from the data as one big-endian number: 2**16 is 1 modulo 0xFFFF, so the number is
    congruent to the sum of its words, and folding that sum's carries back in gives its residue
    in 1..0xFFFF (0 only for a zero sum). One conversion in C instead of an unpack and a sum of
    every word: a trace computes two checksums per packet, for tens of thousands of packets.
    """
    if len(data) % 2:
        data += b"\0"
    total = int.from_bytes(data, "big")
    folded = (total - 1) % 0xFFFF + 1 if total else 0
    return ~folded & 0xFFFF


@lru_cache(maxsize=256)
def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(host)


@lru_cache(maxsize=256)  # a trace has a few pairs of ends and tens of thousands of packets
def _ends(source: str, destination: str) -> tuple[int, bytes, bytes]:
    """(IP version, source address, destination address) as the packets carry them."""
    src, dst = _ip(source), _ip(destination)
    if src.version != dst.version:
        raise ValueError(f"{source} and {destination} are not of the same IP version")
    return src.version, src.packed, dst.packed


def _pseudo_header(version: int, src: bytes, dst: bytes, protocol: int, length: int) -> bytes:
    """What the UDP and TCP checksums cover besides the segment itself (RFC 768, 793, 8200)."""
    if version == 4:
        return src + dst + struct.pack("!BBH", 0, protocol, length)
    return src + dst + struct.pack("!I3xB", length, protocol)


def _ip_packet(
    version: int, src: bytes, dst: bytes, protocol: int, segment: bytes, ident: int, what: str
) -> bytes:
    """``segment`` behind an IPv6 header, or an IPv4 one with its checksum."""
    if version == 6:
        header = struct.pack("!IHBB", 6 << 28, len(segment), protocol, _TTL)
        return header + src + dst + segment
    total = 20 + len(segment)
    if total > 0xFFFF:
        raise ValueError(f"{what} does not fit in IPv4")
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, total, ident & 0xFFFF, 0x4000, _TTL, protocol, 0, src, dst,
    )  # fmt: skip
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + segment


def udp_packet(source: Address, destination: Address, payload: bytes, ident: int = 0) -> bytes:
    """An IPv4 or IPv6 packet carrying one UDP datagram, with valid checksums.

    Both addresses must be of the same family. ``ident`` is the IPv4 identification field.
    """
    version, src, dst = _ends(source[0], destination[0])
    udp_length = 8 + len(payload)
    if udp_length > 0xFFFF:
        raise ValueError(f"a UDP payload of {len(payload)} bytes does not fit in a datagram")
    header = struct.pack("!HHHH", source[1], destination[1], udp_length, 0)
    pseudo = _pseudo_header(version, src, dst, IPPROTO_UDP, udp_length)
    checksum = _checksum(pseudo + header + payload) or 0xFFFF
    udp = struct.pack("!HHHH", source[1], destination[1], udp_length, checksum) + payload
    what = f"a UDP payload of {len(payload)} bytes"
    return _ip_packet(version, src, dst, IPPROTO_UDP, udp, ident, what)


def tcp_packet(
    source: Address, destination: Address, payload: bytes, seq: int, ack: int, ident: int = 0
) -> bytes:
    """An IPv4 or IPv6 packet carrying one TCP segment (PSH, ACK) with valid checksums: enough
    for a dissector to read an application stream rebuilt from a log (no handshake is shown)."""
    version, src, dst = _ends(source[0], destination[0])
    length = 20 + len(payload)
    if length > 0xFFFF - 40:
        raise ValueError(f"a TCP payload of {len(payload)} bytes does not fit in one packet")
    flags = 0x18  # PSH, ACK
    fields = (source[1], destination[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags)
    header = struct.pack("!HHIIBBHHH", *fields, 0xFFFF, 0, 0)
    pseudo = _pseudo_header(version, src, dst, IPPROTO_TCP, length)
    checksum = _checksum(pseudo + header + payload)
    tcp = header[:16] + struct.pack("!H", checksum) + header[18:] + payload
    what = f"a TCP payload of {len(payload)} bytes"
    return _ip_packet(version, src, dst, IPPROTO_TCP, tcp, ident, what)


def parse_tcp_payload(packet: bytes) -> bytes:
    """The payload of an IPv4 or IPv6 packet holding one TCP segment."""
    version = packet[0] >> 4 if packet else 0
    if version == 4 and len(packet) >= 40 and packet[9] == IPPROTO_TCP:
        ihl = (packet[0] & 0x0F) * 4
        total = struct.unpack_from("!H", packet, 2)[0]
        segment = packet[ihl : min(total, len(packet))]
    elif version == 6 and len(packet) >= 60 and packet[6] == IPPROTO_TCP:
        segment = packet[40:]
    else:
        raise PcapngError("not an IPv4/IPv6 TCP packet")
    offset = (segment[12] >> 4) * 4
    return segment[offset:]


def parse_udp(packet: bytes) -> tuple[Address, Address, bytes]:
    """(source, destination, payload) of an IPv4 or IPv6 packet holding one UDP datagram."""
    if not packet:
        raise PcapngError("empty packet")
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        if len(packet) < ihl + 8 or ihl < 20 or packet[9] != IPPROTO_UDP:
            raise PcapngError("not an IPv4 UDP packet")
        total = struct.unpack_from("!H", packet, 2)[0]
        src: str = str(ipaddress.IPv4Address(packet[12:16]))
        dst: str = str(ipaddress.IPv4Address(packet[16:20]))
        end = min(total, len(packet))
        udp = packet[ihl:end]
    elif version == 6:
        if len(packet) < 48 or packet[6] != IPPROTO_UDP:
            raise PcapngError("not an IPv6 UDP packet (or one with extension headers)")
        src = str(ipaddress.IPv6Address(packet[8:24]))
        dst = str(ipaddress.IPv6Address(packet[24:40]))
        udp = packet[40:]
    else:
        raise PcapngError(f"IP version {version} is not IPv4 or IPv6")
    sport, dport, length = struct.unpack_from("!HHH", udp)
    if length < 8 or length > len(udp):
        raise PcapngError(f"UDP length {length} does not fit the packet")
    return (src, sport), (dst, dport), udp[8:length]


# --------------------------------------------------------------------------- writing


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(options: Iterable[tuple[int, bytes]]) -> bytes:
    out = b"".join(struct.pack("<HH", code, len(value)) + _pad(value) for code, value in options)
    return out + struct.pack("<HH", OPT_ENDOFOPT, 0) if out else b""


_END_OF_OPTIONS = struct.pack("<HH", OPT_ENDOFOPT, 0)


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


class PcapngWriter:
    """Writes one section with one interface of raw IP packets, microsecond timestamps."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        application: str = "",
        comment: str = "",
        if_name: str = "",
        if_description: str = "",
    ) -> None:
        self._stream = stream
        shb_options: list[tuple[int, bytes]] = []
        if comment:
            shb_options.append((OPT_COMMENT, comment.encode()))
        if application:
            shb_options.append((SHB_USERAPPL, application.encode()))
        section = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options(shb_options)
        idb_options: list[tuple[int, bytes]] = []
        if if_name:
            idb_options.append((IF_NAME, if_name.encode()))
        if if_description:
            idb_options.append((IF_DESCRIPTION, if_description.encode()))
        idb_options.append((IF_TSRESOL, b"\x06"))
        interface = struct.pack("<HHI", LINKTYPE_RAW, 0, 0) + _options(idb_options)
        stream.write(_block(SHB_TYPE, section) + _block(IDB_TYPE, interface))

    def write(self, packet: Packet) -> None:
        self.add(packet.timestamp_us, packet.data, packet.comment, packet.direction)

    def add(self, timestamp_us: int, data: bytes, comment: str = "", direction: int = 0) -> None:
        """:meth:`write` without a :class:`Packet` (a trace writes tens of thousands), its
        options laid out as :func:`_options` lays them out."""
        options = b""
        if comment:
            encoded = comment.encode()
            options = struct.pack("<HH", OPT_COMMENT, len(encoded)) + _pad(encoded)
        if direction:
            options += struct.pack("<HHI", EPB_FLAGS, 4, direction)
        if options:
            options += _END_OF_OPTIONS
        if timestamp_us < 0:
            raise ValueError(f"timestamp {timestamp_us} µs is before the epoch")
        length = len(data)
        body = (
            struct.pack("<IIIII", 0, timestamp_us >> 32, timestamp_us & 0xFFFFFFFF, length, length)
            + _pad(data)
            + options
        )
        self._stream.write(_block(EPB_TYPE, body))


# --------------------------------------------------------------------------- reading


def _read_options(data: bytes, endian: str) -> dict[int, list[bytes]]:
    options: dict[int, list[bytes]] = {}
    offset = 0
    while offset + 4 <= len(data):
        code, length = struct.unpack_from(endian + "HH", data, offset)
        offset += 4
        if code == OPT_ENDOFOPT:
            break
        if offset + length > len(data):
            raise PcapngError("an option runs past the end of its block")
        options.setdefault(code, []).append(data[offset : offset + length])
        offset += length + (-length % 4)
    return options


def _resolution(value: bytes) -> tuple[int, int]:
    """(numerator, denominator) turning timestamp units into microseconds."""
    exponent = value[0] & 0x7F
    if value[0] & 0x80:
        return 1_000_000, 2**exponent
    if exponent >= 6:
        return 1, 10 ** (exponent - 6)
    return 10 ** (6 - exponent), 1


def read_pcapng(data: bytes) -> list[Packet]:
    """Every packet of every Enhanced Packet Block, timestamps in microseconds."""
    packets: list[Packet] = []
    endian = "<"
    interfaces: list[tuple[int, int, int]] = []
    offset = 0
    seen_section = False
    while offset < len(data):
        if len(data) - offset < 12:
            raise PcapngError(f"a truncated block at byte {offset}")
        (block_type,) = struct.unpack_from("<I", data, offset)
        if block_type == SHB_TYPE:
            magic = data[offset + 8 : offset + 12]
            if magic == struct.pack("<I", BYTE_ORDER_MAGIC):
                endian = "<"
            elif magic == struct.pack(">I", BYTE_ORDER_MAGIC):
                endian = ">"
            else:
                raise PcapngError(f"bad byte-order magic at byte {offset}")
            seen_section = True
            interfaces = []
        elif not seen_section:
            raise PcapngError("does not start with a Section Header Block")
        block_type, length = struct.unpack_from(endian + "II", data, offset)
        if length < 12 or length % 4 or offset + length > len(data):
            raise PcapngError(f"bad block length {length} at byte {offset}")
        (trailer,) = struct.unpack_from(endian + "I", data, offset + length - 4)
        if trailer != length:
            raise PcapngError(f"block at byte {offset}: its two lengths differ")
        body = data[offset + 8 : offset + length - 4]
        if block_type == SHB_TYPE:
            major, _minor = struct.unpack_from(endian + "HH", body, 4)
            if major != 1:
                raise PcapngError(f"pcapng version {major} is not 1")
        elif block_type == IDB_TYPE:
            if len(body) < 8:
                raise PcapngError(f"a short Interface Description Block at byte {offset}")
            (linktype,) = struct.unpack_from(endian + "H", body, 0)
            tsresol = _read_options(body[8:], endian).get(IF_TSRESOL, [b"\x06"])[0]
            if not tsresol:
                raise PcapngError(f"an empty if_tsresol at byte {offset}")
            interfaces.append((int(linktype), *_resolution(tsresol)))
        elif block_type == EPB_TYPE:
            if len(body) < 20:
                raise PcapngError(f"a short Enhanced Packet Block at byte {offset}")
            interface, high, low, captured, _original = struct.unpack_from(endian + "5I", body)
            if interface >= len(interfaces):
                raise PcapngError(f"packet at byte {offset} names interface {interface}")
            if 20 + captured > len(body):
                raise PcapngError(f"packet at byte {offset} runs past its block")
            _linktype, numerator, denominator = interfaces[interface]
            options = _read_options(body[20 + captured + (-captured % 4) :], endian)
            comment = options.get(OPT_COMMENT, [b""])[0]
            flags = options.get(EPB_FLAGS, [b""])[0]
            try:
                comment_text = comment.decode()
            except UnicodeDecodeError:
                raise PcapngError(f"packet at byte {offset}: its comment is not UTF-8") from None
            packets.append(
                Packet(
                    timestamp_us=((high << 32) | low) * numerator // denominator,
                    data=body[20 : 20 + captured],
                    comment=comment_text,
                    direction=struct.unpack(endian + "I", flags)[0] & 3 if len(flags) == 4 else 0,
                )
            )
        offset += length
    if not seen_section:
        raise PcapngError("empty file")
    return packets
