"""The run layer: a run's options and checks, its record, and the runs of several classes.

Nothing here needs pytest: the plugin and the command line are thin front ends over it.
"""

from __future__ import annotations

from drready.run.ledger import OUTCOMES, PartResult, PartUsage, RunContext, RunRecord, TestOutcome
from drready.run.options import (
    RunOptions,
    check_run,
    fault_binding,
    fault_class,
    new_run_id,
    resolve_profile,
    run_options,
    suites_dir,
)
from drready.run.outcomes import FindingsFiler, verdictless

__all__ = [
    "OUTCOMES",
    "FindingsFiler",
    "PartResult",
    "PartUsage",
    "RunContext",
    "RunOptions",
    "RunRecord",
    "TestOutcome",
    "check_run",
    "fault_binding",
    "fault_class",
    "new_run_id",
    "resolve_profile",
    "run_options",
    "suites_dir",
    "verdictless",
]
