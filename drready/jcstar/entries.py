"""What IPA's list of JC-STAR compliant products holds: its entries, and the list as one value."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

__all__ = ["JcStarEntry", "JcStarList", "normalise"]

#: Dashes that NFKC leaves apart but a reader sees as one (model numbers are typed both ways).
_DASHES = re.compile("[\u2010-\u2015\u2212\u30fc\uff70]")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """How two names or numbers are compared: NFKC (full-width letters, digits and ㈱ become
    their plain forms), case folded, every dash one "-", spaces removed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub("", _DASHES.sub("-", folded))


@dataclass(frozen=True)
class JcStarEntry:
    """One row of the list: one product (model) under one label."""

    label: str
    maker: str
    product: str
    model: str
    #: Star level, 1 to 4.
    level: int
    #: Last day the label is valid.
    valid_until: date
    category: str = ""
    #: Where it was read: the sheet (empty for a CSV file) and the row, 1-based.
    sheet: str = ""
    row: int = 0

    def models(self) -> tuple[str, ...]:
        """The model numbers of the row, normalised: one cell may name several, separated by
        commas, slashes, semicolons or line breaks."""
        parts = re.split(r"[、,，/／;；\n]", self.model)
        return tuple(n for n in (normalise(p) for p in parts) if n)

    def describe(self) -> str:
        model = f" (model {self.model})" if self.model else ""
        return f"maker {self.maker} product {self.product}{model}"

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "maker": self.maker,
            "product": self.product,
            "model": self.model,
            "level": self.level,
            "valid_until": self.valid_until.isoformat(),
            "category": self.category,
        }


@dataclass(frozen=True)
class JcStarList:
    """IPA's list as read from one file (:func:`drready.jcstar.load_list`)."""

    entries: tuple[JcStarEntry, ...]
    source: Path
    #: The list's own date: the "...時点" of its title, else the file's modification day.
    list_date: date
    #: Where list_date comes from: "title" or "file-mtime".
    date_from: str
    #: SHA-256 of the file's bytes, hex.
    sha256: str
    _by_label: dict[str, tuple[JcStarEntry, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        by_label: dict[str, list[JcStarEntry]] = {}
        for entry in self.entries:
            by_label.setdefault(normalise(entry.label), []).append(entry)
        object.__setattr__(self, "_by_label", {k: tuple(v) for k, v in by_label.items()})

    def with_label(self, label: str) -> tuple[JcStarEntry, ...]:
        """Every row under ``label`` (compared normalised), in the list's order."""
        return self._by_label.get(normalise(label), ())

    def to_json(self) -> dict[str, Any]:
        """What the report keeps of the list: its name, date, digest and size."""
        return {
            "file": self.source.name,
            "date": self.list_date.isoformat(),
            "date_from": self.date_from,
            "sha256": self.sha256,
            "entries": len(self.entries),
        }
