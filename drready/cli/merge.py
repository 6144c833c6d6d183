"""``drready merge RUN... --report-dir DIR``: runs made on different machines as one run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_merge_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    merge = sub.add_parser(
        "merge",
        help="combine shards or part runs made on different machines into one run and bundle",
    )
    merge.add_argument(
        "runs",
        nargs="+",
        type=Path,
        metavar="RUN",
        help="a shard's (combined) run directory, or one part's run directory",
    )
    merge.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help="where the merged run goes, new or empty (default: reports/<run-id>)",
    )
    merge.add_argument(
        "--run-id", metavar="ID", help="name of the merged run (default: date, time, random tag)"
    )


def cmd_merge(args: argparse.Namespace) -> int:
    """0: every part merged and passed; 1: parts missing or not passed; 2: refused."""
    from drready.bundle import BundleError
    from drready.bundle.merge import merge_runs
    from drready.cli.run import _run_id
    from drready.report.combined import format_combined

    run_id = _run_id(args)
    out_dir: Path = args.report_dir or Path("reports") / run_id
    try:
        merged = merge_runs(args.runs, out_dir, run_id)
    except BundleError as exc:
        print(f"drready: {exc}", file=sys.stderr)
        return 1
    for line in format_combined(merged.report):
        print(line)
    print(f"report: {merged.run_dir / 'report.json'}", flush=True)
    if merged.missing:
        print(
            f"drready: merge: incomplete, no input holds part {', '.join(merged.missing)}: "
            "its requirements are not-tested",
            file=sys.stderr,
        )
    return merged.exit_status
