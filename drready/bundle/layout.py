"""The files of a bundle (names, format, the error) and the helpers that walk, digest,
seal and scan a run directory."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drready.canonical import digest
from drready.evidence import GENESIS
from drready.evidence.redact import find_secrets

BUNDLE_FORMAT = "drready-evidence-bundle"


BUNDLE_FORMAT_VERSION = 1


MANIFEST = "manifest.json"


#: The signatures of the bundle (drready.bundle.signing): the one file of a run directory its
#: manifest leaves out, because signing must not change what it signs.
SIGNATURES = "signatures.json"


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


def iso(timestamp: float, spec: str = "seconds") -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec=spec)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_digest(path: Path) -> tuple[str, int]:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return digest, path.stat().st_size


def walk(root: Path, skip_dirs: Iterable[str] = ()) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, path) of every entry under root that is not a directory (symbolic
    links included, never followed), in a fixed order; ``manifest.json`` and
    ``signatures.json`` at the top and the directories in ``skip_dirs`` (relative to root) left
    out. Empty directories hold nothing to list."""
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
            if relative in (MANIFEST, SIGNATURES):
                continue
            yield relative, here / name


def regular(path: Path) -> bool:
    mode = path.lstat().st_mode
    return stat.S_ISREG(mode)


def manifest_sha256(run_dir: Path) -> str:
    """The SHA-256 of a run directory's ``manifest.json``: the one value to keep elsewhere."""
    return file_digest(run_dir / MANIFEST)[0]


def as_text(data: bytes) -> str:
    """A file's bytes as text to scan: UTF-8 if it is, else one character per byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def json_encoder(separators: tuple[str, str]) -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, separators=separators)``, built once: dumps builds
    a JSONEncoder, and the encoder its C encoder, on every call, which costs more than encoding
    a record or a HAR entry (the bundle encodes tens of thousands). The same C encoder dumps
    runs, so the same text; without the C module, dumps itself."""
    item_separator, key_separator = separators
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return lambda value: json.dumps(value, ensure_ascii=False, separators=separators)
    encode = make(
        None,
        None,
        json.encoder.encode_basestring,
        None,
        key_separator,
        item_separator,
        False,
        False,
        True,
    )
    return lambda value: "".join(encode(value, 0))


def scan(name: str, text: str) -> list[str]:
    return [f"{name}: {hit}" for hit in find_secrets(text)]


def seal(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    manifest["manifest_sha256"] = digest(body)
    return json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"


def file_entries(run_dir: Path, skip_dirs: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for relative, path in walk(run_dir, skip_dirs):
        if not regular(path):
            raise BundleError(f"{relative}: not a regular file; a bundle holds regular files only")
        digest, size = file_digest(path)
        files[relative] = {"sha256": digest, "size": size}
    return files


def load_report(run_dir: Path) -> dict[str, Any]:
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


def entry_or_none(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    digest, size = file_digest(path)
    return {"sha256": digest, "size": size}
