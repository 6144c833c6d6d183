"""The harness as an OpenADR 3 VTN: the DR servicer server a device (a VEN) polls over HTTPS.

:class:`Servicer` serves the OpenADR 3.1.0 REST API a VEN uses (``/auth/token``, ``/programs``,
``/events``, ``/reports``, ``/subscriptions``, ``/vens``) and is driven from the harness side by
plain methods: the harness is the specification's "business logic" (BL), so programs and events
are written through :meth:`Servicer.add_program` / :meth:`Servicer.publish_event`, never over HTTP
(a VEN that tries gets 403, as the specification's scopes say).

What it checks and keeps, for the verdicts:

- every document a client sends is validated against its schema
  (:mod:`drready.openadr.validation`); an invalid one is answered 400 with a problem
  document and becomes a :class:`Finding` (and a ``schema violation`` note in the evidence);
- every document it sends is validated too: an invalid one is a bug of ours, raised, recorded
  in :attr:`Servicer.errors` and raised again by :meth:`Servicer.check` (and by ``async with``);
- every report answered 2xx is kept, in arrival order (:meth:`Servicer.reports`);
- every request, with the client its token names and the events it was answered with
  (:meth:`Servicer.requests_by`, :meth:`Servicer.fetched_event`).

Comms loss and hostile-server modes are attributes set at run time: :attr:`Servicer.outage`
(``"none"``, ``"silent"``, ``"503"``, ``"reset"``) and :attr:`Servicer.redirect_to`.

Time: every timestamp comes from ``datetime.now(UTC)`` and every wait is bounded by an asyncio
timer, so a servicer runs unchanged on drready's virtual-time loop.

The package, by idea: :mod:`.servicer` (the class: life cycle, outages, the harness's side),
:mod:`.api` (routes and handlers), :mod:`.store` (the objects and who may see them),
:mod:`.tokens` (OAuth2 client credentials), :mod:`.notifier` (webhooks), :mod:`.records` (what is
kept for the verdicts), :mod:`.problem` (RFC 7807 answers), :mod:`.times` (wire times and
durations).
"""

from __future__ import annotations

from drready.openadr.server.api import MAX_LIMIT
from drready.openadr.server.records import (
    OUTAGES,
    Delivery,
    Finding,
    Outage,
    ReportRecord,
    RequestRecord,
    ServicerError,
    ServicerTimeout,
)
from drready.openadr.server.servicer import Servicer
from drready.openadr.server.times import (
    INFINITE_DURATION,
    duration_seconds,
    iso_duration,
    now_epoch,
    rfc3339,
)

__all__ = [
    "INFINITE_DURATION",
    "MAX_LIMIT",
    "OUTAGES",
    "Delivery",
    "Finding",
    "Outage",
    "ReportRecord",
    "RequestRecord",
    "Servicer",
    "ServicerError",
    "ServicerTimeout",
    "duration_seconds",
    "iso_duration",
    "now_epoch",
    "rfc3339",
]
