"""The storage battery's facade (BAT-2.1 to BAT-2.7): DR power requests, the own mode, status
and its sampling, the backup reserve."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from drready.bindings.base import BatteryBinding, SimulatorControl
from drready.bindings.types import DrAck, Sample, Status
from drready.clock import LoopRunner
from drready.device.base import DeviceUnderTest
from drready.evidence import EvidenceLog

if TYPE_CHECKING:
    from drready.profile import Profile

__all__ = ["BatteryDUT"]


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

    def read_ratings(self) -> tuple[float, float]:
        """(max charge W, max discharge W) as the device reports them."""
        return self._run(self.binding.read_ratings())

    def status(self) -> Status:
        status = self._run(self.binding.status())
        self._record(status)
        return status

    def _record(self, status: Status) -> None:
        self.evidence.add(
            "measurement",
            "echonet",
            "",
            f"power {status.power_w:+.0f} W mode {status.mode}",
            values=asdict(status),
        )

    def set_backup_reserve_pct(self, pct: float) -> None:
        self._note(f"backup reserve set to {pct:.0f} %")
        self._run(self.binding.set_backup_reserve_pct(pct))

    def sample(self, duration_s: float, interval_s: float | None = None) -> list[Sample]:
        """Read the status every ``interval_s`` (default: the profile's poll interval).

        Durations and ``Sample.elapsed_s`` are in seconds of the device's clock.
        """
        battery = self.binding

        async def read(elapsed: float) -> Sample:
            status = await battery.status()
            self._record(status)
            return Sample(elapsed, self.now(), status)

        return self._poll(read, duration_s, interval_s)

    def wait_until(
        self, predicate: Callable[[Status], bool], timeout_s: float, interval_s: float | None = None
    ) -> Sample | None:
        """Poll until ``predicate(status)`` holds; None if ``timeout_s`` (device seconds) passes."""
        interval = interval_s or self.profile.timings.poll_interval_s
        scale = self.time_scale
        found: list[Sample] = []

        async def run() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            while True:
                status = await self.binding.status()
                elapsed = (loop.time() - start) * scale
                self._record(status)
                if predicate(status):
                    found.append(Sample(elapsed, self.now(), status))
                    return
                if elapsed >= timeout_s:
                    return
                await asyncio.sleep(min(interval, max(0.0, timeout_s - elapsed)) / scale)

        self._run(run())
        return found[0] if found else None
