"""The evidence bundle of a run: what a third party needs to check it, and proof it is untouched.

At the end of a single-class run (also an interrupted one), once ``report.json`` and
``evidence.jsonl`` are final, :func:`write_bundle` adds to the run directory:

``trace.pcapng``
    Every ECHONET Lite datagram of the evidence (channel ``echonet``, kinds ``tx`` and ``rx``), in
    order, as a UDP packet between the harness's own socket (``local_address``) and the record's
    peer: link type ``LINKTYPE_RAW`` (101), IPv4 or IPv6 and UDP headers synthesised with valid
    checksums, microsecond timestamps from the record's time (the run's clock, so virtual in
    simulated runs), the direction as ``epb_flags`` and a comment ``evidence seq N; test ID``.
    Wireshark and tshark open it as is (``frame.comment contains "seq 42;"`` finds a record).
``http.har``
    HAR 1.2 of the HTTP exchanges (channel ``http``), credentials redacted (see below).
``measurements.jsonl``
    One line per measurement record: ``{"seq", "time", "channel", "test", "values"}``.
``profile.json``
    ``report["profile"]``, credentials redacted, as canonical JSON (sorted keys, no whitespace,
    UTF-8).
``manifest.json`` (written last, atomically)
    The SHA-256 and size of every other file under the run directory (subdirectories
    included; nothing is exempt, not even ``.DS_Store``), the evidence record count and chain
    head (equal to ``report["evidence"]``), how the chain is computed, the bundle format and its
    version, and ``manifest_sha256``: the SHA-256 of the manifest's own canonical JSON without
    that field, so an edit of the manifest that does not recompute it is seen too.

Files added later, such as a rendered declaration: whatever writes them into the run directory
then calls :func:`write_manifest`, which first verifies the bundle and refuses
(:class:`BundleError`) if anything but an addition is wrong, then lists the new files with the
time they were added under ``added_after_run``. A file added after the run may later be replaced
or removed the same way (a declaration rendered again); a file of the run itself may not.

A combined run's directory gets :func:`write_combined_manifest`: its own files (the combined
``report.json``, and every file of a class's directory that has no bundle of its own, e.g. a
class's run that was killed) plus, per class directory with a bundle, the digest of that
directory's ``manifest.json``.

:func:`verify_bundle` returns the problems found, the first one first, each a line naming the
file (``battery/evidence.jsonl: record 42 (line 43) altered: ...``); an empty list means the
bundle is as written. Besides every file's digest, it checks on its own, so that an edit that
also fixes the manifest is still found: the evidence's hash chain record by record, its head and
count against the manifest and ``report.json``; that the trace holds exactly the evidence's
datagrams (payload, time, addresses, order); that the measurements, the HAR and the profile are
what the evidence and the report give. Anyone able to rewrite the whole chain, the report and
the manifest consistently is not detected by the bundle alone: publish or keep
:func:`manifest_sha256` (or the evidence head) out of the run directory for that.

Credentials never reach a bundle file: the HAR's headers, query strings and bodies and
``profile.json`` are redacted (:mod:`drready.evidence.redact`), and every file of the bundle is
scanned with :func:`drready.evidence.redact.find_secrets` (the evidence's non-ECHONET payloads
decoded as well) before anything is written; a hit makes :func:`write_bundle` refuse with
:class:`BundleError`.

HTTP evidence records (for whoever records them): ``kind`` ``tx``/``rx`` and channel ``http``,
with the raw HTTP/1.x message as ``data`` (redacted first with
:func:`drready.evidence.redact.redact_http_message`), or without data and with ``values`` holding
``method``, ``url`` (requests) or ``status``, ``status_text`` (responses), plus ``headers`` (a
mapping or ``[name, value]`` pairs), ``body`` and ``http_version``. A response answers the
oldest unanswered request of the same peer.
"""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from drready import __version__
from drready.bundle.pcapng import (
    INBOUND,
    OUTBOUND,
    Packet,
    PcapngError,
    PcapngWriter,
    parse_tcp_payload,
    parse_udp,
)
from drready.bundle.pcapng import read_pcapng as _read_pcapng
from drready.bundle.pcapng import tcp_packet as _tcp_packet
from drready.bundle.pcapng import udp_packet as _udp_packet
from drready.canonical import canonical_json, digest, sha256_hex
from drready.evidence import GENESIS, Record
from drready.evidence.redact import find_secrets, redact, redact_body, redact_query, redact_text
from drready.report.json_report import write_atomic, write_bytes_atomic

BUNDLE_FORMAT = "drready-evidence-bundle"
BUNDLE_FORMAT_VERSION = 1

MANIFEST = "manifest.json"
REPORT = "report.json"
EVIDENCE = "evidence.jsonl"
TRACE = "trace.pcapng"
#: The Modbus TCP exchanges (SunSpec binding, meter), as TCP segments; only when there are any.
MODBUS_TRACE = "modbus.pcapng"
#: Stand-ins for the ends of a Modbus connection the evidence does not give as IP addresses
#: (pymodbus's in-process null modem in simulated runs): the server on port 502.
MODBUS_SERVER = ("127.0.0.2", 502)
MODBUS_CLIENT = ("127.0.0.1", 50200)
HAR = "http.har"
MEASUREMENTS = "measurements.jsonl"
PROFILE = "profile.json"

#: The harness's socket when the run did not say: any address, the ECHONET Lite port.
DEFAULT_LOCAL_ADDRESS = ("0.0.0.0", 3610)

CHAIN = {
    "algorithm": "sha256",
    "link": "each record's prev is the SHA-256 (hex) of the previous record's JSON line "
    "(UTF-8, without its newline); the first record's prev is the genesis",
    "genesis": GENESIS,
}


