"""Finding requirements: by ID (with suggestions for a near miss), by class, all IDs."""

from __future__ import annotations

import difflib
from typing import Final

from drready.catalog.requirement import Requirement, UnknownRequirementError
from drready.catalog.texts import CATALOG
from drready.model import DeviceClass

# Suggestions must be close to what was typed (0.6 is difflib's usual floor) and, among those,
# nearly as close as the best one, so "BAT-22" suggests BAT-2.2 alone instead of every BAT-2.x.
_SUGGESTION_FLOOR: Final = 0.6


_SUGGESTION_SPREAD: Final = 0.1


_SUGGESTION_LIMIT: Final = 3


def _suggest(requirement_id: str) -> tuple[str, ...]:
    typed = requirement_id.strip().upper()
    scored = sorted(
        (
            (difflib.SequenceMatcher(None, typed, known.upper()).ratio(), index, known)
            for index, known in enumerate(CATALOG)
        ),
        key=lambda item: (-item[0], item[1]),
    )
    if not scored or scored[0][0] < _SUGGESTION_FLOOR:
        return ()
    threshold = max(_SUGGESTION_FLOOR, scored[0][0] - _SUGGESTION_SPREAD)
    return tuple(known for ratio, _, known in scored[:_SUGGESTION_LIMIT] if ratio >= threshold)


def get(requirement_id: str) -> Requirement:
    """Return the requirement with this exact ID, e.g. ``get("BAT-2.2")``.

    Lookup is exact (IDs are stable identifiers used in markers and reports, so a sloppy spelling
    should be corrected at its source); the error names the closest IDs.
    """
    try:
        return CATALOG[requirement_id]
    except KeyError:
        raise UnknownRequirementError(requirement_id, _suggest(requirement_id)) from None


def _coerce_class(device_class: DeviceClass | str) -> DeviceClass:
    if isinstance(device_class, DeviceClass):
        return device_class
    token = device_class.strip().lower()
    for candidate in DeviceClass:
        # Accept the ID prefix too ("BAT"), since that is what people see in requirement IDs.
        if token in (candidate.value, candidate.prefix.lower()):
            return candidate
    known = ", ".join(f"{candidate.value} ({candidate.prefix})" for candidate in DeviceClass)
    raise ValueError(f"unknown device class {device_class!r}; expected one of {known}")


def for_class(device_class: DeviceClass | str) -> tuple[Requirement, ...]:
    """All requirements of one class, in catalog order. Accepts ``"battery"`` or ``"BAT"``."""
    wanted = _coerce_class(device_class)
    return tuple(
        requirement for requirement in CATALOG.values() if requirement.device_class is wanted
    )


def ids() -> tuple[str, ...]:
    """Every requirement ID, in catalog order."""
    return tuple(CATALOG)
