"""Verification: every file against the manifest, and the evidence against everything
derived from it, so that an edit that also fixes the manifest is still found."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from drready.bundle.chain import check_head, load_evidence
from drready.bundle.derived import build_measurements, build_profile
from drready.bundle.har import har_entries
from drready.bundle.layout import (
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    DEFAULT_LOCAL_ADDRESS,
    EVIDENCE,
    HAR,
    MANIFEST,
    MEASUREMENTS,
    MODBUS_TRACE,
    PROFILE,
    REPORT,
    SIGNATURES,
    TRACE,
    BundleError,
    file_digest,
    regular,
    walk,
)
from drready.bundle.trace import check_modbus_trace, check_trace, parse_address
from drready.canonical import digest

_HEX64 = frozenset("0123456789abcdef")


def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX64


def read_manifest(path: Path) -> dict[str, Any] | str:
    """The manifest, or why it cannot be used."""
    if not path.exists():
        return "missing"
    if not regular(path):
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
            or parse_address(str(trace.get("local_address"))) is None
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


def short(digest: str) -> str:
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
        elif not regular(path):
            problems[name] = f"{prefix}{name}: not a regular file"
        else:
            digest, size = file_digest(path)
            if digest != entry["sha256"]:
                problems[name] = (
                    f"{prefix}{name}: altered (sha256 {short(digest)}… != manifest "
                    f"{short(entry['sha256'])}…)"
                )
            elif size != entry["size"]:
                problems[name] = (
                    f"{prefix}{name}: altered (size {size} != manifest {entry['size']})"
                )
    added = [
        f"{prefix}{relative}: added after the run (not in {MANIFEST})"
        for relative, _ in walk(run_dir, skip_dirs)
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

    evidence = load_evidence(run_dir / EVIDENCE)
    chain_problems: list[str] = []
    if evidence.problem is not None:
        chain_problems.append(f"{prefix}{EVIDENCE}: {evidence.problem}")
    elif not isinstance(manifest, str):
        said = manifest["evidence"]
        mismatch = check_head(evidence, said["records"], said["head_digest"], MANIFEST)
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
        mismatch = check_head(
            evidence, reported.get("records"), reported.get("head_digest"), REPORT
        )
        if mismatch is not None:
            problems.append(f"{prefix}{EVIDENCE}: {mismatch}")
    if evidence.problem is not None or isinstance(manifest, str):
        return problems
    records = evidence.records
    local = parse_address(str(manifest["trace"]["local_address"])) or DEFAULT_LOCAL_ADDRESS
    trace_path = run_dir / TRACE
    if TRACE in files and trace_path.is_file():
        problem = check_trace(trace_path.read_bytes(), records, local)
        if problem is not None:
            problems.append(f"{prefix}{TRACE}: {problem}")
    modbus_path = run_dir / MODBUS_TRACE
    if MODBUS_TRACE in files and modbus_path.is_file():
        problem = check_modbus_trace(modbus_path.read_bytes(), records)
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
                problems += _verify_run(child, read_manifest(child / MANIFEST), f"{child.name}/")
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
            digest, _size = file_digest(part_manifest)
            if digest != entry["manifest_sha256"]:
                problems.append(
                    f"{name}/{MANIFEST}: altered (sha256 {short(digest)}… != {MANIFEST} "
                    f"{short(entry['manifest_sha256'])}…)"
                )
        problems += _verify_run(part_dir, read_manifest(part_manifest), f"{name}/")
        if (part_dir / SIGNATURES).exists() or (part_dir / SIGNATURES).is_symlink():
            # The manifest of a class's directory leaves it out, as at the top: named here so
            # that nothing in a combined run goes unchecked.
            problems.append(
                f"{name}/{SIGNATURES}: not allowed in a class's directory (a combined run is "
                "signed at its top directory only)"
            )
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
    manifest = read_manifest(run_dir / MANIFEST)
    if isinstance(manifest, dict):
        combined = manifest["kind"] == "combined"
    else:
        report = _report_or_problem(run_dir, "")
        combined = isinstance(report, dict) and "parts" in report
    if combined:
        return _verify_combined(run_dir, manifest)
    return _verify_run(run_dir, manifest, "")
