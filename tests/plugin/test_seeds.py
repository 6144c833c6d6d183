"""The golden simulators from randomised starts (``drready run --seed N``): every class over
every binding, 0 fails and 0 inconclusive from every seed. A false fail here is a bug in the
suite or the simulator; the failure message names the seed and the command that repeats it.

20 seeds of each ECHONET Lite gateway class and of the Modbus battery. The server-topology runs
(OpenADR 3, Web API) take tens of seconds each today, so they run :data:`SERVER_SEEDS` seeds here
until they are fast; ``python3 benchmarks/seeds.py`` runs 50 of everything.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

#: Seeds of every gateway class and of the Modbus battery.
SEEDS = 20
#: Seeds of each OpenADR 3 and Web API class (raise to SEEDS once a server part takes ≤ 5 s).
SERVER_SEEDS = 2
_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "seeds.py"


def _sweeper() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drready_benchmark_seeds", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("bindings", "seeds"),
    [(("echonet", "modbus"), SEEDS), (("openadr3", "webapi"), SERVER_SEEDS)],
    ids=["gateway-and-modbus", "server"],
)
def test_golden_simulators_pass_from_every_seeded_start(
    bindings: tuple[str, ...], seeds: int
) -> None:
    sweeper = _sweeper()
    runs = sweeper.sweep(sweeper.targets(bindings), range(1, seeds + 1))
    assert len(runs) == seeds * len(sweeper.targets(bindings))
    bad = [run for run in runs if run.false_fails or run.problem]
    assert not bad, "\n".join(sweeper.table(runs))
