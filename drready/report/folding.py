"""One verdict per requirement per unit, from the parts that tested the unit over its bindings.

A combined run can test one unit (one device design: a class's reference design, or unit k of
``--units N``) over several bindings, one part each (``battery``, ``battery-openadr3``,
``battery-webapi``, ``battery-modbus``). They are the same device, reached several ways: the
combined report gives each requirement of the unit one verdict, folded from the parts' verdicts
(each after the checks across units), in this order:

1. ``fail`` if any part fails it;
2. else ``inconclusive`` if any part is inconclusive about it;
3. else ``pass`` if any part passes it: the others passed it too, or did not reach it
   (not-tested: a server-topology item over the gateway), or found it not applicable, or
   declared it;
4. else ``declared`` if any part declared it;
5. else ``not-tested`` if any part left it untested (nothing decided it, and some binding that
   might have did not);
6. else ``not-applicable`` (every part found it not applicable).

The reason: for ``pass``, how many tests passed over which bindings, then what the parts that
passed it did not exercise over any binding (a test skipped or not applicable over one binding
but passed over another is covered: the meter the ECHONET Lite part has not, the Modbus part
has; a part that did not reach the requirement adds no note); otherwise the reasons of the parts
that gave the verdict, each after its binding. A unit of one part keeps that part's verdict and
reason unchanged. Every folded requirement lists ``bindings`` (each part's ``part``,
``binding`` and own ``verdict`` and ``reason``) and the tests of all its parts, each tagged with
its ``part`` when there are several.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drready.report.verdicts import Verdict

__all__ = ["binding_name", "fold_units", "folded_verdict"]

#: Rules 1-6 of the module's docstring, first match wins.
_ORDER = (
    Verdict.FAIL,
    Verdict.INCONCLUSIVE,
    Verdict.PASS,
    Verdict.DECLARED,
    Verdict.NOT_TESTED,
    Verdict.NOT_APPLICABLE,
)


def folded_verdict(verdicts: Sequence[str]) -> Verdict:
    """The unit's verdict from its parts' verdicts of one requirement (the module's rules)."""
    present = {Verdict(v) for v in verdicts}
    for verdict in _ORDER:
        if verdict in present:
            return verdict
    return Verdict.NOT_TESTED  # no part at all: nothing tested it


def binding_name(part: Mapping[str, Any]) -> str:
    """The short name of the binding a part entry ran over (``echonet``, ``openadr3``...): its
    profile's, else read from its name after its unit's (a part that left no report), else its
    name."""
    profile = part.get("profile")
    if isinstance(profile, Mapping):
        # A profile that names no binding is over ECHONET Lite (the profile's default).
        return str((profile.get("device") or {}).get("binding") or "echonet")
    name, unit = str(part.get("name", "")), str(part.get("unit", ""))
    if unit and name.startswith(f"{unit}-"):
        return name[len(unit) + 1 :]
    return name


def _unique(texts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t for t in texts if t))


def _pass_reason(entries: Sequence[tuple[str, dict[str, Any]]]) -> str:
    passed_over = _unique([b for b, r in entries if r["verdict"] == Verdict.PASS])
    # Only the parts that passed it speak: one that did not reach it (a server-topology item
    # over the gateway) adds nothing to what the others exercised.
    tests = [(b, t) for b, r in entries if r["verdict"] == Verdict.PASS for t in r.get("tests", [])]
    passed = {t["nodeid"] for _, t in tests if t["outcome"] == "passed"}
    count = sum(1 for _, t in tests if t["outcome"] == "passed")
    reason = f"{count} test(s) passed over {', '.join(passed_over)}"
    # What no binding exercised: tests that passed over none.
    inapplicable = _unique(
        [
            t["message"]
            for _, t in tests
            if t["outcome"] == "not-applicable" and t["nodeid"] not in passed
        ]
    )
    skipped = _unique(
        [t["message"] for _, t in tests if t["outcome"] == "skipped" and t["nodeid"] not in passed]
    )
    if inapplicable:
        reason += "; not applicable: " + "; ".join(inapplicable)
    if skipped:
        reason += "; not exercised: " + "; ".join(skipped)
    return reason


def _fold_one(entries: Sequence[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """One requirement of one unit, from (part, binding, requirement) of each of its parts."""
    part, _, first = entries[0]
    bindings = [
        {"part": p, "binding": b, "verdict": r["verdict"], "reason": r["reason"]}
        for p, b, r in entries
    ]
    if len(entries) == 1:
        return {**first, "part": part, "bindings": bindings}
    verdict = folded_verdict([r["verdict"] for _, _, r in entries])
    if verdict is Verdict.PASS:
        reason = _pass_reason([(b, r) for _, b, r in entries])
    elif verdict is Verdict.DECLARED:
        reason = "; ".join(_unique([r["reason"] for _, _, r in entries if r["verdict"] == verdict]))
    else:
        reason = "; ".join(
            f"over {b}: {r['reason']}" for _, b, r in entries if r["verdict"] == verdict
        )
    tests = [{**t, "part": p} for p, _, r in entries for t in r.get("tests", [])]
    folded = {k: v for k, v in first.items() if k != "part"}
    return {
        **folded,
        "verdict": str(verdict),
        "reason": reason,
        "tests": tests,
        "bindings": bindings,
    }


def fold_units(
    parts: Sequence[Mapping[str, Any]], requirements: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The combined report's requirements: one per requirement per unit, folded over the unit's
    parts (the module's rules), in the order each unit and requirement first appears.
    ``parts``: the part entries (each with its ``name`` and ``unit``); ``requirements``: every
    part's own, each tagged with its ``part``."""
    unit_of = {str(p["name"]): str(p.get("unit") or p["name"]) for p in parts}
    binding_of = {str(p["name"]): binding_name(p) for p in parts}
    groups: dict[tuple[str, str], list[tuple[str, str, dict[str, Any]]]] = {}
    for requirement in requirements:
        part = str(requirement["part"])
        unit = unit_of.get(part, part)
        groups.setdefault((unit, str(requirement["id"])), []).append(
            (part, binding_of.get(part, part), dict(requirement))
        )
    out = []
    for (unit, _), entries in groups.items():
        out.append({**_fold_one(entries), "unit": unit})
    return out
