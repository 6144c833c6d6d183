"""The run's ``evidence.jsonl`` read back: its records and its hash chain, walked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from drready.canonical import sha256_hex
from drready.evidence import GENESIS, Record


@dataclass
class Evidence:
    records: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # the first break of the chain, without the file name
    head: str = GENESIS
    present: bool = True
    #: Records walked (intact), kept in ``records`` or not (see :func:`load_evidence`'s ``keep``).
    walked: int = 0

    @property
    def count(self) -> int:
        return self.walked


def _parsed(line: bytes) -> dict[str, Any] | str:
    """A line as a record's JSON object, or what is wrong with it."""
    try:
        raw = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except ValueError:
        return "not valid JSON"
    return raw if isinstance(raw, dict) else "not a JSON object"


def load_evidence(path: Path, keep: Callable[[bytes], bool] | None = None) -> Evidence:
    """Read the log and walk its chain: the records, the head and the first break if any.

    ``keep`` chooses, by its line, which intact records ``records`` holds (None: all): a caller
    that streams the bulk of a long log (the bundle's HTTP exchanges) does not hold it as
    objects. Every record is parsed and checked either way, one line at a time.
    """
    if not path.is_file():
        return Evidence(present=False)
    with path.open("rb") as file:
        return _walk(_lookahead(file), keep)


def _lookahead(file: IO[bytes]) -> Iterator[tuple[bytes, bytes | None, bool]]:
    """Each line without its newline, the next one (None at the end), and whether it ended in a
    newline: the log is read a line at a time, never held whole."""
    previous: bytes | None = None
    for line in file:
        if previous is not None:
            yield previous.removesuffix(b"\n"), line.removesuffix(b"\n"), True
        previous = line
    if previous is not None:
        yield previous.removesuffix(b"\n"), None, previous.endswith(b"\n")


def _walk(
    lines: Iterator[tuple[bytes, bytes | None, bool]], keep: Callable[[bytes], bool] | None
) -> Evidence:
    evidence = Evidence()
    previous = GENESIS
    for index, (line, following_line, ended) in enumerate(lines):
        if not ended:
            evidence.problem = (
                f"record {index} (line {index + 1}) altered: the line has no newline at its end"
            )
            break
        raw = _parsed(line)
        line_no = index + 1
        where = f"record {index} (line {line_no})"
        if isinstance(raw, str):
            evidence.problem = f"{where} altered: {raw}"
            return evidence
        seq = raw.get("seq")
        if seq != index:
            following = _parsed(following_line) if following_line is not None else None
            if isinstance(following, dict) and following.get("seq") == index + 1:
                evidence.problem = f"{where} altered: its seq is {seq!r}"
            elif isinstance(seq, int) and not isinstance(seq, bool) and seq > index:
                gone = f"record {index}" if seq == index + 1 else f"records {index} to {seq - 1}"
                evidence.problem = f"{gone} removed: line {line_no} holds record {seq}"
            elif isinstance(seq, int) and not isinstance(seq, bool) and seq < index:
                evidence.problem = (
                    f"line {line_no} inserted: it holds a second record {seq} (record {index} "
                    "expected)"
                )
            else:
                evidence.problem = f"{where} altered: its seq is {seq!r}"
            return evidence
        if raw.get("prev") != previous:
            if index == 0:
                evidence.problem = f"{where} altered: its prev is not the genesis digest"
            else:
                evidence.problem = (
                    f"record {index - 1} (line {line_no - 1}) altered: its digest does not "
                    "match the next record's prev"
                )
            return evidence
        try:
            record = Record(**raw)
            text = record.line()
        except (TypeError, ValueError, AttributeError) as exc:
            evidence.problem = f"{where} altered: not a record of this log ({exc})"
            return evidence
        if text.encode("utf-8") != line:
            evidence.problem = f"{where} altered: not in the canonical form the log writes"
            return evidence
        previous = sha256_hex(line)
        evidence.walked += 1
        if keep is None or keep(line):
            evidence.records.append(raw)
    evidence.head = previous
    return evidence


def check_head(evidence: Evidence, records: Any, head: Any, source: str) -> str | None:
    """The evidence's count and head against what ``source`` (manifest or report) says."""
    if evidence.problem is not None or not isinstance(records, int) or records < 0:
        return None
    if evidence.count < records:
        first = evidence.count
        gone = f"record {first}" if first == records - 1 else f"records {first} to {records - 1}"
        return f"{gone} removed from the end ({source} says {records} records)"
    if evidence.count > records:
        return (
            f"record {records} (line {records + 1}) inserted after the last record the run "
            f"wrote ({source} says {records} records)"
        )
    if head != evidence.head:
        if records == 0:
            return f"its chain head does not match {source}'s"
        return (
            f"record {records - 1} (line {records}) altered: its digest does not match the "
            f"head digest in {source}"
        )
    return None
