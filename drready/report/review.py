"""``drready review DIR...``: every bundle under some folders verified at once, in one summary.

A bundle is a run directory: a directory holding ``manifest.json`` or ``report.json``. A combined
run counts as one bundle (its class directories are verified through it, never on their own),
and nothing under a bundle is searched further. Each is verified as ``drready verify`` does (the
chain, the manifest, every file) and its signatures checked, against the trust list when one is
given (then an unsigned bundle fails). ``--jcstar-list`` hands each bundle to
:func:`recheck_jcstar`, the one place the JC-STAR list check plugs in.

The summary (:func:`write_review`) is ``review.json`` and ``review.html`` (Japanese and English
headings): per bundle the maker (manufacturer code), product, firmware when the run recorded it,
the classes and bindings tested, the verdict counts, the signers with their key fingerprints,
and the problems, the first one first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2

from drready import __version__
from drready.bundle import (
    MANIFEST,
    REPORT,
    BundleError,
    TrustedKey,
    check_signatures,
    manifest_sha256,
    verify_bundle,
)
from drready.jcstar import JcStarList, declared_in, load_list
from drready.report.declaration.model import VERDICT_LABELS
from drready.report.json_report import report_time, write_atomic

REVIEW_JSON = "review.json"
REVIEW_HTML = "review.html"
REVIEW_FORMAT = "drready-review"
REVIEW_FORMAT_VERSION = 1
VERDICTS = ("pass", "fail", "inconclusive", "not-applicable", "not-tested", "declared")


class ReviewError(Exception):
    """A review that cannot be made (a folder that does not exist, an output that cannot be
    written): one line."""


@dataclass(frozen=True)
class DeviceSummary:
    """One class tested in a bundle."""

    device_class: str
    name: str | None
    maker: str | None
    product: str | None
    serial: str | None
    firmware: str | None
    topology: str | None
    binding: str | None
    verdicts: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "device_class": self.device_class,
            "name": self.name,
            "maker": self.maker,
            "product": self.product,
            "serial": self.serial,
            "firmware": self.firmware,
            "topology": self.topology,
            "binding": self.binding,
            "verdicts": dict(self.verdicts),
        }


@dataclass(frozen=True)
class JcstarCheck:
    """The JC-STAR re-check of one bundle: ``checked`` False when it was not made."""

    checked: bool
    note: str
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "note": self.note, "problems": list(self.problems)}


@dataclass(frozen=True)
class BundleSummary:
    path: str
    run_id: str | None
    kind: str
    complete: bool | None
    simulated: bool | None
    faults: tuple[str, ...]
    manifest_sha256: str | None
    devices: tuple[DeviceSummary, ...]
    verdicts: Mapping[str, int]
    signers: tuple[dict[str, Any], ...]
    jcstar: JcstarCheck | None
    problems: tuple[str, ...] = field(default=())

    @property
    def verified(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "verified": self.verified,
            "run_id": self.run_id,
            "kind": self.kind,
            "complete": self.complete,
            "simulated": self.simulated,
            "faults": list(self.faults),
            "manifest_sha256": self.manifest_sha256,
            # Each class once, in the order its first part came: a plain run has four battery
            # parts (one a binding), and the parts are in "devices".
            "classes": list(dict.fromkeys(d.device_class for d in self.devices)),
            "bindings": sorted({d.binding for d in self.devices if d.binding}),
            "devices": [d.to_json() for d in self.devices],
            "verdicts": dict(self.verdicts),
            "signed": bool(self.signers),
            "signers": list(self.signers),
            "jcstar": None if self.jcstar is None else self.jcstar.to_json(),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Review:
    folders: tuple[str, ...]
    reviewed_at: str
    trusted: tuple[TrustedKey, ...] | None
    jcstar_list: str | None
    bundles: tuple[BundleSummary, ...]

    def to_json(self) -> dict[str, Any]:
        failed = [b.path for b in self.bundles if not b.verified]
        return {
            "format": REVIEW_FORMAT,
            "format_version": REVIEW_FORMAT_VERSION,
            "harness": {"name": "drready", "version": __version__},
            "reviewed_at": self.reviewed_at,
            "folders": list(self.folders),
            "trusted_keys": None
            if self.trusted is None
            else [{"public_key_sha256": t.key_sha256, "file": t.source} for t in self.trusted],
            "jcstar_list": self.jcstar_list,
            "summary": {
                "bundles": len(self.bundles),
                "verified": len(self.bundles) - len(failed),
                "failed": len(failed),
            },
            "failed": failed,
            "bundles": [b.to_json() for b in self.bundles],
        }


# -- finding bundles ------------------------------------------------------------------------------


def _is_bundle(directory: Path) -> bool:
    return (directory / MANIFEST).is_file() or (directory / REPORT).is_file()


def find_bundles(folders: Sequence[Path]) -> list[Path]:
    """Every run directory under ``folders`` (each folder itself included), in path order;
    nothing under a run directory (a combined run's classes) is listed. Symbolic links to
    directories are not followed."""
    found: set[Path] = set()
    for folder in folders:
        if not Path(folder).is_dir():
            raise ReviewError(f"{folder}: not a directory")
        for directory, dirs, _files in os.walk(folder):
            here = Path(directory)
            if _is_bundle(here):
                found.add(here)
                dirs[:] = []
                continue
            dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
    return sorted(found)


# -- one bundle -----------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _firmware(report: Mapping[str, Any]) -> str | None:
    """The firmware version, when the run recorded one (the device's identity or the profile)."""
    device = report.get("device") or {}
    places = (device, device.get("identity") or {}, (report.get("profile") or {}).get("device"))
    for place in places:
        if isinstance(place, Mapping):
            for key in ("firmware_version", "firmware"):
                if place.get(key):
                    return str(place[key])
    return None


def _device(report: Mapping[str, Any]) -> DeviceSummary:
    declared = (report.get("profile") or {}).get("device") or {}
    read = (report.get("device") or {}).get("identity") or {}
    summary = report.get("summary") or {}
    return DeviceSummary(
        device_class=str(report.get("device_class") or declared.get("class") or "?"),
        name=_text(declared.get("name")),
        maker=_text(read.get("manufacturer_code") or declared.get("manufacturer_code")),
        product=_text(read.get("product_code") or declared.get("product_code")),
        serial=_text(read.get("serial_number") or declared.get("serial_number")),
        firmware=_firmware(report),
        topology=_text(report.get("topology")),
        binding=_text(report.get("binding")),
        verdicts={v: int(summary.get(v, 0) or 0) for v in VERDICTS},
    )


def _devices(run_dir: Path, report: Mapping[str, Any]) -> list[DeviceSummary]:
    parts = report.get("parts")
    if not isinstance(parts, list):
        return [_device(report)] if report else []
    devices = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        relative = part.get("report")
        document = _load(run_dir / str(relative)) if relative else {}
        if document:
            devices.append(_device(document))
        else:
            devices.append(_device({"device_class": part.get("device_class")}))
    return devices


@cache
def _jcstar_list(path: Path) -> JcStarList:
    """IPA's list, read once per review (every bundle is checked against the same list)."""
    return load_list(path)


def _run_day(report: Mapping[str, Any]) -> date | None:
    """The day a run started, on this machine's calendar as the run's own *-3.1 check uses."""
    moment = report_time(report.get("started_at"))
    return None if moment is None else moment.astimezone().date()


def _part_reports(run_dir: Path, report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(name, report) of each device a bundle tested: itself, or each part of a combined run."""
    if "parts" not in report:
        return [(str(report.get("device_class") or run_dir.name), report)]
    found: list[tuple[str, Mapping[str, Any]]] = []
    for part in report.get("parts") or []:
        if not isinstance(part, Mapping):
            continue
        where = part.get("report")
        path = run_dir / where if isinstance(where, str) else None
        document = _load(path) if path is not None and path.is_file() else {}
        name = str(part.get("name") or part.get("device_class") or where)
        found.append((name, document))
    return found


def recheck_jcstar(run_dir: Path, report: Mapping[str, Any], jcstar_list: Path) -> JcstarCheck:
    """*-3.1 of a bundle re-checked against IPA's list of JC-STAR compliant products: each
    device's declared label (``report["profile"]["jcstar"]``, per part of a combined run) on the
    day its run started. A device that declares no label is a problem: *-3.1 cannot pass."""
    listing = _jcstar_list(Path(jcstar_list))
    problems: list[str] = []
    checked = 0
    for name, part in _part_reports(run_dir, report):
        profile = part.get("profile")
        declaration = declared_in(profile) if isinstance(profile, Mapping) else None
        if declaration is None:
            problems.append(f"{name}: JC-STAR: no label declared in the run's profile")
            continue
        day = _run_day(part) or _run_day(report)
        if day is None:
            problems.append(f"{name}: JC-STAR: the run's start date is not in its report")
            continue
        result = declaration.check(listing, on=day)
        checked += 1
        if not result.passed:
            problems.append(f"{name}: JC-STAR {result.cause}: {result.reason}")
    return JcstarCheck(
        checked=True,
        note=f"{checked} declared label(s) checked against {Path(jcstar_list).name} dated "
        f"{listing.list_date} (SHA-256 {listing.sha256[:16]}…)",
        problems=tuple(problems),
    )


def review_bundle(
    run_dir: Path, trusted: Sequence[TrustedKey] | None, jcstar_list: Path | None
) -> BundleSummary:
    problems: list[str] = []
    try:
        problems += verify_bundle(run_dir)
    except BundleError as exc:
        problems.append(str(exc))
    check = check_signatures(run_dir, trusted)
    problems += check.problems
    manifest = _load(run_dir / MANIFEST)
    report = _load(run_dir / REPORT)
    devices = _devices(run_dir, report)
    jcstar = None if jcstar_list is None else recheck_jcstar(run_dir, report, jcstar_list)
    if jcstar is not None:
        problems += jcstar.problems
    summary = report.get("summary") or {}
    faults = report.get("faults") or []
    return BundleSummary(
        path=str(run_dir),
        run_id=_text(report.get("run_id") or manifest.get("run_id")),
        kind="combined" if "parts" in report or manifest.get("kind") == "combined" else "run",
        complete=report.get("complete") if isinstance(report.get("complete"), bool) else None,
        simulated=report.get("simulated") if isinstance(report.get("simulated"), bool) else None,
        faults=tuple(str(f) for f in faults) if isinstance(faults, list) else (),
        manifest_sha256=manifest_sha256(run_dir) if (run_dir / MANIFEST).is_file() else None,
        devices=tuple(devices),
        verdicts={v: int(summary.get(v, 0) or 0) for v in VERDICTS},
        signers=tuple(s.to_json() for s in check.signers),
        jcstar=jcstar,
        problems=tuple(problems),
    )


def review(
    folders: Sequence[Path],
    *,
    trusted: Sequence[TrustedKey] | None = None,
    jcstar_list: Path | None = None,
) -> Review:
    """Verify every bundle under ``folders``; raises :class:`ReviewError` for a folder that is
    not one, or a ``jcstar_list`` that is not a file."""
    if jcstar_list is not None and not Path(jcstar_list).is_file():
        raise ReviewError(f"--jcstar-list {jcstar_list}: no such file")
    if jcstar_list is not None:
        _jcstar_list(
            Path(jcstar_list)
        )  # a list drready cannot read stops the review before it starts
    bundles = [review_bundle(path, trusted, jcstar_list) for path in find_bundles(folders)]
    return Review(
        folders=tuple(str(f) for f in folders),
        reviewed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        trusted=None if trusted is None else tuple(trusted),
        jcstar_list=None if jcstar_list is None else str(jcstar_list),
        bundles=tuple(bundles),
    )


# -- writing --------------------------------------------------------------------------------------


def _template_source(name: str) -> str:
    return (files("drready.report") / "templates" / name).read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_review_html(result: Review) -> str:
    document = result.to_json()
    labels = [(v, *VERDICT_LABELS.get(v, (v, v))) for v in VERDICTS]
    return _environment().get_template("review.html.j2").render(review=document, verdicts=labels)


def write_review(result: Review, output_dir: Path) -> tuple[Path, Path]:
    """``review.json`` and ``review.html`` in ``output_dir`` (made if missing)."""
    output_dir = Path(output_dir)
    if _is_bundle(output_dir):
        raise ReviewError(
            f"--output-dir {output_dir}: a run directory; writing there would alter its bundle"
        )
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        json_path = output_dir / REVIEW_JSON
        html_path = output_dir / REVIEW_HTML
        write_atomic(json_path, json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n")
        write_atomic(html_path, render_review_html(result))
    except OSError as exc:
        raise ReviewError(
            f"--output-dir {output_dir}: cannot write ({exc.strerror or exc})"
        ) from None
    return json_path, html_path
