"""Keys for the signing and review tests, generated with cryptography and written as PEM files
(no key is committed)."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def write_private(path: Path, key: object, password: bytes | None = None) -> Path:
    assert hasattr(key, "private_bytes")
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def write_public(path: Path, key: PrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def write_certificate(path: Path, key: PrivateKey, common_name: str) -> Path:
    """A self-signed certificate for ``key``."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    certificate = builder.sign(key, algorithm)
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


class Keys:
    """A maker's Ed25519 key, an industry body's ECDSA P-256 key and a stranger's, as PEM files."""

    def __init__(self, folder: Path) -> None:
        self.maker = ed25519.Ed25519PrivateKey.generate()
        self.body = ec.generate_private_key(ec.SECP256R1())
        self.stranger = ed25519.Ed25519PrivateKey.generate()
        self.maker_key = write_private(folder / "maker.pem", self.maker)
        self.maker_pub = write_public(folder / "maker.pub.pem", self.maker)
        self.body_key = write_private(folder / "body.pem", self.body)
        self.body_pub = write_public(folder / "body.pub.pem", self.body)
        self.stranger_key = write_private(folder / "stranger.pem", self.stranger)
        self.stranger_pub = write_public(folder / "stranger.pub.pem", self.stranger)
