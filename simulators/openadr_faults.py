"""Named faults of the server topology, OpenADR 3 shape: each bends the reference VEN
(:class:`drready.simulators.ven.ReferenceVen`, through its
:class:`~drready.simulators.ven.VenBehaviour`) and names exactly the requirements the full suite
must then fail.

Registered into :data:`drready.simulators.fault_registry.FAULTS` when that module is imported; a run
given one of these selects the built-in ``<class>-openadr3`` profile by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drready.simulators.fault_registry import fault

if TYPE_CHECKING:
    from drready.simulators.ven import ReferenceVen

OPENADR3 = "openadr3"


# -- battery -------------------------------------------------------------------------------------
@fault(
    "oadr_accepts_any_certificate",
    "battery",
    ("BAT-3.2",),
    "The VEN verifies neither the servicer's certificate chain nor its host name.",
    binding=OPENADR3,
)
def _accepts_any_certificate(ven: ReferenceVen) -> None:
    ven.behaviour.verify_certificate = False


@fault(
    "oadr_falls_back_to_http",
    "battery",
    ("BAT-3.2",),
    "When a TLS connection fails, the VEN repeats the request over plain HTTP, token and all.",
    binding=OPENADR3,
)
def _falls_back_to_http(ven: ReferenceVen) -> None:
    ven.behaviour.fallback_to_plain_http = True


@fault(
    "oadr_accepts_tls_1_1",
    "battery",
    ("BAT-3.2",),
    "The VEN's TLS floor is TLS 1.0 (security level 0), so it talks to a TLS 1.1 servicer.",
    binding=OPENADR3,
)
def _accepts_tls_1_1(ven: ReferenceVen) -> None:
    ven.behaviour.accept_old_tls = True


@fault(
    "oadr_omits_credentials",
    "battery",
    ("BAT-3.2",),
    "Every tenth poll, the first included, goes out without the bearer token (the VTN answers "
    "401); the other requests carry it.",
    binding=OPENADR3,
)
def _omits_credentials(ven: ReferenceVen) -> None:
    ven.behaviour.anonymous_poll_every = 10


@fault(
    "oadr_follows_redirect",
    "battery",
    ("BAT-3.2",),
    "The VEN follows HTTP redirects, to wherever they point.",
    binding=OPENADR3,
)
def _follows_redirect(ven: ReferenceVen) -> None:
    ven.behaviour.follow_redirects = True


@fault(
    "oadr_executes_replayed_event",
    "battery",
    ("BAT-3.2",),
    "The VEN forgets an executed event once the servicer stops listing it, so the same event "
    "(same id and modification time) served again is executed again.",
    binding=OPENADR3,
)
def _executes_replayed_event(ven: ReferenceVen) -> None:
    ven.behaviour.remember_executed_events = False


@fault(
    "oadr_executes_tampered_event",
    "battery",
    ("BAT-3.2",),
    "The VEN executes an event whose content changed without a new modification time.",
    binding=OPENADR3,
)
def _executes_tampered_event(ven: ReferenceVen) -> None:
    ven.behaviour.detect_tampering = False


@fault(
    "oadr_invalid_documents",
    "battery",
    ("BAT-1.2",),
    "The first and every fifth telemetry report after it are followed by a malformed copy "
    "(numbers as text with units, an empty resource name), which the servicer refuses and records.",
    binding=OPENADR3,
)
def _invalid_documents(ven: ReferenceVen) -> None:
    ven.behaviour.invalid_document_every = 5


@fault(
    "oadr_ignores_event_end",
    "battery",
    ("BAT-2.6",),
    "The VEN does not end a DR when the event's interval ends (only a deletion ends it).",
    binding=OPENADR3,
)
def _ignores_event_end(ven: ReferenceVen) -> None:
    ven.behaviour.end_dr_at_event_end = False


@fault(
    "oadr_keeps_dr_on_comms_loss",
    "battery",
    ("BAT-2.7",),
    "The VEN keeps the DR in force however long its polls fail.",
    binding=OPENADR3,
)
def _keeps_dr_on_comms_loss(ven: ReferenceVen) -> None:
    ven.behaviour.restore_on_comms_loss = False


# -- heat-pump water heater ----------------------------------------------------------------------
@fault(
    "hp_oadr_invalid_documents",
    "heatpump",
    ("HP-1.2",),
    "The first and every fifth telemetry report after it are followed by a malformed copy, "
    "which the servicer refuses and records.",
    binding=OPENADR3,
)
def _hp_invalid_documents(ven: ReferenceVen) -> None:
    ven.behaviour.invalid_document_every = 5


@fault(
    "hp_oadr_no_host_name_check",
    "heatpump",
    ("HP-3.2",),
    "The VEN checks the certificate chain but not that the certificate names the servicer.",
    binding=OPENADR3,
)
def _hp_no_host_name_check(ven: ReferenceVen) -> None:
    ven.behaviour.check_hostname = False


@fault(
    "hp_oadr_executes_replayed_event",
    "heatpump",
    ("HP-3.2",),
    "The VEN executes an event again when the servicer lists it again after a gap.",
    binding=OPENADR3,
)
def _hp_executes_replayed_event(ven: ReferenceVen) -> None:
    ven.behaviour.remember_executed_events = False


# -- hybrid water heater -------------------------------------------------------------------------
@fault(
    "hy_oadr_invalid_documents",
    "hybrid",
    ("HY-1.2",),
    "The first and every fifth telemetry report after it are followed by a malformed copy, "
    "which the servicer refuses and records.",
    binding=OPENADR3,
)
def _hy_invalid_documents(ven: ReferenceVen) -> None:
    ven.behaviour.invalid_document_every = 5


@fault(
    "hy_oadr_follows_redirect",
    "hybrid",
    ("HY-3.2",),
    "The VEN follows HTTP redirects, to wherever they point.",
    binding=OPENADR3,
)
def _hy_follows_redirect(ven: ReferenceVen) -> None:
    ven.behaviour.follow_redirects = True


@fault(
    "hy_oadr_executes_tampered_event",
    "hybrid",
    ("HY-3.2",),
    "The VEN executes an event whose content changed without a new modification time.",
    binding=OPENADR3,
)
def _hy_executes_tampered_event(ven: ReferenceVen) -> None:
    ven.behaviour.detect_tampering = False
