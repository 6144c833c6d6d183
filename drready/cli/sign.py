"""``drready sign``, ``verify --trust`` and ``review``: who vouches for a bundle, and many
bundles checked at once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from drready.errors import UsageError

if TYPE_CHECKING:
    from drready.bundle import TrustedKey


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``sign`` and ``review`` subcommands."""
    sign = sub.add_parser(
        "sign",
        help="sign a run's evidence bundle (its manifest digest) with an Ed25519 or ECDSA P-256 "
        "key, or countersign it",
    )
    sign.add_argument("run_dir", type=Path, metavar="RUN")
    sign.add_argument(
        "--key",
        type=Path,
        required=True,
        metavar="KEY.pem",
        help="PEM private key (an encrypted one reads its passphrase from DRREADY_KEY_PASSPHRASE)",
    )
    sign.add_argument(
        "--countersign",
        action="store_true",
        help="add a countersignature: vouches for the first signature and the same manifest",
    )
    sign.add_argument(
        "--cert", type=Path, metavar="CERT.pem", help="the key's certificate, stored beside it"
    )
    sign.add_argument("--name", metavar="TEXT", help="who signs, as the declaration shows it")

    review = sub.add_parser(
        "review",
        help="verify every bundle under the folders and write one summary (review.json, "
        "review.html)",
    )
    review.add_argument("dirs", type=Path, nargs="+", metavar="DIR")
    review.add_argument(
        "--trust",
        type=Path,
        action="append",
        metavar="PUB.pem",
        help="a trusted public key or certificate (repeatable); every bundle must be signed by one",
    )
    review.add_argument(
        "--jcstar-list",
        type=Path,
        metavar="FILE",
        help="IPA's list of JC-STAR compliant products, to re-check each *-3.1 against",
    )
    review.add_argument(
        "--output-dir",
        type=Path,
        default=Path("."),
        metavar="OUT",
        help="where review.json and review.html go (default: the current directory)",
    )


def _trusted(paths: Sequence[Path] | None) -> list[TrustedKey] | None:
    from drready.bundle import BundleError, load_trusted

    if paths is None:
        return None
    try:
        return [load_trusted(path) for path in paths]
    except BundleError as exc:
        raise UsageError(f"--trust {exc}") from None


def cmd_sign(args: argparse.Namespace) -> int:
    from drready.bundle import BundleError, load_private_key, sign_bundle

    try:
        key = load_private_key(args.key)
        signer = sign_bundle(
            args.run_dir, key, countersign=args.countersign, certificate=args.cert, name=args.name
        )
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    print(f"{args.run_dir}: {signer.label()} added ({signer.algorithm}, {signer.signed_at})")
    print(f"key sha256 {signer.key_sha256}")
    return 0


def signer_lines(run_dir: Path, trust: Sequence[Path] | None) -> tuple[list[str], list[str]]:
    """What verify says about the signatures: (lines to print, problems)."""
    from drready.bundle import check_signatures

    check = check_signatures(run_dir, _trusted(trust))
    lines = []
    for signer in check.signers:
        who = f' "{signer.name}"' if signer.name else ""
        if signer.problem is not None:
            state = "INVALID"
        elif signer.trusted is None:
            state = "valid"
        else:
            state = "valid, trusted" if signer.trusted else "valid, key not in --trust"
        lines.append(
            f"signature {signer.number}: {signer.role}{who}, {signer.algorithm}, key sha256 "
            f"{signer.key_sha256}, signed {signer.signed_at}: {state}"
        )
        if signer.certificate_sha256:
            lines.append(
                f"  certificate sha256 {signer.certificate_sha256} ({signer.certificate_subject})"
            )
    if check.signers and trust is None:
        lines.append("signers not checked against a trust list (give --trust PUB.pem)")
    return lines, list(check.problems)


def cmd_verify(args: argparse.Namespace) -> int:
    """0: untouched (and, with --trust, signed by a trusted key); 1: the first altered, missing
    or added file or record, or failing signature; 2: not a run."""
    from drready.bundle import BundleError, manifest_sha256, verify_bundle

    try:
        problems = verify_bundle(args.run_dir)
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    lines, signature_problems = signer_lines(args.run_dir, args.trust)
    problems += signature_problems
    if problems:
        print(f"{args.run_dir}: {problems[0]}")
        if len(problems) > 1:
            print(f"({len(problems) - 1} more problem{'s' * (len(problems) > 2)} after it)")
    else:
        print(f"{args.run_dir}: untouched (manifest sha256 {manifest_sha256(args.run_dir)})")
    for line in lines:
        print(line)
    return 1 if problems else 0


def declaration_output(run_dir: Path, output: Path | None, file_format: str) -> Path:
    """Where ``drready report --format html|pdf`` writes: into the run directory, unless it is
    signed (a new file there would void the signatures): then beside it."""
    from drready.bundle import SIGNATURES

    signed = (run_dir / SIGNATURES).exists()
    if output is None:
        if not signed:
            return run_dir / f"declaration.{file_format}"
        out = run_dir.parent / f"{run_dir.resolve().name}-declaration.{file_format}"
        print(
            f"drready: {run_dir} is signed; the declaration goes beside it, not into the bundle",
            file=sys.stderr,
        )
        return out
    if signed and output.resolve().is_relative_to(run_dir.resolve()):
        raise UsageError(
            f"--output {output}: {run_dir} is signed; a new file in it would void its signatures "
            "(write the declaration outside the run directory)"
        )
    return output


def cmd_review(args: argparse.Namespace) -> int:
    from drready.report.review import ReviewError, review, write_review

    trusted = _trusted(args.trust)
    try:
        result = review(args.dirs, trusted=trusted, jcstar_list=args.jcstar_list)
        json_path, html_path = write_review(result, args.output_dir)
    except ReviewError as exc:
        raise UsageError(str(exc)) from None
    unchecked = [b.jcstar.note for b in result.bundles if b.jcstar and not b.jcstar.checked]
    if unchecked:
        print(f"drready: JC-STAR: {unchecked[0]}", file=sys.stderr)
    failed = [b for b in result.bundles if not b.verified]
    for bundle in failed:
        print(f"drready: {bundle.path}: {bundle.problems[0]}", file=sys.stderr)
    print(
        f"{len(result.bundles)} bundle(s), {len(result.bundles) - len(failed)} verified, "
        f"{len(failed)} failed"
    )
    print(json_path)
    print(html_path)
    return 1 if failed else 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sign": cmd_sign,
    "verify": cmd_verify,
    "review": cmd_review,
}
