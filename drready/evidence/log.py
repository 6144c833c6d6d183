"""Evidence: every message in and out and every measurement, timestamped and hash-chained.

Each record carries the SHA-256 of the record before it, so a record altered, removed or inserted
after the run breaks the chain from that point on. Records are appended to a JSONL file as they are
made (flushed each time), so a run that dies still leaves what it saw.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, NamedTuple, Protocol

from drready.canonical import sha256_hex
from drready.evidence.redact import redact

GENESIS = "0" * 64

_string = json.encoder.encode_basestring  # the encoder json.dumps uses with ensure_ascii=False
_float = float.__repr__  # how json.dumps writes a float


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_NO_VALUES: Mapping[str, Any] = MappingProxyType({})


class Record(NamedTuple):
    """One entry of the log. A named tuple, not a dataclass: one is made for every datagram,
    and a tuple is immutable and several times cheaper to build than a frozen dataclass."""

    seq: int
    time: float  # seconds since the epoch, on the run's clock (virtual in simulated runs)
    kind: str  # "tx", "rx", "measurement", "note"
    channel: str  # "echonet", "http", "meter", "harness"
    peer: str
    summary: str
    data_hex: str = ""
    values: Mapping[str, Any] = _NO_VALUES
    test: str = ""
    prev: str = GENESIS

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "channel": self.channel,
            "peer": self.peer,
            "summary": self.summary,
            "data_hex": self.data_hex,
            "values": dict(self.values),
            "test": self.test,
            "prev": self.prev,
        }

    def line(self) -> str:
        """The record as one JSON line: the field order is fixed, so this text is canonical.

        Built by hand with the json module's own string and float encoders, because a record is
        written for every datagram; it is the same text ``json.dumps(self.to_json(),
        ensure_ascii=False, separators=(",", ":"))`` gives (a test holds the two equal).
        """
        values = _dumps(dict(self.values)) if self.values else "{}"
        return (
            f'{{"seq":{self.seq},"time":{_float(self.time)},"kind":{_string(self.kind)},'
            f'"channel":{_string(self.channel)},"peer":{_string(self.peer)},'
            f'"summary":{_string(self.summary)},"data_hex":"{self.data_hex}",'
            f'"values":{values},"test":{_string(self.test)},"prev":"{self.prev}"}}'
        )

    def digest(self) -> str:
        return sha256_hex(self.line())


def _parse(line: str) -> Record:
    raw = json.loads(line)
    values = raw["values"]
    raw["values"] = MappingProxyType(values) if values else _NO_VALUES
    return Record(**raw)


class EvidenceLog:
    """Append-only log of a run. ``current_test`` tags records with the test that caused them.

    The log keeps each record as its canonical JSON line, not as objects: a long run (a servicer
    under load writes tens of thousands of records) would otherwise fill the heap with dicts and
    lists the garbage collector scans again and again, and its pauses grow with the run. With a
    file, it keeps only where each line starts in it and reads lines back from there (a
    server-topology run writes megabytes); without one, the lines themselves. Reading the log
    back parses the lines (a record read back holds JSON values: lists, not tuples).
    """

    def __init__(self, now: Callable[[], float], path: Path | None = None) -> None:
        self._now = now
        self._records: list[str] = []
        self._offsets = array("q")  # with a file: where record k's line starts in it
        self._size = 0
        self._last_digest = GENESIS
        self._path = path
        self._file: IO[bytes] | None = None
        self.current_test = ""
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("wb")

    def add(
        self,
        kind: str,
        channel: str,
        peer: str,
        summary: str,
        *,
        data: bytes = b"",
        values: dict[str, Any] | None = None,
    ) -> Record:
        record = Record(
            len(self),
            self._now(),
            kind,
            channel,
            peer,
            summary,
            data.hex(),
            # Credentials never enter the log: it is hash-chained, so they could not leave it.
            MappingProxyType(redact(values)) if values else _NO_VALUES,
            self.current_test,
            self._last_digest,
        )
        line = record.line()
        self._last_digest = sha256_hex(line)
        if self._path is not None:
            encoded = line.encode("utf-8") + b"\n"
            self._offsets.append(self._size)
            self._size += len(encoded)
            if self._file is not None:
                self._file.write(encoded)
                self._file.flush()
        else:
            self._records.append(line)
        return record

    def __len__(self) -> int:
        return len(self._offsets) if self._path is not None else len(self._records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.since(0))

    def since(self, seq: int) -> list[Record]:
        if self._path is None:
            return [_parse(line) for line in self._records[seq:]]
        if seq >= len(self._offsets):
            return []
        start = self._offsets[max(0, seq)]
        with self._path.open("rb") as file:
            file.seek(start)
            text = file.read(self._size - start).decode("utf-8")
        # split, not splitlines: a record may hold U+2028 and the like, which JSON leaves as is.
        return [_parse(line) for line in text.split("\n") if line]

    @property
    def head_digest(self) -> str:
        return self._last_digest

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class EvidenceSink(Protocol):
    """Where a protocol client or server records what crossed the wire: the run's
    :class:`EvidenceLog`, or a :class:`NullEvidenceLog` for a link inside the device under test."""

    current_test: str

    def add(
        self,
        kind: str,
        channel: str,
        peer: str,
        summary: str,
        *,
        data: bytes = b"",
        values: dict[str, Any] | None = None,
    ) -> Record: ...


class NullEvidenceLog:
    """Keeps nothing. For a link that is inside the device under test (the reference VEN's or
    maker cloud's own ECHONET Lite link to its device): the harness's evidence is what crosses
    the boundary it tests, not what the stand-in does behind it."""

    def __init__(self) -> None:
        self.current_test = ""

    def add(
        self,
        kind: str,
        channel: str,
        peer: str,
        summary: str,
        *,
        data: bytes = b"",
        values: dict[str, Any] | None = None,
    ) -> Record:
        return Record(0, 0.0, kind, channel, peer, summary)

    def __len__(self) -> int:
        return 0

    def close(self) -> None:
        """Nothing to close."""


def verify_chain(records: list[dict[str, Any]], head_digest: str | None = None) -> int | None:
    """The index of the first record whose chain link is broken, or None if intact.

    An altered record shows at the record after it, whose ``prev`` no longer matches. The chain
    cannot see its own end: pass the head digest kept elsewhere (the report) to cover the last
    record and a truncated tail.
    """
    previous = GENESIS
    for index, raw in enumerate(records):
        if raw.get("prev") != previous or raw.get("seq") != index:
            return index
        try:
            record = Record(**raw)
        except (TypeError, ValueError):
            return index  # missing or extra fields: not a record this log wrote
        previous = record.digest()
    if head_digest is not None and previous != head_digest:
        return max(0, len(records) - 1)
    return None
