"""Fold test outcomes into one verdict per requirement.

Rules, in order:
1. ``declared`` requirements (JC-STAR, *-3.1) come from the profile, never from a test: declared
   when a label of level ★1 or more is declared and valid, fail when it is expired or below ★1,
   not-tested when nothing is declared. With IPA's list of compliant products (the run's
   ``--jcstar-list``), pass or fail from :func:`drready.jcstar.check_declaration` instead.
2. A requirement whose topologies the profile says the device does not support: not-applicable.
3. A requirement that needs a topology this run did not use: not-tested, saying which.
4. Any failed or errored test marked with it: fail. Protocol findings filed against it during
   the run (one failed outcome per test they were made in) count as failed tests: a requirement
   with findings fails even when its own tests passed, and the reason says so.
5. Any inconclusive test (its precondition could not be established, or an exchange failed in
   the middle of it): inconclusive, never pass, even beside passed tests. The reason names each
   inconclusive test, why, and the requirement that caused it when known ("caused by BAT-2.6").
6. At least one passed test: pass. Tests skipped or not applicable beside it are named in the
   reason; a skipped test is never counted as a pass on its own.
7. Only tests that found themselves not applicable (and the requirement is not a security item):
   not-applicable, with their reasons.
8. Otherwise: not-tested, with the skip reasons or "no test in this run covers it".
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from drready.catalog import Kind, Requirement
from drready.jcstar import JcStarCheck, check_declaration
from drready.run.ledger import OUTCOMES, RunContext, TestOutcome

__all__ = [
    "OUTCOMES",
    "RequirementVerdict",
    "RunContext",
    "TestOutcome",
    "Verdict",
    "fold",
    "fold_one",
    "jcstar_check",
    "summary",
]


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "not-applicable"
    NOT_TESTED = "not-tested"
    DECLARED = "declared"


@dataclass(frozen=True)
class RequirementVerdict:
    requirement: Requirement
    verdict: Verdict
    reason: str
    tests: tuple[TestOutcome, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        r = self.requirement
        return {
            "id": r.id,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "title_en": r.title_en,
            "title_ja": r.title_ja,
            "reading_en": r.reading_en,
            "tests": [t.to_json() for t in self.tests],
        }


def _declared(requirement: Requirement, context: RunContext) -> tuple[Verdict, str]:
    if context.jcstar_label is None or context.jcstar_valid_until is None:
        return Verdict.NOT_TESTED, "no JC-STAR declaration in the profile ([jcstar] table)"
    level = context.jcstar_level or 0
    check = jcstar_check(context)
    if check is not None:
        return (Verdict.PASS if check.passed else Verdict.FAIL), check.reason
    label = f"label {context.jcstar_label}, ★{level}, valid until {context.jcstar_valid_until}"
    if context.today > context.jcstar_valid_until:
        return Verdict.FAIL, f"declared JC-STAR label has expired ({label})"
    if level < 1:
        return Verdict.FAIL, f"declared JC-STAR level is below ★1 ({label})"
    return Verdict.DECLARED, f"self-declared, not verifiable by the harness: {label}"


def jcstar_check(context: RunContext) -> JcStarCheck | None:
    """The declared label checked against the run's JC-STAR list (None: no list or no label)."""
    if context.jcstar_list is None or context.jcstar_label is None:
        return None
    return check_declaration(
        context.jcstar_list,
        label=context.jcstar_label,
        level=context.jcstar_level or 0,
        maker=context.jcstar_maker,
        product=context.jcstar_product,
        model=context.jcstar_model,
        on=context.today,
    )


def _name(nodeid: str) -> str:
    return nodeid.split("::")[-1]


def _failure(outcome: TestOutcome) -> str:
    if outcome.findings_of is None:
        return f"{_name(outcome.nodeid)}: {outcome.message}"
    # The message of a findings outcome says how many, and which test was running.
    return f"protocol findings: {outcome.message}"


def _inconclusive(outcome: TestOutcome) -> str:
    name = _name(outcome.nodeid)
    if outcome.cause:
        return f"{name}: inconclusive, caused by {outcome.cause}: {outcome.message}"
    return f"{name}: inconclusive: {outcome.message}"


def fold_one(
    requirement: Requirement, outcomes: Sequence[TestOutcome], context: RunContext
) -> RequirementVerdict:
    mine = tuple(o for o in outcomes if requirement.id in o.requirements)
    topologies = {str(t) for t in requirement.topologies}
    if requirement.kind == Kind.DECLARED:
        verdict, reason = _declared(requirement, context)
        return RequirementVerdict(requirement, verdict, reason, mine)
    # Security items are never "not applicable": a device without a server path is still
    # controlled, and plain ECHONET Lite control cannot be authenticated (policy notes).
    security = requirement.clause.startswith("3.")
    if not security and not topologies & context.supported_topologies:
        return RequirementVerdict(
            requirement,
            Verdict.NOT_APPLICABLE,
            f"the profile declares topologies {sorted(context.supported_topologies)}; "
            f"{requirement.id} needs {sorted(topologies)}",
            mine,
        )
    failed = [o for o in mine if o.outcome in ("failed", "error")]
    passed = [o for o in mine if o.outcome == "passed"]
    inconclusive = [o for o in mine if o.outcome == "inconclusive"]
    if failed:
        reason = "; ".join(_failure(o) for o in failed)
        if passed and all(o.findings_of is not None for o in failed):
            reason += f" (its own {len(passed)} test(s) passed; the findings fail it)"
        if inconclusive:
            reason += "; also " + "; ".join(_inconclusive(o) for o in inconclusive)
        return RequirementVerdict(requirement, Verdict.FAIL, reason, mine)
    if inconclusive:
        reason = "; ".join(_inconclusive(o) for o in inconclusive)
        if passed:
            reason += f"; {len(passed)} other test(s) passed"
        return RequirementVerdict(requirement, Verdict.INCONCLUSIVE, reason, mine)
    skipped = [o for o in mine if o.outcome == "skipped"]
    inapplicable = [o for o in mine if o.outcome == "not-applicable"]
    if passed:
        reason = f"{len(passed)} test(s) passed"
        if inapplicable:
            reason += "; not applicable: " + "; ".join(o.message for o in inapplicable)
        if skipped:
            reason += "; not exercised: " + "; ".join(o.message for o in skipped)
        return RequirementVerdict(requirement, Verdict.PASS, reason, mine)
    if inapplicable and not skipped and not security:
        reason = "; ".join(o.message for o in inapplicable)
        return RequirementVerdict(requirement, Verdict.NOT_APPLICABLE, reason, mine)
    if context.run_topology is not None and context.run_topology not in topologies:
        return RequirementVerdict(
            requirement,
            Verdict.NOT_TESTED,
            f"needs the {' or '.join(sorted(topologies))} topology; this run used "
            f"{context.run_topology}",
            mine,
        )
    if skipped or inapplicable:
        reason = "skipped: " + "; ".join(o.message for o in (*skipped, *inapplicable))
    else:
        reason = "no test in this run covers it"
    return RequirementVerdict(requirement, Verdict.NOT_TESTED, reason, mine)


def fold(
    requirements: Iterable[Requirement], outcomes: Sequence[TestOutcome], context: RunContext
) -> list[RequirementVerdict]:
    return [fold_one(r, outcomes, context) for r in requirements]


def summary(verdicts: Iterable[RequirementVerdict]) -> dict[str, int]:
    counts = {str(v): 0 for v in Verdict}
    for v in verdicts:
        counts[str(v.verdict)] += 1
    return counts
