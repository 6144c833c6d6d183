"""The catalog for people and programs: a two-language text table, and JSON."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Iterable
from typing import Any, Final

from drready.catalog.requirement import Requirement

_LANGUAGES: Final = ("en", "ja")


_COLUMN_GAP: Final = "  "


# Japanese punctuation that must not begin a line (禁則処理, kept minimal).
_NO_LINE_START: Final = frozenset("、。，．）」』】〕・ー")


def _display_width(text: str) -> int:
    # Wide and full-width characters take two terminal columns; without this the Japanese
    # table would overrun its width by up to half again.
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _wrap_ja(text: str, width: int) -> list[str]:
    """Wrap Japanese by display width; it has no spaces, so any character boundary may break."""
    lines: list[str] = []
    current = ""
    for char in text:
        if current and _display_width(current + char) > width and char not in _NO_LINE_START:
            lines.append(current)
            current = char
        else:
            current += char
    if current:
        lines.append(current)
    return lines


def _wrap(text: str, width: int, language: str) -> list[str]:
    if language == "ja":
        return _wrap_ja(text, width)
    return textwrap.wrap(text, width=width, break_on_hyphens=False) or [""]


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _display_width(text))


def format_table(
    requirements: Iterable[Requirement],
    language: str = "en",
    *,
    width: int = 100,
    notes: bool = False,
) -> str:
    """A plain-text table for ``drready catalog``: ID, class, kind, topologies and title.

    ``language="ja"`` prints ``title_ja`` (and ``notes_ja``); the other columns stay the
    tokens used in profiles and on the command line. The title column wraps so that lines fit
    in ``width`` terminal columns; ``notes=True`` adds the ※ notes under each title.
    """
    if language not in _LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected one of {_LANGUAGES}")
    rows: list[tuple[tuple[str, ...], Requirement]] = [
        (
            (
                requirement.id,
                requirement.device_class.value,
                requirement.kind.value,
                "+".join(sorted(requirement.topologies)),
            ),
            requirement,
        )
        for requirement in requirements
    ]
    header = ("ID", "class", "kind", "topologies")
    column_widths = [
        max([len(name)] + [len(cells[index]) for cells, _ in rows])
        for index, name in enumerate(header)
    ]
    prefix_width = sum(column_widths) + len(_COLUMN_GAP) * len(column_widths)
    # Never squeeze the title below a readable width, even if that overruns ``width``.
    title_width = max(20, width - prefix_width)

    def line(cells: Iterable[str], title: str) -> str:
        padded = _COLUMN_GAP.join(
            _pad(cell, column_width)
            for cell, column_width in zip(cells, column_widths, strict=True)
        )
        return f"{padded}{_COLUMN_GAP}{title}".rstrip()

    output = [
        line(header, "title"),
        line(("-" * column_width for column_width in column_widths), "-" * title_width),
    ]
    blank = ("",) * len(header)
    for cells, requirement in rows:
        title = requirement.title_ja if language == "ja" else requirement.title_en
        title_lines = _wrap(title, title_width, language)
        if notes:
            for note in requirement.notes_ja if language == "ja" else requirement.notes_en:
                title_lines += _wrap(note, title_width, language)
        output.append(line(cells, title_lines[0]))
        output.extend(line(blank, continuation) for continuation in title_lines[1:])
    return "\n".join(output) + "\n"


def to_json(requirements: Iterable[Requirement]) -> list[dict[str, Any]]:
    """JSON-ready records of every field; enums become their values, sets sorted lists."""
    return [
        {
            "id": requirement.id,
            "device_class": requirement.device_class.value,
            "clause": requirement.clause,
            "title_ja": requirement.title_ja,
            "title_en": requirement.title_en,
            "notes_ja": list(requirement.notes_ja),
            "notes_en": list(requirement.notes_en),
            "reading_en": requirement.reading_en,
            "topologies": sorted(topology.value for topology in requirement.topologies),
            "kind": requirement.kind.value,
            "source": requirement.source,
            "common": requirement.common,
        }
        for requirement in requirements
    ]
