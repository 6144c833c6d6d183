"""*-3.2 (control traffic between the servicer side and the device: destinations restricted, peers
authenticated, messages encrypted) and *-ID (the unit's identity not disclosed to an
unauthenticated peer), checked on the server path in the direction the device plays.

As a client (OpenADR 3: the device polls the harness's servicer), the device must refuse an
insecure servicer and must not execute an event that arrives replayed, tampered with or
unauthenticated. As a server (a maker's cloud the harness calls), it must refuse insecure or
unauthenticated control and rate-limit bad credentials. Each check is one probe of the binding
(:data:`drready.device.PROBES`): the binding tries the insecure exchange and says what the device
did.
"""

from __future__ import annotations

import pytest

from drready.bindings.types import NotApplicable
from drready.device import PROBES, DeviceUnderTest
from drready.model import Binding

#: The checks of each shape: the device as a client (it polls us), or as a server (we call it).
CLIENT_SIDE = (
    "plain-http",
    "tls-1.1",
    "untrusted-ca",
    "wrong-host",
    "redirect",
    "replayed-event",
    "tampered-event",
    "unauthenticated-notification",
    "missing-credentials",
)
SERVER_SIDE = (
    "no-credentials",
    "wrong-credentials",
    "replayed-request",
    "plain-http-control",
    "rate-limit",
)
IDENTITY = "identity-unauthenticated"
SIDES = {Binding.OPENADR3: CLIENT_SIDE, Binding.WEBAPI: SERVER_SIDE}

pytestmark = pytest.mark.topology("server")


# One test per check of the shape this run uses (every check when not yet known: they are then
# skipped by the topology marker of a gateway run).
@pytest.mark.requirement("*-3.2")
@pytest.mark.from_profile(
    "probe",
    lambda profile: SIDES.get(profile.device.binding, CLIENT_SIDE + SERVER_SIDE),
    default=CLIENT_SIDE + SERVER_SIDE,
)
def test_insecure_exchange_is_refused(dut: DeviceUnderTest, probe: str) -> None:
    if probe not in dut.security_probe_kinds():
        pytest.skip(f"not offered by the {dut.binding.protocol} binding: {PROBES[probe]}")
    result = dut.security_probe(probe)
    assert result.refused, f"accepted: {PROBES[probe]}. {result.detail}"


@pytest.mark.requirement("*-ID", "*-3.2")
def test_identity_not_disclosed_to_an_unauthenticated_peer(dut: DeviceUnderTest) -> None:
    if IDENTITY not in dut.security_probe_kinds():
        raise NotApplicable(
            f"the device is a client on the {dut.binding.protocol} path: it sends its identity "
            "only inside its authenticated TLS session, which the client-side checks cover"
        )
    result = dut.security_probe(IDENTITY)
    assert result.refused, f"disclosed: {PROBES[IDENTITY]}. {result.detail}"
