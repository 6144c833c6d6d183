"""``drready merge``: part directories made on different machines, combined into one run.

Each input is a combined run directory holding some parts (a shard: ``drready run --shard K/N``,
or any combined run) or one part's own run directory (``drready run --simulate CLASS``). Every
input must verify on its own first (``drready verify``): a part altered on its way between
machines is refused, by name, before anything is written. Each part's directory is then copied
byte for byte, so its own bundle still verifies, and the merged directory gets what a plain
combined run writes at its end: the combined ``report.json`` (:func:`build_combined`, the same
function, so every cross-part check applies), the combined ``junit.xml`` and the combined
manifest; plus ``merge.json``, which inputs it was made of (each one's manifest digest and
shard), so the merged bundle says where its parts came from.

Refused with one line (:class:`UsageError`) before anything is written: an input that is not a
run, one that does not verify, the same part in two inputs, the same shard twice, inputs of
different drready versions, suites or shard counts. Merged anyway but not a success (exit status
1): a shard set with parts missing (its ``shard.parts`` names them); each missing part's
requirements are ``not-tested``, saying which part was missing.

The merged directory is built beside its destination and renamed into place once it verifies,
so a failed merge leaves nothing half-made.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema

from drready import __version__
from drready.bundle.combined import write_combined_manifest
from drready.bundle.layout import MANIFEST, REPORT, BundleError, manifest_sha256
from drready.bundle.verify import verify_bundle
from drready.errors import UsageError
from drready.profile import DEVICE_CLASSES
from drready.report.combined import build_combined
from drready.report.json_report import load_report, write_atomic, write_report
from drready.report.junit import write_combined_junit
from drready.run.ledger import PartResult, PartUsage

__all__ = [
    "MERGE_RECORD",
    "MergeInput",
    "Merged",
    "MergedPart",
    "Shard",
    "merge_runs",
    "read_input",
]

#: The merged directory's record of its inputs.
MERGE_RECORD = "merge.json"
#: Why a part that no input holds is not tested.
MISSING = "was not merged: no input holds this part (a shard is missing)"


@dataclass(frozen=True)
class Shard:
    """A shard's place in its run: ``index`` of ``count``, and every part of the whole run."""

    index: int
    count: int
    parts: tuple[str, ...] | None
    #: Each part's device class, by name (absent from shards made before it was recorded).
    classes: Mapping[str, str] = field(default_factory=dict)
    #: Each part's unit, by name (absent from shards made before it was recorded).
    units: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class MergedPart:
    """One part an input holds: its directory there and what its run said."""

    name: str
    directory: Path
    origin: Path  # the input it came from
    result: PartResult
    version: str | None
    suites: str | None
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True)
class MergeInput:
    path: Path
    run_id: str
    combined: bool
    manifest_sha256: str
    shard: Shard | None
    parts: tuple[MergedPart, ...]


@dataclass(frozen=True)
class Merged:
    run_dir: Path
    report: dict[str, Any]
    missing: tuple[str, ...]
    exit_status: int


