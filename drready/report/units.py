"""*-ID across the units of a combined run: no two units may share an identity.

Each part's own run checks its unit's identity alone (readable, as declared, stable across a
restart); only the combined step sees several units, so it is where "unique across units" is
checked. It compares what each part's report says the device reported (``device.identity``):

- the identification number (ECHONET Lite 0x83), across every unit of the run;
- the serial number (0x8D), across the units of one maker and product (a serial number names a
  unit within its product);
- the ECHONET Lite Web API device ID, across the units behind one cloud (``webapi.base_url``).

Two units that share one fail the *-ID of each of their classes in the combined report, with a
reason naming the units and the shared value and a failed test entry
(:data:`UNIQUENESS_NODEID`); units that share none get a passed entry. With fewer than two units
whose identity was read, nothing is added. A unit tested over several bindings (parts with one
``unit``) is one device: its parts' identities are that one unit's, never compared with each
other (each binding may report it differently); every part of it gets the entry.
:func:`~drready.report.combined.build_combined` calls :func:`check_unique_identities`, so a merge
of shards gets the check across all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drready.model import DeviceClass
from drready.report.verdicts import Verdict
from drready.run.ledger import TestOutcome

__all__ = ["UNIQUENESS_NODEID", "check_unique_identities"]

#: The node ID of the test-like entry the check adds to each unit's *-ID.
UNIQUENESS_NODEID = "drready::units::test_identity_unique_across_units"

#: What is compared: (identity field, how the report names it).
_FIELDS = (
    ("identification_number", "identification number (0x83)"),
    ("serial_number", "serial number (0x8D)"),
    ("device_id", "Web API device ID"),
)
#: Verdicts that say the *-ID tests ran (a passed entry beside any other would mislead).
_DECIDED = (Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE)


def _scope(field: str, identity: Mapping[str, Any], part: Mapping[str, Any]) -> tuple[str, ...]:
    """Within what the value must be unique."""
    if field == "serial_number":
        return (str(identity.get("manufacturer_code")), str(identity.get("product_code")))
    if field == "device_id":
        webapi = (part.get("profile") or {}).get("webapi") or {}
        base_url = str(webapi.get("base_url"))
        if base_url == "simulator":
            # Each simulated unit has a cloud of its own: its device IDs name its devices only.
            return (base_url, str(part.get("unit") or part.get("name")))
        return (base_url,)
    return ()


def _id_requirement(part: Mapping[str, Any]) -> str | None:
    try:
        return f"{DeviceClass(part['device_class']).prefix}-ID"
    except (KeyError, ValueError):
        return None


def _names(units: Sequence[str]) -> str:
    return units[0] if len(units) == 1 else f"{', '.join(units[:-1])} and {units[-1]}"


def check_unique_identities(
    parts: Sequence[Mapping[str, Any]], requirements: Sequence[dict[str, Any]]
) -> None:
    """Fail, in ``requirements`` (the combined report's, each tagged with its ``part``), the
    *-ID of every unit that shares an identity with another; ``parts`` are the combined
    report's part entries."""
    identities: dict[str, Mapping[str, Any]] = {}
    unit_of: dict[str, str] = {}
    for part in parts:
        identity = (part.get("device") or {}).get("identity")
        if isinstance(identity, Mapping) and _id_requirement(part) is not None:
            identities[str(part["name"])] = identity
            unit_of[str(part["name"])] = str(part.get("unit") or part["name"])
    units_read = list(dict.fromkeys(unit_of.values()))
    if len(units_read) < 2:
        return
    by_name = {str(part["name"]): part for part in parts}
    holders: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
    for name, identity in identities.items():
        for field, _ in _FIELDS:
            value = identity.get(field)
            if value:
                key = (field, _scope(field, identity, by_name[name]), str(value))
                unit = unit_of[name]
                if unit not in holders.setdefault(key, []):
                    holders[key].append(unit)
    shared: dict[str, list[str]] = {}
    labels = dict(_FIELDS)
    for (field, _, value), units in holders.items():
        if len(units) > 1:
            message = f"units {_names(units)} share the {labels[field]} {value}"
            for unit in units:
                shared.setdefault(unit, []).append(message)
    compared = [labels[field] for field, _ in _FIELDS if any(k[0] == field for k in holders)]
    for name, part in by_name.items():
        if name not in identities:
            continue
        rid = _id_requirement(part)
        if rid is None:
            continue
        for requirement in requirements:
            if requirement.get("part") != name or requirement["id"] != rid:
                continue
            problems = shared.get(unit_of[name])
            if problems:
                message = "; ".join(problems)
                requirement["verdict"] = str(Verdict.FAIL)
                requirement["reason"] = f"not unique across the units of this run: {message}"
                outcome = TestOutcome(UNIQUENESS_NODEID, "failed", message, (rid,))
            elif requirement["verdict"] in _DECIDED:
                message = f"unique across the {len(units_read)} units of this run: " + ", ".join(
                    compared
                )
                outcome = TestOutcome(UNIQUENESS_NODEID, "passed", message, (rid,))
            else:
                continue
            requirement["tests"] = [*requirement.get("tests", []), outcome.to_json()]