class BundleError(Exception):
    """Not a run directory (``drready verify`` exits 2), or a bundle that must not be written."""


# --------------------------------------------------------------------------- small helpers


def _iso(timestamp: float, spec: str = "seconds") -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec=spec)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _file_digest(path: Path) -> tuple[str, int]:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return digest, path.stat().st_size


def _walk(root: Path, skip_dirs: Iterable[str] = ()) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, path) of every entry under root that is not a directory (symbolic
    links included, never followed), in a fixed order; ``manifest.json`` at the top and the
    directories in ``skip_dirs`` (relative to root) left out. Empty directories hold nothing
    to list."""
    skipped = set(skip_dirs)
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        relative_dir = here.relative_to(root).as_posix()
        dirs[:] = sorted(
            d
            for d in dirs
            if (d if relative_dir == "." else f"{relative_dir}/{d}") not in skipped
            and not (here / d).is_symlink()
        )
        names = list(files) + [d for d in os.listdir(here) if (here / d).is_symlink()]
        for name in sorted(set(names)):
            relative = name if relative_dir == "." else f"{relative_dir}/{name}"
            if relative == MANIFEST:
                continue
            yield relative, here / name


def _regular(path: Path) -> bool:
    mode = path.lstat().st_mode
    return stat.S_ISREG(mode)


def manifest_sha256(run_dir: Path) -> str:
    """The SHA-256 of a run directory's ``manifest.json``: the one value to keep elsewhere."""
    return _file_digest(run_dir / MANIFEST)[0]


# --------------------------------------------------------------------------- the evidence


@dataclass
class _Evidence:
    records: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # the first break of the chain, without the file name
    head: str = GENESIS
    present: bool = True

    @property
    def count(self) -> int:
        return len(self.records)


def _load_evidence(path: Path) -> _Evidence:
    """Read the log and walk its chain: the records, the head and the first break if any."""
    if not path.is_file():
        return _Evidence(present=False)
    data = path.read_bytes()
    lines = data.split(b"\n")
    last = lines.pop()  # b"" when the file ends with a newline, as the log writes it
    parsed: list[dict[str, Any] | str] = []
    for line in lines:
        try:
            raw = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            parsed.append("not UTF-8 text")
            continue
        except ValueError:
            parsed.append("not valid JSON")
            continue
        parsed.append(raw if isinstance(raw, dict) else "not a JSON object")
    evidence = _Evidence()
    previous = GENESIS
    for index, raw in enumerate(parsed):
        line_no = index + 1
        where = f"record {index} (line {line_no})"
        if isinstance(raw, str):
            evidence.problem = f"{where} altered: {raw}"
            return evidence
        seq = raw.get("seq")
        if seq != index:
            following = parsed[index + 1] if index + 1 < len(parsed) else None
            if isinstance(following, dict) and following.get("seq") == index + 1:
                evidence.problem = f"{where} altered: its seq is {seq!r}"
            elif isinstance(seq, int) and not isinstance(seq, bool) and seq > index:
                gone = f"record {index}" if seq == index + 1 else f"records {index} to {seq - 1}"
                evidence.problem = f"{gone} removed: line {line_no} holds record {seq}"
            elif isinstance(seq, int) and not isinstance(seq, bool) and seq < index:
                evidence.problem = (
                    f"line {line_no} inserted: it holds a second record {seq} (record {index} "
                    "expected)"
                )
            else:
                evidence.problem = f"{where} altered: its seq is {seq!r}"
            return evidence
        if raw.get("prev") != previous:
            if index == 0:
                evidence.problem = f"{where} altered: its prev is not the genesis digest"
            else:
                evidence.problem = (
                    f"record {index - 1} (line {line_no - 1}) altered: its digest does not "
                    "match the next record's prev"
                )
            return evidence
        try:
            record = Record(**raw)
            text = record.line()
        except (TypeError, ValueError, AttributeError) as exc:
            evidence.problem = f"{where} altered: not a record of this log ({exc})"
            return evidence
        if text.encode("utf-8") != lines[index]:
            evidence.problem = f"{where} altered: not in the canonical form the log writes"
            return evidence
        previous = sha256_hex(lines[index])
        evidence.records.append(raw)
    if last:
        n = len(parsed)
        evidence.problem = f"record {n} (line {n + 1}) altered: the line has no newline at its end"
    evidence.head = previous
    return evidence


def _check_head(evidence: _Evidence, records: Any, head: Any, source: str) -> str | None:
    """The evidence's count and head against what ``source`` (manifest or report) says."""
    if evidence.problem is not None or not isinstance(records, int) or records < 0:
        return None
    if evidence.count < records:
        first = evidence.count
        gone = f"record {first}" if first == records - 1 else f"records {first} to {records - 1}"
        return f"{gone} removed from the end ({source} says {records} records)"
    if evidence.count > records:
        return (
            f"record {records} (line {records + 1}) inserted after the last record the run "
            f"wrote ({source} says {records} records)"
        )
    if head != evidence.head:
        if records == 0:
            return f"its chain head does not match {source}'s"
        return (
            f"record {records - 1} (line {records}) altered: its digest does not match the "
            f"head digest in {source}"
        )
    return None


def _echonet_datagrams(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if r["channel"] == "echonet" and r["kind"] in ("tx", "rx")]


# --------------------------------------------------------------------------- the trace


@lru_cache(maxsize=256)  # a run has few peers and thousands of datagrams
def _parse_address(text: str) -> tuple[str, int] | None:
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


