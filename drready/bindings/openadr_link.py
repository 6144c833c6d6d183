"""What a session sets up for the OpenADR 3 binding.

Its own module so that the binding (:mod:`drready.bindings.openadr_device`) and its security
probes (:mod:`drready.bindings.openadr_probes`) both use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from drready.evidence import EvidenceLog
from drready.openadr.server import Servicer
from drready.openadr.tls import RunTls

__all__ = ["OpenAdrLink"]


@dataclass
class OpenAdrLink:
    """What a session sets up for the binding: the servicer and what it published."""

    servicer: Servicer
    tls: RunTls | None
    evidence: EvidenceLog
    client_id: str
    ven_name: str
    program_id: str
    telemetry_event_id: str
    poll_interval_s: float
    report_interval_s: float
    #: The device's normal own mode (the profile's first ``device.own_modes``).
    own_mode: str = "auto"
    #: A heating start time ("HH:MM") the device accepts, for the probes' own DR events.
    probe_start: str = "13:00"
