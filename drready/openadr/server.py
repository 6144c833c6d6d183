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
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal, NamedTuple, TypeVar, cast, get_args
from urllib.parse import unquote_plus, urlsplit

import aiohttp
from aiohttp import web

from drready.evidence import EvidenceSink
from drready.evidence.http import CHANNEL, evidence_middleware, peer_of
from drready.evidence.http import record_request as _record_request
from drready.evidence.http import record_response as _record_response
from drready.openadr.validation import OpenAdrError, errors, validate

Outage = Literal["none", "silent", "503", "reset"]
OUTAGES: tuple[str, ...] = get_args(Outage)
T = TypeVar("T")

#: RFC 6750 section 3: a resource server answers a missing or bad token with this challenge.
_BEARER_CHALLENGE = 'Bearer realm="openadr3"'
#: OpenAPI ``limit`` of every search: ``maximum: 50``.
MAX_LIMIT = 50
#: User Guide, intervalPeriod.duration: "P9999Y" stands for infinity.
INFINITE_DURATION = "P9999Y"
#: Objects a VEN writes: only their owner (the clientID of the token) may read them (Definition.md,
#: "Object Privacy") or hear of them.
_VEN_OWNED = ("REPORT", "SUBSCRIPTION", "VEN")
#: The events an answer carried, for :meth:`Servicer.fetched_event`.
_EVENT_IDS = web.RequestKey("drready_event_ids", list[str])


class ServicerError(OpenAdrError):
    """A fault of the servicer itself (a document of ours its schema rejects, a misuse)."""


class ServicerTimeout(OpenAdrError, TimeoutError):
    """A bounded wait of the harness (a report, a poll) ran out."""


@dataclass(frozen=True)
class Finding:
    """A document a client sent that its schema rejects (DRready ``*-1.2``)."""

    time: float  # epoch seconds, the run's clock
    client_id: str  # "" when the request carried no valid token
    peer: str
    method: str
    path: str
    schema: str
    document: Any  # the parsed JSON, or the raw text when it was not JSON
    errors: tuple[str, ...]


@dataclass(frozen=True)
class ReportRecord:
    """One report a VEN wrote and was answered 2xx for, in arrival order."""

    index: int
    time: float
    client_id: str
    operation: str  # "CREATE" (POST) or "UPDATE" (PUT)
    report: Mapping[str, Any]  # the report as stored (with id, clientID, ...)

    def payloads(self) -> dict[str, list[Any]]:
        """Every payload type in the report with its values, intervals and resources in order."""
        out: dict[str, list[Any]] = {}
        for resource in self.report.get("resources", []):
            for interval in resource.get("intervals", []):
                for payload in interval.get("payloads", []):
                    out.setdefault(payload["type"], []).extend(payload["values"])
        return out


class RequestRecord(NamedTuple):
    """One HTTP request the servicer received, and how it ended. A named tuple of plain values,
    not a dataclass: one is kept per request, and the garbage collector stops tracking such
    tuples, so a long or busy run's request log costs no collector pauses."""

    time: float  # arrival, epoch seconds
    client_id: str  # "" when it carried no valid token
    peer: str
    method: str
    path: str
    status: int | None  # None: no answer (connection reset, or held until the server closed)
    event_ids: tuple[str, ...] = ()  # the events the answer carried


@dataclass(frozen=True)
class Delivery:
    """One webhook notification and its outcome."""

    time: float
    subscription_id: str
    client_id: str
    url: str
    object_type: str
    operation: str
    object_id: str
    status: int | None  # None when nothing came back
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _Problem(Exception):
    """Answer with a problem document (RFC 7807), as every OpenADR 3 error answer is."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


@dataclass
class _Token:
    client_id: str
    expires_at: float


@dataclass
class _Waiters:
    """Wakes bounded waits when something they may be waiting for happened."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def bump(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def now_epoch() -> float:
    return datetime.now(UTC).timestamp()


def rfc3339(epoch: float | None = None) -> str:
    moment = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_duration(seconds: float | None) -> str:
    """``PT...S`` for a number of seconds; :data:`INFINITE_DURATION` for None."""
    if seconds is None:
        return INFINITE_DURATION
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative ({seconds} s)")
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = seconds - whole
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if secs or fraction or text == "PT":
        text += f"{secs + fraction:g}S" if fraction else f"{secs}S"
    return text


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"a naive datetime ({moment}) has no place on the wire: give a timezone")
    return moment