def _timestamp(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _part_name(entry: dict[str, Any]) -> str:
    """A part's directory in its combined run: where its report is, else named after it."""
    report = entry.get("report")
    if isinstance(report, str) and report:
        return PurePosixPath(report).parent.as_posix()
    return str(entry.get("name") or entry["device_class"])


def _read_report(path: Path) -> dict[str, Any]:
    try:
        return load_report(path / REPORT)
    except FileNotFoundError:
        raise UsageError(f"merge: {path}: not a run directory (no {REPORT})") from None
    except (OSError, ValueError, jsonschema.ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"merge: {path / REPORT}: not a valid drready report: {first}") from None


def _part(
    origin: Path, directory: Path, name: str, result: PartResult, outer: dict[str, Any]
) -> MergedPart:
    own: dict[str, Any] = {}
    if (directory / REPORT).is_file():
        own = _read_report(directory)
    harness = own.get("harness") or outer.get("harness") or {}
    return MergedPart(
        name=name,
        directory=directory,
        origin=origin,
        result=result,
        version=harness.get("version"),
        suites=(own.get("digests") or {}).get("suites"),
        started_at=_timestamp(own.get("started_at")),
        finished_at=_timestamp(own.get("finished_at")),
    )


def _shard(path: Path, document: dict[str, Any]) -> Shard | None:
    shard = document.get("shard")
    if shard is None:
        return None
    try:
        index, count = int(shard["index"]), int(shard["count"])
        parts = shard.get("parts")
        names = None if parts is None else tuple(str(p) for p in parts)
        classes = {str(k): str(v) for k, v in (shard.get("classes") or {}).items()}
        units = {str(k): str(v) for k, v in (shard.get("units") or {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UsageError(
            f"merge: {path / REPORT}: field shard: expected {{index, count, parts}}, got {shard!r}"
        ) from None
    if not 1 <= index <= count:
        raise UsageError(f"merge: {path / REPORT}: field shard: {index}/{count} is not a shard")
    return Shard(index, count, names, classes, units)


def _refuse_if_altered(path: Path, part_names: Sequence[str], combined: bool) -> str:
    """The input's manifest digest, once its bundle verifies; refused, naming the part, if not."""
    try:
        problems = verify_bundle(path)
    except BundleError as exc:
        raise UsageError(f"merge: {exc}") from None
    if problems:
        first = problems[0]
        head = first.split("/", 1)[0]
        if not combined:
            which = f"part {part_names[0]} ({path})"
        elif head in part_names:
            which = f"part {head} of {path}"
        else:
            which = str(path)
        raise UsageError(
            f"merge: {which} does not verify, refused ({first}); merge untouched runs only"
        )
    return manifest_sha256(path)


def read_input(path: Path) -> MergeInput:
    """One input of a merge, checked: a run directory whose bundle verifies."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"merge: {path}: not a directory (expected a run directory)")
    document = _read_report(path)
    parts: list[MergedPart] = []
    if "parts" in document:
        for entry in document["parts"]:
            name = _part_name(entry)
            unit = str(entry.get("unit") or "")
            usage = entry.get("usage")  # the schema has held it to its three figures
            result = PartResult(
                entry["device_class"],
                entry["run_id"],
                entry.get("exit_status"),
                entry["problem"],
                name,
                "" if unit == name else unit,
                None if usage is None else PartUsage(**usage),
            )
            parts.append(_part(path, path / name, name, result, document))
    else:
        result = PartResult(document["device_class"], document["run_id"], document["exit_status"])
        parts.append(_part(path, path, document["device_class"], result, document))
    digest = _refuse_if_altered(path, [p.name for p in parts], "parts" in document)
    return MergeInput(
        path=path,
        run_id=document["run_id"],
        combined="parts" in document,
        manifest_sha256=digest,
        shard=_shard(path, document),
        parts=tuple(parts),
    )


def _check_together(inputs: Sequence[MergeInput], version: str) -> tuple[str, ...] | None:
    """Refuse inputs that are not parts of one run; the whole run's parts if a shard says."""
    seen: dict[str, MergedPart] = {}
    for part in (p for i in inputs for p in i.parts):
        if part.name in seen:
            raise UsageError(
                f"merge: part {part.name} is in both {seen[part.name].origin} and {part.origin}; "
                "give each part once"
            )
        seen[part.name] = part
        if part.version != version:
            raise UsageError(
                f"merge: {part.origin}: part {part.name} was made by drready {part.version}, "
                f"this is drready {version}; merge with the drready that made the parts"
            )
    suites = {p.suites: p for p in seen.values() if p.suites}
    if len(suites) > 1:
        a, b = list(suites.values())[:2]
        raise UsageError(
            f"merge: {a.origin} and {b.origin} ran different suites (part {a.name} suites "
            f"sha256 {str(a.suites)[:16]}…, part {b.name} {str(b.suites)[:16]}…); merge parts "
            "made from one checkout"
        )
    sharded = [i for i in inputs if i.shard is not None]
    if not sharded:
        return None
    first = sharded[0]
    assert first.shard is not None
    indices: dict[int, Path] = {}
    for item in sharded:
        assert item.shard is not None
        if item.shard.count != first.shard.count:
            raise UsageError(
                f"merge: {first.path} is shard {first.shard.text} but {item.path} is shard "
                f"{item.shard.text}: different shard counts, not one run"
            )
        if item.shard.parts != first.shard.parts:
            raise UsageError(
                f"merge: {first.path} and {item.path} are shards of runs of different parts "
                f"({', '.join(first.shard.parts or ())} / {', '.join(item.shard.parts or ())})"
            )
        if item.shard.index in indices:
            raise UsageError(
                f"merge: {indices[item.shard.index]} and {item.path} are both shard "
                f"{item.shard.text}; give each shard once"
            )
        indices[item.shard.index] = item.path
    whole = first.shard.parts
    if whole is not None:
        for name, part in seen.items():
            if name not in whole:
                raise UsageError(
                    f"merge: {part.origin} holds part {name}, which the shards' run "
                    f"({', '.join(whole)}) does not include"
                )
    return whole


def _missing_class(name: str, classes: Mapping[str, str]) -> str:
    """The device class of a part no input holds: as the shards recorded it, else read from its
    name (a class, or a unit ``<class>-<k>``), so its requirements are listed as not tested."""
    if name in classes:
        return classes[name]
    for candidate in (name, name.rsplit("-", 1)[0]):
        if candidate in DEVICE_CLASSES:
            return candidate
    raise UsageError(
        f"merge: part {name} is missing and its shards do not say its device class; merge "
        "shards made by this drready, or give every shard"
    )


def _order(names: Sequence[str], whole: Sequence[str] | None) -> list[str]:
    if whole is not None:
        return list(whole)
    classes = list(DEVICE_CLASSES)

    def key(name: str) -> tuple[int, str]:
        cls = name.split("/", 1)[0]
        return (classes.index(cls) if cls in classes else len(classes), name)

    return sorted(names, key=key)


def _destination(out_dir: Path, inputs: Sequence[MergeInput]) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UsageError(f"merge: --report-dir {out_dir}: exists and is not empty")
    here = out_dir.resolve()
    for item in inputs:
        there = item.path.resolve()
        if here == there or there in here.parents or here in there.parents:
            raise UsageError(f"merge: --report-dir {out_dir}: overlaps the input {item.path}")


def _record(
    inputs: Sequence[MergeInput], missing: Sequence[str], merged_at: float
) -> dict[str, Any]:
    return {
        "merged_at": datetime.fromtimestamp(merged_at, UTC).isoformat(timespec="seconds"),
        "harness": {"name": "drready", "version": __version__},
        "inputs": [
            {
                "path": str(item.path),
                "run_id": item.run_id,
                "manifest_sha256": item.manifest_sha256,
                "shard": None
                if item.shard is None
                else {
                    "index": item.shard.index,
                    "count": item.shard.count,
                    "parts": None if item.shard.parts is None else list(item.shard.parts),
                },
                "parts": [p.name for p in item.parts],
            }
            for item in inputs
        ],
        "missing_parts": list(missing),
    }


def merge_runs(
    paths: Sequence[Path],
    out_dir: Path,
    run_id: str,
    *,
    version: str = __version__,
    now: Callable[[], float] = time.time,
) -> Merged:
    """Merge the run directories ``paths`` into ``out_dir`` (new or empty): see the module."""
    if not paths:
        raise UsageError("merge: give at least one run directory")
    inputs = [read_input(Path(path)) for path in paths]
    out_dir = Path(out_dir)
    _destination(out_dir, inputs)
    whole = _check_together(inputs, version)
    held = {p.name: p for item in inputs for p in item.parts}
    names = _order(list(held), whole)
    missing = tuple(name for name in names if name not in held)
    classes = {k: v for i in inputs if i.shard is not None for k, v in i.shard.classes.items()}
    units = {k: v for i in inputs if i.shard is not None for k, v in i.shard.units.items()}
    results = [
        held[name].result
        if name in held
        else PartResult(
            _missing_class(name, classes),
            f"{run_id}-{name.replace('/', '-')}",
            None,
            MISSING,
            name,
            "" if units.get(name, name) == name else units[name],
        )
        for name in names
    ]
    merged_at = now()
    starts = [p.started_at for p in held.values() if p.started_at is not None]
    ends = [p.finished_at for p in held.values() if p.finished_at is not None]
    complete = not missing and all(r.exit_status == 0 and not r.problem for r in results)
    status = 0 if complete else 1

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = out_dir.parent / f".{out_dir.name}.merging-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        for name in names:
            if name in held:
                _copy_part(held[name], work / name)
        report = build_combined(
            run_id,
            work,
            results,
            started_at=min(starts, default=merged_at),
            finished_at=max(ends, default=merged_at),
            exit_status=status,
            version=version,
        )
        if status == 0 and any(
            r["verdict"] in ("fail", "inconclusive") for r in report["requirements"]
        ):
            # A check across parts (*-ID unique across units) can fail a requirement although
            # every part's own run passed: the merged run is not conformant either.
            status = 1
            report["exit_status"] = status
        write_report(work / REPORT, report)
        problems = {n: r.problem for n, r in zip(names, results, strict=True) if r.problem}
        write_combined_junit(work, names, run_id, problems)
        write_atomic(
            work / MERGE_RECORD,
            json.dumps(_record(inputs, missing, merged_at), ensure_ascii=False, indent=2) + "\n",
        )
        write_combined_manifest(work)
        after = verify_bundle(work)
        if after:
            raise BundleError(f"merge: the merged run does not verify: {after[0]}")
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Merged(out_dir, report, missing, status)


def _copy_part(part: MergedPart, target: Path) -> None:
    """The part's directory byte for byte, so its own manifest and bundle stay valid."""
    shutil.copytree(part.directory, target, symlinks=True)
    source = part.directory / MANIFEST
    if source.is_file() and source.read_bytes() != (target / MANIFEST).read_bytes():
        raise BundleError(f"merge: part {part.name}: {MANIFEST} changed while it was copied")
