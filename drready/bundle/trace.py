"""``trace.pcapng`` (ECHONET Lite datagrams as UDP) and ``modbus.pcapng`` (Modbus TCP
exchanges as TCP segments): built from the evidence, and checked against it."""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from drready import __version__
from drready.bundle.layout import MODBUS_CLIENT, MODBUS_SERVER
from drready.bundle.pcapng import (
    INBOUND,
    OUTBOUND,
    PcapngError,
    PcapngWriter,
    parse_tcp_payload,
    parse_udp,
)
from drready.bundle.pcapng import read_pcapng as _read_pcapng
from drready.bundle.pcapng import tcp_packet as _tcp_packet
from drready.bundle.pcapng import udp_packet as _udp_packet


def echonet_datagrams(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if r["channel"] == "echonet" and r["kind"] in ("tx", "rx")]


@lru_cache(maxsize=256)  # a run has few peers and thousands of datagrams
def parse_address(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (IPv6 hosts bare or in brackets) as an IP address and port, or None."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 0xFFFF:
        return None
    host = host.removeprefix("[").removesuffix("]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return str(address), int(port)


def format_address(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _endpoints(
    record: Mapping[str, Any], local: tuple[str, int]
) -> tuple[tuple[str, int], tuple[str, int]]:
    """(source, destination) of a datagram: the harness's socket and the peer, same family."""
    peer = parse_address(str(record["peer"]))
    if peer is None:
        peer = ("0.0.0.0", 0)  # not an IP peer: the comment keeps what the evidence says
    peer_v6 = ":" in peer[0]
    if peer_v6 != (":" in local[0]):
        local = ("::" if peer_v6 else "0.0.0.0", local[1])
    return (local, peer) if record["kind"] == "tx" else (peer, local)


def _packet_comment(record: Mapping[str, Any]) -> str:
    comment = f"evidence seq {record['seq']}"
    if record.get("test"):
        comment += f"; test {record['test']}"
    if parse_address(str(record["peer"])) is None:
        comment += f"; peer {record['peer']}"
    return comment


def _timestamp_us(record: Mapping[str, Any]) -> int:
    return max(0, round(float(record["time"]) * 1_000_000))


def build_trace(
    records: Sequence[Mapping[str, Any]], local: tuple[str, int], *, run_id: str = ""
) -> bytes:
    """The pcapng trace of the evidence's ECHONET Lite datagrams."""
    stream = io.BytesIO()
    writer = PcapngWriter(
        stream,
        application=f"drready {__version__}",
        comment=f"drready run {run_id}: the ECHONET Lite datagrams of evidence.jsonl"
        if run_id
        else "drready: the ECHONET Lite datagrams of evidence.jsonl",
        if_name="drready-echonet",
        if_description="ECHONET Lite over UDP rebuilt from the evidence log: payloads, times and "
        "peers are the evidence's; IP and UDP headers are synthesised",
    )
    for record in echonet_datagrams(records):
        source, destination = _endpoints(record, local)
        writer.add(
            _timestamp_us(record),
            _udp_packet(
                source, destination, bytes.fromhex(record["data_hex"]), ident=record["seq"]
            ),
            _packet_comment(record),
            OUTBOUND if record["kind"] == "tx" else INBOUND,
        )
    return stream.getvalue()


def _modbus_frames(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [
        r
        for r in records
        if r.get("channel") == "modbus" and r.get("kind") in ("tx", "rx") and r.get("data_hex")
    ]


def build_modbus_trace(records: Sequence[Mapping[str, Any]], *, run_id: str = "") -> bytes | None:
    """The Modbus TCP ADUs of the evidence as TCP segments (tshark's Modbus/TCP dissector reads
    them on port 502), one stream per peer; None when the run exchanged no Modbus."""
    frames = _modbus_frames(records)
    if not frames:
        return None
    stream = io.BytesIO()
    writer = PcapngWriter(
        stream,
        application=f"drready {__version__}",
        comment=f"drready run {run_id}: the Modbus TCP exchanges of evidence.jsonl",
        if_name="drready-modbus",
        if_description="Modbus TCP rebuilt from the evidence log: payloads, times and peers are "
        "the evidence's; IP and TCP headers are synthesised",
    )
    next_seq: dict[tuple[str, str], int] = {}
    for record in frames:
        peer = parse_address(str(record["peer"])) or MODBUS_SERVER
        client = MODBUS_CLIENT if ":" not in peer[0] else ("::1", MODBUS_CLIENT[1])
        source, destination = (client, peer) if record["kind"] == "tx" else (peer, client)
        key, back = (
            (str(record["peer"]), record["kind"]),
            (str(record["peer"]), "rx" if record["kind"] == "tx" else "tx"),
        )
        payload = bytes.fromhex(record["data_hex"])
        seq = next_seq.get(key, 1)
        next_seq[key] = seq + len(payload)
        writer.add(
            _timestamp_us(record),
            _tcp_packet(
                source, destination, payload, seq, next_seq.get(back, 1), ident=record["seq"]
            ),
            _packet_comment(record),
            OUTBOUND if record["kind"] == "tx" else INBOUND,
        )
    return stream.getvalue()


def check_modbus_trace(data: bytes, records: Sequence[Mapping[str, Any]]) -> str | None:
    try:
        packets = _read_pcapng(data)
    except PcapngError as exc:
        return f"not a valid pcapng file ({exc})"
    expected = _modbus_frames(records)
    for number, (packet, record) in enumerate(zip(packets, expected, strict=False), start=1):
        try:
            payload = parse_tcp_payload(packet.data)
        except PcapngError as exc:
            return f"packet {number} (evidence record {record['seq']}): {exc}"
        if payload.hex() != record["data_hex"]:
            return f"packet {number} (evidence record {record['seq']}): its payload differs"
    if len(packets) != len(expected):
        return f"{len(packets)} packets for {len(expected)} Modbus frames in the evidence"
    return None


def check_trace(
    data: bytes, records: Sequence[Mapping[str, Any]], local: tuple[str, int]
) -> str | None:
    try:
        packets = _read_pcapng(data)
    except PcapngError as exc:
        return f"not a valid pcapng file ({exc})"
    expected = echonet_datagrams(records)
    for number, (packet, record) in enumerate(zip(packets, expected, strict=False), start=1):
        where = f"packet {number} (evidence record {record['seq']})"
        try:
            source, destination, payload = parse_udp(packet.data)
        except PcapngError as exc:
            return f"{where}: {exc}"
        if payload.hex() != record["data_hex"]:
            return f"{where}: its UDP payload differs from the evidence's data"
        if packet.timestamp_us != _timestamp_us(record):
            return f"{where}: its time differs from the evidence's"
        if (source, destination) != _endpoints(record, local):
            return f"{where}: its addresses differ from the evidence's peer"
        if packet.comment != _packet_comment(record):
            return f"{where}: its comment differs from the evidence's seq and test"
        want = OUTBOUND if record["kind"] == "tx" else INBOUND
        if packet.direction != want:
            return f"{where}: its direction differs from the evidence's kind"
    if len(packets) != len(expected):
        return f"{len(packets)} packets, the evidence has {len(expected)} ECHONET Lite datagrams"
    return None
