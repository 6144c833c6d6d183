"""``drready catalog``, ``profile``, ``report`` and ``diff``: reading what exists (``verify``
is in :mod:`drready.cli.sign`, with the signatures)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drready.cli.status import EXIT_INTERRUPTED, PYTEST_INTERRUPTED
from drready.errors import UsageError


def cmd_catalog(args: argparse.Namespace) -> int:
    from drready import catalog

    reqs = catalog.for_class(args.device_class) if args.device_class else catalog.CATALOG.values()
    if args.json:
        print(json.dumps(catalog.to_json(reqs), ensure_ascii=False, indent=2))
    else:
        print(catalog.format_table(reqs, args.lang))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from drready.model import DeviceClass
    from drready.profile import default_profile, load_profile

    if args.file and args.device_class:
        raise UsageError("profile: give a FILE or --class CLASS (a built-in profile), not both")
    # A ProfileError is a UsageError: one line, exit status 2.
    if args.file:
        profile = load_profile(args.file)
    else:
        profile = default_profile(args.device_class or DeviceClass.BATTERY)
    print(json.dumps(profile.to_json(), ensure_ascii=False, indent=2))
    return 0


def _render_declaration(args: argparse.Namespace) -> int:
    from drready.cli.sign import declaration_output
    from drready.report.declaration import DeclarationError, render_html, render_pdf
    from drready.report.json_report import write_atomic

    out: Path = declaration_output(args.run_dir, args.output, args.format)
    try:
        if args.format == "pdf":
            render_pdf(args.run_dir, out)
        else:
            # Evidence links are relative to the run directory; written elsewhere, the page
            # points back to it.
            here = out.parent.resolve() == args.run_dir.resolve()
            base = None if here else args.run_dir.resolve().as_uri() + "/"
            write_atomic(out, render_html(args.run_dir, base_href=base))
    except DeclarationError as exc:
        raise UsageError(str(exc)) from None
    print(out)
    if out.parent.resolve() == args.run_dir.resolve() and (args.run_dir / "manifest.json").exists():
        # The declaration joins the bundle, marked as added after the run.
        from drready.bundle import BundleError, write_manifest

        try:
            write_manifest(args.run_dir)
        except BundleError as exc:
            print(f"drready: {out} written, but not added to the bundle: {exc}", file=sys.stderr)
            return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import jsonschema

    if args.format != "text":
        return _render_declaration(args)

    from drready.report.combined import format_combined, is_combined
    from drready.report.json_report import load_report
    from drready.report.run_document import format_table

    path = args.run_dir / "report.json"
    try:
        document = load_report(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no report here (expected a run directory)") from None
    except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise UsageError(f"{path}: not a valid drready report: {first}") from None
    combined = is_combined(document)
    status = document.get("exit_status")
    if document["complete"]:
        state = "complete"
    elif status is None or status == (EXIT_INTERRUPTED if combined else PYTEST_INTERRUPTED):
        state = "INCOMPLETE (interrupted)"
    else:
        state = f"INCOMPLETE (exit status {status})"
    classes = ", ".join(document["device_classes"]) if combined else document["device_class"]
    print(f"run {document['run_id']} ({state}), {classes}, simulated={document['simulated']}")
    if combined:
        lines = format_combined(document)
    else:
        lines = format_table((r["id"], r["verdict"], r["reason"]) for r in document["requirements"])
    for line in lines:
        print(line)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """Exit 0 when nothing changed, 1 when something did (as diff(1) does), 2 on a bad run."""
    from drready.report.diff import DiffError, diff_runs, format_diff, to_json

    try:
        a, b, changes = diff_runs(args.run_a, args.run_b)
    except DiffError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(to_json(changes))
    else:
        for line in format_diff(args.run_a, a, args.run_b, b, changes):
            print(line)
    return 1 if changes else 0
