"""The schedule of a run before it starts: each test's expected duration from the profile's
declared timings, the total, and the steps that need a person.

A test says how much device time it spends with ``@pytest.mark.duration(seconds=f)``, ``f`` a
function of the effective profile that the test itself uses to size its waits, so the plan and
the run cannot drift apart. Tests that judge one shared scenario (``shared="name"``) spend its
time once: the first of them in the run's order runs it, the others judge what it recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drready.operator import OPERATOR_STEPS
from drready.profile import Profile

#: A test's device seconds as a function of the effective profile.
DurationOf = Callable[[Profile], float]


@dataclass(frozen=True)
class PlannedTest:
    nodeid: str
    requirements: tuple[str, ...]
    #: Device seconds this test is expected to take (0 when it judges a scenario another ran).
    device_s: float
    #: The shared scenario it judges, and the test that runs it (when not this one).
    shared: str | None = None
    shared_with: str | None = None
    operator_steps: tuple[str, ...] = ()
    #: False: the test declares no duration (it takes exchanges only, seconds at most).
    declared: bool = True


@dataclass(frozen=True)
class PlanEntry:
    """What the collected test declares (read from its markers by the top layer)."""

    nodeid: str
    requirements: tuple[str, ...]
    duration: DurationOf | None
    shared: str | None
    operator_steps: tuple[str, ...]


@dataclass(frozen=True)
class Schedule:
    tests: tuple[PlannedTest, ...]
    #: Device seconds per real second (1 for a real-time device; a simulated run is virtual).
    time_scale: float
    simulated: bool

    @property
    def total_device_s(self) -> float:
        return sum(t.device_s for t in self.tests)

    def real_s(self, device_s: float) -> float:
        return device_s / self.time_scale

    def left_device_s(self, current: str | None, elapsed_device_s: float) -> float | None:
        """Device seconds left by the plan while ``current`` has run ``elapsed_device_s``:
        its own planned time not yet spent and every later test's (None: not in the plan)."""
        ids = [t.nodeid for t in self.tests]
        if current not in ids:
            return None
        index = ids.index(current)
        own = max(0.0, self.tests[index].device_s - elapsed_device_s)
        return own + sum(t.device_s for t in self.tests[index + 1 :])

    @property
    def operator_steps(self) -> list[tuple[str, str]]:
        return [(step, t.nodeid) for t in self.tests for step in t.operator_steps]

    def lines(self) -> list[str]:
        """The schedule as text: one line a test, the total, the operator steps."""
        clock = "virtual time" if self.simulated else "real time"
        scale = "" if self.time_scale == 1.0 else f", device clock {self.time_scale:g}x"
        out = [f"{'device time':>11}  {clock:>11}  test ({clock}{scale})"]
        for test in self.tests:
            real = "-" if self.simulated else hms(self.real_s(test.device_s))
            note = ""
            if test.shared_with is not None:
                note = f"  (judges the {test.shared} run by {test.shared_with.rsplit('::', 1)[-1]})"
            elif not test.declared:
                note = "  (exchanges only)"
            ids = ", ".join(test.requirements) or "-"
            name = test.nodeid.rsplit("/", 1)[-1]
            out.append(f"{hms(test.device_s):>11}  {real:>11}  {ids}  {name}{note}")
        total = self.total_device_s
        real_total = "seconds (virtual time)" if self.simulated else hms(self.real_s(total))
        out.append(f"total: {hms(total)} of device time ({total / 3600:.2f} h), {real_total} real")
        steps = self.operator_steps
        if steps:
            out.append("operator steps:")
            for step, nodeid in steps:
                known = OPERATOR_STEPS.get(step)
                out.append(f"  {step}: {nodeid.rsplit('/', 1)[-1]}")
                if known is not None:
                    out.append(
                        f"    {known.instruction} (a person has up to {hms(known.timeout_s)}; "
                        "a profile's [operator] power switch does a restart without one)"
                    )
        else:
            out.append("operator steps: none")
        return out


def hms(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"


def schedule(entries: Sequence[PlanEntry], profile: Profile) -> Schedule:
    """The schedule of ``entries`` in run order under ``profile``."""
    runner: dict[str, str] = {}
    planned: list[PlannedTest] = []
    for entry in entries:
        device_s = 0.0 if entry.duration is None else float(entry.duration(profile))
        shared_with = None
        if entry.shared is not None:
            shared_with = runner.setdefault(entry.shared, entry.nodeid)
            if shared_with == entry.nodeid:
                shared_with = None
            else:
                device_s = 0.0
        planned.append(
            PlannedTest(
                entry.nodeid,
                entry.requirements,
                device_s,
                entry.shared,
                shared_with,
                entry.operator_steps,
                declared=entry.duration is not None,
            )
        )
    return Schedule(tuple(planned), profile.time_scale, profile.is_simulated)
