"""The manifest of a combined run: its own files and each class's bundle by digest."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drready import __version__
from drready.bundle.layout import (
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    MANIFEST,
    BundleError,
    as_text,
    file_digest,
    file_entries,
    load_report,
    now_text,
    scan,
    seal,
    walk,
)
from drready.report.json_report import write_atomic


def part_entry(part_dir: Path) -> dict[str, Any] | None:
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
    digest, size = file_digest(path)
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


def combined_manifest(
    run_dir: Path, report: Mapping[str, Any], added_after_run: Mapping[str, str], written_at: str
) -> dict[str, Any]:
    parts: dict[str, dict[str, Any]] = {}
    for child in sorted(run_dir.iterdir()):
        if child.is_dir() and not child.is_symlink():
            entry = part_entry(child)
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
        "files": file_entries(run_dir, skip_dirs=parts),
        "added_after_run": dict(sorted(added_after_run.items())),
    }


def write_combined_manifest(run_dir: Path) -> Path:
    """Write the manifest of a combined run's directory: its own files (and those of class
    directories without a bundle), and the digest of each class directory's ``manifest.json``.
    Call it after every class's run has written its bundle and the combined report is final."""
    run_dir = Path(run_dir)
    report = load_report(run_dir)
    if "parts" not in report:
        raise BundleError(f"{run_dir}: not a combined run; use write_bundle")
    hits: list[str] = []
    for relative, path in walk(run_dir, skip_dirs=bundled_parts(run_dir)):
        if path.is_file():
            hits += scan(relative, as_text(path.read_bytes()))
    if hits:
        raise BundleError(
            f"{run_dir}: credentials would be in the evidence bundle ({len(hits)}): "
            + "; ".join(hits[:5])
        )
    path = run_dir / MANIFEST
    write_atomic(path, seal(combined_manifest(run_dir, report, {}, now_text())))
    return path


def bundled_parts(run_dir: Path) -> list[str]:
    return [
        child.name
        for child in sorted(run_dir.iterdir())
        if child.is_dir() and not child.is_symlink() and part_entry(child) is not None
    ]
