"""A report wait on the OpenADR 3 path: a VEN silent on a clean link fails; one whose report
may have been lost on a lossy link is an exchange failure (inconclusive), not a fail."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from drready.bindings.openadr_device import LinkLossTimeout, OpenAdrDeviceBinding
from drready.errors import ExchangeError
from drready.openadr.server import ReportRecord, ServicerTimeout, now_epoch


class _SilentServicer:
    """Never a report; the link loses exchanges at the times given (relative to the wait)."""

    def __init__(self, drops_after_s: tuple[float, ...]) -> None:
        self._drops_after_s = drops_after_s
        self.link_drops: list[float] = []
        self.waited_s = 0.0

    def report_count(self) -> int:
        return 0

    async def wait_for_report(
        self, predicate: Callable[[ReportRecord], bool], timeout_s: float, *, since: int
    ) -> ReportRecord:
        if not self.link_drops:
            self.link_drops = [now_epoch() + after for after in self._drops_after_s]
        self.waited_s += timeout_s
        raise ServicerTimeout(f"nothing within {timeout_s:g} s")


def _binding(servicer: _SilentServicer) -> OpenAdrDeviceBinding:
    binding = object.__new__(OpenAdrDeviceBinding)
    link: Any = SimpleNamespace(
        client_id="ven", poll_interval_s=10.0, report_interval_s=10.0, ven_name="ven"
    )
    binding.link = link
    binding.servicer = servicer  # type: ignore[assignment]
    binding._fresh_index = 0
    return binding


async def test_a_silent_ven_on_a_clean_link_is_refused() -> None:
    servicer = _SilentServicer(())
    ack = await _binding(servicer).request_status("event-1", 0)
    assert not ack.accepted and "no request-status report" in ack.detail
    assert servicer.waited_s == pytest.approx(40.0, abs=1.0)


async def test_a_wait_through_link_loss_is_an_exchange_failure() -> None:
    servicer = _SilentServicer((5.0,))
    binding = _binding(servicer)
    with pytest.raises(LinkLossTimeout) as caught:
        await binding.request_status("event-1", 0)
    assert isinstance(caught.value, ExchangeError)
    assert "lost 1" in str(caught.value)
    with pytest.raises(LinkLossTimeout):
        await binding.telemetry()
