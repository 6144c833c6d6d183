"""Who signed the bundle, read from ``signatures.json`` when the declaration is made: signing
comes after the run, and possibly after an earlier rendering of this page."""

from __future__ import annotations

from pathlib import Path

from drready.bundle import COUNTERSIGNER, SIGNER, check_signatures
from drready.report.declaration.model import SignatureRow

ROLE_LABELS = {
    SIGNER: ("署名者", "Signed by"),
    COUNTERSIGNER: ("副署者", "Countersigned by"),
}


def signature_rows(run_dir: Path) -> list[SignatureRow]:
    """One row per signature of the run directory's bundle, each checked against its key and
    the manifest as it is now (not against a trust list: the page cannot know whom to trust)."""
    check = check_signatures(run_dir)
    if check.signed and not check.signers:
        # signatures.json is there but unreadable: say so rather than show nothing.
        return [
            SignatureRow(
                number=0,
                role_ja="署名",
                role_en="Signatures",
                name="",
                algorithm="",
                signed_at="",
                key_sha256="",
                certificate_sha256="",
                certificate_subject="",
                status_ja=f"署名ファイルが不正です: {check.problems[0]}",
                status_en=f"The signatures file is not valid: {check.problems[0]}",
                flagged=True,
            )
        ]
    rows = []
    for signer in check.signers:
        role_ja, role_en = ROLE_LABELS.get(signer.role, (signer.role, signer.role))
        if signer.valid:
            status_ja = "有効 (公開鍵とマニフェストに一致)"
            status_en = "valid (matches its public key and the manifest)"
        else:
            status_ja = f"無効: {signer.problem}"
            status_en = f"INVALID: {signer.problem}"
        rows.append(
            SignatureRow(
                number=signer.number,
                role_ja=role_ja,
                role_en=role_en,
                name=signer.name or signer.certificate_subject or "",
                algorithm=signer.algorithm,
                signed_at=signer.signed_at,
                key_sha256=signer.key_sha256,
                certificate_sha256=signer.certificate_sha256 or "",
                certificate_subject=signer.certificate_subject or "",
                status_ja=status_ja,
                status_en=status_en,
                flagged=not signer.valid,
            )
        )
    return rows