def _format_address(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _endpoints(
    record: Mapping[str, Any], local: tuple[str, int]
) -> tuple[tuple[str, int], tuple[str, int]]:
    """(source, destination) of a datagram: the harness's socket and the peer, same family."""
    peer = _parse_address(str(record["peer"]))
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
    if _parse_address(str(record["peer"])) is None:
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
    for record in _echonet_datagrams(records):
        source, destination = _endpoints(record, local)
        writer.write(
            Packet(
                timestamp_us=_timestamp_us(record),
                data=_udp_packet(
                    source, destination, bytes.fromhex(record["data_hex"]), ident=record["seq"]
                ),
                comment=_packet_comment(record),
                direction=OUTBOUND if record["kind"] == "tx" else INBOUND,
            )
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
        peer = _parse_address(str(record["peer"])) or MODBUS_SERVER
        client = MODBUS_CLIENT if ":" not in peer[0] else ("::1", MODBUS_CLIENT[1])
        source, destination = (client, peer) if record["kind"] == "tx" else (peer, client)
        key, back = (
            (str(record["peer"]), record["kind"]),
            (str(record["peer"]), "rx" if record["kind"] == "tx" else "tx"),
        )
        payload = bytes.fromhex(record["data_hex"])
        seq = next_seq.get(key, 1)
        next_seq[key] = seq + len(payload)
        writer.write(
            Packet(
                timestamp_us=_timestamp_us(record),
                data=_tcp_packet(
                    source, destination, payload, seq, next_seq.get(back, 1), ident=record["seq"]
                ),
                comment=_packet_comment(record),
                direction=OUTBOUND if record["kind"] == "tx" else INBOUND,
            )
        )
    return stream.getvalue()


def _check_modbus_trace(data: bytes, records: Sequence[Mapping[str, Any]]) -> str | None:
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


def _check_trace(
    data: bytes, records: Sequence[Mapping[str, Any]], local: tuple[str, int]
) -> str | None:
    try:
        packets = _read_pcapng(data)
    except PcapngError as exc:
        return f"not a valid pcapng file ({exc})"
    expected = _echonet_datagrams(records)
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


# --------------------------------------------------------------------------- HTTP as HAR


@dataclass
class _HttpMessage:
    record: Mapping[str, Any]
    is_request: bool
    start: tuple[str, str, str]  # (method, target, version) or (version, status, reason)
    headers: list[tuple[str, str]]
    body: bytes


def _http_message(record: Mapping[str, Any]) -> _HttpMessage | None:
    data = bytes.fromhex(record["data_hex"]) if record["data_hex"] else b""
    if data:
        head, separator, body = data.partition(b"\r\n\r\n")
        if not separator:
            head, _, body = data.partition(b"\n\n")
        lines = head.decode("latin-1").splitlines()
        if not lines:
            return None
        parts = lines[0].split(" ", 2)
        parts += [""] * (3 - len(parts))
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers.append((name.strip(), value.strip()))
        is_request = not lines[0].startswith("HTTP/")
        return _HttpMessage(record, is_request, (parts[0], parts[1], parts[2]), headers, body)
    values = record.get("values") or {}
    raw_headers = values.get("headers") or []
    pairs = raw_headers.items() if isinstance(raw_headers, Mapping) else raw_headers
    headers = [(str(name), str(value)) for name, value in pairs]
    raw_body = values.get("body", "")
    body = (
        raw_body.encode("utf-8")
        if isinstance(raw_body, str)
        else canonical_json(raw_body).encode("utf-8")
    )
    version = str(values.get("http_version", "HTTP/1.1"))
    if "method" in values:
        start = (str(values["method"]), str(values.get("url", "")), version)
        return _HttpMessage(record, True, start, headers, body)
    if "status" in values:
        start = (version, str(values["status"]), str(values.get("status_text", "")))
        return _HttpMessage(record, False, start, headers, body)
    return None


def _header(message: _HttpMessage, name: str) -> str:
    for key, value in message.headers:
        if key.lower() == name:
            return value
    return ""


def _har_headers(message: _HttpMessage) -> list[dict[str, Any]]:
    return [redact({"name": name, "value": redact_text(value)}) for name, value in message.headers]


def _har_body(message: _HttpMessage) -> dict[str, Any]:
    mime = _header(message, "content-type")
    try:
        text = message.body.decode("utf-8")
    except UnicodeDecodeError:
        return {
            "mimeType": mime,
            "text": base64.b64encode(message.body).decode(),
            "encoding": "base64",
        }
    return {"mimeType": mime, "text": redact_body(text, mime.lower()) if text else ""}


def _har_request(message: _HttpMessage) -> dict[str, Any]:
    method, target, version = message.start
    record = message.record
    if "://" in target:
        url = target
    else:
        host = _header(message, "host")
        peer = _parse_address(str(record["peer"]))
        if not host:
            host = _format_address(peer) if peer is not None and record["kind"] == "tx" else ""
            host = host or "localhost"
        port = peer[1] if peer is not None and record["kind"] == "tx" else 0
        scheme = str((record.get("values") or {}).get("scheme") or "")
        scheme = scheme or ("https" if port == 443 or host.endswith(":443") else "http")
        url = f"{scheme}://{host}{target if target.startswith('/') else '/' + target}"
    parts = urlsplit(url)
    query = redact_query(parts.query)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": version,
        "cookies": [],
        "headers": _har_headers(message),
        "queryString": [
            {"name": k, "value": v} for k, v in parse_qsl(query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": len(message.body),
    }
    if message.body:
        request["postData"] = _har_body(message)
    return request


def _har_response(message: _HttpMessage | None) -> dict[str, Any]:
    if message is None:  # no response was recorded
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "comment": "no response recorded",
        }
    version, status, reason = message.start
    content = {"size": len(message.body), **_har_body(message)}
    if not message.body:
        content.pop("text", None)
    return {
        "status": int(status) if status.isdigit() else 0,
        "statusText": reason,
        "httpVersion": version,
        "cookies": [],
        "headers": _har_headers(message),
        "content": content,
        "redirectURL": redact_text(_header(message, "location")),
        "headersSize": -1,
        "bodySize": len(message.body),
    }


def _har_entry(request: _HttpMessage | None, response: _HttpMessage | None) -> dict[str, Any]:
    first = request or response
    assert first is not None
    started = float(first.record["time"])
    wait = 0.0
    if request is not None and response is not None:
        wait = max(0.0, (float(response.record["time"]) - started) * 1000.0)
    custom: dict[str, Any] = {
        "request_seq": request.record["seq"] if request is not None else None,
        "response_seq": response.record["seq"] if response is not None else None,
        "test": first.record.get("test", ""),
    }
    entry: dict[str, Any] = {
        "startedDateTime": _iso(started, "milliseconds"),
        "time": round(wait, 3),
        "request": _har_request(request)
        if request is not None
        else {
            "method": "",
            "url": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "queryString": [],
            "headersSize": -1,
            "bodySize": -1,
            "comment": "no request recorded",
        },
        "response": _har_response(response),
        "cache": {},
        "timings": {"send": 0, "wait": round(wait, 3), "receive": 0},
        "_drready": custom,
    }
    peer = _parse_address(str(first.record["peer"]))
    if peer is not None and request is not None and request.record["kind"] == "tx":
        entry["serverIPAddress"] = peer[0]
    return entry


def har_entries(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The HAR entries of the evidence's HTTP exchanges, credentials redacted."""
    pending: dict[str, list[_HttpMessage]] = {}
    entries: list[tuple[int, dict[str, Any]]] = []
    for record in records:
        if record["channel"] != "http" or record["kind"] not in ("tx", "rx"):
            continue
        message = _http_message(record)
        if message is None:
            continue
        if message.is_request:
            pending.setdefault(str(record["peer"]), []).append(message)
            continue
        waiting = pending.get(str(record["peer"]), [])
        request = next((m for m in waiting if m.record["kind"] != record["kind"]), None)
        if request is not None:
            waiting.remove(request)
        entry = _har_entry(request, message)
        entries.append(((request or message).record["seq"], entry))
    for waiting in pending.values():
        entries.extend((m.record["seq"], _har_entry(m, None)) for m in waiting)
    entries.sort(key=lambda item: item[0])
    return [entry for _seq, entry in entries]


def build_har(records: Sequence[Mapping[str, Any]], *, run_id: str = "") -> str:
    """``http.har``: HAR 1.2 of the evidence's HTTP exchanges (an empty log when there are none)."""
    log: dict[str, Any] = {
        "version": "1.2",
        "creator": {"name": "drready", "version": __version__},
        "entries": har_entries(records),
        "comment": f"HTTP exchanges of drready run {run_id}, rebuilt from evidence.jsonl; "
        "credentials redacted"
        if run_id
        else "HTTP exchanges rebuilt from evidence.jsonl; credentials redacted",
    }
    return json.dumps({"log": log}, ensure_ascii=False, indent=2) + "\n"


# --------------------------------------------------------------------------- other files


def measurement_line(record: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            "seq": record["seq"],
            "time": record["time"],
            "channel": record["channel"],
            "test": record["test"],
            "values": record["values"],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def build_measurements(records: Sequence[Mapping[str, Any]]) -> str:
    return "".join(measurement_line(r) + "\n" for r in records if r["kind"] == "measurement")


def build_profile(report: Mapping[str, Any]) -> str:
    """``profile.json``: the report's profile, credentials redacted, as canonical JSON."""
    profile = report.get("profile")
    return canonical_json(redact(profile) if isinstance(profile, Mapping) else profile)


def _text(data: bytes) -> str:
    """A file's bytes as text to scan: UTF-8 if it is, else one character per byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _scan(name: str, text: str) -> list[str]:
    return [f"{name}: {hit}" for hit in find_secrets(text)]


def _scan_evidence(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Credentials in the evidence's payloads that are not ECHONET Lite frames (HTTP ...)."""
    hits: list[str] = []
    for record in records:
        if record["channel"] != "echonet" and record["data_hex"]:
            text = _text(bytes.fromhex(record["data_hex"]))
            hits.extend(
                f"{EVIDENCE}: record {record['seq']} data: {hit}" for hit in find_secrets(text)
            )
    return hits


# --------------------------------------------------------------------------- manifests


def _seal(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    manifest["manifest_sha256"] = digest(body)
    return json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"


def _file_entries(run_dir: Path, skip_dirs: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for relative, path in _walk(run_dir, skip_dirs):
        if not _regular(path):
            raise BundleError(f"{relative}: not a regular file; a bundle holds regular files only")
        digest, size = _file_digest(path)
        files[relative] = {"sha256": digest, "size": size}
    return files


def _load_report(run_dir: Path) -> dict[str, Any]:
    path = run_dir / REPORT
    if not path.is_file():
        raise BundleError(f"{run_dir}: not a run directory (no {REPORT})")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{path}: not a JSON report ({exc})") from None
    if not isinstance(report, dict):
        raise BundleError(f"{path}: not a JSON report (not an object)")
    return report


def _local(local_address: tuple[str, int] | None) -> tuple[str, int]:
    if local_address is None:
        return DEFAULT_LOCAL_ADDRESS
    host, port = local_address
    return str(ipaddress.ip_address(host)), int(port)


def _run_manifest(
    run_dir: Path,
    report: Mapping[str, Any],
    evidence: _Evidence,
    local: tuple[str, int],
    added_after_run: Mapping[str, str],
    written_at: str,
) -> dict[str, Any]:
    records = evidence.records
    return {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "kind": "run",
        "harness": {"name": "drready", "version": __version__},
        "run_id": report.get("run_id"),
        "device_class": report.get("device_class"),
        "complete": report.get("complete"),
        "written_at": written_at,
        "hash_algorithm": "sha256",
        "evidence": {
            "file": EVIDENCE,
            "present": evidence.present,
            "records": evidence.count,
            "head_digest": evidence.head,
            "chain": CHAIN,
        },
        "trace": {
            "file": TRACE,
            "linktype": 101,
            "local_address": _format_address(local),
            "packets": len(_echonet_datagrams(records)),
        },
        "http": {"file": HAR, "entries": len(har_entries(records))},
        "measurements": {
            "file": MEASUREMENTS,
            "records": sum(1 for r in records if r["kind"] == "measurement"),
        },
        "profile": {"file": PROFILE},
        "files": _file_entries(run_dir),
        "added_after_run": dict(sorted(added_after_run.items())),
    }


def write_bundle(run_dir: Path, *, local_address: tuple[str, int] | None) -> Path:
    """Write the evidence bundle of a finished single-class run into ``run_dir``; returns the
    manifest's path. ``local_address`` is the harness's own ECHONET Lite socket (host, port);
    None stands for ``0.0.0.0:3610``.

    Raises :class:`BundleError` (and writes nothing) when ``run_dir`` is not a single-class run
    directory, when its evidence chain is broken or disagrees with ``report.json``, or when a
    credential would end up in any file of the bundle.
    """
    run_dir = Path(run_dir)
    report = _load_report(run_dir)
    if "parts" in report:
        raise BundleError(f"{run_dir}: a combined run; use write_combined_manifest")
    local = _local(local_address)
    evidence = _load_evidence(run_dir / EVIDENCE)
    if evidence.problem is not None:
        raise BundleError(f"{run_dir / EVIDENCE}: {evidence.problem}")
    reported = report.get("evidence") or {}
    if isinstance(reported, dict) and "records" in reported:
        mismatch = _check_head(
            evidence, reported.get("records"), reported.get("head_digest"), REPORT
        )
        if mismatch is not None:
            raise BundleError(f"{run_dir / EVIDENCE}: {mismatch}")
    records = evidence.records
    run_id = str(report.get("run_id") or "")
    outputs: dict[str, bytes] = {
        TRACE: build_trace(records, local, run_id=run_id),
        HAR: build_har(records, run_id=run_id).encode("utf-8"),
        MEASUREMENTS: build_measurements(records).encode("utf-8"),
        PROFILE: build_profile(report).encode("utf-8"),
    }
    modbus = build_modbus_trace(records, run_id=run_id)
    if modbus is not None:
        outputs[MODBUS_TRACE] = modbus
    hits: list[str] = []
    for name, data in outputs.items():
        hits += _scan(name, _text(data))
    for relative, path in _walk(run_dir):
        if relative not in outputs and path.is_file():
            hits += _scan(relative, _text(path.read_bytes()))
    hits += _scan_evidence(records)
    if hits:
        raise BundleError(
            f"{run_dir}: credentials would be in the evidence bundle ({len(hits)}): "
            + "; ".join(hits[:5])
        )
    for name, data in outputs.items():
        write_bytes_atomic(run_dir / name, data)
    manifest = _run_manifest(run_dir, report, evidence, local, {}, _now())
    path = run_dir / MANIFEST
    write_atomic(path, _seal(manifest))
    return path


def _part_entry(part_dir: Path) -> dict[str, Any] | None:
    """A class directory's entry in a combined manifest, or None if it has no bundle."""
    path = part_dir / MANIFEST
    if not path.is_file() or path.is_symlink():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("kind") != "run":
        return None
    digest, size = _file_digest(path)
    evidence = manifest.get("evidence") or {}
    return {
        "manifest_sha256": digest,
        "size": size,
        "run_id": manifest.get("run_id"),
        "evidence": {
            "records": evidence.get("records"),
            "head_digest": evidence.get("head_digest"),
        },
    }


def _combined_manifest(
    run_dir: Path, report: Mapping[str, Any], added_after_run: Mapping[str, str], written_at: str
) -> dict[str, Any]:
    parts: dict[str, dict[str, Any]] = {}
    for child in sorted(run_dir.iterdir()):
        if child.is_dir() and not child.is_symlink():
            entry = _part_entry(child)
            if entry is not None:
                parts[child.name] = entry
    return {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "kind": "combined",
        "harness": {"name": "drready", "version": __version__},
        "run_id": report.get("run_id"),
        "complete": report.get("complete"),
        "written_at": written_at,
        "hash_algorithm": "sha256",
        "parts": parts,
        "files": _file_entries(run_dir, skip_dirs=parts),
        "added_after_run": dict(sorted(added_after_run.items())),
    }


def write_combined_manifest(run_dir: Path) -> Path:
    """Write the manifest of a combined run's directory: its own files (and those of class
    directories without a bundle), and the digest of each class directory's ``manifest.json``.
    Call it after every class's run has written its bundle and the combined report is final."""
    run_dir = Path(run_dir)
    report = _load_report(run_dir)
    if "parts" not in report:
        raise BundleError(f"{run_dir}: not a combined run; use write_bundle")
    hits: list[str] = []
    for relative, path in _walk(run_dir, skip_dirs=_bundled_parts(run_dir)):
        if path.is_file():
            hits += _scan(relative, _text(path.read_bytes()))
    if hits:
        raise BundleError(
            f"{run_dir}: credentials would be in the evidence bundle ({len(hits)}): "
            + "; ".join(hits[:5])
        )
    path = run_dir / MANIFEST
    write_atomic(path, _seal(_combined_manifest(run_dir, report, {}, _now())))
    return path


def _bundled_parts(run_dir: Path) -> list[str]:
    return [
        child.name
        for child in sorted(run_dir.iterdir())
        if child.is_dir() and not child.is_symlink() and _part_entry(child) is not None
    ]


def write_manifest(run_dir: Path) -> Path:
    """Record files added to a finished run directory (a rendered declaration) in its manifest.

    The bundle is verified first: only additions are accepted, and changes to or removals of
    files that were themselves added after the run; anything else raises :class:`BundleError`.
    Works on a single-class and on a combined run directory (whose class directories are brought
    up to date first). Added and replaced files are scanned for credentials.
    """
    run_dir = Path(run_dir)
    old = _read_manifest(run_dir / MANIFEST)
    if isinstance(old, str):
        raise BundleError(f"{run_dir / MANIFEST}: {old}; write the bundle first")
    if old["kind"] == "combined":
        return _rewrite_combined(run_dir, old)
    return _rewrite_run(run_dir, old)


def _acceptable(problem: str, later: Mapping[str, str], also: Iterable[str] = ()) -> bool:
    """Whether a problem is one write_manifest may record: an addition, a change to a file
    added after the run, or one of ``also``."""
    name, _, what = problem.partition(": ")
    return what.startswith("added after the run") or name in later or problem in also


def _later_files(
    run_dir: Path, old: Mapping[str, Any], current: Iterable[str]
) -> tuple[dict[str, str], list[str]]:
    """The new ``added_after_run`` and the files new or replaced since the last manifest."""
    old_files: Mapping[str, Any] = old["files"]
    previous: Mapping[str, str] = old.get("added_after_run") or {}
    now = _now()
    later: dict[str, str] = {}
    changed: list[str] = []
    for name in sorted(current):
        if name not in old_files:
            later[name] = now
            changed.append(name)
        elif name in previous:
            if old_files[name] != _entry_or_none(run_dir / name):
                later[name] = now
                changed.append(name)
            else:
                later[name] = previous[name]
    hits: list[str] = []
    for name in changed:
        hits += _scan(name, _text((run_dir / name).read_bytes()))
    if hits:
        raise BundleError(
            f"{run_dir}: credentials would be in the evidence bundle ({len(hits)}): "
            + "; ".join(hits[:5])
        )
    return later, changed


def _rewrite_run(run_dir: Path, old: dict[str, Any]) -> Path:
    previous: Mapping[str, str] = old.get("added_after_run") or {}
    blocking = [p for p in verify_bundle(run_dir) if not _acceptable(p, previous)]
    if blocking:
        raise BundleError(f"{run_dir}: the bundle is not as written: {blocking[0]}")
    later, _changed = _later_files(run_dir, old, (name for name, _ in _walk(run_dir)))
    report = _load_report(run_dir)
    evidence = _load_evidence(run_dir / EVIDENCE)
    local = _parse_address(str(old["trace"]["local_address"])) or DEFAULT_LOCAL_ADDRESS
    manifest = _run_manifest(run_dir, report, evidence, local, later, str(old["written_at"]))
    manifest["harness"] = old.get("harness", manifest["harness"])
    manifest["updated_at"] = _now()
    path = run_dir / MANIFEST
    write_atomic(path, _seal(manifest))
    return path


def _rewrite_combined(run_dir: Path, old: dict[str, Any]) -> Path:
    old_parts: Mapping[str, Any] = old["parts"]
    for name in sorted(old_parts):
        part_dir = run_dir / name
        part = _read_manifest(part_dir / MANIFEST)
        if not part_dir.is_dir() or isinstance(part, str):
            raise BundleError(f"{run_dir}: the bundle is not as written: {name}/: missing")
        if verify_bundle(part_dir):
            _rewrite_run(part_dir, part)  # files added in the class's directory
        entry = _part_entry(part_dir)
        if entry is None or entry["evidence"] != old_parts[name].get("evidence"):
            raise BundleError(
                f"{run_dir}: the bundle is not as written: {name}/{EVIDENCE}: not the evidence "
                f"{MANIFEST} lists"
            )
    previous: Mapping[str, str] = old.get("added_after_run") or {}
    updated = set()
    for name in old_parts:
        digest = _file_digest(run_dir / name / MANIFEST)[0]
        updated.add(
            f"{name}/{MANIFEST}: altered (sha256 {_short(digest)}… != {MANIFEST} "
            f"{_short(old_parts[name]['manifest_sha256'])}…)"
        )
    blocking = [p for p in verify_bundle(run_dir) if not _acceptable(p, previous, updated)]
    if blocking:
        raise BundleError(f"{run_dir}: the bundle is not as written: {blocking[0]}")
    parts = _bundled_parts(run_dir)
    current = [name for name, _ in _walk(run_dir, skip_dirs=parts)]
    later, _changed = _later_files(run_dir, old, current)
    report = _load_report(run_dir)
    manifest = _combined_manifest(run_dir, report, later, str(old["written_at"]))
    manifest["harness"] = old.get("harness", manifest["harness"])
    manifest["updated_at"] = _now()
    path = run_dir / MANIFEST
    write_atomic(path, _seal(manifest))
    return path


def _entry_or_none(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    digest, size = _file_digest(path)
    return {"sha256": digest, "size": size}


# --------------------------------------------------------------------------- verification

_HEX64 = frozenset("0123456789abcdef")


def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX64


def _read_manifest(path: Path) -> dict[str, Any] | str:
    """The manifest, or why it cannot be used."""
    if not path.exists():
        return "missing"
    if not _regular(path):
        return "not a regular file"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"invalid (not JSON: {exc})"
    if not isinstance(manifest, dict):
        return "invalid (not a JSON object)"
    if manifest.get("format") != BUNDLE_FORMAT:
        return f"invalid (not a {BUNDLE_FORMAT} manifest)"
    version = manifest.get("format_version")
    if version != BUNDLE_FORMAT_VERSION:
        return (
            f"invalid (bundle format version {version!r}; this drready knows "
            f"{BUNDLE_FORMAT_VERSION})"
        )
    kind = manifest.get("kind")
    files = manifest.get("files")
    if kind not in ("run", "combined") or not isinstance(files, dict):
        return "invalid (no kind or files)"
    for name, entry in files.items():
        if (
            not isinstance(entry, dict)
            or not _is_digest(entry.get("sha256"))
            or not isinstance(entry.get("size"), int)
        ):
            return f"invalid (the entry of {name} has no sha256 and size)"
    if not isinstance(manifest.get("added_after_run", {}), dict):
        return "invalid (added_after_run is not an object)"
    if kind == "run":
        evidence = manifest.get("evidence")
        trace = manifest.get("trace")
        if (
            not isinstance(evidence, dict)
            or not isinstance(evidence.get("records"), int)
            or not _is_digest(evidence.get("head_digest"))
            or not isinstance(trace, dict)
            or _parse_address(str(trace.get("local_address"))) is None
        ):
            return "invalid (no evidence head or trace address)"
    else:
        parts = manifest.get("parts")
        if not isinstance(parts, dict) or not all(
            isinstance(p, dict) and _is_digest(p.get("manifest_sha256")) for p in parts.values()
        ):
            return "invalid (parts without manifest digests)"
    return manifest


def _check_seal(manifest: Mapping[str, Any]) -> str | None:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    if manifest.get("manifest_sha256") != digest(body):
        return "altered (its manifest_sha256 does not match its content)"
    return None


def _short(digest: str) -> str:
    return digest[:16]


def _check_files(
    run_dir: Path, files: Mapping[str, Any], prefix: str, skip_dirs: Iterable[str] = ()
) -> tuple[dict[str, str], list[str]]:
    """Per listed file its problem (missing, altered), and the files on disk not listed."""
    problems: dict[str, str] = {}
    for name, entry in sorted(files.items()):
        path = run_dir / name
        if not path.exists() and not path.is_symlink():
            problems[name] = f"{prefix}{name}: missing"
        elif not _regular(path):
            problems[name] = f"{prefix}{name}: not a regular file"
        else:
            digest, size = _file_digest(path)
            if digest != entry["sha256"]:
                problems[name] = (
                    f"{prefix}{name}: altered (sha256 {_short(digest)}… != manifest "
                    f"{_short(entry['sha256'])}…)"
                )
            elif size != entry["size"]:
                problems[name] = (
                    f"{prefix}{name}: altered (size {size} != manifest {entry['size']})"
                )
    added = [
        f"{prefix}{relative}: added after the run (not in {MANIFEST})"
        for relative, _ in _walk(run_dir, skip_dirs)
        if relative not in files
    ]
    return problems, added


def _report_or_problem(run_dir: Path, prefix: str) -> dict[str, Any] | str:
    path = run_dir / REPORT
    if not path.is_file():
        return f"{prefix}{REPORT}: missing"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"{prefix}{REPORT}: not valid JSON ({exc})"
    if not isinstance(report, dict):
        return f"{prefix}{REPORT}: not a JSON object"
    return report


def _verify_run(run_dir: Path, manifest: dict[str, Any] | str, prefix: str) -> list[str]:
    problems: list[str] = []
    if isinstance(manifest, str):
        problems.append(f"{prefix}{MANIFEST}: {manifest}")
        files: Mapping[str, Any] = {}
    else:
        seal = _check_seal(manifest)
        if seal is not None:
            problems.append(f"{prefix}{MANIFEST}: {seal}")
        files = manifest["files"]

    evidence = _load_evidence(run_dir / EVIDENCE)
    chain_problems: list[str] = []
    if evidence.problem is not None:
        chain_problems.append(f"{prefix}{EVIDENCE}: {evidence.problem}")
    elif not isinstance(manifest, str):
        said = manifest["evidence"]
        mismatch = _check_head(evidence, said["records"], said["head_digest"], MANIFEST)
        if mismatch is not None:
            chain_problems.append(f"{prefix}{EVIDENCE}: {mismatch}")

    file_problems, added = (
        ({}, []) if isinstance(manifest, str) else _check_files(run_dir, files, prefix)
    )
    names = sorted(set(files) | ({EVIDENCE} if chain_problems else set()))
    for name in names:
        if name == EVIDENCE and evidence.present:
            problems += chain_problems
        if name in file_problems:
            problems.append(file_problems[name])
    problems += added

    # Cross-checks: each derived file against the evidence and the report, on its own.
    report = _report_or_problem(run_dir, prefix)
    if isinstance(report, str):
        if not any(p.startswith(f"{prefix}{REPORT}:") for p in problems):
            problems.append(report)
        report = {}
    reported = report.get("evidence") or {}
    if isinstance(reported, dict) and "records" in reported and evidence.present:
        mismatch = _check_head(
            evidence, reported.get("records"), reported.get("head_digest"), REPORT
        )
        if mismatch is not None:
            problems.append(f"{prefix}{EVIDENCE}: {mismatch}")
    if evidence.problem is not None or isinstance(manifest, str):
        return problems
    records = evidence.records
    local = _parse_address(str(manifest["trace"]["local_address"])) or DEFAULT_LOCAL_ADDRESS
    trace_path = run_dir / TRACE
    if TRACE in files and trace_path.is_file():
        problem = _check_trace(trace_path.read_bytes(), records, local)
        if problem is not None:
            problems.append(f"{prefix}{TRACE}: {problem}")
    modbus_path = run_dir / MODBUS_TRACE
    if MODBUS_TRACE in files and modbus_path.is_file():
        problem = _check_modbus_trace(modbus_path.read_bytes(), records)
        if problem is not None:
            problems.append(f"{prefix}{MODBUS_TRACE}: {problem}")
    measurements = run_dir / MEASUREMENTS
    if MEASUREMENTS in files and measurements.is_file():
        problem = _check_lines(measurements.read_bytes(), build_measurements(records), records)
        if problem is not None:
            problems.append(f"{prefix}{MEASUREMENTS}: {problem}")
    har = run_dir / HAR
    if HAR in files and har.is_file():
        problem = _check_har(har.read_bytes(), har_entries(records))
        if problem is not None:
            problems.append(f"{prefix}{HAR}: {problem}")
    profile = run_dir / PROFILE
    if (
        PROFILE in files
        and profile.is_file()
        and report
        and profile.read_bytes() != build_profile(report).encode("utf-8")
    ):
        problems.append(f"{prefix}{PROFILE}: differs from the profile in {REPORT}")
    return problems


def _check_lines(data: bytes, expected: str, records: Sequence[Mapping[str, Any]]) -> str | None:
    seqs = [r["seq"] for r in records if r["kind"] == "measurement"]
    have = data.split(b"\n")
    want = expected.encode("utf-8").split(b"\n")
    for number, (line, wanted) in enumerate(zip(have, want, strict=False), start=1):
        if line != wanted:
            if number <= len(seqs):
                return f"line {number} differs from evidence record {seqs[number - 1]}"
            return f"line {number} is not in the evidence"
    if len(have) != len(want):
        return f"{len(have) - 1} lines, the evidence has {len(want) - 1} measurements"
    return None


def _check_har(data: bytes, expected: list[dict[str, Any]]) -> str | None:
    try:
        document = json.loads(data.decode("utf-8"))
        log = document["log"]
        entries = log["entries"]
        if log["version"] != "1.2" or log["creator"]["name"] != "drready":
            return "not a HAR 1.2 log written by drready"
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        return f"not a valid HAR file ({exc})"
    if not isinstance(entries, list):
        return "not a valid HAR file (entries is not a list)"
    for number, (entry, wanted) in enumerate(zip(entries, expected, strict=False), start=1):
        if entry != wanted:
            return f"entry {number} differs from the evidence's HTTP records"
    if len(entries) != len(expected):
        return f"{len(entries)} entries, the evidence has {len(expected)} HTTP exchanges"
    return None


def _verify_combined(run_dir: Path, manifest: dict[str, Any] | str) -> list[str]:
    problems: list[str] = []
    if isinstance(manifest, str):
        problems.append(f"{MANIFEST}: {manifest}")
        for child in sorted(run_dir.iterdir()):
            if child.is_dir() and not child.is_symlink() and (child / MANIFEST).exists():
                problems += _verify_run(child, _read_manifest(child / MANIFEST), f"{child.name}/")
        return problems
    seal = _check_seal(manifest)
    if seal is not None:
        problems.append(f"{MANIFEST}: {seal}")
    parts: Mapping[str, Any] = manifest["parts"]
    file_problems, added = _check_files(run_dir, manifest["files"], "", skip_dirs=parts)
    problems += file_problems.values()
    for name, entry in sorted(parts.items()):
        part_dir = run_dir / name
        if not part_dir.is_dir() or part_dir.is_symlink():
            problems.append(f"{name}/: missing")
            continue
        part_manifest = part_dir / MANIFEST
        if part_manifest.is_file() and not part_manifest.is_symlink():
            digest, _size = _file_digest(part_manifest)
            if digest != entry["manifest_sha256"]:
                problems.append(
                    f"{name}/{MANIFEST}: altered (sha256 {_short(digest)}… != {MANIFEST} "
                    f"{_short(entry['manifest_sha256'])}…)"
                )
        problems += _verify_run(part_dir, _read_manifest(part_manifest), f"{name}/")
    problems += added
    return problems


def verify_bundle(run_dir: Path) -> list[str]:
    """What is wrong with a run directory's bundle, the first problem first; [] if untouched.

    Raises :class:`BundleError` when ``run_dir`` is not a run directory at all (no
    ``manifest.json``, ``report.json`` or ``evidence.jsonl``).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise BundleError(f"{run_dir}: not a directory")
    names = (MANIFEST, REPORT, EVIDENCE)
    if not any((run_dir / name).exists() for name in names):
        raise BundleError(f"{run_dir}: not a run directory (no {', '.join(names)})")
    manifest = _read_manifest(run_dir / MANIFEST)
    if isinstance(manifest, dict):
        combined = manifest["kind"] == "combined"
    else:
        report = _report_or_problem(run_dir, "")
        combined = isinstance(report, dict) and "parts" in report
    if combined:
        return _verify_combined(run_dir, manifest)
    return _verify_run(run_dir, manifest, "")
