"""Files added to a finished run directory (a rendered declaration): recorded in its
manifest once the bundle is verified."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from drready.bundle.chain import load_evidence
from drready.bundle.combined import bundled_parts, combined_manifest, part_entry
from drready.bundle.layout import (
    DEFAULT_LOCAL_ADDRESS,
    EVIDENCE,
    MANIFEST,
    SIGNATURES,
    BundleError,
    as_text,
    entry_or_none,
    file_digest,
    load_report,
    now_text,
    scan,
    seal,
    walk,
)
from drready.bundle.trace import parse_address
from drready.bundle.verify import read_manifest, short, verify_bundle
from drready.bundle.writer import run_manifest
from drready.report.json_report import write_atomic


def write_manifest(run_dir: Path) -> Path:
    """Record files added to a finished run directory (a rendered declaration) in its manifest.

    The bundle is verified first: only additions are accepted, and changes to or removals of
    files that were themselves added after the run; anything else raises :class:`BundleError`.
    Works on a single-class and on a combined run directory (whose class directories are brought
    up to date first). Added and replaced files are scanned for credentials. A signed run
    directory is refused: its signatures are of the manifest as it is.
    """
    run_dir = Path(run_dir)
    if (run_dir / SIGNATURES).exists():
        raise BundleError(
            f"{run_dir}: signed ({SIGNATURES}); recording a new file would change {MANIFEST} and "
            f"void its signatures: write the file outside the run directory, or delete "
            f"{SIGNATURES} and sign again"
        )
    old = read_manifest(run_dir / MANIFEST)
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
    now = now_text()
    later: dict[str, str] = {}
    changed: list[str] = []
    for name in sorted(current):
        if name not in old_files:
            later[name] = now
            changed.append(name)
        elif name in previous:
            if old_files[name] != entry_or_none(run_dir / name):
                later[name] = now
                changed.append(name)
            else:
                later[name] = previous[name]
    hits: list[str] = []
    for name in changed:
        hits += scan(name, as_text((run_dir / name).read_bytes()))
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
    later, _changed = _later_files(run_dir, old, (name for name, _ in walk(run_dir)))
    report = load_report(run_dir)
    evidence = load_evidence(run_dir / EVIDENCE)
    local = parse_address(str(old["trace"]["local_address"])) or DEFAULT_LOCAL_ADDRESS
    manifest = run_manifest(run_dir, report, evidence, local, later, str(old["written_at"]))
    manifest["harness"] = old.get("harness", manifest["harness"])
    manifest["updated_at"] = now_text()
    path = run_dir / MANIFEST
    write_atomic(path, seal(manifest))
    return path


def _rewrite_combined(run_dir: Path, old: dict[str, Any]) -> Path:
    old_parts: Mapping[str, Any] = old["parts"]
    for name in sorted(old_parts):
        part_dir = run_dir / name
        part = read_manifest(part_dir / MANIFEST)
        if not part_dir.is_dir() or isinstance(part, str):
            raise BundleError(f"{run_dir}: the bundle is not as written: {name}/: missing")
        if verify_bundle(part_dir):
            _rewrite_run(part_dir, part)  # files added in the class's directory
        entry = part_entry(part_dir)
        if entry is None or entry["evidence"] != old_parts[name].get("evidence"):
            raise BundleError(
                f"{run_dir}: the bundle is not as written: {name}/{EVIDENCE}: not the evidence "
                f"{MANIFEST} lists"
            )
    previous: Mapping[str, str] = old.get("added_after_run") or {}
    updated = set()
    for name in old_parts:
        digest = file_digest(run_dir / name / MANIFEST)[0]
        updated.add(
            f"{name}/{MANIFEST}: altered (sha256 {short(digest)}… != {MANIFEST} "
            f"{short(old_parts[name]['manifest_sha256'])}…)"
        )
    blocking = [p for p in verify_bundle(run_dir) if not _acceptable(p, previous, updated)]
    if blocking:
        raise BundleError(f"{run_dir}: the bundle is not as written: {blocking[0]}")
    parts = bundled_parts(run_dir)
    current = [name for name, _ in walk(run_dir, skip_dirs=parts)]
    later, _changed = _later_files(run_dir, old, current)
    report = load_report(run_dir)
    manifest = combined_manifest(run_dir, report, later, str(old["written_at"]))
    manifest["harness"] = old.get("harness", manifest["harness"])
    manifest["updated_at"] = now_text()
    path = run_dir / MANIFEST
    write_atomic(path, seal(manifest))
    return path