class Servicer:
    """The harness's OpenADR 3 VTN. Bind with :meth:`start` (or ``async with``).

    ``clients`` maps each client ID to its secret (OAuth2 client credentials). ``ssl_context`` is
    the server's TLS context (None: plain HTTP, only on purpose). ``notify_ssl`` is what webhook
    deliveries verify the VEN's callback server with.
    """

    def __init__(
        self,
        evidence: EvidenceSink,
        *,
        clients: Mapping[str, str],
        ssl_context: ssl.SSLContext | None,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl_s: float = 3600.0,
        notify_timeout_s: float = 5.0,
        notify_ssl: ssl.SSLContext | bool = True,
        hold_limit_s: float = 3600.0,
        retry_after_s: int = 60,
        shutdown_timeout_s: float = 5.0,
    ) -> None:
        self.evidence = evidence
        self._clients = dict(clients)
        self._ssl_context = ssl_context
        self._host = host
        self._port = port
        self.token_ttl_s = token_ttl_s
        self.notify_timeout_s = notify_timeout_s
        self._notify_ssl = notify_ssl
        #: The longest a "silent" outage holds one request before dropping its connection.
        self.hold_limit_s = hold_limit_s
        #: Retry-After of the "503" outage, in seconds (RFC 9110 section 10.2.3).
        self.retry_after_s = retry_after_s
        self._shutdown_timeout_s = shutdown_timeout_s
        #: Answer every request with a redirect to this URL (+ the request's path) when set.
        self.redirect_to: str | None = None
        self.redirect_status = 307
        self.findings: list[Finding] = []
        self.deliveries: list[Delivery] = []
        self.requests: list[RequestRecord] = []
        self.errors: list[Exception] = []
        self._outage: Outage = "none"
        self._outage_changed = _Waiters()
        self._arrivals = _Waiters()
        self._tokens: dict[str, _Token] = {}
        self._last_request: dict[str, float] = {}
        self._programs: dict[str, dict[str, Any]] = {}
        self._events: dict[str, dict[str, Any]] = {}
        self._reports: dict[str, dict[str, Any]] = {}
        self._report_log: list[ReportRecord] = []
        self._subscriptions: dict[str, dict[str, Any]] = {}
        self._vens: dict[str, dict[str, Any]] = {}
        self._granted: dict[str, set[str]] = {}
        self._serial = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = False
        self.base_url = ""

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> str:
        """Bind and serve; the base URL (``https://127.0.0.1:PORT``)."""
        if self._runner is not None:
            return self.base_url
        app = web.Application(
            middlewares=[self._gate, evidence_middleware(self.evidence), self._service]
        )
        self._routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self._shutdown_timeout_s)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._closing = False
        address = runner.addresses[0]
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        scheme = "https" if self._ssl_context is not None else "http"
        self.base_url = f"{scheme}://{host}:{address[1]}"
        self._session = aiohttp.ClientSession()
        return self.base_url

    async def close(self) -> None:
        """Stop serving: held requests are dropped, pending notifications finish (bounded)."""
        if self._runner is None:
            return
        self._closing = True
        self._outage_changed.bump()
        if self._tasks:
            await asyncio.gather(*list(self._tasks))
        runner, self._runner = self._runner, None
        await runner.cleanup()
        if self._tasks:  # spawned by requests that were still being answered
            await asyncio.gather(*list(self._tasks))
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (host, port); the port chosen at the first start is kept."""
        return self._host, self._port

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl_context

    async def restart(self, ssl_context: ssl.SSLContext | None) -> str:
        """Stop and serve again at the same address with another TLS context (None: plain
        HTTP), keeping every object, token and record: a security probe offers a bad server
        where the device expects its own."""
        if self._runner is not None:
            self._port = self._runner.addresses[0][1]
        await self.close()
        self._ssl_context = ssl_context
        return await self.start()

    def serve_event_as_is(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Serve an event document exactly as given: its id and modificationDateTime kept, no
        notification. A replayed or tampered copy, for the security probes; it must still be
        a valid event (the probe is about the content, not the schema)."""
        document = dict(event)
        self._ours("event", document)
        self._known(self._programs, document["programID"], "program")
        self._events[str(document["id"])] = document
        return dict(document)

    async def __aenter__(self) -> Servicer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
        if exc_info[0] is None:
            self.check()

    def check(self) -> None:
        """Raise the first fault of the servicer itself, if it had one (never swallowed)."""
        if self.errors:
            raise self.errors[0]

    # -- run-time modes --------------------------------------------------------------------------
    @property
    def outage(self) -> Outage:
        return self._outage

    @outage.setter
    def outage(self, mode: Outage) -> None:
        if mode not in OUTAGES:
            raise ValueError(f"outage must be one of {', '.join(OUTAGES)}, not {mode!r}")
        if mode != self._outage:
            self.evidence.add("note", CHANNEL, self._host, f"servicer outage: {mode}")
        self._outage = mode
        self._outage_changed.bump()

    # -- the harness's side (business logic) -----------------------------------------------------
    def grant_targets(self, client_id: str, targets: Sequence[str]) -> None:
        """Grant a client targets (as BL writes them into its ven object): events and programs
        with targets are served to a VEN only for targets it was granted and asks for."""
        self._granted[client_id] = set(targets)
        for ven in self._vens.values():
            if ven["clientID"] == client_id:
                ven["targets"] = sorted(targets) or None
                ven["modificationDateTime"] = rfc3339()

    def revoke_tokens(self, client_id: str | None = None) -> None:
        """Invalidate the tokens of one client (or of all): its next request gets 401."""
        for token, held in list(self._tokens.items()):
            if client_id is None or held.client_id == client_id:
                del self._tokens[token]

    async def add_program(
        self,
        name: str,
        *,
        targets: Sequence[str] | None = None,
        payload_descriptors: Sequence[Mapping[str, Any]] | None = None,
        interval_period: Mapping[str, Any] | None = None,
        attributes: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Create a program; subscribers are notified (awaited, bounded) before this returns."""
        request: dict[str, Any] = {"programName": name}
        if targets:
            request["targets"] = list(targets)
        if payload_descriptors:
            request["payloadDescriptors"] = [dict(d) for d in payload_descriptors]
        if interval_period:
            request["intervalPeriod"] = dict(interval_period)
        if attributes:
            request["attributes"] = [dict(a) for a in attributes]
        validate("programRequest", request)
        program = self._stored("PROGRAM", "program", request)
        self._programs[program["id"]] = program
        await self._notify("PROGRAM", "CREATE", program)
        return dict(program)

    async def delete_program(self, program_id: str) -> dict[str, Any]:
        program = self._programs.pop(self._known(self._programs, program_id, "program"))
        await self._notify("PROGRAM", "DELETE", program)
        return dict(program)

    def event_request(
        self,
        program_id: str,
        *,
        start: datetime,
        duration_s: float | None,
        payload_type: str,
        values: Sequence[Any],
        targets: Sequence[str] | None = None,
        name: str | None = None,
        units: str | None = None,
        report_descriptors: Sequence[Mapping[str, Any]] | None = None,
        priority: int | None = None,
    ) -> dict[str, Any]:
        """The eventRequest document :meth:`publish_event` stores: one interval, one payload."""
        self._known(self._programs, program_id, "program")
        request: dict[str, Any] = {
            "programID": program_id,
            "intervalPeriod": {
                "start": rfc3339(_aware(start).timestamp()),
                "duration": iso_duration(duration_s),
            },
            "intervals": [{"id": 0, "payloads": [{"type": payload_type, "values": list(values)}]}],
        }
        if name is not None:
            request["eventName"] = name
        if targets:
            request["targets"] = list(targets)
        if units is not None:
            request["payloadDescriptors"] = [
                {
                    "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                    "payloadType": payload_type,
                    "units": units,
                }
            ]
        if report_descriptors:
            request["reportDescriptors"] = [dict(d) for d in report_descriptors]
        if priority is not None:
            request["priority"] = priority
        return request

    async def publish_event(
        self,
        program_id: str,
        *,
        start: datetime,
        duration_s: float | None,
        payload_type: str,
        values: Sequence[Any],
        targets: Sequence[str] | None = None,
        name: str | None = None,
        units: str | None = None,
        report_descriptors: Sequence[Mapping[str, Any]] | None = None,
        priority: int | None = None,
    ) -> dict[str, Any]:
        """Publish an event (``duration_s`` None: until further notice, ``P9999Y``).

        Subscribers are notified (awaited, bounded) before this returns.
        """
        request = self.event_request(
            program_id,
            start=start,
            duration_s=duration_s,
            payload_type=payload_type,
            values=values,
            targets=targets,
            name=name,
            units=units,
            report_descriptors=report_descriptors,
            priority=priority,
        )
        return await self.publish_event_document(request)

    async def publish_event_document(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Publish an eventRequest document as it is (several intervals, descriptors ...)."""
        validate("eventRequest", request)
        self._known(self._programs, request["programID"], "program")
        event = self._stored("EVENT", "event", request)
        self._events[event["id"]] = event
        await self._notify("EVENT", "CREATE", event)
        return dict(event)

    async def update_event(self, event_id: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """Replace an event's content (an eventRequest, e.g. from :meth:`event_request`)."""
        self._known(self._events, event_id, "event")
        validate("eventRequest", request)
        self._known(self._programs, request["programID"], "program")
        old = self._events[event_id]
        event = self._stored("EVENT", "event", request, keep=old)
        self._events[event_id] = event
        await self._notify("EVENT", "UPDATE", event)
        return dict(event)

    async def delete_event(self, event_id: str) -> dict[str, Any]:
        event = self._events.pop(self._known(self._events, event_id, "event"))
        await self._notify("EVENT", "DELETE", event)
        return dict(event)

    def programs(self) -> list[dict[str, Any]]:
        return [dict(p) for p in self._programs.values()]

    def events(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._events.values()]

    def vens(self) -> list[dict[str, Any]]:
        return [dict(v) for v in self._vens.values()]

    def subscriptions(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self._subscriptions.values()]

    def report_count(self) -> int:
        """How many reports were answered 2xx so far (the index the next one gets)."""
        return len(self._report_log)

    def reports(self, since: int = 0) -> list[ReportRecord]:
        """Every report answered 2xx (created or updated), in order, from index ``since``."""
        return self._report_log[since:]

    async def wait_for_report(
        self,
        predicate: Callable[[ReportRecord], bool],
        timeout_s: float,
        *,
        since: int | None = None,
    ) -> ReportRecord:
        """The first report from index ``since`` (None: arriving from now on) that matches."""
        cursor = len(self._report_log) if since is None else since

        def find() -> ReportRecord | None:
            nonlocal cursor
            while cursor < len(self._report_log):
                record = self._report_log[cursor]
                cursor += 1
                if predicate(record):
                    return record
            return None

        return await self._wait(find, timeout_s, "no matching report")

    async def wait_for_poll(
        self, client_id: str, after: float, timeout_s: float, *, path: str = "/events"
    ) -> RequestRecord:
        """The first answered ``GET`` under ``path`` by ``client_id`` arriving at or after
        ``after`` (epoch seconds)."""
        cursor = 0

        def find() -> RequestRecord | None:
            nonlocal cursor
            while cursor < len(self.requests):
                record = self.requests[cursor]
                cursor += 1
                if (
                    record.client_id == client_id
                    and record.time >= after
                    and record.method == "GET"
                    and record.path.startswith(path)
                    and record.status is not None
                ):
                    return record
            return None

        return await self._wait(find, timeout_s, f"no poll of {path} by {client_id!r}")

    def last_request_time(self, client_id: str) -> float | None:
        """When the client's last request (with a valid token) arrived, epoch seconds."""
        return self._last_request.get(client_id)

    def requests_by(
        self,
        client_id: str | None,
        *,
        since: float = float("-inf"),
        until: float = float("inf"),
        path_prefix: str = "",
    ) -> list[RequestRecord]:
        """Requests of one client (None: from anyone, token or not) arriving in [since, until]."""
        return [
            r
            for r in self.requests
            if (client_id is None or r.client_id == client_id)
            and since <= r.time <= until
            and r.path.startswith(path_prefix)
        ]

    def fetched_event(
        self,
        client_id: str,
        event_id: str | None = None,
        *,
        since: float = float("-inf"),
        until: float = float("inf"),
    ) -> bool:
        """Whether the client was served that event (None: any event) in [since, until]."""
        return any(
            r.status is not None
            and 200 <= r.status < 300
            and (r.event_ids if event_id is None else event_id in r.event_ids)
            for r in self.requests_by(client_id, since=since, until=until, path_prefix="/events")
        )

    # -- internals: objects ----------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-{self._serial}"

    def _stored(
        self,
        object_type: str,
        prefix: str,
        request: Mapping[str, Any],
        *,
        keep: Mapping[str, Any] | None = None,
        client_id: str | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        now = rfc3339()
        stored: dict[str, Any] = {
            "id": keep["id"] if keep else self._next_id(prefix),
            "createdDateTime": keep["createdDateTime"] if keep else now,
            "modificationDateTime": now,
            "objectType": object_type,
        }
        stored.update({k: v for k, v in request.items() if k not in stored})
        stored["objectType"] = object_type
        if client_id is not None:
            stored["clientID"] = client_id
        if check:
            self._ours(object_type.lower(), stored)
        return stored

    def _ours(self, schema: str, document: Any) -> None:
        """A document of ours that its schema rejects is a bug: recorded, logged, raised."""
        found = errors(schema, document)
        if found:
            bug = ServicerError(f"the servicer built an invalid {schema}: {'; '.join(found)}")
            self.errors.append(bug)
            self.evidence.add(
                "note",
                CHANNEL,
                self._host,
                f"servicer bug: invalid {schema} of ours",
                values={"document": document, "errors": found},
            )
            raise bug

    @staticmethod
    def _known(table: Mapping[str, Any], object_id: str, what: str) -> str:
        if object_id not in table:
            raise KeyError(f"no {what} {object_id!r}")
        return object_id

    def _served(
        self, obj: Mapping[str, Any], client_id: str, requested: Sequence[str] | None
    ) -> dict[str, Any] | None:
        """The object as this client may see it, or None (Definition.md, "Object Privacy": an
        object with targets is served only for targets both requested and granted, and only
        those targets are shown)."""
        targets = obj.get("targets") or []
        if not targets:
            return dict(obj)
        usable = set(requested or ()) & self._granted.get(client_id, set())
        shown = [t for t in targets if t in usable]
        if not shown:
            return None
        served = dict(obj)
        served["targets"] = shown
        return served

    async def _wait(self, find: Callable[[], T | None], timeout_s: float, what: str) -> T:
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    found = find()
                    if found is not None:
                        return found
                    await self._arrivals.changed.wait()
        except TimeoutError:
            raise ServicerTimeout(f"{what} within {timeout_s:g} s") from None

    # -- internals: notifications ----------------------------------------------------------------
    def _spawn(self, coro: Awaitable[None]) -> None:
        """Run a notification beside the answer; :meth:`close` awaits it, a fault is kept."""

        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:
                self.errors.append(exc)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, object_type: str, operation: str, obj: Mapping[str, Any]) -> None:
        """Deliver a notification to every matching subscription, concurrently, bounded."""
        sends = []
        for subscription in list(self._subscriptions.values()):
            client_id = subscription["clientID"]
            if object_type in _VEN_OWNED and obj.get("clientID") != client_id:
                continue
            program_id = subscription.get("programID")
            if program_id and program_id != (
                obj["id"] if object_type == "PROGRAM" else obj.get("programID")
            ):
                continue
            served = self._served(obj, client_id, subscription.get("targets"))
            if served is None:
                continue
            note: dict[str, Any] = {"objectType": object_type, "operation": operation}
            note["object"] = served
            if served.get("targets"):
                note["targets"] = served["targets"]
            self._ours("notification", note)
            for target in subscription["objectOperations"]:
                if object_type in target["objects"] and operation in target["operations"]:
                    sends.append(self._deliver(subscription, target, note))
        if sends:
            await asyncio.gather(*sends)

    async def _deliver(
        self, subscription: Mapping[str, Any], target: Mapping[str, Any], note: Mapping[str, Any]
    ) -> None:
        url = str(target["callbackUrl"])
        parts = urlsplit(url)
        peer = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        headers = {"Content-Type": "application/json"}
        if target.get("bearerToken"):
            headers["Authorization"] = f"Bearer {target['bearerToken']}"
        body = json.dumps(note, separators=(",", ":"))
        _record_request(self.evidence, peer, "POST", url, headers, body, note="notification")
        status: int | None = None
        problem = ""
        try:
            if self._session is None:
                raise ServicerError("the servicer is not running")
            async with (
                asyncio.timeout(self.notify_timeout_s),
                self._session.post(
                    url, data=body, headers=headers, ssl=self._notify_ssl, allow_redirects=False
                ) as response,
            ):
                answer = await response.read()
                status = response.status
                _record_response(
                    self.evidence,
                    peer,
                    status,
                    response.reason or "",
                    response.headers.items(),
                    answer,
                )
            if not 200 <= status < 300:
                problem = f"callback answered {status}"
        except TimeoutError:
            problem = f"no answer within {self.notify_timeout_s:g} s"
        except (aiohttp.ClientError, OSError, ValueError, ServicerError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            self.evidence.add(
                "note",
                CHANNEL,
                peer,
                f"notification failed: {note['objectType']} {note['operation']} to {url}: "
                f"{problem}",
            )
        self.deliveries.append(
            Delivery(
                now_epoch(),
                subscription["id"],
                subscription["clientID"],
                url,
                str(note["objectType"]),
                str(note["operation"]),
                str(note["object"].get("id", "")),
                status,
                problem,
            )
        )

    # -- internals: HTTP -------------------------------------------------------------------------
    def _client_of(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return ""
        held = self._tokens.get(token.strip())
        if held is None:
            return ""
        if now_epoch() >= held.expires_at:
            del self._tokens[token.strip()]
            return ""
        return held.client_id

    @web.middleware
    async def _gate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Outermost: who asked and how it ended; the outages that give no answer at all."""
        arrived = now_epoch()
        client_id = self._client_of(request)
        if client_id:
            self._last_request[client_id] = arrived
        peer = peer_of(request)
        status: int | None = None
        try:
            if self._outage == "silent":
                self.evidence.add(
                    "note", CHANNEL, peer, f"outage silent: holding {request.method} {request.path}"
                )
                if not await self._hold():
                    self._reset(request, peer, "dropped after the hold")
                    return web.Response(status=204)
                if request.transport is None or request.transport.is_closing():
                    return web.Response(status=204)  # the client gave up while held: no answer
            if self._outage == "reset":
                self._reset(request, peer, "outage reset")
                return web.Response(status=204)
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                status = exc.status
                raise
            status = response.status
            return response
        finally:
            self.requests.append(
                RequestRecord(
                    arrived,
                    client_id,
                    peer,
                    request.method,
                    request.path,
                    status,
                    tuple(request.get(_EVENT_IDS, ())),
                )
            )
            self._arrivals.bump()

    async def _hold(self) -> bool:
        """Wait while the outage is silent: True when service resumed, False when dropped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.hold_limit_s
        while self._outage == "silent" and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            changed = self._outage_changed.changed
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                return False
        return not self._closing

    def _reset(self, request: web.Request, peer: str, why: str) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), no HTTP answer."""
        transport = request.transport
        self.evidence.add(
            "note", CHANNEL, peer, f"{why}: connection reset, {request.method} {request.path}"
        )
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    @web.middleware
    async def _service(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Innermost: 503 outage, redirects, and every error as a problem document."""
        try:
            if self._outage == "503":
                raise _Problem(
                    503,
                    "the DR servicer is unavailable (outage simulated by the harness)",
                    headers={"Retry-After": str(self.retry_after_s)},
                )
            if self.redirect_to is not None:
                location = self.redirect_to.rstrip("/") + request.path_qs
                return web.Response(
                    status=self.redirect_status, headers={"Location": location}, text=""
                )
            return await handler(request)
        except _Problem as problem:
            return self._problem(request, problem)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return self._problem(request, _Problem(exc.status, exc.reason))
        except Exception as exc:
            # A fault of ours: answered 500 as a problem, kept for check(), never swallowed.
            if exc not in self.errors:
                self.errors.append(exc)
            return self._problem(request, _Problem(500, "internal error of the servicer"))

    def _problem(self, request: web.Request, problem: _Problem) -> web.Response:
        document: dict[str, Any] = {
            "type": "about:blank",
            "title": _reason(problem.status),
            "status": problem.status,
            "detail": problem.detail,
            "instance": str(request.url),
        }
        document.update(problem.extra)
        self._ours("problem", document)
        headers = dict(problem.headers)
        if problem.status == 401 and "WWW-Authenticate" not in headers:
            headers["WWW-Authenticate"] = _BEARER_CHALLENGE
        return web.json_response(document, status=problem.status, headers=headers)

    def _json(self, document: Any, status: int = 200) -> web.Response:
        return web.Response(
            text=json.dumps(document, separators=(",", ":")),
            status=status,
            content_type="application/json",
        )

    def _routes(self, app: web.Application) -> None:
        add = app.router.add_route
        add("POST", "/auth/token", self._token)
        add("GET", "/auth/server", self._auth_server)
        add("GET", "/notifiers", self._authed(self._notifiers))
        for name in ("programs", "events"):
            add("GET", f"/{name}", self._authed(self._search))
            add("POST", f"/{name}", self._authed(self._bl_only))
            add("GET", f"/{name}/{{id}}", self._authed(self._get_one))
            add("PUT", f"/{name}/{{id}}", self._authed(self._bl_only))
            add("DELETE", f"/{name}/{{id}}", self._authed(self._bl_only))
        for name in ("reports", "subscriptions", "vens"):
            add("GET", f"/{name}", self._authed(self._search))
            add("POST", f"/{name}", self._authed(self._create))
            add("GET", f"/{name}/{{id}}", self._authed(self._get_one))
            add("PUT", f"/{name}/{{id}}", self._authed(self._update))
            add("DELETE", f"/{name}/{{id}}", self._authed(self._delete))

    def _authed(
        self, handler: Callable[[web.Request, str], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def checked(request: web.Request) -> web.StreamResponse:
            client_id = self._client_of(request)
            if not client_id:
                header = request.headers.get("Authorization", "")
                why = "a valid bearer token is required" if header else "no bearer token"
                raise _Problem(401, why)
            return await handler(request, client_id)

        return checked

    def _finding(self, request: web.Request, schema: str, document: Any, found: list[str]) -> None:
        client_id = self._client_of(request)
        peer = peer_of(request)
        finding = Finding(
            now_epoch(),
            client_id,
            peer,
            request.method,
            request.path,
            schema,
            document,
            tuple(found),
        )
        self.findings.append(finding)
        self.evidence.add(
            "note",
            CHANNEL,
            peer,
            f"schema violation: {request.method} {request.path} is not a valid {schema}"
            + (f" (client {client_id})" if client_id else ""),
            values={
                "client_id": client_id,
                "method": request.method,
                "path": request.path,
                "schema": schema,
                "document": document,
                "errors": found,
            },
        )

    async def _document(self, request: web.Request, schema: str) -> dict[str, Any]:
        """The request's JSON body, valid against ``schema``; else a finding and a 400."""
        raw = await request.read()
        text = raw.decode("utf-8", "replace")
        try:
            document = json.loads(raw)
        except ValueError as exc:
            self._finding(request, schema, text, [f"$: not JSON ({exc})"])
            raise _Problem(400, f"the body is not JSON: {exc}") from None
        found = errors(schema, document)
        if found:
            self._finding(request, schema, document, found)
            raise _Problem(
                400, f"not a valid {schema}: " + "; ".join(found[:5]), extra={"errors": found}
            )
        return cast(dict[str, Any], document)

    # -- handlers --------------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.StreamResponse:
        """OAuth2 client credentials (RFC 6749 section 4.4), form body or HTTP Basic."""
        params: dict[str, str] = {}
        if request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            params = {k: v for k, v in form.items() if isinstance(v, str)}
        basic = request.headers.get("Authorization", "")
        if basic[:6].lower() == "basic ":
            try:
                user, _, password = base64.b64decode(basic[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise _Problem(
                    400, "malformed Basic credentials", extra={"error": "invalid_request"}
                ) from None
            # RFC 6749 section 2.3.1: both are form-urlencoded before Basic encoding.
            params.setdefault("client_id", unquote_plus(user))
            params.setdefault("client_secret", unquote_plus(password))
        found = errors("clientCredentialRequest", params)
        if found:
            raw = await request.read()
            shown = {k: ("[redacted]" if k == "client_secret" else v) for k, v in params.items()}
            self._finding(
                request, "clientCredentialRequest", shown or raw.decode("utf-8", "replace"), found
            )
            grant = params.get("grant_type")
            kind = "unsupported_grant_type" if grant and grant != "client_credentials" else None
            raise _Problem(
                400,
                "; ".join(found),
                extra={"error": kind or "invalid_request", "error_description": found[0]},
            )
        client_id = params["client_id"]
        expected = self._clients.get(client_id)
        if expected is None or not secrets.compare_digest(
            expected.encode(), params["client_secret"].encode()
        ):
            raise _Problem(
                401,
                "unknown client or wrong secret",
                headers={"WWW-Authenticate": 'Basic realm="openadr3"'},
                extra={
                    "error": "invalid_client",
                    "error_description": "client authentication failed",
                },
            )
        token = secrets.token_urlsafe(32)
        self._tokens[token] = _Token(client_id, now_epoch() + self.token_ttl_s)
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.token_ttl_s),
        }
        self._ours("token", answer)
        response = self._json(answer)
        response.headers["Cache-Control"] = "no-store"  # RFC 6749 section 5.1
        return response

    async def _auth_server(self, request: web.Request) -> web.StreamResponse:
        return self._json({"tokenURL": f"{self.base_url}/auth/token"})

    async def _notifiers(self, request: web.Request, client_id: str) -> web.StreamResponse:
        return self._json({"WEBHOOK": True})

    async def _bl_only(self, request: web.Request, client_id: str) -> web.StreamResponse:
        """Writes of programs and events are business logic's (scopes write_programs and
        write_events); a VEN's body is still checked, then refused."""
        if request.method in ("POST", "PUT"):
            schema = "programRequest" if request.path.startswith("/programs") else "eventRequest"
            await self._document(request, schema)
        raise _Problem(403, f"{request.method} {request.path} is for business logic, not a VEN")

    @staticmethod
    def _paging(request: web.Request) -> tuple[int, int | None]:
        def number(name: str, top: int | None) -> int | None:
            text = request.query.get(name)
            if text is None:
                return None
            try:
                value = int(text)
            except ValueError:
                raise _Problem(400, f"{name} must be an integer, not {text!r}") from None
            if value < 0 or (top is not None and value > top):
                raise _Problem(400, f"{name} must be 0..{top if top is not None else ''}")
            return value

        return number("skip", None) or 0, number("limit", MAX_LIMIT)

    def _table(self, request: web.Request) -> tuple[str, dict[str, dict[str, Any]]]:
        kind = request.path.strip("/").split("/")[0]
        tables = {
            "programs": self._programs,
            "events": self._events,
            "reports": self._reports,
            "subscriptions": self._subscriptions,
            "vens": self._vens,
        }
        return kind, tables[kind]

    def _visible(
        self, kind: str, obj: Mapping[str, Any], client_id: str, targets: Sequence[str] | None
    ) -> dict[str, Any] | None:
        if kind in ("programs", "events"):
            return self._served(obj, client_id, targets)
        return dict(obj) if obj.get("clientID") == client_id else None

    async def _search(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind, table = self._table(request)
        query = request.query
        skip, limit = self._paging(request)
        targets = query.getall("targets", [])
        found: list[dict[str, Any]] = []
        for obj in table.values():
            served = self._visible(kind, obj, client_id, targets)
            if served is None or not self._matches(kind, served, query):
                continue
            found.append(served)
        found = found[skip:] if limit is None else found[skip : skip + limit]
        if kind == "events":
            request[_EVENT_IDS] = [e["id"] for e in found]
        return self._json(found)

    def _matches(self, kind: str, obj: Mapping[str, Any], query: Mapping[str, str]) -> bool:
        program_id = query.get("programID")
        if program_id is not None:
            if kind == "reports":
                event = self._events.get(str(obj.get("eventID")))
                if event is None or event["programID"] != program_id:
                    return False
            elif kind != "programs" and obj.get("programID") != program_id:
                return False
        for name in ("eventID", "clientName", "venName"):
            if name in query and obj.get(name) != query[name]:
                return False
        if kind == "subscriptions" and "objects" in query:
            wanted = set(cast(Any, query).getall("objects"))
            have = {o for oo in obj["objectOperations"] for o in oo["objects"]}
            if not wanted & have:
                return False
        if kind == "events" and query.get("active", "").lower() == "true":
            end = _event_end(obj)
            if end is not None and end <= now_epoch():
                return False
        return True

    async def _get_one(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind, table = self._table(request)
        object_id = request.match_info["id"]
        obj = table.get(object_id)
        served = None if obj is None else self._visible(kind, obj, client_id, None)
        if kind in ("programs", "events") and obj is not None and served is None:
            # An object with targets is found by id only with targets in the query.
            served = self._visible(kind, obj, client_id, request.query.getall("targets", []))
        if served is None:
            raise _Problem(404, f"no {kind[:-1]} {object_id!r}")
        if kind == "events":
            request[_EVENT_IDS] = [object_id]
        return self._json(served)

    def _own(self, request: web.Request, client_id: str) -> tuple[str, dict[str, Any]]:
        kind, table = self._table(request)
        object_id = request.match_info["id"]
        obj = table.get(object_id)
        if obj is None or obj.get("clientID") != client_id:
            raise _Problem(404, f"no {kind[:-1]} {object_id!r} of this client")
        return kind, obj

    async def _create(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind, table = self._table(request)
        document = await self._document(request, _REQUEST_SCHEMA[kind])
        stored = self._store(kind, client_id, document, None)
        table[stored["id"]] = stored
        self._after_write(kind, "CREATE", client_id, stored)
        return self._json(stored, status=201)

    async def _update(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind, old = self._own(request, client_id)
        document = await self._document(request, _REQUEST_SCHEMA[kind])
        stored = self._store(kind, client_id, document, old)
        self._table(request)[1][stored["id"]] = stored
        self._after_write(kind, "UPDATE", client_id, stored)
        return self._json(stored)

    async def _delete(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind, old = self._own(request, client_id)
        del self._table(request)[1][old["id"]]
        self._spawn(self._notify(_OBJECT_TYPE[kind], "DELETE", old))
        return self._json(old)

    def _store(
        self,
        kind: str,
        client_id: str,
        document: dict[str, Any],
        old: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        if kind == "reports" and document["eventID"] not in self._events:
            raise _Problem(409, f"no event {document['eventID']!r} to report on")
        program_id = document.get("programID") if kind == "subscriptions" else None
        if program_id and program_id not in self._programs:
            raise _Problem(409, f"no program {document['programID']!r} to subscribe to")
        if kind == "vens":
            if document["objectType"] != "VEN_VEN_REQUEST":
                raise _Problem(403, "only business logic writes BL_VEN_REQUEST (targets)")
            for ven in self._vens.values():
                same = old is not None and ven["id"] == old["id"]
                if ven["venName"] == document["venName"] and not same:
                    raise _Problem(409, f"venName {document['venName']!r} is taken")
            document = {k: v for k, v in document.items() if k != "objectType"}
            document["targets"] = sorted(self._granted.get(client_id, ())) or None
        object_type = _OBJECT_TYPE[kind]
        # A report is the client's document, just validated, plus our id, times and clientID:
        # validating it again would double the cost of the busiest path of a run.
        return self._stored(
            object_type,
            kind[:-1],
            document,
            keep=old,
            client_id=client_id,
            check=kind != "reports",
        )

    def _after_write(
        self, kind: str, operation: str, client_id: str, stored: Mapping[str, Any]
    ) -> None:
        if kind == "reports":
            record = ReportRecord(
                len(self._report_log), now_epoch(), client_id, operation, dict(stored)
            )
            self._report_log.append(record)
        self._spawn(self._notify(_OBJECT_TYPE[kind], operation, stored))


_REQUEST_SCHEMA = {
    "reports": "reportRequest",
    "subscriptions": "subscriptionRequest",
    "vens": "venRequest",
}
_OBJECT_TYPE = {
    "programs": "PROGRAM",
    "events": "EVENT",
    "reports": "REPORT",
    "subscriptions": "SUBSCRIPTION",
    "vens": "VEN",
}

# ISO 8601 duration parts in seconds; months and years are approximate (only used to tell
# whether an event has ended, for the ``active`` query).
_DURATION_PARTS = (("Y", 365 * 86400.0), ("M", 30 * 86400.0), ("W", 7 * 86400.0), ("D", 86400.0))
_TIME_PARTS = (("H", 3600.0), ("M", 60.0), ("S", 1.0))


def duration_seconds(text: str) -> float | None:
    """Seconds of an ISO 8601 duration; None for ``P9999Y`` (infinity) or an unreadable one."""
    if text == INFINITE_DURATION:
        return None
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("-")
    if not body.startswith("P"):
        return None
    date_part, _, time_part = body[1:].partition("T")
    total = 0.0
    for part, units in ((date_part, _DURATION_PARTS), (time_part, _TIME_PARTS)):
        number = ""
        for char in part:
            if char.isdigit() or char == ".":
                number += char
                continue
            scale = dict(units).get(char)
            if scale is None or not number:
                return None
            total += float(number) * scale
            number = ""
        if number:
            return None
    return sign * total


def _event_end(event: Mapping[str, Any]) -> float | None:
    """When an event ends (epoch seconds), or None if it does not or cannot be told."""
    period = event.get("intervalPeriod") or {}
    start_text = period.get("start")
    if not start_text or str(start_text).startswith("0001-01-01"):
        return None
    duration = event.get("duration") or period.get("duration")
    if duration is None:
        return None
    seconds = duration_seconds(str(duration))
    if seconds is None:
        return None
    if len(event.get("intervals") or []) > 1 and not event.get("duration"):
        seconds *= len(event["intervals"])
    start = datetime.fromisoformat(str(start_text).replace("Z", "+00:00").replace("z", "+00:00"))
    if start.tzinfo is None:
        return None
    return start.timestamp() + seconds
