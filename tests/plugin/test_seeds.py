"""The golden simulators from randomised starts (``drready run --seed N``): every class over
every binding (ECHONET Lite, Modbus for the battery, OpenADR 3, Web API), :data:`SEEDS` seeds
each, 0 fails and 0 inconclusive from every seed. A false fail here is a bug in the suite or the
simulator; the failure message names the seed, what it drew and the command that repeats it.

The whole sweep (10 parts x 20 seeds) runs once, in the module's fixture, through
``benchmarks/seeds.py``'s :func:`sweep`: every run forked from one warm process
(:mod:`tests.warm_runner`), the code path of ``python -m drready.cli run --simulate CLASS
[--profile drready/profile/builtin/CLASS-BINDING.toml] --seed N``, two at a time on two cores;
then one test per part reads its runs. The fixture prints the wall time and each part's.
``python3 benchmarks/seeds.py`` runs 50 seeds of everything.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import load_script

#: Seeds of every class over every binding.
SEEDS = 20
#: Bound on the whole sweep: it takes about 6.5 minutes on two idle cores today (39 s of CPU a
#: seed of the 10 parts, 22 s of it over OpenADR 3).
SWEEP_TIMEOUT_S = 3000
pytestmark = [pytest.mark.slow, pytest.mark.timeout(SWEEP_TIMEOUT_S + 120)]
_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "seeds.py"


SWEEPER = load_script(_SCRIPT, "drready_benchmark_seeds")
PARTS = [target.name for target in SWEEPER.targets()]


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> dict[str, list[Any]]:
    """Every part's runs, seeds 1 to :data:`SEEDS`."""
    SWEEPER.SWEEP_TIMEOUT_S = SWEEP_TIMEOUT_S
    started = time.monotonic()
    done = SWEEPER.sweep(SWEEPER.targets(), range(1, SEEDS + 1))
    wall_s = time.monotonic() - started
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in SWEEPER.table(done):
                reporter.write_line(line)
            reporter.write_line(SWEEPER.summary(done, wall_s))
    by_part: dict[str, list[Any]] = {}
    for run in done:
        by_part.setdefault(run.target, []).append(run)
    return by_part


@pytest.mark.parametrize("part", PARTS)
def test_golden_simulator_passes_from_every_seeded_start(
    runs: dict[str, list[Any]], part: str
) -> None:
    mine = runs[part]
    assert sorted(run.seed for run in mine) == list(range(1, SEEDS + 1))
    bad = [run for run in mine if run.false_fails or run.problem]
    assert not bad, "\n".join(SWEEPER.table(bad))
