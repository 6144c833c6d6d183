"""``drready sign`` and ``drready verify --trust``: a signed bundle verifies with the right key,
fails with another, fails after any byte of any of its files changes, and a countersigned one
shows both signers, in verify's output and in the declaration."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from drready.bundle import (
    SIGNATURES,
    BundleError,
    check_signatures,
    key_fingerprint,
    load_private_key,
    load_trusted,
    verify_bundle,
    write_manifest,
)
from drready.canonical import digest
from drready.cli.main import main
from tests.sign.keyfiles import Keys, write_certificate, write_private

#: Its fixtures run whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

#: Every file of a signed single-class run's bundle (the run's, the bundle's, the signatures).
SIGNED_FILES = (
    "report.json",
    "junit.xml",
    "evidence.jsonl",
    "trace.pcapng",
    "http.har",
    "measurements.jsonl",
    "profile.json",
    "manifest.json",
    SIGNATURES,
)


def _drready(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _sign(capsys: pytest.CaptureFixture[str], run: Path, key: Path, *more: str) -> None:
    status, out, err = _drready(capsys, "sign", str(run), "--key", str(key), *more)
    assert status == 0, out + err


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# -------------------------------------------------------------------------- right and wrong key


def test_a_signed_bundle_verifies_with_the_signers_key(
    bundle: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    _sign(capsys, bundle, keys.maker_key, "--name", "Maker QA")
    status, out, err = _drready(capsys, "verify", str(bundle), "--trust", str(keys.maker_pub))
    assert status == 0, out + err
    assert out.startswith(f"{bundle}: untouched")
    fingerprint = key_fingerprint(keys.maker.public_key())
    assert f'signature 1: signer "Maker QA", ed25519, key sha256 {fingerprint}' in out
    assert "valid, trusted" in out
    # The signatures file is outside the manifest and not an "added" file.
    assert verify_bundle(bundle) == []
    assert SIGNATURES not in json.loads((bundle / "manifest.json").read_text())["files"]


def test_a_signed_bundle_fails_with_another_key(
    bundle: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    _sign(capsys, bundle, keys.maker_key)
    status, out, _ = _drready(capsys, "verify", str(bundle), "--trust", str(keys.stranger_pub))
    assert status == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{bundle}: {SIGNATURES}: not signed by a trusted key"), first
    assert "valid, key not in --trust" in out


def test_an_unsigned_bundle_fails_with_a_trust_list_and_is_unchanged_without(
    bundle: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _drready(capsys, "verify", str(bundle), "--trust", str(keys.maker_pub))
    assert status == 1
    assert out.splitlines()[0] == f"{bundle}: {SIGNATURES}: signature missing (not signed)"
    status, out, _ = _drready(capsys, "verify", str(bundle))
    assert status == 0
    assert out.splitlines() == [f"{bundle}: untouched (manifest sha256 {_sha256(bundle)})"]


def test_without_a_trust_list_signers_are_reported_but_not_trusted(
    bundle: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    _sign(capsys, bundle, keys.maker_key)
    status, out, _ = _drready(capsys, "verify", str(bundle))
    assert status == 0
    assert "signers not checked against a trust list" in out
    assert key_fingerprint(keys.maker.public_key()) in out


def _sha256(run: Path) -> str:
    return hashlib.sha256((run / "manifest.json").read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- any byte, any file


@pytest.fixture
def signed(bundle: Path, keys: Keys, capsys: pytest.CaptureFixture[str]) -> Path:
    _sign(capsys, bundle, keys.maker_key)
    _sign(capsys, bundle, keys.body_key, "--countersign")
    return bundle


def test_the_signed_bundle_holds_exactly_the_files_the_byte_test_changes(signed: Path) -> None:
    on_disk = sorted(p.relative_to(signed).as_posix() for p in signed.rglob("*") if p.is_file())
    assert on_disk == sorted(SIGNED_FILES)


@pytest.mark.parametrize("name", SIGNED_FILES)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_one_byte_change_in_any_file_fails_verification(
    signed: Path, keys: Keys, capsys: pytest.CaptureFixture[str], name: str, where: str
) -> None:
    path = signed / name
    size = path.stat().st_size
    _flip(path, {"first": 0, "middle": size // 2, "last": size - 1}[where])
    for trust in ([], ["--trust", str(keys.maker_pub)]):
        status, out, _ = _drready(capsys, "verify", str(signed), *trust)
        assert status == 1, f"{name} changed at its {where} byte went unnoticed: {out}"


def test_every_byte_of_the_signatures_file_is_covered(signed: Path) -> None:
    path = signed / SIGNATURES
    original = path.read_bytes()
    unnoticed = []
    for offset in range(len(original)):
        _flip(path, offset)
        if not check_signatures(signed).problems:
            unnoticed.append(offset)
        path.write_bytes(original)
    assert unnoticed == []
    assert check_signatures(signed).problems == ()


def _reseal(run: Path) -> None:
    """What someone who knows the format does after an edit: recompute the manifest."""
    path = run / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for name in manifest["files"]:
        data = (run / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    manifest["manifest_sha256"] = digest(body)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def test_a_verdict_changed_with_the_manifest_resealed_is_caught_by_the_signature(
    signed: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = signed / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report["summary"]["pass"] += 1
    report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    _reseal(signed)
    assert verify_bundle(signed) == [], "the bundle checks alone see this edit; pick another"
    status, out, _ = _drready(capsys, "verify", str(signed), "--trust", str(keys.maker_pub))
    assert status == 1
    first = out.splitlines()[0]
    assert "signature 1 (signer, key" in first
    assert "signed another manifest" in first and "altered manifest" in first


def test_a_signature_made_by_another_key_is_named(signed: Path, keys: Keys) -> None:
    """A signer entry whose key was swapped for another: the signature no longer matches."""
    path = signed / SIGNATURES
    document = json.loads(path.read_text(encoding="utf-8"))
    other = keys.stranger.public_key()
    entry = document["signatures"][0]
    from drready.bundle.keys import public_pem

    entry["public_key"] = public_pem(other)
    entry["public_key_sha256"] = key_fingerprint(other)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    problems = check_signatures(signed).problems
    fingerprint = key_fingerprint(other)[:16]
    assert problems[0] == (
        f"{SIGNATURES}: signature 1 (signer, key {fingerprint}…) does not match: wrong key or "
        "altered manifest or signature"
    )
    # The countersignature vouched for the original first signature, and still names it.
    assert check_signatures(signed).signers[1].valid


# ------------------------------------------------------------------------- countersigned bundle


def test_a_countersigned_bundle_shows_both_signers(
    bundle: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate = write_certificate(tmp_path / "body.crt", keys.body, "Example Industry Body")
    _sign(capsys, bundle, keys.maker_key, "--name", "Example Maker")
    _sign(capsys, bundle, keys.body_key, "--countersign", "--cert", str(certificate))
    # The body's certificate stands for its key in a trust list.
    status, out, err = _drready(capsys, "verify", str(bundle), "--trust", str(certificate))
    assert status == 0, out + err
    maker = key_fingerprint(keys.maker.public_key())
    body = key_fingerprint(keys.body.public_key())
    assert f'signature 1: signer "Example Maker", ed25519, key sha256 {maker}' in out
    assert f"signature 2: countersigner, ecdsa-p256-sha256, key sha256 {body}" in out
    check = check_signatures(bundle)
    cert_sha256 = check.signers[1].certificate_sha256
    assert cert_sha256 and f"certificate sha256 {cert_sha256} (CN=Example Industry Body)" in out

    status, out, err = _drready(capsys, "report", str(bundle), "--format", "html")
    assert status == 0, out + err
    page = Path(out.strip())
    # Signed: the declaration goes beside the run directory, which stays as signed.
    assert page == bundle.parent / f"{bundle.name}-declaration.html"
    assert verify_bundle(bundle) == [] and not check_signatures(bundle).problems
    html = page.read_text(encoding="utf-8")
    assert "署名者" in html and "Signed by" in html
    assert "副署者" in html and "Countersigned by" in html
    for text in ("Example Maker", maker, body, cert_sha256, "CN=Example Industry Body"):
        assert text in html
    assert html.count("有効 (公開鍵とマニフェストに一致)") == 2


def test_the_declaration_of_an_unsigned_run_says_it_is_not_signed(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _drready(capsys, "report", str(bundle), "--format", "html")
    assert status == 0, out + err
    html = (bundle / "declaration.html").read_text(encoding="utf-8")
    assert "This evidence bundle is not signed" in html
    # Signed after the declaration was rendered: the next rendering shows it.
    assert verify_bundle(bundle) == []


def test_a_countersignature_vouches_for_the_first_signature(
    signed: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-signing the bundle as signer with another key, keeping the countersignature: the
    countersignature no longer countersigns signature 1."""
    path = signed / SIGNATURES
    document = json.loads(path.read_text(encoding="utf-8"))
    counter = document["signatures"][1]
    path.unlink()
    _sign(capsys, signed, keys.stranger_key)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["signatures"].append(counter)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    status, out, _ = _drready(capsys, "verify", str(signed), "--trust", str(keys.body_pub))
    assert status == 1
    assert "signature 2 (countersigner" in out.splitlines()[0]
    assert "does not countersign signature 1 as it is" in out.splitlines()[0]


