"""Signatures of a bundle: who vouches for it, beside the manifest that proves it is untouched.

``drready sign RUN --key KEY.pem`` signs the SHA-256 of ``RUN/manifest.json`` (the value
``drready verify`` prints) with an Ed25519 or ECDSA P-256 private key and stores the signature in
``RUN/signatures.json``, the one file of a run directory the manifest does not list (it cannot:
it is written after the manifest, and signing must not change what it signs). A second party
countersigns (``--countersign``): its signature covers the same manifest digest *and* the first
signature, so it vouches for that signer too.

A combined run is signed at its top directory only: its manifest lists each class's
``manifest.json`` by digest, so one signature covers every part. A class's directory of a
combined run is refused.

``signatures.json``::

    {"format": "drready-bundle-signatures", "format_version": 1, "signatures": [ENTRY, ...]}

Each entry: ``role`` (``signer`` first, then ``countersigner``), ``algorithm`` (``ed25519`` or
``ecdsa-p256-sha256``), ``public_key`` (PEM, SubjectPublicKeyInfo) and ``public_key_sha256``
(SHA-256 of its DER: the key's fingerprint), optionally ``name`` (free text: who signs),
``certificate`` (PEM) and ``certificate_sha256`` (of its DER) and ``certificate_subject``,
``signed_at`` (UTC), ``manifest_sha256`` (the digest signed), for a countersignature
``countersigns`` (the first signature, base64), and ``signature`` (base64). What is signed is the
canonical JSON (:mod:`drready.canonical`) of the entry without ``signature``, plus
``"purpose": "drready evidence bundle signature v1"``: every field is covered, so a changed
name, time or role is a signature that no longer matches.

Checking (:func:`check_signatures`) recomputes everything: the file must be exactly as drready
writes it (so no byte of it can change unnoticed), each key must be the fingerprint it claims,
each signature must match its key and the manifest as it is now, and with a trust list (public
keys or certificates, compared by key fingerprint; certificates are not validated as a chain) at
least one signature must be by a trusted key. Who holds which key is the trust list's business.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from drready.bundle.keys import (
    ALGORITHMS,
    PrivateKey,
    PublicKey,
    TrustedKey,
    algorithm_of,
    key_fingerprint,
    load_certificate,
    public_pem,
)
from drready.bundle.layout import MANIFEST, SIGNATURES, BundleError, file_digest
from drready.canonical import canonical_json
from drready.report.json_report import write_atomic

SIGNATURES_FORMAT = "drready-bundle-signatures"
SIGNATURES_FORMAT_VERSION = 1
SIGNER = "signer"
COUNTERSIGNER = "countersigner"
PURPOSE = "drready evidence bundle signature v1"


_REQUIRED = (
    "role",
    "algorithm",
    "public_key",
    "public_key_sha256",
    "signed_at",
    "manifest_sha256",
    "signature",
)
_OPTIONAL = ("name", "certificate", "certificate_sha256", "certificate_subject", "countersigns")


@dataclass(frozen=True)
class Signer:
    """One signature of a bundle as checked: who, when, and whether it holds."""

    number: int
    role: str
    algorithm: str
    key_sha256: str
    signed_at: str
    name: str | None = None
    certificate_sha256: str | None = None
    certificate_subject: str | None = None
    #: None: it matches its key and the manifest; else why not.
    problem: str | None = None
    #: None: no trust list was given.
    trusted: bool | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None

    def label(self) -> str:
        """``signature 1 (signer, key 3f2a9c0d1e2b4a5f…)``: how problems name it."""
        return f"signature {self.number} ({self.role}, key {self.key_sha256[:16]}…)"

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "role": self.role,
            "name": self.name,
            "algorithm": self.algorithm,
            "public_key_sha256": self.key_sha256,
            "certificate_sha256": self.certificate_sha256,
            "certificate_subject": self.certificate_subject,
            "signed_at": self.signed_at,
            "valid": self.valid,
            "problem": self.problem,
            "trusted": self.trusted,
        }


@dataclass(frozen=True)
class SignatureCheck:
    """What :func:`check_signatures` found: the signatures, and the problems, first first."""

    signed: bool
    signers: tuple[Signer, ...]
    problems: tuple[str, ...]


# -- the file -------------------------------------------------------------------------------------


def _render(entries: Sequence[Mapping[str, Any]]) -> str:
    document = {
        "format": SIGNATURES_FORMAT,
        "format_version": SIGNATURES_FORMAT_VERSION,
        "signatures": list(entries),
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def read_signatures(run_dir: Path) -> list[dict[str, Any]] | str | None:
    """The entries of ``run_dir/signatures.json``; None when there is none; a problem (text)
    when it is not exactly what drready writes."""
    path = Path(run_dir) / SIGNATURES
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        return "not a regular file"
    data = path.read_bytes()
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"not valid JSON ({exc})"
    if (
        not isinstance(document, dict)
        or document.get("format") != SIGNATURES_FORMAT
        or document.get("format_version") != SIGNATURES_FORMAT_VERSION
        or not isinstance(document.get("signatures"), list)
        or set(document) != {"format", "format_version", "signatures"}
    ):
        return f"not a {SIGNATURES_FORMAT} file of version {SIGNATURES_FORMAT_VERSION}"
    entries: list[dict[str, Any]] = document["signatures"]
    if not all(isinstance(e, dict) for e in entries):
        return "a signature is not a JSON object"
    if _render(entries).encode("utf-8") != data:
        # Same values, other bytes: drready never writes that, so something edited the file.
        return "altered (not byte for byte as drready writes it)"
    return entries


def _payload(entry: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in entry.items() if k != "signature"}
    body["purpose"] = PURPOSE
    return canonical_json(body).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes | None:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    # Base64 has spare bits: only the one spelling drready writes is accepted.
    return data if _b64(data) == text else None


def _sign(key: PrivateKey, payload: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(payload)
    return key.sign(payload, ec.ECDSA(hashes.SHA256()))


def _matches(key: PublicKey, signature: bytes, payload: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, payload)
        else:
            key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# -- checking -------------------------------------------------------------------------------------


def _str(entry: Mapping[str, Any], name: str) -> str | None:
    value = entry.get(name)
    return value if isinstance(value, str) else None


def _check_entry(
    number: int, entry: Mapping[str, Any], manifest_digest: str, first: Mapping[str, Any] | None
) -> Signer:
    key_sha256 = _str(entry, "public_key_sha256") or "?"
    signer = Signer(
        number=number,
        role=_str(entry, "role") or "?",
        algorithm=_str(entry, "algorithm") or "?",
        key_sha256=key_sha256,
        signed_at=_str(entry, "signed_at") or "?",
        name=_str(entry, "name"),
        certificate_sha256=_str(entry, "certificate_sha256"),
        certificate_subject=_str(entry, "certificate_subject"),
    )

    def bad(problem: str) -> Signer:
        return replace(signer, problem=problem)

    missing = [n for n in _REQUIRED if not isinstance(entry.get(n), str)]
    if missing:
        return bad(f"malformed (no {', '.join(missing)})")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        return bad(f"malformed (unknown field {', '.join(unknown)})")
    wanted_role = SIGNER if number == 1 else COUNTERSIGNER
    if entry["role"] != wanted_role:
        return bad(f"role {entry['role']!r}; signature {number} can only be a {wanted_role}")
    if entry["algorithm"] not in ALGORITHMS:
        return bad(f"unknown algorithm {entry['algorithm']!r}")
    try:
        key = serialization.load_pem_public_key(entry["public_key"].encode("ascii"))
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm):
        return bad("its public key is not a PEM public key")
    if algorithm_of(key) != entry["algorithm"] or not isinstance(
        key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
    ):
        return bad(f"its public key is not an {entry['algorithm']} key")
    if public_pem(key) != entry["public_key"] or key_fingerprint(key) != key_sha256:
        return bad("its public key and fingerprint disagree (altered)")
    certificate = entry.get("certificate")
    if certificate is not None or "certificate_sha256" in entry:
        problem = _check_certificate(entry, key_sha256)
        if problem is not None:
            return bad(problem)
    if "countersigns" in entry:
        if number == 1 or first is None or entry["countersigns"] != first.get("signature"):
            return bad("does not countersign signature 1 as it is")
    elif number > 1:
        return bad("a countersignature without the signature it countersigns")
    if entry["manifest_sha256"] != manifest_digest:
        return bad(
            f"signed another manifest (sha256 {entry['manifest_sha256'][:16]}…, {MANIFEST} is "
            f"{manifest_digest[:16]}…): altered manifest"
        )
    signature = _unb64(entry["signature"])
    if signature is None or not _matches(key, signature, _payload(entry)):
        return bad("does not match: wrong key or altered manifest or signature")
    return signer


def _check_certificate(entry: Mapping[str, Any], key_sha256: str) -> str | None:
    text = entry.get("certificate")
    if not isinstance(text, str) or not isinstance(entry.get("certificate_sha256"), str):
        return "malformed (certificate without certificate_sha256, or the reverse)"
    try:
        certificate = x509.load_pem_x509_certificate(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return "its certificate is not a PEM certificate"
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    der = certificate.public_bytes(serialization.Encoding.DER)
    if pem != text or hashlib.sha256(der).hexdigest() != entry["certificate_sha256"]:
        return "its certificate and fingerprint disagree (altered)"
    if key_fingerprint(certificate.public_key()) != key_sha256:  # type: ignore[arg-type]
        return "its certificate is for another key"
    return None


def check_signatures(run_dir: Path, trusted: Sequence[TrustedKey] | None = None) -> SignatureCheck:
    """Check every signature of ``run_dir`` against its manifest as it is now and, when
    ``trusted`` is given (even empty), against the trust list. Problems name the file and the
    first signature that fails; an unsigned bundle is a problem only with a trust list."""
    run_dir = Path(run_dir)
    entries = read_signatures(run_dir)
    if entries is None:
        missing = f"{SIGNATURES}: signature missing (not signed)"
        return SignatureCheck(False, (), () if trusted is None else (missing,))
    if isinstance(entries, str):
        return SignatureCheck(True, (), (f"{SIGNATURES}: {entries}",))
    if not entries:
        return SignatureCheck(True, (), (f"{SIGNATURES}: signature missing (an empty list)",))
    manifest = run_dir / MANIFEST
    manifest_digest = file_digest(manifest)[0] if manifest.is_file() else "0" * 64
    trusted_keys = {t.key_sha256 for t in trusted or ()}
    signers: list[Signer] = []
    for number, entry in enumerate(entries, start=1):
        signer = _check_entry(number, entry, manifest_digest, entries[0] if number > 1 else None)
        if trusted is not None:
            signer = replace(signer, trusted=signer.key_sha256 in trusted_keys)
        signers.append(signer)
    problems = [f"{SIGNATURES}: {s.label()} {s.problem}" for s in signers if s.problem]
    if trusted is not None and not any(s.valid and s.trusted for s in signers):
        keys = ", ".join(s.key_sha256[:16] + "…" for s in signers)
        problems.append(f"{SIGNATURES}: not signed by a trusted key (signed by key {keys})")
    return SignatureCheck(True, tuple(signers), tuple(problems))


# -- signing ------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _combined_parent(run_dir: Path) -> Path | None:
    """The combined run whose manifest lists ``run_dir`` as a part, if any."""
    parent = run_dir.resolve().parent
    try:
        manifest = json.loads((parent / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    parts = manifest.get("parts") if isinstance(manifest, dict) else None
    if manifest.get("kind") == "combined" and isinstance(parts, dict):
        return parent if run_dir.resolve().name in parts else None
    return None


def sign_bundle(
    run_dir: Path,
    key: PrivateKey,
    *,
    countersign: bool = False,
    certificate: Path | None = None,
    name: str | None = None,
    signed_at: str | None = None,
) -> Signer:
    """Sign ``run_dir``'s manifest (or countersign its first signature) and write
    ``signatures.json``. Refuses (:class:`BundleError`, one line) a run directory whose bundle
    does not verify, a class's directory of a combined run, a second primary signature, a
    countersignature of an unsigned or no longer valid bundle, and a key that already signed."""
    from drready.bundle.verify import verify_bundle

    run_dir = Path(run_dir)
    parent = _combined_parent(run_dir)
    if parent is not None:
        raise BundleError(
            f"{run_dir}: a class's directory of the combined run {parent}; sign {parent} (its "
            f"{MANIFEST} covers this one)"
        )
    if not (run_dir / MANIFEST).is_file():
        raise BundleError(f"{run_dir}: no evidence bundle ({MANIFEST} missing); nothing to sign")
    problems = verify_bundle(run_dir)
    if problems:
        raise BundleError(f"{run_dir}: the bundle does not verify, not signing: {problems[0]}")
    existing = read_signatures(run_dir)
    if isinstance(existing, str):
        raise BundleError(f"{run_dir / SIGNATURES}: {existing}; not signing")
    entries = existing or []
    check = check_signatures(run_dir)
    if check.problems:
        raise BundleError(f"{run_dir}: {check.problems[0]}; not signing")
    fingerprint = key_fingerprint(key.public_key())
    if not countersign and entries:
        raise BundleError(
            f"{run_dir}: already signed (signature 1 by key {check.signers[0].key_sha256[:16]}…); "
            f"add --countersign to countersign it, or delete {SIGNATURES} to sign anew"
        )
    if countersign and not entries:
        raise BundleError(f"{run_dir}: not signed yet; sign it first (without --countersign)")
    if any(s.key_sha256 == fingerprint for s in check.signers):
        raise BundleError(f"{run_dir}: this key ({fingerprint[:16]}…) has already signed it")
    algorithm = algorithm_of(key)
    assert algorithm is not None
    public = key.public_key()
    entry: dict[str, Any] = {
        "role": COUNTERSIGNER if countersign else SIGNER,
        "algorithm": algorithm,
        "public_key": public_pem(public),
        "public_key_sha256": fingerprint,
    }
    if name:
        entry["name"] = name
    if certificate is not None:
        cert = load_certificate(certificate, key)
        entry["certificate"] = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        entry["certificate_sha256"] = hashlib.sha256(
            cert.public_bytes(serialization.Encoding.DER)
        ).hexdigest()
        entry["certificate_subject"] = cert.subject.rfc4514_string()
    entry["signed_at"] = signed_at or _now()
    entry["manifest_sha256"] = file_digest(run_dir / MANIFEST)[0]
    if countersign:
        entry["countersigns"] = entries[0]["signature"]
    entry["signature"] = _b64(_sign(key, _payload(entry)))
    write_atomic(run_dir / SIGNATURES, _render([*entries, entry]))
    signed = check_signatures(run_dir)
    return signed.signers[-1]
