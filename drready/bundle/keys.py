"""The keys of bundle signatures: Ed25519 or ECDSA P-256 private keys to sign with (PEM, maybe
encrypted), public keys or certificates to trust, and a key's fingerprint (the SHA-256 of its DER
SubjectPublicKeyInfo)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from drready.bundle.layout import BundleError

#: Where an encrypted private key's passphrase is read from (never from the command line).
PASSPHRASE_ENV = "DRREADY_KEY_PASSPHRASE"
ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256-sha256"
ALGORITHMS = (ED25519, ECDSA_P256)

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class TrustedKey:
    """A key given with ``--trust``: its fingerprint and the file it came from."""

    key_sha256: str
    source: str


def algorithm_of(key: object) -> str | None:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return ECDSA_P256
    return None


def public_pem(key: PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_fingerprint(key: PublicKey) -> str:
    """SHA-256 (hex) of the key's DER SubjectPublicKeyInfo."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def load_private_key(path: Path, passphrase: bytes | None = None) -> PrivateKey:
    """An Ed25519 or ECDSA P-256 private key from a PEM file; ``passphrase`` defaults to the
    environment variable :data:`PASSPHRASE_ENV`. Raises :class:`BundleError` in one line."""
    data = _read(path, "private key")
    if passphrase is None and os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV].encode("utf-8")
    if passphrase is not None and b"ENCRYPTED" not in data:
        # A passphrase left in the environment for another key: this one needs none.
        passphrase = None
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        raise BundleError(
            f"{path}: the private key is encrypted; put its passphrase in {PASSPHRASE_ENV}"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        if b"ENCRYPTED" in data and passphrase is not None:
            raise BundleError(
                f"{path}: cannot decrypt the private key: wrong passphrase in {PASSPHRASE_ENV}?"
            ) from None
        raise BundleError(
            f"{path}: not a PEM private key (expected an Ed25519 or ECDSA P-256 key, e.g. from "
            "openssl genpkey -algorithm ed25519)"
        ) from None
    if algorithm_of(key) is None or not isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    ):
        raise BundleError(
            f"{path}: a {type(key).__name__.removeprefix('_')} key; expected Ed25519 or ECDSA "
            "P-256 (secp256r1)"
        )
    return key


def _public_key_of(path: Path, data: bytes) -> PublicKey:
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            key: Any = x509.load_pem_x509_certificate(data).public_key()
        except ValueError as exc:
            raise BundleError(f"{path}: not a PEM certificate ({exc})") from None
    else:
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise BundleError(
                f"{path}: not a PEM public key or certificate (expected -----BEGIN PUBLIC KEY----- "
                "or -----BEGIN CERTIFICATE-----)"
            ) from None
    if algorithm_of(key) is None:
        raise BundleError(f"{path}: expected an Ed25519 or ECDSA P-256 public key")
    assert isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey)
    return key


def load_trusted(path: Path) -> TrustedKey:
    """A key to trust: a PEM public key or certificate (its key is what counts)."""
    key = _public_key_of(path, _read(path, "trusted key"))
    return TrustedKey(key_fingerprint(key), str(path))


def load_certificate(path: Path, key: PrivateKey) -> x509.Certificate:
    try:
        certificate = x509.load_pem_x509_certificate(_read(path, "certificate"))
    except ValueError:
        raise BundleError(f"{path}: not a PEM certificate") from None
    if key_fingerprint(certificate.public_key()) != key_fingerprint(key.public_key()):  # type: ignore[arg-type]
        raise BundleError(f"{path}: the certificate is not for this private key")
    return certificate