# ----------------------------------------------------------------------------------- refusals


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status, out, err = _drready(capsys, *argv)
    assert status == 2, out + err
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_signing_what_is_not_a_bundle_is_refused(
    tmp_path: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no evidence bundle" in _refused(
        capsys, "sign", str(empty), "--key", str(keys.maker_key)
    )


def test_signing_an_altered_bundle_is_refused(
    bundle: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip(bundle / "measurements.jsonl", 10)
    err = _refused(capsys, "sign", str(bundle), "--key", str(keys.maker_key))
    assert "the bundle does not verify, not signing: measurements.jsonl" in err
    assert not (bundle / SIGNATURES).exists()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSAPrivateKey"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "expected Ed25519 or ECDSA P-256"),
    ],
    ids=["rsa", "p384"],
)
def test_a_key_of_another_kind_is_refused(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, expected: str
) -> None:
    assert callable(make)
    key = write_private(tmp_path / "other.pem", make())
    assert expected in _refused(capsys, "sign", str(bundle), "--key", str(key))


def test_not_a_key_file_is_refused(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    assert "not a PEM private key" in _refused(capsys, "sign", str(bundle), "--key", str(junk))
    missing = tmp_path / "missing.pem"
    assert "cannot read the private key" in _refused(
        capsys, "sign", str(bundle), "--key", str(missing)
    )


def test_an_encrypted_key_needs_its_passphrase(
    bundle: Path,
    keys: Keys,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    locked = write_private(tmp_path / "locked.pem", keys.maker, password=b"correct horse")
    monkeypatch.delenv("DRREADY_KEY_PASSPHRASE", raising=False)
    err = _refused(capsys, "sign", str(bundle), "--key", str(locked))
    assert "encrypted; put its passphrase in DRREADY_KEY_PASSPHRASE" in err
    monkeypatch.setenv("DRREADY_KEY_PASSPHRASE", "wrong")
    assert "wrong passphrase" in _refused(capsys, "sign", str(bundle), "--key", str(locked))
    monkeypatch.setenv("DRREADY_KEY_PASSPHRASE", "correct horse")
    # A passphrase in the environment does not stand in the way of a key that needs none.
    assert key_fingerprint(load_private_key(keys.stranger_key).public_key()) == key_fingerprint(
        keys.stranger.public_key()
    )
    _sign(capsys, bundle, locked)
    assert check_signatures(bundle, [load_trusted(keys.maker_pub)]).problems == ()


def test_signing_twice_is_refused_and_countersigning_says_how(
    bundle: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(capsys, "sign", str(bundle), "--key", str(keys.body_key), "--countersign")
    assert "not signed yet" in err
    _sign(capsys, bundle, keys.maker_key)
    err = _refused(capsys, "sign", str(bundle), "--key", str(keys.body_key))
    assert "already signed" in err and "--countersign" in err
    err = _refused(capsys, "sign", str(bundle), "--key", str(keys.maker_key), "--countersign")
    assert "this key" in err and "has already signed it" in err


def test_a_certificate_for_another_key_is_refused(
    bundle: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate = write_certificate(tmp_path / "c.crt", keys.body, "Body")
    err = _refused(
        capsys, "sign", str(bundle), "--key", str(keys.maker_key), "--cert", str(certificate)
    )
    assert "not for this private key" in err


def test_a_bad_trust_file_is_a_usage_error(
    bundle: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A private key is not a trust anchor: only public keys and certificates are.
    err = _refused(capsys, "verify", str(bundle), "--trust", str(keys.maker_key))
    assert err.startswith(f"drready: --trust {keys.maker_key}: not a PEM public key")


def test_a_signed_run_takes_no_new_file(signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(
        capsys, "report", str(signed), "--format", "html", "--output", str(signed / "d.html")
    )
    assert "is signed; a new file in it would void its signatures" in err
    (signed / "note.txt").write_text("later\n")
    with pytest.raises(BundleError, match="void its signatures"):
        write_manifest(signed)


# ------------------------------------------------------------------------------- combined run


def test_a_combined_run_is_signed_at_its_top_only(
    combined: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(capsys, "sign", str(combined / "battery"), "--key", str(keys.maker_key))
    assert f"sign {combined}" in err
    _sign(capsys, combined, keys.maker_key)
    status, out, _ = _drready(capsys, "verify", str(combined), "--trust", str(keys.maker_pub))
    assert status == 0, out
    # A change inside a class's directory is a change of what was signed.
    _flip(combined / "heatpump" / "report.json", 5)
    status, out, _ = _drready(capsys, "verify", str(combined), "--trust", str(keys.maker_pub))
    assert status == 1 and out.startswith(f"{combined}: heatpump/"), out


def test_a_signatures_file_in_a_class_directory_is_named(
    combined: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    _sign(capsys, combined, keys.maker_key)
    shutil.copy(combined / SIGNATURES, combined / "battery" / SIGNATURES)
    problems = verify_bundle(combined)
    assert problems == [
        f"battery/{SIGNATURES}: not allowed in a class's directory (a combined run is signed at "
        "its top directory only)"
    ]
