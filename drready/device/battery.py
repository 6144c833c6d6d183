"""The storage battery's facade (BAT-2.1 to BAT-2.7): DR power requests, the own mode, status
and its sampling, the backup reserve, and the starting state a test establishes.

Isolation: a test reaches its starting state with :meth:`BatteryDUT.prepare` (any DR released,
the own mode set, the reserve set, each read back) and gives back what it changed with
:meth:`BatteryDUT.restore`. A state that cannot be reached is :class:`~drready.errors.Inconclusive`
naming the cause, so that one requirement's failure does not fail the next test: a device still
executing a DR after the release is a BAT-2.6 matter (and a BAT-2.6 finding).

Witnesses: :meth:`BatteryDUT.execution` judges what flowed from every witness the readings carry
(:func:`drready.device.checks.execution`) and files witnesses that disagree as BAT-2.5 findings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from drready.bindings.base import BatteryBinding, SimulatorControl
from drready.bindings.types import DrAck, Sample, Status, field_values
from drready.clock import LoopRunner
from drready.device import checks
from drready.device.base import DeviceUnderTest
from drready.errors import ExchangeError, Inconclusive
from drready.evidence import EvidenceLog, Finding

if TYPE_CHECKING:
    from drready.profile import Profile

__all__ = ["DR_MODES", "BatteryDUT"]

#: The mode settings (0xDA names) a DR puts the battery in.
DR_MODES = ("charging", "discharging")
#: A reserve read back within this of what was set has taken (0xA7 is whole percent).
RESERVE_STEP_PCT = 1.0


class BatteryDUT(DeviceUnderTest):
    """A storage battery. Power is signed everywhere: + charging, - discharging."""

    binding: BatteryBinding

    def __init__(
        self,
        runner: LoopRunner,
        binding: BatteryBinding,
        profile: Profile,
        evidence: EvidenceLog,
        simulator: SimulatorControl | None = None,
    ) -> None:
        super().__init__(runner, binding, profile, evidence, simulator)
        self.binding = binding
        #: A release the device ignored was filed as a BAT-2.6 finding (once per run).
        self._release_ignored = False
        #: Witness disagreements already filed as BAT-2.5 findings (once per test and pair).
        self._filed: set[str] = set()
        #: The reserve when the running test prepared its start, and whether it wrote one since:
        #: what :meth:`restore` gives back.
        self._baseline_reserve_pct: float | None = None
        self._reserve_written = False

    def note(self, text: str) -> None:
        """A line in the evidence from the test: what it is doing and why."""
        self._note(text)

    @property
    def normal_own_mode(self) -> str:
        """The device's normal own mode: the profile's first ``device.own_modes``."""
        return self.profile.device.own_modes[0]

    def request_power(self, target_w: float, duration_s: float | None = None) -> DrAck:
        """A DR request: signed target power (+ charge, - discharge) and an optional duration."""
        self._note(
            f"DR request {target_w:+.0f} W for {duration_s} s",
            target_w=target_w,
            duration_s=duration_s,
        )
        ack = self._run(self.binding.request_power(target_w, duration_s))
        self._note(f"DR request {'accepted' if ack.accepted else 'refused'}: {ack.detail}")
        if ack.accepted and self.on_dr is not None:
            self.on_dr(f"DR {target_w:+.0f} W", duration_s)
        return ack

    def read_target_w(self) -> float:
        return self._run(self.binding.read_target_w())

    def set_own_mode(self, mode: str) -> None:
        """The user (not DR) chooses the device's own operation mode."""
        self._note(f"own mode set to {mode}")
        self._run(self.binding.set_own_mode(mode))

    def read_mode(self) -> str:
        return self._run(self.binding.read_mode())

    def own_state(self) -> str | None:
        """The operation mode: what a restart must bring the device back to (no DR active)."""
        return self.read_mode()

    def settle_own_state(self) -> str | None:
        """Any DR released and the device in its normal own mode, read back (:meth:`prepare`:
        :class:`Inconclusive`, caused by BAT-2.6, if it will not leave a DR); then the mode."""
        self.prepare()
        return self.own_state()

    def read_ratings(self) -> tuple[float, float]:
        """(max charge W, max discharge W) as the device reports them."""
        return self._run(self.binding.read_ratings())

    def status(self) -> Status:
        status = self._run(self.binding.status())
        self._record(status)
        return status

    def _record(self, status: Status) -> int:
        record = self.evidence.add(
            "measurement",
            "echonet",
            "",
            f"power {status.power_w:+.0f} W mode {status.mode}",
            values=field_values(status),
        )
        return record.seq

    # -- the starting state of a test ------------------------------------------------------
    def release_dr(self, own_mode: str | None = None) -> str:
        """End any DR and check that the device is back in ``own_mode`` (default: its normal
        own mode). Returns the mode it reports.

        :class:`Inconclusive` if it is not: with cause BAT-2.6 (and a BAT-2.6 finding, once)
        when it still executes a DR after the release; without a cause when the own mode just
        does not take.
        """
        mode = own_mode or self.normal_own_mode
        before = self.read_mode()
        self._note(f"release any DR: back to own mode {mode} (mode now {before})")
        self._run(self.binding.release_dr(mode))
        after = self._settled_mode(mode)
        if after == mode:
            return after
        if after in DR_MODES and mode not in DR_MODES:
            reason = (
                f"the device ignored the release of a DR: own mode {mode} was asked for and "
                f"{self.profile.timings.dr_end_restore_s:.0f} s later it still reports {after}"
            )
            record = self.evidence.add("note", "harness", "", reason).seq
            if not self._release_ignored:
                self._release_ignored = True
                self.findings.append(Finding("BAT-2.6", reason, (record,), "dr-release"))
            raise Inconclusive(reason, cause="BAT-2.6")
        raise Inconclusive(f"own mode {mode} does not take: the device reports {after}")

    def _settled_mode(self, mode: str) -> str:
        """The mode the device reports once it is ``mode``, or after the declared restore time
        (BAT-2.6's own allowance) if it does not get there."""
        found = self._wait_for_mode(mode, self.profile.timings.dr_end_restore_s)
        return mode if found else self.read_mode()

    def _wait_for_mode(self, mode: str, timeout_s: float) -> bool:
        interval = self.profile.timings.poll_interval_s
        scale = self.time_scale

        async def run() -> bool:
            loop = asyncio.get_running_loop()
            start = loop.time()
            while True:
                if await self.binding.read_mode() == mode:
                    return True
                elapsed = (loop.time() - start) * scale
                if elapsed >= timeout_s:
                    return False
                await asyncio.sleep(min(interval, timeout_s - elapsed) / scale)

        return self._run(run())

    def prepare(self, own_mode: str | None = None, reserve_pct: float | None = None) -> Status:
        """Reach a test's starting state: any DR released and the device in ``own_mode``
        (default: its normal own mode), the backup reserve at ``reserve_pct`` when given; each
        read back. Returns the status there. :class:`Inconclusive` if it cannot be reached."""
        self.release_dr(own_mode)
        status = self.status()
        if self._baseline_reserve_pct is None:
            self._baseline_reserve_pct = status.reserve_pct
        if reserve_pct is None:
            return status
        self.set_reserve_checked(reserve_pct)
        return self.status()

    def set_reserve_checked(self, pct: float) -> None:
        """Set the backup reserve and read it back: :class:`Inconclusive` if it did not take
        (a test that needs a reserve cannot start without it; BAT-2.4 judges the reporting)."""
        self.set_backup_reserve_pct(pct)
        reported = self.status().reserve_pct
        if abs(reported - pct) >= RESERVE_STEP_PCT:
            raise Inconclusive(
                f"backup reserve {pct:.0f} % was set; the device reports {reported:.0f} %",
                cause="BAT-2.4",
            )

    def restore(self, own_mode: str | None = None) -> None:
        """Give back what the test changed since its :meth:`prepare`: release any DR (back to
        ``own_mode``, default the normal one) and put back the reserve it found. Best effort:
        what does not take is noted in the evidence (and a DR the device will not leave is a
        BAT-2.6 finding); the next test's :meth:`prepare` finds it and says so, while this
        test's verdict stands."""
        baseline, written = self._baseline_reserve_pct, self._reserve_written
        self._baseline_reserve_pct, self._reserve_written = None, False
        try:
            self.release_dr(own_mode)
        except (Inconclusive, ExchangeError) as exc:
            self._note(f"restore after the test: the release did not take: {exc}")
        try:
            # Written back whenever the test wrote one: a device that does not report a new
            # reserve may still apply it.
            if baseline is not None and (
                written or abs(self.status().reserve_pct - baseline) >= RESERVE_STEP_PCT
            ):
                self.set_reserve_checked(baseline)
        except (Inconclusive, ExchangeError) as exc:
            self._note(f"restore after the test: the reserve did not take: {exc}")
        finally:
            self._reserve_written = False

    # -- witnesses of execution -------------------------------------------------------------
    def execution(self, samples: Sequence[Sample]) -> checks.Execution:
        """What flowed, by the witnesses that agree; each disagreement is filed (once) as a
        BAT-2.5 finding with the readings of both witnesses."""
        meter = self.profile.meter
        judged = checks.execution(
            samples,
            self.profile.tolerances,
            self.max_gap_s,
            meter.allowed_w if meter is not None else None,
            self.time_scale,
        )
        for disagreement in judged.disagreements:
            self._note(f"witnesses disagree: {disagreement.summary}")
            key = f"{self.evidence.current_test} {disagreement.witnesses}"
            if key not in self._filed:
                self._filed.add(key)
                self.findings.append(
                    Finding("BAT-2.5", disagreement.summary, disagreement.records, "witnesses")
                )
        return judged

    def set_backup_reserve_pct(self, pct: float) -> None:
        self._reserve_written = True
        self._note(f"backup reserve set to {pct:.0f} %")
        self._run(self.binding.set_backup_reserve_pct(pct))

    def sample(self, duration_s: float, interval_s: float | None = None) -> list[Sample]:
        """Read the status every ``interval_s`` (default: the profile's poll interval).

        Durations and ``Sample.elapsed_s`` are in seconds of the device's clock.
        A poll lost on the wire (retries exhausted) is a gap: noted, left out, and the series
        goes on (:data:`max_gap_s` says how wide a gap an analysis may judge across).
        """
        battery = self.binding

        async def read(elapsed: float) -> Sample:
            status = await battery.status()
            return Sample(elapsed, self.now(), status, self._record(status))

        return self._poll(read, duration_s, interval_s, tolerate=(ExchangeError,))

    def wait_until(
        self, predicate: Callable[[Status], bool], timeout_s: float, interval_s: float | None = None
    ) -> Sample | None:
        """Poll until ``predicate(status)`` holds; None if ``timeout_s`` (device seconds) passes.

        Lost polls are gaps, as in :meth:`sample`; if every poll is lost, the last error is
        raised."""
        interval = interval_s or self.profile.timings.poll_interval_s
        scale = self.time_scale
        found: list[Sample] = []
        lost: list[ExchangeError] = []
        read = 0

        async def run() -> None:
            nonlocal read
            loop = asyncio.get_running_loop()
            start = loop.time()
            while True:
                try:
                    status = await self.binding.status()
                except ExchangeError as exc:
                    lost.append(exc)
                    self._note_gap((loop.time() - start) * scale, exc)
                    status = None
                elapsed = (loop.time() - start) * scale
                if status is not None:
                    read += 1
                    record = self._record(status)
                    if predicate(status):
                        found.append(Sample(elapsed, self.now(), status, record))
                        return
                if elapsed >= timeout_s:
                    return
                await asyncio.sleep(min(interval, max(0.0, timeout_s - elapsed)) / scale)

        self._run(run())
        if not read and lost:
            raise lost[-1]
        return found[0] if found else None
