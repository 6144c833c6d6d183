"""The water heaters' facade (*-2.1 to *-2.4 of heatpump and hybrid): the device's clock and
waits for a time of day, start-time requests and their withdrawal, the plan, the DR-possible
amount, heater status and its sampling.

Sampling goes on past a lost poll: a reading whose exchange failed (an
:class:`~drready.errors.ExchangeError`, retries exhausted) is a gap in the series, noted in the
evidence, never a failure; the analyses decide whether a gap leaves them enough to judge
(:mod:`drready.device.heater_checks`). A single request that fails still raises.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from drready.bindings.base import SimulatorControl, WaterHeaterBinding
from drready.bindings.types import (
    HEATER_WITNESSES,
    DrAck,
    HeaterSample,
    HeaterStatus,
    field_values,
)
from drready.clock import LoopRunner
from drready.device.base import DeviceUnderTest
from drready.errors import ExchangeError
from drready.evidence import EvidenceLog
from drready.model import DAY_S
from drready.timeofday import tod_text

if TYPE_CHECKING:
    from drready.profile import Profile

__all__ = ["LATE_S", "WaterHeaterDUT"]

#: How far past a time of day a wait for it may end (the device clock read late, or coarse).
LATE_S = 300.0


class WaterHeaterDUT(DeviceUnderTest):
    """A heat-pump or hybrid water heater. Times of day are seconds after the device's local
    midnight, on the device's own clock."""

    binding: WaterHeaterBinding

    def __init__(
        self,
        runner: LoopRunner,
        binding: WaterHeaterBinding,
        profile: Profile,
        evidence: EvidenceLog,
        simulator: SimulatorControl | None = None,
    ) -> None:
        super().__init__(runner, binding, profile, evidence, simulator)
        self.binding = binding

    def note(self, text: str, **values: object) -> None:
        """File a line of the harness's own in the evidence (what a suite did and why)."""
        self._note(text, **values)

    def device_time(self) -> datetime:
        """The device's own local date and time (its plan runs on this clock)."""
        return self._run(self.binding.device_time())

    def time_of_day_s(self) -> float:
        """Seconds after the device's local midnight, on the device's clock."""
        when = self.device_time()
        return when.hour * 3600.0 + when.minute * 60.0 + when.second

    def wait_until_time_of_day(self, tod_s: float, *, max_wait_s: float = DAY_S) -> float:
        """Let the device run until its clock next shows ``tod_s`` (seconds after midnight).

        Returns the device seconds waited. The device's clock has minute resolution, and is read
        a little after the wait (scheduling, the request's round trip: at a high
        ``--time-scale`` a millisecond is seconds of device time), so the wait ends up to
        :data:`LATE_S` after ``tod_s``. ``max_wait_s`` bounds it (a clock that does not move
        must not hang the run): past it, AssertionError names what was seen.
        """
        waited = 0.0
        for _ in range(4):  # a wait, then corrections for a drifting or coarse device clock
            now = self.time_of_day_s()
            ahead = (tod_s - now) % DAY_S
            if ahead < 60.0 or ahead >= DAY_S - LATE_S:
                return waited
            if waited + ahead > max_wait_s + 60.0:
                break
            self._note(f"wait until device time {tod_text(tod_s)} ({ahead:.0f} s)")
            self.runner.sleep(ahead / self.time_scale)
            waited += ahead
        raise AssertionError(
            f"the device clock did not reach {tod_text(tod_s)} within {max_wait_s:.0f} s "
            f"(it shows {tod_text(self.time_of_day_s())} after {waited:.0f} s)"
        )

    @property
    def start_time_step_s(self) -> float:
        """Resolution of a DR start time on this device (e.g. 3600 s for the standard 0xCA)."""
        return self.binding.start_time_step_s()

    def request_start_time(self, tod_s: float) -> DrAck:
        """A DR request: start heating at ``tod_s`` (seconds after the device's midnight)."""
        self._note(f"DR request: heating start {tod_text(tod_s)}", start_s=tod_s)
        ack = self._run(self.binding.request_start_time(tod_s))
        self._note(f"DR request {'accepted' if ack.accepted else 'refused'}: {ack.detail}")
        if ack.accepted and self.on_dr is not None:
            # The window until the heating starts: the device must not heat before it.
            until = (tod_s - self.time_of_day_s()) % DAY_S
            self.on_dr(f"DR heating start {tod_text(tod_s)}", until)
        return ack

    def clear_plan(self) -> bool:
        """Withdraw any DR start time (the heat pump also leaves the energy shift), then read
        the plan back: True if the device reports none."""
        self._note("withdraw the DR start time")
        ack = self._run(self.binding.clear_start_time())
        planned = self.planned_start()
        state = "no plan" if planned is None else f"a plan for {tod_text(planned)} still"
        self._note(
            f"withdrawal {'accepted' if ack.accepted else 'not accepted'} ({ack.detail}); "
            f"the device reports {state}",
            cleared=planned is None,
        )
        return planned is None

    def planned_start(self) -> float | None:
        """The heating start time the device reports it has planned (None: no DR plan)."""
        return self._run(self.binding.planned_start())

    def heating_mode(self) -> str | None:
        """The automatic-heating setting ("auto": the device plans its own heating, which a DR
        shifts), None where the binding cannot read it."""
        return self._run(self.binding.heating_mode())

    def dr_possible_wh(self) -> float:
        """The DR-possible amount (Wh) the device reports for its planned start time."""
        amount = self._run(self.binding.dr_possible_wh())
        self._note(f"DR-possible amount {amount:.0f} Wh", dr_possible_wh=amount)
        return amount

    def heater_status(self) -> HeaterStatus:
        status = self._run(self.binding.heater_status())
        self._record_heater(status)
        return status

    def _record_heater(self, status: HeaterStatus) -> int:
        """File the reading in the evidence; its record's sequence number."""
        values = field_values(status)
        if status.witnesses == HEATER_WITNESSES:
            del values["witnesses"]  # said only when the device lacks one: the usual case is all
        return self.evidence.add(
            "measurement",
            "echonet",
            "",
            f"power {status.power_w:.0f} W heating {status.heating} aux {status.aux_on} "
            f"energy {status.energy_wh:.0f} Wh",
            values=values,
        ).seq

    def sample_heater(
        self, duration_s: float, interval_s: float | None = None
    ) -> list[HeaterSample]:
        """Read the water heater every ``interval_s`` device seconds for ``duration_s``.

        Each sample carries the device's time of day, reckoned from one read of its clock at
        the start (the clock has minute resolution; the harness's own clock is finer), and the
        evidence record of its reading. A sample is placed when its reading came in, not when
        it was asked for: over OpenADR 3 a read waits for the VEN's next report, minutes later.
        A poll whose exchange failed is left out (a gap, noted in the evidence) and the series
        goes on.
        """
        heater = self.binding
        start_tod = self.time_of_day_s()

        async def read(elapsed: float) -> HeaterSample | None:
            loop = asyncio.get_running_loop()
            asked = loop.time()
            try:
                status = await heater.heater_status()
                elapsed += (loop.time() - asked) * self.time_scale
            except ExchangeError as exc:
                self._note(
                    f"poll at +{elapsed:.0f} s ({tod_text((start_tod + elapsed) % DAY_S)}) lost: "
                    f"{exc}; the series goes on without it",
                    lost_poll_elapsed_s=elapsed,
                )
                return None
            record = self._record_heater(status)
            return HeaterSample(elapsed, (start_tod + elapsed) % DAY_S, status, record)

        return [s for s in self._poll(read, duration_s, interval_s) if s is not None]
