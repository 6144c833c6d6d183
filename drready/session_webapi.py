"""Open a DUT over the server topology, ECHONET Lite Web API shape (being written: issue 4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drready.clock import Clock
from drready.dut import DeviceUnderTest
from drready.profile import Profile


def open_webapi(
    profile: Profile, faults: Sequence[str], evidence_path: Path | None, clock: Clock | None
) -> DeviceUnderTest:
    from drready.session import SessionError

    raise SessionError("the ECHONET Lite Web API binding is not in the harness yet")
