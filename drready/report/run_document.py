"""Build the report document of a run, and the terminal summary table."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from drready.canonical import digest
from drready.catalog import (
    POLICY_PLAIN_ECHONET_LITE_EN,
    POLICY_PLAIN_ECHONET_LITE_JA,
    POLICY_TRANSPARENCY_EN,
    POLICY_TRANSPARENCY_JA,
    for_class,
)
from drready.evidence.redact import redact
from drready.model import Topology
from drready.report.json_report import REPORT_SCHEMA_VERSION
from drready.report.verdicts import RequirementVerdict, Verdict, fold, jcstar_check, summary
from drready.run.ledger import RunRecord
from drready.run.options import suites_dir
from drready.run.seeding import seeded_start

#: Terminal width of the reason column in the summary table.
REASON_WIDTH = 90


def _iso(timestamp: float | None, timespec: str = "seconds") -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec=timespec)


@cache
def suites_digest() -> str:
    """SHA-256 over the conformance suites that ran: every file's path and bytes, in order."""
    root = suites_dir()
    hasher = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        hasher.update(path.relative_to(root).as_posix().encode() + b"\0")
        hasher.update(path.read_bytes() + b"\0")
    return hasher.hexdigest()


def profile_digest(profile: dict[str, Any]) -> str:
    """SHA-256 of the effective profile as canonical JSON (sorted keys, no spaces)."""
    return digest(profile)


def run_verdicts(record: RunRecord) -> list[RequirementVerdict]:
    """One verdict per requirement of the record's device class, in catalog order."""
    return fold(for_class(record.device_class), record.outcomes, record.context)


def build_document(
    record: RunRecord, version: str, verdicts: Sequence[RequirementVerdict] | None = None
) -> dict[str, Any]:
    """The report document of ``record``; ``verdicts`` when the caller has folded them already
    (:func:`run_verdicts`)."""
    if verdicts is None:
        verdicts = run_verdicts(record)
    profile = record.profile
    binding = None
    if record.protocol is not None and record.topology is not None:
        binding = f"{record.protocol} ({record.topology})"
    start, end = record.device_time_start, record.device_time_end
    # start and end are on the harness's clock; a device whose clock runs time_scale times
    # faster lived that many more seconds of its own in between.
    elapsed = max(0.0, end - start) if end is not None and start is not None else 0.0
    covered = elapsed * profile.time_scale
    # The device's clock is taken to agree with the harness's at the start: its end is the start
    # plus what it covered. Milliseconds: the declaration reckons evidence times onto the
    # device's clock from this start, and at 60x a second of the harness is a device minute.
    device_end = end if start is None else start + covered
    notes = [{"ja": POLICY_TRANSPARENCY_JA, "en": POLICY_TRANSPARENCY_EN}]
    if record.topology is Topology.GATEWAY:
        # REQUIREMENTS.md policy notes: say plainly what plain ECHONET Lite control means.
        notes.insert(0, {"ja": POLICY_PLAIN_ECHONET_LITE_JA, "en": POLICY_PLAIN_ECHONET_LITE_EN})
    evidence: dict[str, Any] = {"file": "evidence.jsonl"}
    if record.evidence_records is not None:
        evidence["records"] = record.evidence_records
        evidence["head_digest"] = record.evidence_head_digest
    # Credentials of the server path (client secrets) never reach the report: redacted before
    # the digest, so the digest can be checked from the report itself.
    profile_json = redact(profile.to_json())
    digests = {"suites": suites_digest(), "profile": profile_digest(profile_json)}
    if "head_digest" in evidence:
        digests["evidence"] = evidence["head_digest"]
    listed = record.context.jcstar_list
    extra: dict[str, Any] = {}
    check = jcstar_check(record.context)
    if listed is not None:
        extra["jcstar_list"] = listed.to_json()
        if check is not None:
            extra["jcstar_list"]["check"] = {"passed": check.passed, "cause": check.cause}
        digests["jcstar_list"] = listed.sha256
    seed = record.options.seed
    if seed is not None and profile.is_simulated:
        extra["seed"] = seed
        extra["start"] = seeded_start(profile, seed).to_json()
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "harness": {"name": "drready", "version": version},
        "run_id": record.options.run_id,
        "complete": record.complete,
        "exit_status": record.exit_status,
        **({} if record.bundle_problem is None else {"bundle_problem": record.bundle_problem}),
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at),
        "device_time": {
            "start": _iso(start, "milliseconds"),
            "end": _iso(device_end, "milliseconds"),
            "covered_s": round(covered, 3),
        },
        "device_class": profile.device.device_class,
        "topology": None if record.topology is None else str(record.topology),
        "binding": binding,
        "simulated": profile.is_simulated,
        "faults": list(record.options.faults),
        **extra,
        "profile": profile_json,
        "device": dict(record.device_info),
        "policy_notes": notes,
        "requirements": [v.to_json() for v in verdicts],
        "summary": summary(verdicts),
        "evidence": evidence,
        "digests": digests,
    }


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_rows(
    rows: Iterable[tuple[str, str, str]],
    id_width: int = 12,
    bindings: Sequence[str] | None = None,
) -> tuple[list[str], dict[str, int]]:
    """The requirement table (a heading, one line per (id, verdict, reason)) and the counts of
    each verdict in it. ``bindings``: a column after the verdict, one text per row (which
    bindings exercised it, each with its outcome)."""
    rows = list(rows)
    if bindings is None:
        lines = [f"{'requirement':<{id_width}} {'verdict':<15} reason"]
        texts = [""] * len(rows)
        reason_width = REASON_WIDTH
    else:
        width = max([8, *(len(text) for text in bindings)])
        lines = [f"{'requirement':<{id_width}} {'verdict':<15} {'bindings':<{width}} reason"]
        texts = [f"{text:<{width}} " for text in bindings]
        reason_width = max(30, REASON_WIDTH - width)
    counts = {str(v): 0 for v in Verdict}
    for (rid, verdict, reason), text in zip(rows, texts, strict=True):
        lines.append(f"{rid:<{id_width}} {verdict:<15} {text}{_shorten(reason, reason_width)}")
        counts[verdict] = counts.get(verdict, 0) + 1
    return lines, counts


def format_counts(counts: Mapping[str, int]) -> list[str]:
    """The counts of each verdict on one line, then, when any requirement is fail or
    inconclusive, a line saying so: what makes the run's exit status non-zero."""
    lines = [", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no requirement"]
    failed = counts.get(str(Verdict.FAIL), 0)
    inconclusive = counts.get(str(Verdict.INCONCLUSIVE), 0)
    if failed or inconclusive:
        lines.append(
            f"NOT CONFORMANT: {failed} requirement(s) fail, {inconclusive} inconclusive "
            "(inconclusive: a test could not reach a verdict; see its reason)"
        )
    return lines


def format_table(rows: Iterable[tuple[str, str, str]]) -> list[str]:
    """The requirement table: a heading, one line per (id, verdict, reason), then the counts."""
    lines, counts = format_rows(rows)
    return [*lines, *format_counts(counts)]


def format_summary(verdicts: Iterable[RequirementVerdict]) -> list[str]:
    return format_table((v.requirement.id, str(v.verdict), v.reason) for v in verdicts)
