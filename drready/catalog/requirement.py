"""One requirement of the catalog: its ID, class, clause, kind, texts and topologies."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from drready.model import DeviceClass, Topology


class Kind(enum.StrEnum):
    """Whether the harness can decide a requirement by test or can only record a declaration."""

    TESTED = "tested"
    # A label such as JC-STAR is issued by a scheme the harness cannot query; the profile declares
    # it and the report repeats it, and nothing the harness observes can prove it.
    DECLARED = "declared"


# The paper numbers the per-class items ①, ②, … inside section 2 (外部制御機能) and ends that
# section with the identification item (BAT ⑧, HP ⑤, HY ⑤). Sorting "ID" after every 2.x clause
# therefore keeps the paper's own order: 1.1, 1.2, 2.1, …, ID, 3.1, 3.2, 3.3.
ID_CLAUSE: Final = "ID"


_CLAUSE_PATTERN: Final = re.compile(r"(?P<section>[1-3])\.(?P<item>[1-9][0-9]*)|ID")


COMMON_CLAUSES: Final = frozenset({"1.1", "1.2", ID_CLAUSE, "3.1", "3.2", "3.3"})


_NOTE_MARKER_JA: Final = re.compile(r"※(\d+)")


def _clause_key(clause: str) -> tuple[int, int]:
    """Sort key giving the paper's order of clauses (see ``_ID_CLAUSE``)."""
    if clause == ID_CLAUSE:
        return (2, 1_000_000)
    match = _CLAUSE_PATTERN.fullmatch(clause)
    if match is None:
        raise ValueError(f"malformed clause {clause!r}")
    return (int(match["section"]), int(match["item"]))


@dataclass(frozen=True)
class Requirement:
    """One DRready requirement as the harness tests it, e.g. ``BAT-2.2``.

    ``title_ja`` and ``notes_ja`` quote the paper; the ``※n`` markers in ``title_ja`` show where
    each note attaches, and ``notes_ja``/``notes_en`` hold the notes in the same order.
    ``reading_en`` is the interpretation the harness tests where the Japanese is open.
    """

    id: str
    device_class: DeviceClass
    clause: str
    title_ja: str
    title_en: str
    notes_ja: tuple[str, ...]
    notes_en: tuple[str, ...]
    reading_en: str
    topologies: frozenset[Topology]
    kind: Kind
    source: str
    common: bool

    def __post_init__(self) -> None:
        # The catalog is data typed by hand; these checks turn a slip in the tables into an
        # import-time error instead of a wrong report months later.
        if not isinstance(self.device_class, DeviceClass):
            raise TypeError(f"{self.id}: device_class must be a DeviceClass")
        if not isinstance(self.kind, Kind):
            raise TypeError(f"{self.id}: kind must be a Kind")
        if self.clause != ID_CLAUSE and _CLAUSE_PATTERN.fullmatch(self.clause) is None:
            raise ValueError(f"{self.id}: malformed clause {self.clause!r}")
        expected_id = f"{self.device_class.prefix}-{self.clause}"
        if self.id != expected_id:
            raise ValueError(f"requirement ID {self.id!r} does not match {expected_id!r}")
        for name in ("title_ja", "title_en", "reading_en", "source"):
            if not getattr(self, name).strip():
                raise ValueError(f"{self.id}: {name} is empty")
        if self.source != self.device_class.source:
            raise ValueError(
                f"{self.id}: source {self.source!r} is not {self.device_class.source!r}"
            )
        if self.common != (self.clause in COMMON_CLAUSES):
            raise ValueError(f"{self.id}: common={self.common} contradicts clause {self.clause}")
        if not isinstance(self.topologies, frozenset) or not self.topologies:
            raise ValueError(f"{self.id}: topologies must be a non-empty frozenset")
        if not all(isinstance(topology, Topology) for topology in self.topologies):
            raise TypeError(f"{self.id}: topologies must hold Topology members")
        self._check_notes()

    def _check_notes(self) -> None:
        # Each ※n in the title must have its note, in order, in both languages, so that a report
        # never shows a dangling marker or a note without its anchor.
        markers = _NOTE_MARKER_JA.findall(self.title_ja)
        if len(self.notes_ja) != len(markers) or len(self.notes_en) != len(markers):
            raise ValueError(
                f"{self.id}: title marks notes {markers} but has {len(self.notes_ja)} "
                f"Japanese and {len(self.notes_en)} English notes"
            )
        for marker, note_ja, note_en in zip(markers, self.notes_ja, self.notes_en, strict=True):
            if not note_ja.startswith(f"※{marker} ") or not note_en.startswith(f"Note {marker}: "):
                raise ValueError(f"{self.id}: note {marker} is mislabelled")

    @property
    def sort_key(self) -> tuple[int, tuple[int, int]]:
        """Catalog order: class order of ``DeviceClass``, then the paper's clause order."""
        return (list(DeviceClass).index(self.device_class), _clause_key(self.clause))


class UnknownRequirementError(KeyError):
    """Raised by :func:`get` for an ID the catalog does not hold; suggests close matches."""

    def __init__(self, requirement_id: str, suggestions: Iterable[str] = ()) -> None:
        self.requirement_id = requirement_id
        self.suggestions = tuple(suggestions)
        message = f"unknown requirement ID {requirement_id!r}"
        if self.suggestions:
            message += f"; did you mean {_join_alternatives(self.suggestions)}?"
        else:
            message += "; run `drready catalog` for the list"
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message and wrap it in quotes.
        return self.message


def _join_alternatives(words: tuple[str, ...]) -> str:
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} or {words[-1]}"
