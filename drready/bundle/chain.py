"""The run's ``evidence.jsonl`` read back: its records and its hash chain, walked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from math import isfinite
from pathlib import Path
from typing import IO, Any

from drready.bundle.layout import json_encoder
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


#: The json module's own scanner: json.loads runs it after skipping white space, then checks
#: that nothing follows (a call and two regular expressions more, for every record).
_scan_once: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _parsed_text(line: bytes) -> tuple[dict[str, Any], str] | str:
    """A line as a record's JSON object and the line's text, or what is wrong with it."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    try:
        raw, end = _scan_once(text, 0)
        if end != len(text):
            raise ValueError("not one document")
    except (ValueError, StopIteration):
        # Not a document from the first character to the last: json.loads says whether it is
        # one with white space around it, or what is wrong.
        try:
            raw = json.loads(text)
        except ValueError:
            return "not valid JSON"
    return (raw, text) if isinstance(raw, dict) else "not a JSON object"


def _parsed(line: bytes) -> dict[str, Any] | str:
    """A line as a record's JSON object, or what is wrong with it."""
    parsed = _parsed_text(line)
    return parsed if isinstance(parsed, str) else parsed[0]


def load_evidence(path: Path, keep: Callable[[bytes], bool] | None = None) -> Evidence:
    """Read the log and walk its chain: the records, the head and the first break if any.

    ``keep`` chooses, by its line, which intact records ``records`` holds (None: all): a caller
    that streams the bulk of a long log (the bundle's HTTP exchanges) does not hold it as
    objects. Every record is parsed and checked either way, one line at a time.
    """
    if not path.is_file():
        return Evidence(present=False)
    evidence = Evidence()
    with path.open("rb") as file:
        for line, raw in _intact(file, evidence):
            if keep is None or keep(line):
                evidence.records.append(raw)
    return evidence


def stream_evidence(
    path: Path, evidence: Evidence, stream: Callable[[Mapping[str, Any]], bool]
) -> Iterator[dict[str, Any]]:
    """Walk the log's chain as :func:`load_evidence` does, into ``evidence``, but yield each
    intact record ``stream`` picks, as it is walked, instead of keeping it: one pass over the
    log, and what is streamed is never held. ``evidence`` is complete once the iterator is
    exhausted. The file must exist (``open`` raises otherwise)."""
    with path.open("rb") as file:
        for _line, raw in _intact(file, evidence):
            if stream(raw):
                yield raw
            else:
                evidence.records.append(raw)


_FIELDS = Record._fields
#: ``json.dumps(raw, ensure_ascii=False, separators=(",", ":"))``.
_dumps = json_encoder((",", ":"))


def _plain(raw: dict[str, Any]) -> bool:
    """Whether ``raw`` (its seq and prev already checked) holds the fields :meth:`Record.line`
    writes, in its order, each of the type it writes: then that line is exactly
    ``json.dumps(raw, ensure_ascii=False, separators=(",", ":"))``. ``line()`` writes the seq
    with ``format`` (an int's is JSON's; a bool's is not), the time with ``float.__repr__``
    (JSON's for a finite float; NaN and infinities JSON writes otherwise), the text fields and
    the values with the json module's own encoders, and ``data_hex`` and ``prev`` between quotes
    as they are (as JSON does when neither holds a character it escapes: ``"``, ``\\`` or a
    control character, none of them alphanumeric; prev is a digest, checked before)."""
    if tuple(raw) != _FIELDS:
        return False
    time = raw["time"]
    data_hex = raw["data_hex"]
    return (
        type(raw["seq"]) is int
        and type(time) is float
        and isfinite(time)
        and type(raw["kind"]) is str
        and type(raw["channel"]) is str
        and type(raw["peer"]) is str
        and type(raw["summary"]) is str
        and type(raw["test"]) is str
        and type(raw["values"]) is dict
        and type(data_hex) is str
        and (data_hex.isalnum() or not data_hex)
    )


def _canonical(raw: dict[str, Any], text: str) -> str | None:
    """What keeps ``text`` (a line, decoded) from being the line the log writes for ``raw``, or
    None when it is."""
    if _plain(raw):
        # The same text line() gives (see _plain), at a third of the cost: the walk ran it for
        # every record of every bundle.
        same = _dumps(raw) == text
    else:
        try:
            same = Record(**raw).line() == text
        except (TypeError, ValueError, AttributeError) as exc:
            return f"not a record of this log ({exc})"
    return None if same else "not in the canonical form the log writes"


def _intact(file: IO[bytes], evidence: Evidence) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """(line, record) of each record of the chain up to its first break, which it sets in
    ``evidence``, with the count and the head. The log is read a line at a time, never held
    whole."""
    previous = GENESIS
    for index, chunk in enumerate(file):
        line_no = index + 1
        if chunk[-1:] != b"\n":  # the last line only
            evidence.problem = (
                f"record {index} (line {line_no}) altered: the line has no newline at its end"
            )
            break
        line = chunk[:-1]
        parsed = _parsed_text(line)
        if isinstance(parsed, str):
            evidence.problem = f"record {index} (line {line_no}) altered: {parsed}"
            return
        raw, text = parsed
        seq = raw.get("seq")
        if seq != index:
            following = next(file, None)
            following_line = following.removesuffix(b"\n") if following is not None else None
            evidence.problem = _misplaced(index, seq, following_line)
            return
        if raw.get("prev") != previous:
            if index == 0:
                evidence.problem = "record 0 (line 1) altered: its prev is not the genesis digest"
            else:
                evidence.problem = (
                    f"record {index - 1} (line {line_no - 1}) altered: its digest does not "
                    "match the next record's prev"
                )
            return
        wrong = _canonical(raw, text)
        if wrong is not None:
            evidence.problem = f"record {index} (line {line_no}) altered: {wrong}"
            return
        # The line is the canonical line: its bytes are what the log hashed.
        previous = sha256_hex(line)
        evidence.walked += 1
        yield line, raw
    evidence.head = previous


def _misplaced(index: int, seq: Any, following_line: bytes | None) -> str:
    """Why the record at ``index`` holds ``seq``: altered, removed before it, or inserted."""
    line_no = index + 1
    where = f"record {index} (line {line_no})"
    following = _parsed(following_line) if following_line is not None else None
    if isinstance(following, dict) and following.get("seq") == index + 1:
        return f"{where} altered: its seq is {seq!r}"
    if isinstance(seq, int) and not isinstance(seq, bool) and seq > index:
        gone = f"record {index}" if seq == index + 1 else f"records {index} to {seq - 1}"
        return f"{gone} removed: line {line_no} holds record {seq}"
    if isinstance(seq, int) and not isinstance(seq, bool) and seq < index:
        return f"line {line_no} inserted: it holds a second record {seq} (record {index} expected)"
    return f"{where} altered: its seq is {seq!r}"


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
