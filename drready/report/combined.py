"""The combined report of a run of several parts (device classes, or units).

Such a run is one child run per part (``drready run --simulate CLASS`` or ``--profile FILE``), each
writing its own ``report.json``, ``junit.xml`` and ``evidence.jsonl`` in ``RUN_DIR/<part>/`` (the
part's ``name``: its class, or a unit's name). The combined ``RUN_DIR/report.json`` has
``device_class: null``, the classes in ``device_classes`` (each once), one entry per part in
``parts`` (its ``name``, its ``unit``, where its report is, whether it finished, its exit status and
summary, and in ``usage`` what its child process cost: wall time, CPU time, peak RSS), every
requirement of every unit in catalog order, and the summary over them. The parts of one unit are
bindings of one device design (``battery``, ``battery-openadr3``...): each requirement of the unit
is one verdict folded over them (:mod:`drready.report.folding`), tagged with its ``unit`` and
listing each part's own verdict in ``bindings``; a unit of one part also keeps its ``part``. A part
whose run left no report (interrupted before it started, killed) still has all its requirements,
each ``not-tested`` with the reason. *-ID's uniqueness across the units is checked here
(:mod:`drready.report.units`). A shard of a run (``drready run --shard K/N``) says so in ``shard``:
``index`` K, ``count`` N and the names of all the run's ``parts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from drready import __version__
from drready.catalog import for_class, ids
from drready.report.folding import fold_units
from drready.report.json_report import REPORT_SCHEMA_VERSION, load_report
from drready.report.run_document import format_counts, format_rows
from drready.report.units import check_unique_identities
from drready.report.verdicts import RequirementVerdict, Verdict, summary
from drready.run.ledger import PartResult

__all__ = [
    "PartResult",
    "bindings_text",
    "build_combined",
    "format_combined",
    "format_parts",
    "is_combined",
]


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _load_part(run_dir: Path, part: PartResult) -> tuple[dict[str, Any] | None, str | None]:
    """The part's own report, or None and why not."""
    path = run_dir / part.part / "report.json"
    try:
        document = load_report(path)
    except FileNotFoundError:
        return None, "it left no report"
    except (OSError, json.JSONDecodeError, jsonschema.ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"its report is not valid: {first}"
    if document.get("run_id") != part.run_id:
        # A report left in this directory by an earlier run is not this run's.
        return None, "it left no report"
    if document.get("device_class") != part.device_class:
        return None, f"its report is of class {document.get('device_class')!r}"
    return document, None


#: ``drready run``'s exit status when interrupted (drready.cli.status.EXIT_INTERRUPTED; the CLI
#: sits above this layer).
_EXIT_INTERRUPTED = 130


def _missing_requirements(part: PartResult, why: str) -> list[dict[str, Any]]:
    reason = f"the {part.part} run {why}"
    return [
        RequirementVerdict(requirement, Verdict.NOT_TESTED, reason).to_json()
        for requirement in for_class(part.device_class)
    ]


def _counts(requirements: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = summary(())
    for requirement in requirements:
        counts[requirement["verdict"]] = counts.get(requirement["verdict"], 0) + 1
    return counts


def _prefixed(directory: str, evidence: dict[str, Any]) -> dict[str, Any]:
    out = dict(evidence)
    if "file" in out:
        out["file"] = f"{directory}/{out['file']}"
    return out


def _bundle_problem(document: Mapping[str, Any]) -> str | None:
    """Why the part's own evidence bundle was not written, as its report says."""
    problem = document.get("bundle_problem")
    return None if problem is None else f"evidence bundle not written: {problem}"


def _usage(part: PartResult) -> dict[str, Any]:
    """The part's ``usage`` (what its child process cost), when the parent measured it."""
    return {} if part.usage is None else {"usage": part.usage.to_json()}


def _part_entry(
    run_dir: Path, part: PartResult, document: dict[str, Any] | None, problem: str | None
) -> dict[str, Any]:
    cls = part.device_class
    name = part.part
    junit = run_dir / name / "junit.xml"
    if document is None:
        return {
            "name": name,
            "unit": part.unit_name,
            "device_class": cls,
            "run_id": part.run_id,
            "report": None,
            "junit": None,
            "complete": False,
            "exit_status": part.exit_status,
            "problem": problem,
            "started_at": None,
            "finished_at": None,
            "summary": {**summary(()), str(Verdict.NOT_TESTED): len(for_class(cls))},
            "topology": None,
            "binding": None,
            "simulated": True,
            "faults": [],
            "profile": None,
            "device": {},
            **_usage(part),
        }
    entry = {
        "name": name,
        "unit": part.unit_name,
        "device_class": cls,
        "run_id": document["run_id"],
        "report": f"{name}/report.json",
        "junit": f"{name}/junit.xml" if junit.is_file() else None,
        "complete": bool(document["complete"]) and problem is None,
        "exit_status": part.exit_status,
        "problem": problem,
        "started_at": document.get("started_at"),
        "finished_at": document.get("finished_at"),
        "summary": document["summary"],
        "topology": document.get("topology"),
        "binding": document.get("binding"),
        "simulated": document["simulated"],
        "faults": document.get("faults", []),
        "profile": document.get("profile"),
        "device": document.get("device", {}),
        **_usage(part),
    }
    for key in ("seed", "start"):
        if key in document:
            entry[key] = document[key]
    if "device_time" in document:
        entry["device_time"] = document["device_time"]
    if "evidence" in document:
        entry["evidence"] = _prefixed(name, document["evidence"])
    return entry


def build_combined(
    run_id: str,
    run_dir: Path,
    parts: Sequence[PartResult],
    *,
    started_at: float,
    finished_at: float | None,
    exit_status: int | None,
    version: str = __version__,
    shard: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """The combined document, from the parts' reports as they are on disk now. ``shard``: this
    run is one share of a run's parts (``{"index": K, "count": N, "parts": [every name]}``)."""
    entries: list[dict[str, Any]] = []
    requirements: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    covered = 0.0
    for part in parts:
        document, why = _load_part(run_dir, part)
        problem = part.problem
        if document is None:
            if problem is None and part.exit_status == _EXIT_INTERRUPTED:
                why = "was interrupted before it wrote a report"
            problem = problem or why
            mine = _missing_requirements(part, problem or "left no report")
        else:
            mine = document["requirements"]
            problem = problem or _bundle_problem(document)
        requirements += [{**requirement, "part": part.part} for requirement in mine]
        if document is not None:
            covered += float(document.get("device_time", {}).get("covered_s", 0.0))
            notes += [n for n in document.get("policy_notes", []) if n not in notes]
        entries.append(_part_entry(run_dir, part, document, problem))
    check_unique_identities(entries, requirements)
    for entry in entries:  # the part's counts after the checks across parts
        entry["summary"] = _counts(r for r in requirements if r["part"] == entry["name"])
    requirements = fold_units(entries, requirements)
    order = {rid: index for index, rid in enumerate(ids())}
    requirements.sort(key=lambda r: order.get(r["id"], len(order)))
    combined: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "harness": {"name": "drready", "version": version},
        "run_id": run_id,
        "complete": all(e["complete"] for e in entries),
        "exit_status": exit_status,
        "started_at": _iso(started_at),
        "finished_at": _iso(finished_at),
        "device_time": {"start": None, "end": None, "covered_s": round(covered, 3)},
        "device_class": None,
        "device_classes": list(dict.fromkeys(p.device_class for p in parts)),
        "topology": None,
        "binding": None,
        "simulated": all(e["simulated"] for e in entries),
        "faults": sorted({f for e in entries for f in e["faults"]}),
        "profile": None,
        "device": {},
        "policy_notes": notes,
        "requirements": requirements,
        "summary": _counts(requirements),
        "parts": entries,
    }
    if seed is not None:
        combined["seed"] = seed
    if shard is not None:
        combined["shard"] = dict(shard)
    return combined


def is_combined(document: dict[str, Any]) -> bool:
    return "parts" in document


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing"


def format_parts(document: dict[str, Any]) -> list[str]:
    """One line per part: finished or not, exit status, counts, where its report is."""
    lines = []
    for part in document["parts"]:
        state = "complete" if part["complete"] else "INCOMPLETE"
        status = part["exit_status"]
        exit_text = f"exit {status if status is not None else '-'}"
        where = part["report"] or "no report"
        name = part.get("name") or part["device_class"]
        width = max([9, *(len(str(p.get("name") or "")) for p in document["parts"])])
        line = f"{name:<{width}} {state:<10} {exit_text:<8}  {where}: "
        line += _counts_text(part["summary"])
        if part.get("problem"):
            line += f" ({part['problem']})"
        lines.append(line)
    return lines


#: How the bindings column abbreviates each part's verdict.
_SHORT = {
    "pass": "pass",
    "fail": "FAIL",
    "inconclusive": "INCONCL",
    "not-applicable": "n/a",
    "not-tested": "-",
    "declared": "decl",
}


def bindings_text(requirement: dict[str, Any]) -> str:
    """Which bindings exercised a requirement, each with its own outcome (``echonet:pass
    openadr3:-``: ``-`` not tested over it, ``n/a`` not applicable)."""
    return " ".join(
        f"{b['binding']}:{_SHORT.get(b['verdict'], b['verdict'])}"
        for b in requirement.get("bindings", [])
    )


def format_combined(document: dict[str, Any]) -> list[str]:
    """The requirement table of every unit (with a bindings column when a unit was tested over
    several), then one line per part."""
    requirements = document["requirements"]
    # Several units of one class: each row says whose it is.
    units = {r.get("unit") or r.get("part") for r in requirements}
    several = len(units) > len(document["device_classes"])

    def label(requirement: dict[str, Any]) -> str:
        unit = requirement.get("unit") or requirement.get("part")
        return f"{requirement['id']} {unit}" if several and unit else str(requirement["id"])

    rows = [(label(r), r["verdict"], r["reason"]) for r in requirements]
    column = None
    if any(len(r.get("bindings", [])) > 1 for r in requirements):
        column = [bindings_text(r) for r in requirements]
    table, counts = format_rows(rows, max([12, *(len(row[0]) for row in rows)]), column)
    return [*table, *format_parts(document), *format_counts(counts)]
