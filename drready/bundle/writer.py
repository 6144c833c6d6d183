"""The bundle of a finished single-class run: every file, then its manifest."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from drready import __version__
from drready.bundle.chain import Evidence, check_head, stream_evidence
from drready.bundle.derived import build_measurements, build_profile
from drready.bundle.har import har_bytes, har_entries
from drready.bundle.layout import (
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    CHAIN,
    DEFAULT_LOCAL_ADDRESS,
    EVIDENCE,
    HAR,
    MANIFEST,
    MEASUREMENTS,
    MODBUS_TRACE,
    PROFILE,
    REPORT,
    TRACE,
    BundleError,
    as_text,
    file_entries,
    load_report,
    now_text,
    scan,
    seal,
    walk,
)
from drready.bundle.trace import build_modbus_trace, build_trace, echonet_datagrams, format_address
from drready.evidence.redact import find_secrets
from drready.report.json_report import write_atomic, write_bytes_atomic

#: What the payloads of the evidence are joined with, to be scanned as one text (see
#: :func:`_scan_evidence`).
_BETWEEN = "\x00\n"


def _scan_evidence(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Credentials in the evidence's payloads that are not ECHONET Lite frames (HTTP ...).

    A Modbus run has thousands of frames: they are scanned as one text first, joined with
    "\\x00\\n", and one by one only when that text holds something. The joined text holds a
    finding whenever a payload does: no match runs past the separator into the next payload
    (every pattern stops at the "\\x00" or at the line end after it), so none swallows a
    payload's own; the line end gives a payload a line start and a non-word character before
    it (``^``, ``\\b``, the credential pair's lookbehind), as the start of a text does; and
    "\\x00", what a pattern sees after a payload's end, lets through every match the end of a
    text lets through (it is not white space, a quote, a value's end or ``[redacted]``). A
    test holds the two scans equal."""
    payloads = [
        (record, as_text(bytes.fromhex(record["data_hex"])))
        for record in records
        if record["channel"] != "echonet" and record["data_hex"]
    ]
    if len(payloads) > 1 and not find_secrets(_BETWEEN.join(text for _record, text in payloads)):
        return []
    hits: list[str] = []
    for record, text in payloads:
        hits.extend(f"{EVIDENCE}: record {record['seq']} data: {hit}" for hit in find_secrets(text))
    return hits


def _http_message(record: Mapping[str, Any]) -> bool:
    """Whether an evidence record is an HTTP message (what the HAR is built from)."""
    return record["channel"] == "http" and record["kind"] in ("tx", "rx")


def _scanned(records: Iterable[dict[str, Any]], hits: list[str]) -> Iterator[dict[str, Any]]:
    """The records, each scanned for credentials in its raw data on the way (into ``hits``)."""
    for record in records:
        if record["data_hex"]:
            hits.extend(_scan_evidence([record]))
        yield record


def _local(local_address: tuple[str, int] | None) -> tuple[str, int]:
    if local_address is None:
        return DEFAULT_LOCAL_ADDRESS
    host, port = local_address
    return str(ipaddress.ip_address(host)), int(port)


def run_manifest(
    run_dir: Path,
    report: Mapping[str, Any],
    evidence: Evidence,
    local: tuple[str, int],
    added_after_run: Mapping[str, str],
    written_at: str,
    har_count: int | None = None,
) -> dict[str, Any]:
    """``har_count``: how many entries ``http.har`` holds, when the caller built them already
    (counting them again costs as much as building the HAR)."""
    records = evidence.records
    if har_count is None:
        har_count = len(har_entries(records))
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
            "local_address": format_address(local),
            "packets": len(echonet_datagrams(records)),
        },
        "http": {"file": HAR, "entries": har_count},
        "measurements": {
            "file": MEASUREMENTS,
            "records": sum(1 for r in records if r["kind"] == "measurement"),
        },
        "profile": {"file": PROFILE},
        "files": file_entries(run_dir),
        "added_after_run": dict(sorted(added_after_run.items())),
    }


def _check_evidence(run_dir: Path, evidence: Evidence, report: Mapping[str, Any]) -> None:
    """Refuse a broken chain, or one that disagrees with the report's count and head."""
    if evidence.problem is not None:
        raise BundleError(f"{run_dir / EVIDENCE}: {evidence.problem}")
    reported = report.get("evidence") or {}
    if isinstance(reported, dict) and "records" in reported:
        mismatch = check_head(
            evidence, reported.get("records"), reported.get("head_digest"), REPORT
        )
        if mismatch is not None:
            raise BundleError(f"{run_dir / EVIDENCE}: {mismatch}")


def write_bundle(run_dir: Path, *, local_address: tuple[str, int] | None) -> Path:
    """Write the evidence bundle of a finished single-class run into ``run_dir``; returns the
    manifest's path. ``local_address`` is the harness's own ECHONET Lite socket (host, port);
    None stands for ``0.0.0.0:3610``.

    Raises :class:`BundleError` (and writes nothing) when ``run_dir`` is not a single-class run
    directory, when its evidence chain is broken or disagrees with ``report.json``, or when a
    credential would end up in any file of the bundle.
    """
    run_dir = Path(run_dir)
    report = load_report(run_dir)
    if "parts" in report:
        raise BundleError(f"{run_dir}: a combined run; use write_combined_manifest")
    local = _local(local_address)
    run_id = str(report.get("run_id") or "")
    # One pass over the evidence: the chain is walked, every record parsed and checked, the
    # HTTP messages (the bulk of a server-topology run) streamed into the HAR as they are
    # walked, not held as objects, the others kept.
    log = run_dir / EVIDENCE
    evidence = Evidence(present=log.is_file())
    walked = stream_evidence(log, evidence, _http_message) if evidence.present else iter(())
    hits: list[str] = []
    try:
        har, har_count = har_bytes(_scanned(walked, hits), run_id=run_id)
    except Exception:
        # What broke the HAR may be what broke the chain further on: that is the refusal.
        for _record in walked:
            pass
        _check_evidence(run_dir, evidence, report)
        raise
    _check_evidence(run_dir, evidence, report)
    records = evidence.records
    outputs: dict[str, bytes] = {
        TRACE: build_trace(records, local, run_id=run_id),
        HAR: har,
        MEASUREMENTS: build_measurements(records).encode("utf-8"),
        PROFILE: build_profile(report).encode("utf-8"),
    }
    modbus = build_modbus_trace(records, run_id=run_id)
    if modbus is not None:
        outputs[MODBUS_TRACE] = modbus
    for name, data in outputs.items():
        hits += scan(name, as_text(data))
    for relative, path in walk(run_dir):
        if relative not in outputs and path.is_file():
            hits += scan(relative, as_text(path.read_bytes()))
    hits += _scan_evidence(records)
    if hits:
        raise BundleError(
            f"{run_dir}: credentials would be in the evidence bundle ({len(hits)}): "
            + "; ".join(hits[:5])
        )
    for name, data in outputs.items():
        write_bytes_atomic(run_dir / name, data)
    manifest = run_manifest(run_dir, report, evidence, local, {}, now_text(), har_count)
    path = run_dir / MANIFEST
    write_atomic(path, seal(manifest))
    return path
